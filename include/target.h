/*
 * target.h - a pipelined, at-least-once command channel to one Redis
 * server or to every master of a Redis Cluster.
 *
 * Commands are copied in, routed by the hash slot of their key argument,
 * pipelined (many in flight per connection) and kept until the server
 * acknowledged them.  MOVED refreshes the slot map and resends, ASK sends
 * ASKING first, TRYAGAIN/CLUSTERDOWN/LOADING back off and retry, and a
 * dropped connection is reopened and every unacknowledged command resent
 * in order.  Commands are therefore run at least once: one that is not
 * safe to run twice is sent with TARGET_NORESEND, and the channel fails
 * rather than resend it when it may have run.  Memory is bounded by the
 * in-flight window.
 *
 * target_open() and a failed channel say what went wrong with a kind
 * (error.h): a refused password is ERR_AUTH, a db a cluster cannot have
 * or a db the server refuses ERR_CONFIG, a lost server ERR_IO, a refused
 * command ERR_TARGET.
 *
 * Standalone: a SELECT sent through target_send() (keyless) is tracked;
 * after a reconnect the db of the last acknowledged SELECT is selected
 * again before the resend.  No other connection state is restored, so
 * MULTI/EXEC must not be sent through this channel.
 */
#ifndef DF2REDIS_TARGET_H
#define DF2REDIS_TARGET_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "error.h"
#include "url.h"

/*
 * Reply callback, called once per command with its final reply (after
 * MOVED/ASK/TRYAGAIN were handled).  Error replies reach it too.  Return 0
 * to go on, -1 to fail the target (after target_seterr()).
 *
 * A callback rather than a pull API: replies arrive in order per node,
 * interleaved across nodes, while pump() is inside a write or a wait for
 * the window, and the writer must settle its per-key state (a check that
 * failed, a follow-up command to queue) before later replies of the same
 * key are looked at.  Pulling them would mean a queue of owned reply
 * objects that grows with the window and a second ordering rule between
 * it and the commands still in flight; the callback sees each reply
 * while hiredis owns it, and may queue commands without waiting.
 */
typedef int	(*target_reply_fn)(void *arg, uint64_t tag, const redisReply *);

struct target;

/* Connects, authenticates, detects standalone or cluster (INFO cluster). */
struct target	*target_open(const struct target_opts *, struct error *);
void		 target_close(struct target *);
int		 target_is_cluster(const struct target *);
/* "7.0.15" parsed from INFO server: major*10000 + minor*100 + patch */
int		 target_version(const struct target *);
/* Modules loaded on the target (MODULE LIST), e.g. "ReJSON". */
int		 target_has_module(const struct target *, const char *);
void		 target_set_reply_cb(struct target *, target_reply_fn, void *);
/*
 * Queue one command.  keyidx: index in argv of the key that routes it;
 * -1 for a keyless command (standalone: the server; cluster: any master).
 * May block reading replies while the window is full.  -1 on failure.
 */
int		 target_send(struct target *, int argc, const char **argv,
		    const size_t *argvlen, int keyidx, uint64_t tag);
/*
 * target_send() with flags.  TARGET_NORESEND: the command must not run
 * twice (INCR, RPUSH, ...).  When its connection is lost after the whole
 * command was written and before its reply came, it may have run: the
 * target fails ("connection to H:P lost with N unacknowledged commands
 * that are not safe to resend") instead of resending it, and so it does
 * when a copy left behind by a redirection turns out to have run.  The
 * caller restarts from a point it knows to be safe.  A command not yet
 * written is resent as usual; so is one answered MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN, LOADING or MASTERDOWN, which did not run.
 */
#define TARGET_NORESEND	0x01
int		 target_send_flags(struct target *, int argc, const char **argv,
		    const size_t *argvlen, int keyidx, uint64_t tag, int flags);
/*
 * Send to every master (cluster) or the server (standalone).  The reply
 * callback runs once for the whole: with the first error reply, else with
 * the reply of the last master to answer.
 */
int		 target_send_all(struct target *, int argc, const char **argv,
		    const size_t *argvlen, uint64_t tag);
/* Block until every queued command was acknowledged; -1 on failure. */
int		 target_flush(struct target *);
/*
 * target_flush(), and on a cluster until what was acknowledged would
 * survive a failover: every master a command ran on since the last call
 * is sent WAIT for the replicas CLUSTER SLOTS lists for it (none: no
 * WAIT), after a write of ours if its connection was lost meanwhile.
 * Replicas short are waited for (the map refreshed, as one marked failed
 * drops out) up to retry_ms, then the channel fails.  A master lost with
 * such writes whose slots another master serves now (a failover) fails
 * the channel at once, here or as soon as a reconnect finds it: the
 * caller must resume from a point its last target_durable() covered.  A
 * checkpoint is stored only after this returned 0.
 */
int		 target_durable(struct target *);
/*
 * One round of I/O without queueing anything: write what is queued, read
 * replies, reconnect what is due; waits up to timeout_ms for any of it.
 * For callers that go idle with commands queued (a quiet journal).
 */
int		 target_poll(struct target *, int timeout_ms);
/*
 * Whether a few more commands can be queued without waiting: every node
 * connected and at most half its window in flight.  A caller that must
 * not block (a worker reading its FLOW) holds its input back otherwise.
 */
int		 target_room(const struct target *);
/*
 * The descriptors target_poll() would wait on, at most max, for a caller
 * multiplexing them with its own: events set, the count returned, and
 * *timeout lowered to TARGET_TICK_MS while a reconnect or a retry is due
 * (or some node did not fit).  Then target_poll(t, 0) does the I/O.
 */
#define TARGET_TICK_MS	50
int		 target_pollfds(struct target *, struct pollfd *, int max,
		    int *timeout);
/* Commands queued and not yet acknowledged. */
size_t		 target_pending(const struct target *);
/* Their bytes, held until acknowledged (tombstones included). */
size_t		 target_pending_bytes(const struct target *);
void		 target_seterr(struct target *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*target_error(const struct target *);
/* What kind of failure (error.h): ERR_AUTH and ERR_CONFIG fail every time. */
enum err_kind	 target_error_kind(const struct target *);
/*
 * What the channel did behind the caller's back, for logs and tests.
 * The reply callback must not call target_flush(); it may queue commands
 * with target_send(), which then does not wait for the window.
 */
struct target_stats {
	uint64_t	 moved;		/* MOVED replies followed */
	uint64_t	 ask;		/* ASK replies followed */
	uint64_t	 retries;	/* TRYAGAIN/CLUSTERDOWN/LOADING/MASTERDOWN */
	uint64_t	 reconnects;	/* connections reopened after a loss */
	uint64_t	 refreshes;	/* slot map reloads */
};
const struct target_stats *target_stats(const struct target *);
/* The same per node, and its commands in flight: node i, 0 past the last. */
struct target_node_stats {
	const char	*name;		/* host:port */
	uint64_t	 inflight;	/* sent or queued, not acknowledged */
	uint64_t	 reconnects;
	uint64_t	 moved;		/* MOVED replies it gave */
	uint64_t	 ask;
};
int		 target_node_stats(const struct target *, size_t i,
		    struct target_node_stats *);
/* CRC16 slot of a key, honouring {hash tags}. */
unsigned int	 target_slot(const char *, size_t);

#endif
