/*
 * check.h - `df2redis check`: the source and the target compared key by
 * key, by value rather than by encoding (Dragonfly and Redis encode the
 * same value differently, so DUMP bytes cannot be compared).
 *
 * check.c is the command: options, the SCAN of every source db and of
 * every target db a source db maps to, and the re-check of what differs
 * after the replication lag (its state in check_int.h); checkreport.c
 * prints the report.  checkside.c holds the two sides' connections (the
 * project's net.h connections; a cluster is one per master, keys routed
 * by slot).  checkval.c compares one key's value, type by type, in chunks
 * of at most CHECK_CHUNK members (CHECK_STRCHUNK bytes of a string), so
 * memory does not grow with the size of a key.
 */
#ifndef DF2REDIS_CHECK_H
#define DF2REDIS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "error.h"
#include "net.h"
#include "url.h"

#define CHECK_CHUNK	1000		/* members per command */
#define CHECK_STRCHUNK	(256 * 1024)	/* bytes per GETRANGE */
#define CHECK_SMALLSTR	4096		/* strings read whole, pipelined */
#define CHECK_PIPE	256		/* keys per pipelined batch */
#define CHECK_WHYLEN	256

struct check;

/* One server, or every master of a cluster. */
struct side {
	const char		*label;		/* "source" or "target" */
	struct check		*ck;		/* counts and limits the ops */
	int			 is_source;
	const struct target_opts *opts;		/* address and credentials */
	int			 timeout_ms;
	int			 cluster;
	struct net_conn		*conns;
	int			 nconns;
	uint16_t		 slot_conn[CLUSTER_NSLOTS];
	int			 db;		/* SELECTed (standalone) */
};

/* n more commands on either side: waits while --max-ops says so. */
void		 check_ops(struct check *, size_t n);

/* Connects, and on a cluster (INFO cluster) to every master. */
int		 side_open(struct side *, struct error *);
void		 side_close(struct side *);
/* SELECT db unless selected (a cluster has db 0 only). */
int		 side_select(struct side *, int db, struct error *);

/* One command for side_pipe(): argv, and the key that routes it. */
struct side_cmd {
	int		 argc;
	const char	*argv[8];
	size_t		 lens[8];
	int		 keyidx;	/* -1: the first connection */
};

/*
 * Sends n commands, reads their replies into r (freeReplyObject each).
 * A cluster's MOVED/ASK reloads the slot map and runs the command again.
 * -1 with e on a lost connection or a protocol error.
 */
int		 side_pipe(struct side *, struct side_cmd *, size_t n,
		    redisReply **r, struct error *);
/* One command on the connection of key (NULL: the first one). */
redisReply	*side_command(struct side *, int argc, const char **argv,
		    const size_t *lens, int keyidx, struct error *);

/*
 * The same command on both sides at once, routed by argv[keyidx]; both
 * replies or -1 with e.
 */
int		 both_command(struct side *src, struct side *dst, int argc,
		    const char **argv, const size_t *lens, int keyidx,
		    redisReply **rs, redisReply **rt, struct error *);

/*
 * Compares the value of key, of type (TYPE's reply), on both sides,
 * each already in the right db.  0 equal, 1 different (why says how),
 * -1 with e when a side failed.  A WRONGTYPE or a vanished key (it
 * changed while it was read) counts as different: the re-check decides.
 */
int		 check_value(struct side *src, struct side *dst,
		    const char *type, const char *key, size_t klen,
		    char *why, size_t whylen, struct error *);

/*
 * The strings keys[idx[0..n-1]] (n <= CHECK_PIPE) compared together:
 * STRLEN of all, then GETRANGE of the short ones, pipelined on each
 * side; the long ones as check_value() does.  diff[i] is 1 (why[i], of
 * CHECK_WHYLEN bytes, set) when key idx[i] differs, else 0; -1 with e.
 */
int		 check_strings(struct side *src, struct side *dst,
		    const char **keys, const size_t *lens, const size_t *idx,
		    size_t n, int *diff, char **why, struct error *);

#endif
