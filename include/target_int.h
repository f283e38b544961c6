/*
 * target_int.h - the target channel's insides, shared by its files and
 * included by nothing else (the API is target.h):
 *
 *   target.c	 routing by slot, redirections, retries, resends after a
 *		 lost connection, the I/O loop, and the channel's life
 *   durable.c	 target_durable(): WAIT for each master's replicas, so a
 *		 checkpoint covers only writes a failover cannot lose
 *   node.c	 one connection and its unacknowledged commands (node.h)
 *   cluster.c	 hash slots and the slot map (cluster.h)
 *
 * It lives in include/ with the other headers; the _int says it is not a
 * module's interface.
 */
#ifndef DF2REDIS_TARGET_INT_H
#define DF2REDIS_TARGET_INT_H

#include <sys/queue.h>

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "error.h"
#include "node.h"
#include "target.h"

#define MAX_MODULES		64

struct tgroup;

struct target {
	struct target_opts	 opts;
	int			 cluster;
	int			 version;
	char			*modules[MAX_MODULES];
	size_t			 nmodules;
	target_reply_fn		 cb;
	void			*cbarg;
	struct nodes		 nodes;
	LIST_HEAD(, tgroup)	 groups;
	size_t			 nnodes;
	struct cluster_map	 map;
	struct pollfd		*pfd;
	struct node		**pnode;
	size_t			 pfdsz;
	char			*rbuf;
	uint64_t		 last_refresh;
	int			 failed;
	int			 in_cb;
	struct target_stats	 stats;
	struct error		 err;
};

/* target.c: fail the channel (the first failure sticks), -1 */
int	 tfail(struct target *, enum err_kind, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 tfail_node(struct target *, const struct node *);
/* commands follow their slots after the map changed */
int	 target_remap(struct target *);
/* CLUSTER SLOTS again; force: even right after the last one */
int	 target_refresh(struct target *, struct node *, int);

/* durable.c: a reply to target_durable()'s EVAL or WAIT */
int	 durable_reply(struct node *, const redisReply *);
/* a master lost with writes a failover may have lost fails the channel */
int	 durable_failover(struct target *, struct node *);

#endif /* DF2REDIS_TARGET_INT_H */
