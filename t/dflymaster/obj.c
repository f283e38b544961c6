/*
 * obj.c - values: strings, lists, sets, sorted sets, hashes, streams and JSON
 * documents, and the encoding each would have in Dragonfly (compact while
 * small, sticky once big) which decides its RDB type (snapshot.md 6.0).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "text.h"
#include "obj.h"

struct obj *
obj_new(enum otype t)
{
	struct obj	*o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatal("calloc");
	o->type = t;
	o->expire_ms = -1;
	if (t == OBJ_SET || t == OBJ_HASH || t == OBJ_ZSET)
		o->d = dict_new();
	return o;
}

uint32_t
obj_member_now(void)
{
	return (uint32_t)(wall_ms() / 1000 - MEMBER_EXPIRY_BASE);
}

/*
 * A TTL makes the container Dragonfly's StringMap/StringSet for good
 * (HSetFamily::SetFieldsExpireTime converts a listpack; the expiry flag
 * stays): the snapshot writes types 31/32 from then on.
 */
void
obj_member_ttl(struct obj *o, struct dent *e, uint32_t ttl)
{
	e->mexp = ttl == 0 ? 0 : obj_member_now() + ttl;
	if (ttl != 0) {
		o->mttl = 1;
		o->big = 1;
	}
}

void
obj_free_strval(void *p)
{
	struct str	*s = p;

	str_free(s);
	free(s);
}

static void
stream_free(struct stream *x)
{
	size_t	 i, j;

	for (i = 0; i < x->n; i++) {
		for (j = 0; j < x->e[i].nfv; j++)
			str_free(&x->e[i].fv[j]);
		free(x->e[i].fv);
	}
	free(x->e);
	for (i = 0; i < x->ng; i++) {
		str_free(&x->g[i].name);
		for (j = 0; j < x->g[i].ncons; j++)
			str_free(&x->g[i].cons[j].name);
		free(x->g[i].cons);
		free(x->g[i].pel);
	}
	free(x->g);
}

void
obj_free(void *p)
{
	struct obj	*o = p;
	size_t		 i;

	switch (o->type) {
	case OBJ_STRING:
	case OBJ_JSON:
		str_free(&o->s);
		break;
	case OBJ_LIST:
		for (i = 0; i < o->l.n; i++)
			str_free(&o->l.a[o->l.head + i]);
		free(o->l.a);
		break;
	case OBJ_SET:
	case OBJ_ZSET:
		dict_free(o->d, NULL);
		break;
	case OBJ_HASH:
		dict_free(o->d, obj_free_strval);
		break;
	case OBJ_STREAM:
		stream_free(&o->x);
		break;
	}
	free(o);
}

static int
is_int64(const char *p, size_t n)
{
	long long	 v;

	return parse_ll(p, n, &v) == 0;
}

/*
 * Dragonfly's encoding switches (snapshot.md 6.0) with the server defaults:
 * intset up to 512 integers, listpack zsets/hashes up to 128 entries of at
 * most 64 bytes.  Like Dragonfly, an object never goes back to the compact
 * encoding.
 */
void
obj_update_encoding(struct obj *o)
{
	struct dent	*e;
	size_t		 i;

	if (o->big)
		return;
	switch (o->type) {
	case OBJ_SET:
		if (o->d->count > 512) {
			o->big = 1;
			return;
		}
		for (i = 0; i < dict_buckets(o->d) && !o->big; i++)
			for (e = o->d->b[i]; e != NULL; e = e->next)
				if (!is_int64(e->key, e->klen)) {
					o->big = 1;
					break;
				}
		break;
	case OBJ_ZSET:
	case OBJ_HASH:
		if (o->d->count > 128) {
			o->big = 1;
			return;
		}
		for (i = 0; i < dict_buckets(o->d) && !o->big; i++)
			for (e = o->d->b[i]; e != NULL; e = e->next) {
				struct str	*v = e->val;

				if (e->klen > 64 || (o->type == OBJ_HASH &&
				    v->len > 64)) {
					o->big = 1;
					break;
				}
			}
		break;
	default:
		break;
	}
}

int
obj_rdb_type(const struct obj *o)
{
	switch (o->type) {
	case OBJ_STRING:
		return 0;
	case OBJ_LIST:
		return 18;
	case OBJ_SET:
		return o->mttl ? 32 : o->big ? 2 : 11;
	case OBJ_ZSET:
		return o->big ? 5 : 17;
	case OBJ_HASH:
		return o->mttl ? 31 : o->big ? 4 : 16;
	case OBJ_STREAM:
		return 21;
	case OBJ_JSON:
		return 30;
	}
	return -1;
}

void
list_push(struct list *l, int left, const void *p, size_t n)
{
	if (left && l->head == 0) {
		size_t	 room = l->n < 8 ? 8 : l->n;
		size_t	 cap = l->n + room + (l->cap - l->head - l->n);
		struct str	*a;

		if ((a = calloc(cap, sizeof(*a))) == NULL)
			fatal("calloc");
		if (l->n)
			memcpy(a + room, l->a + l->head, l->n * sizeof(*a));
		free(l->a);
		l->a = a;
		l->head = room;
		l->cap = cap;
	}
	if (!left && l->head + l->n == l->cap) {
		size_t	 cap = l->cap < 8 ? 16 : l->cap * 2;

		if ((l->a = reallocarray(l->a, cap, sizeof(*l->a))) == NULL)
			fatal("reallocarray");
		l->cap = cap;
	}
	if (left) {
		l->head--;
		l->a[l->head] = str_dup(p, n);
	} else
		l->a[l->head + l->n] = str_dup(p, n);
	l->n++;
}

struct str
list_pop(struct list *l, int left)
{
	struct str	 s;

	if (left) {
		s = l->a[l->head];
		l->head++;
	} else
		s = l->a[l->head + l->n - 1];
	l->n--;
	if (l->n == 0)
		l->head = 0;
	return s;
}

struct str *
list_at(struct list *l, size_t i)
{
	return &l->a[l->head + i];
}
