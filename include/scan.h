/*
 * scan.h - every db of every master of a target, each on a connection of
 * its own: what the cleanup of killed runs' leftovers (tmpkeys.h) and a
 * full resync's sweep (sweep.h) walk.  A standalone server is walked in
 * each db INFO keyspace lists, a cluster in db 0 of each master of its
 * CLUSTER SLOTS, once.
 */
#ifndef DF2REDIS_SCAN_H
#define DF2REDIS_SCAN_H

#include <hiredis/hiredis.h>

#include "error.h"
#include "net.h"
#include "url.h"

#define SCAN_TIMEOUT_MS	60000	/* a SCAN or UNLINK of a big db */

/* Where the walk is: a connection SELECTed to db. */
struct scan_db {
	struct net_conn	*c;
	int		 db;
	int		 cluster;
	unsigned int	 first, last;	/* the master's slots (all of
					   them on a standalone server) */
};

/* Once per db; a count >= 0, summed by scan_target(), or -1 with e set. */
typedef long scan_db_fn(void *, const struct scan_db *, struct error *);
/* One SCAN reply's keys (an array of strings); -1 stops, e set. */
typedef long scan_keys_fn(void *, const struct scan_db *,
    const redisReply *keys, struct error *);

long	scan_target(const struct target_opts *, scan_db_fn *, void *,
	    struct error *);
/* SCAN the db to its end (MATCH match unless NULL), batch by batch. */
long	scan_keys(const struct scan_db *, const char *match, scan_keys_fn *,
	    void *, struct error *);

#endif
