/*
 * lsnstore.h - per-flow replication checkpoints in LMDB (STATE_DIR/lsn.mdb).
 *
 * One record per flow: the master's replication id, the flow count of the
 * session and the next LSN to ask for with `DFLY FLOW ... <lsn>` (partial
 * sync).  A record is written only after the target acknowledged every
 * write up to that LSN, so resuming from it never loses a write; it is
 * deleted when a full sync of that flow begins, because from then on the
 * target no longer matches any earlier LSN.  Each process opens its own
 * handle (LMDB handles must not cross fork()).
 */
#ifndef DF2REDIS_LSNSTORE_H
#define DF2REDIS_LSNSTORE_H

#include <stddef.h>
#include <stdint.h>

#define LSN_REPLID_LEN	40

enum lsn_state {
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
	int64_t		 updated_ms;	/* unix ms of the write */
};

struct lsnstore;

struct lsnstore	*lsnstore_open(const char *dir, char *err, size_t errlen);
void		 lsnstore_close(struct lsnstore *);
/* 1 found, 0 no record, -1 error. */
int		 lsnstore_get(struct lsnstore *, int flow, struct lsn_rec *,
		    char *err, size_t errlen);
/* Durable (synced) when it returns 0. */
int		 lsnstore_put(struct lsnstore *, int flow,
		    const struct lsn_rec *, char *err, size_t errlen);
int		 lsnstore_del(struct lsnstore *, int flow, char *, size_t);

#endif
