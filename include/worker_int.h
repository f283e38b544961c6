/*
 * worker_int.h - a flow worker's insides, shared by its files and
 * included by nothing else (the API is worker.h):
 *
 *   worker.c	 the process: target, FLOW registration, the snapshot up
 *		 to the EOF token, the supervisor's messages, the end
 *   stable.c	 stable sync: the journal after the token replayed into
 *		 the target, REPLCONF ACK and the LSN checkpoints
 */
#ifndef DF2REDIS_WORKER_INT_H
#define DF2REDIS_WORKER_INT_H

#include <poll.h>
#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "dfly.h"
#include "error.h"
#include "imsg.h"
#include "journal.h"
#include "lag.h"
#include "lsnstore.h"
#include "marks.h"
#include "net.h"
#include "rdb.h"
#include "spool.h"
#include "target.h"
#include "worker.h"
#include "writer.h"

#define READ_CHUNK	(256 * 1024)
#define STATS_EVERY_MS	250

struct worker {
	const struct config	*cfg;
	const struct dfly_master *m;	/* the session's, or mbuf */
	struct dfly_master	 mbuf;		/* the session of a reflow */
	int			 flow;
	int			 msgfd;
	struct session_shm	*shm;
	struct net_conn	 conn;
	struct dfly_flow_reply	 reply;
	struct target		*target;
	struct writer		*writer;
	struct filter		*filter;	/* cfg's compiled, or NULL */
	struct lsnstore		*lsn;
	struct rdb		*rdb;
	struct journal		*jr;		/* blobs, then the stream */
	struct msg_stats	 st;
	int			 have_offset;
	int			 forgot;	/* LSN record cleared */
	char			 token[DFLY_ID_LEN];
	size_t			 ntoken;
	int			 stable;	/* replay the journal */
	uint64_t		 jstart;	/* flow offset of the first
						   journal byte */
	int64_t			 last_stats_ms;
	int64_t			 caught_up_ms;	/* mono: every record read
						   was acknowledged */
	struct spool		*spool;		/* stable sync: read, not
						   yet applied */
	int			 mark;		/* a full sync marks its keys */
	struct marks		*marks;		/* until the sweep (sweep.h) */
	struct spool		*held;		/* a full resync's journal,
						   applied after the sweep */
	struct journal		*hjr;		/* its decoder then */
	uint64_t		 held_recs;
	uint64_t		 applied;	/* journal bytes applied */
	uint64_t		 rate_applied;	/* at rate_ms */
	int64_t			 rate_ms;
	uint64_t		 rate;		/* bytes applied per second */
	struct lag		 lag;		/* stable sync: records behind */
	char			*rbuf;
	char			 label[32];	/* the writer keeps a pointer */
};

/* SIGTERM: finish the write in flight, flush, checkpoint, exit 0. */
extern volatile sig_atomic_t	worker_stop;

/* worker.c */
/* ppoll() with SIGTERM let through only while waiting. */
int	worker_poll(struct pollfd *, nfds_t, int timeout_ms);
void	worker_phase(struct worker *, enum flow_phase);
/* Tell the supervisor, or exit: nobody to report to. */
void	worker_report(struct worker *, enum msg_type, const void *, size_t);
void	worker_stats(struct worker *, enum msg_type);
/* The worker's last word (MSG_ERROR of that kind); exits 1. */
void	wfail(struct worker *, enum err_kind, const char *, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));
/* A SIGTERM is pending (it is blocked outside worker_poll()). */
int	worker_stop_pending(void);
/*
 * Read the flow into w->rbuf, counting bytes: 0 at its end, -1 when
 * nothing could be read yet (TLS: a partial record); fails on error.
 */
ssize_t	worker_read(struct worker *);
/*
 * worker_poll() with pfd[0] set to the flow (net_events(), and
 * readable at once while TLS holds decrypted bytes).
 */
int	worker_poll_flow(struct worker *, struct pollfd *, nfds_t,
	    int timeout_ms);
/* The kind of the writer's error: ERR_DATA fails every time. */
enum err_kind worker_write_kind(struct worker *);
/* DFLY FLOW from lsn (0: full sync) on a new connection; MSG_FLOW_REPLY. */
void	worker_register(struct worker *, uint64_t lsn);
/* A PARTIAL flow: a new journal decoder fed what came with the reply. */
void	worker_journal_start(struct worker *);
/*
 * STATE_DIR/NAME-FLOW, opened empty, with the spool's limits (its share
 * of spool-max-total, at most spool-max).
 */
struct spool *worker_spool(struct worker *, const char *name);
/* Journal arguments are counted bytes, not NUL-terminated strings. */
int	worker_is_command(const struct journal_rec *, const char *);

/* stable.c */
/* Replay the journal until a stop or an error; never returns. */
void	stable_run(struct worker *) __attribute__((noreturn));

#endif
