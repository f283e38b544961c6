/*
 * cmd_hash.c - hash commands: HSET, HDEL, HINCRBY, HGET, HGETALL, HLEN.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "text.h"
#include "resp.h"
#include "cmd_hash.h"

static void
hash_put(struct obj *o, const char *f, size_t fl, const char *v, size_t vl,
    int *created)
{
	struct dent	*e = dict_add(o->d, f, fl, created);
	struct str	*s;

	if (!*created) {
		str_free(e->val);
		free(e->val);
	}
	if ((s = malloc(sizeof(*s))) == NULL)
		fatal("malloc");
	*s = str_dup(v, vl);
	e->val = s;
}

static void
free_strval(void *p)
{
	str_free(p);
	free(p);
}

void
cmd_hset(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, added = 0;
	int		 created;

	if (argc % 2 != 0) {
		reply_error(c, "ERR wrong number of arguments for 'hset' "
		    "command");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_HASH)) == NULL)
		return;
	for (i = 2; i < argc; i += 2) {
		hash_put(o, argv[i], lens[i], argv[i + 1], lens[i + 1],
		    &created);
		added += created;
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)added);
}

void
cmd_hdel(struct client *c, size_t argc, char **argv, size_t *lens)
{
	del_members(c, argc, argv, lens, OBJ_HASH, free_strval);
}

void
cmd_hincrby(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	long long	 by, v = 0;
	char		 num[32];
	int		 n, created, wt;

	if (parse_ll(argv[3], lens[3], &by) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o != NULL && (e = dict_find(o->d, argv[2], lens[2])) != NULL &&
	    parse_ll(((struct str *)e->val)->p, ((struct str *)e->val)->len,
	    &v) == -1) {
		reply_error(c, "ERR hash value is not an integer");
		return;
	}
	if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
		reply_error(c, "ERR increment or decrement would overflow");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_HASH)) == NULL)
		return;
	v += by;
	n = snprintf(num, sizeof(num), "%lld", v);
	hash_put(o, argv[2], lens[2], num, (size_t)n, &created);
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, v);
}

void
cmd_hget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o == NULL || (e = dict_find(o->d, argv[2], lens[2])) == NULL)
		reply_null(c);
	else
		reply_bulk(c, ((struct str *)e->val)->p,
		    ((struct str *)e->val)->len);
}

void
cmd_hgetall(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_array(c, 0);
		return;
	}
	reply_array(c, (long long)o->d->count * 2);
	for (i = 0; i < dict_buckets(o->d); i++)
		for (e = o->d->b[i]; e != NULL; e = e->next) {
			reply_bulk(c, e->key, e->klen);
			reply_bulk(c, ((struct str *)e->val)->p,
			    ((struct str *)e->val)->len);
		}
}

void
cmd_hlen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->d->count : 0);
}
