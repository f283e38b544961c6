/*
 * lsnstore.h - per-flow replication checkpoints in LMDB (STATE_DIR/lsn.mdb).
 *
 * One record per flow: the master's replication id, the flow count of the
 * session and the next LSN to ask for with `DFLY FLOW ... <lsn>` (partial
 * sync).  A record is written only after the target acknowledged every
 * write up to that LSN, so resuming from it never loses a write; its LSN
 * is cleared (LSN_FULLSYNC) when a full sync of that flow begins, because
 * from then on the target no longer matches any earlier LSN.
 *
 * Each process opens its own handle, after fork() (LMDB handles must not
 * cross it); any number of processes may write at once, LMDB serializes
 * them.  Opening clears the reader slots of processes that died inside a
 * read transaction, which would otherwise keep old pages from reuse.
 * Errors name the store's path; their kinds: ERR_CONFIG when the state
 * directory cannot hold a store (missing, not a directory, permission),
 * ERR_DATA when the file is not an LMDB store or a record is corrupt,
 * ERR_SYS for a failed read or write (a retry may pass).
 */
#ifndef DF2REDIS_LSNSTORE_H
#define DF2REDIS_LSNSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LSN_REPLID_LEN	40

enum lsn_state {
	LSN_FULLSYNC = 0,	/* a full sync began: next_lsn is 0 */
	LSN_FULLSYNC_DONE = 1,	/* snapshot applied up to the trailer */
	LSN_STABLE = 2,		/* journal applied up to next_lsn - 1 */
};

struct lsn_rec {
	char		 replid[LSN_REPLID_LEN + 1];
	uint32_t	 nflows;
	uint64_t	 next_lsn;	/* first record not yet applied */
	enum lsn_state	 state;
	uint64_t	 keys;		/* keys written by the last full sync */
	uint64_t	 bytes;		/* bytes read on the flow */
	int64_t		 updated_ms;	/* unix ms of the write (wall clock) */
};

struct lsnstore;

/* Open or create DIR/lsn.mdb (DIR is made when missing). */
struct lsnstore	*lsnstore_open(const char *dir, struct error *);
void		 lsnstore_close(struct lsnstore *);
/* 1 found, 0 no record, -1 error. */
int		 lsnstore_get(struct lsnstore *, int flow, struct lsn_rec *,
		    struct error *);
/* Durable (synced) when it returns 0; updated_ms 0 stamps it now. */
int		 lsnstore_put(struct lsnstore *, int flow,
		    const struct lsn_rec *, struct error *);

#endif
