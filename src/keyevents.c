/*
 * keyevents.c - the keys a decoder has open, by handle (keyevents.h).
 *
 * Handle 0, the key decoded in one go, has a slot of its own; tagged keys
 * take the first closed slot of a small array, searched linearly: a
 * Dragonfly flow interleaves a handful of keys at most.
 */
#include <stdlib.h>

#include "keyevents.h"

struct kslot {
	uint32_t	 eid;
	int		 open;
	int		 skip;		/* begin() returned KEYEV_SKIP */
	void		*state;
};

struct keytab {
	size_t		 size;
	struct kslot	 k0;		/* handle 0 */
	struct kslot	**slots;	/* handles != 0 */
	size_t		 nslots;
};

struct keytab *
keytab_new(size_t size)
{
	struct keytab *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->size = size;
	if ((t->k0.state = calloc(1, size)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
keytab_free(struct keytab *t, void (*fini)(void *))
{
	size_t i;

	if (t == NULL)
		return;
	if (fini != NULL)
		fini(t->k0.state);
	free(t->k0.state);
	for (i = 0; i < t->nslots; i++) {
		if (fini != NULL)
			fini(t->slots[i]->state);
		free(t->slots[i]->state);
		free(t->slots[i]);
	}
	free(t->slots);
	free(t);
}

static struct kslot *
slot_find(struct keytab *t, uint32_t eid)
{
	size_t i;

	if (eid == 0)
		return t->k0.open ? &t->k0 : NULL;
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i]->open && t->slots[i]->eid == eid)
			return t->slots[i];
	return NULL;
}

/* A closed slot for a new key, NULL when memory ran out. */
static struct kslot *
slot_new(struct keytab *t, uint32_t eid)
{
	struct kslot **slots, *s;
	size_t i;

	if (eid == 0)
		return &t->k0;
	for (i = 0; i < t->nslots; i++)
		if (!t->slots[i]->open)
			return t->slots[i];
	if ((slots = reallocarray(t->slots, t->nslots + 1,
	    sizeof(*slots))) == NULL)
		return NULL;
	t->slots = slots;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->state = calloc(1, t->size)) == NULL) {
		free(s);
		return NULL;
	}
	t->slots[t->nslots++] = s;
	return s;
}

static int
key_open(struct keytab *t, const struct keyev_ops *ops, void *arg,
    const struct rdb_event *ev, struct error *err)
{
	struct kslot *s;
	int rv;

	if (slot_find(t, ev->eid) != NULL)
		return err_set(err, ERR_DATA, "key \"%.*s\" begins while "
		    "handle %u is still open", (int)ev->key.len, ev->key.p,
		    ev->eid);
	if ((s = slot_new(t, ev->eid)) == NULL)
		return err_set(err, ERR_SYS, "out of memory");
	s->open = 1;
	s->eid = ev->eid;
	s->skip = 0;
	if ((rv = ops->begin(arg, s->state, ev)) == -1)
		return -1;
	s->skip = rv == KEYEV_SKIP;
	return 0;
}

int
keytab_event(struct keytab *t, const struct keyev_ops *ops, void *arg,
    const struct rdb_event *ev, struct error *err)
{
	struct kslot *s;
	int rv;

	switch (ev->type) {
	case RDB_EV_KEY:
		return key_open(t, ops, arg, ev, err);
	case RDB_EV_STR:
	case RDB_EV_ITEM:
	case RDB_EV_STREAM_ENTRY:
	case RDB_EV_STREAM_META:
	case RDB_EV_STREAM_GROUP:
	case RDB_EV_STREAM_PEL:
	case RDB_EV_STREAM_CONSUMER:
	case RDB_EV_STREAM_CPEL:
	case RDB_EV_KEY_END:
		break;
	default:
		return 0;
	}
	if ((s = slot_find(t, ev->eid)) == NULL)
		return err_set(err, ERR_DATA, "event for key \"%.*s\" (handle "
		    "%u) that has not begun", (int)ev->key.len, ev->key.p,
		    ev->eid);
	if (ev->type == RDB_EV_KEY_END) {
		rv = ops->end(arg, s->state, ev);
		s->open = 0;
		return rv;
	}
	if (s->skip)
		return 0;
	switch (ev->type) {
	case RDB_EV_STR:
		return ops->str(arg, s->state, ev);
	case RDB_EV_ITEM:
		return ops->item(arg, s->state, ev);
	default:
		return ops->stream(arg, s->state, ev);
	}
}

void
keytab_close_all(struct keytab *t, void (*fn)(void *, void *), void *arg)
{
	size_t i;

	if (t->k0.open)
		fn(arg, t->k0.state);
	t->k0.open = 0;
	for (i = 0; i < t->nslots; i++) {
		if (t->slots[i]->open)
			fn(arg, t->slots[i]->state);
		t->slots[i]->open = 0;
	}
}

size_t
keytab_nopen(const struct keytab *t, int tagged)
{
	size_t i, n = 0;

	if (!tagged)
		return t->k0.open;
	for (i = 0; i < t->nslots; i++)
		n += t->slots[i]->open;
	return n;
}
