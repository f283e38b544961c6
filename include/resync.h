/*
 * resync.h - the target made ready for a new full sync, before the
 * session that runs it.
 *
 * Two leftovers of earlier sessions would otherwise stay on the target:
 * keys of dbs the master flushed while the last full sync ran (a full
 * sync overwrites key by key, it never deletes), and the temporary keys
 * of workers killed half-way through a key, which carry a dead pid and
 * which nothing else would ever delete.  resync_prepare() flushes the
 * first (all of them with flush-on-resync) and deletes the second.
 */
#ifndef DF2REDIS_RESYNC_H
#define DF2REDIS_RESYNC_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "url.h"

/* What the next session must flush first, in source dbs. */
struct resync {
	int	 flush_all;
	int	 master_flushed;	/* why: the master's FLUSHALL/DB */
	uint8_t	 flush_db[CONFIG_MAXDB];
};

/* The master ran FLUSHDB of source db (FLUSHALL: db < 0). */
void	resync_master_flushed(struct resync *, int db);
/* flush-on-resync: the next session starts on emptied dbs. */
void	resync_flush_all(struct resync *);
/* The target's URL, with the password config.c found for it. */
int	resync_target_opts(const struct config *, struct target_opts *,
	    struct error *);
/*
 * dst[d] set for every target db d that a source db marked in src (every
 * one when src is NULL) is written to, mapped as the workers map them:
 * --db-map, else the URL's /DB, else the same number; a cluster has only
 * db 0.  A source db the db filter leaves out (filter.h) is written
 * nowhere.  Returns whether every db maps to itself.
 */
int	resync_dest_dbs(const struct config *, const struct target_opts *,
	    int cluster, const uint8_t *src, uint8_t *dst);
/*
 * Flush what was asked for, then delete the temporary keys of killed
 * writers.  0 ok; -1 with e set, its kind saying whether a later attempt
 * may pass (the flush stays asked for until it was done).
 */
int	resync_prepare(struct resync *, const struct config *,
	    struct error *);

#endif
