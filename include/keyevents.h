/*
 * keyevents.h - the keys a decoder has open, and the dispatch of their
 * events: one implementation for the writer (keybuild.c) and inspect.
 *
 * The RDB decoder (rdb.h) sends a key as RDB_EV_KEY, its pieces
 * (RDB_EV_STR, RDB_EV_ITEM, RDB_EV_STREAM_*), then RDB_EV_KEY_END.  A key
 * of Dragonfly's tagged chunks carries a handle (eid != 0) and its events
 * interleave with other keys', so several keys may be open at once.
 *
 * A keytab holds a state of the user's for each open key, found by
 * handle: keytab_event() checks that a key begins only while its handle
 * is free and that every piece belongs to an open key, then calls the
 * user's function for the event with that state.  States are kept and
 * reused for later keys (their buffers with them): begin() must set up
 * every field it relies on.  Events that are not a key's are ignored.
 */
#ifndef DF2REDIS_KEYEVENTS_H
#define DF2REDIS_KEYEVENTS_H

#include <stddef.h>

#include "error.h"
#include "rdb.h"

/* begin() returns it to skip the key's pieces; end() is still called */
#define KEYEV_SKIP	1

/*
 * The user's functions: arg is keytab_event()'s, state the key's.  They
 * return 0, or -1 on an error they report themselves; begin() may return
 * KEYEV_SKIP.  A key is closed after end(), whatever it returned.
 */
struct keyev_ops {
	int	(*begin)(void *arg, void *state, const struct rdb_event *);
	int	(*str)(void *arg, void *state, const struct rdb_event *);
	int	(*item)(void *arg, void *state, const struct rdb_event *);
	int	(*stream)(void *arg, void *state,	/* RDB_EV_STREAM_* */
		    const struct rdb_event *);
	int	(*end)(void *arg, void *state, const struct rdb_event *);
};

struct keytab;

/* A table of states of statesize bytes, zeroed when first used. */
struct keytab	*keytab_new(size_t statesize);
/* fini, when not NULL, is called on every state first. */
void		 keytab_free(struct keytab *, void (*fini)(void *state));
/*
 * One decoder event, in order.  0 done (or not a key's event), -1 when a
 * function failed, or when the event breaks the order or memory ran out:
 * then err says so (ERR_DATA: naming the key and its handle; ERR_SYS).
 */
int		 keytab_event(struct keytab *, const struct keyev_ops *,
		    void *arg, const struct rdb_event *, struct error *err);
/* Call fn on the state of every open key, then close them all. */
void		 keytab_close_all(struct keytab *,
		    void (*fn)(void *arg, void *state), void *arg);
/* How many keys are open: tagged ones (handle != 0), or the untagged. */
size_t		 keytab_nopen(const struct keytab *, int tagged);

/* Stream ids in order, for the users' PELs: -1, 0 or 1. */
static inline int
keyev_idcmp(const struct rdb_stream_id *a, const struct rdb_stream_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

#endif
