/*
 * supervisor.h - the supervisor process of `df2redis replicate` and
 * `migrate`, shared by its four files and by nothing else:
 *
 *	supervisor.c	process management: the pid file, signals, the
 *			poll loop, workers forked, told and reaped, the
 *			backoff between sessions, the main loop
 *	session.c	one replication session as a state machine, from
 *			the handshake to its outcome
 *	ctlcmd.c	the answers to control requests (ctl.h)
 *	resync.c	the target made ready before a session (resync.h)
 *	status.c	the status request and per-flow history (status.h)
 *	takeover.c	DFLY TAKEOVER for the control client (takeover.h)
 *
 * The supervisor owns the control connection to the Dragonfly master and
 * one worker process per FLOW (worker.h), which it hears from over imsg.h
 * messages.  It is single-threaded: everything below runs from the poll
 * loop, sup_pump().
 */
#ifndef DF2REDIS_SUPERVISOR_H
#define DF2REDIS_SUPERVISOR_H

#include <sys/types.h>

#include <stdint.h>

#include "config.h"
#include "ctl.h"
#include "dfly.h"
#include "error.h"
#include "httpd.h"
#include "imsg.h"
#include "resync.h"
#include "status.h"
#include "takeover.h"
#include "worker.h"

/*
 * A session's states, in order; the status request shows them.  A
 * session that fails in any of them ends in SESS_BACKOFF before the next.
 */
enum sess_state {
	SESS_CONNECTING,	/* handshake, each worker's FLOW */
	SESS_FULL_SYNC,		/* DFLY SYNC sent: snapshots stream */
	SESS_BARRIER,		/* a flow passed FULLSYNC_END, not all */
	SESS_STABLE_SWITCH,	/* DFLY STARTSTABLE sent: trailers drain */
	SESS_SWEEP,		/* a full resync's sweep (sweep.h) runs */
	SESS_STABLE,		/* replicate: every flow replays its journal */
	SESS_DONE,		/* migrate: every trailer applied */
	SESS_BACKOFF,		/* waiting to start the next session */
	SESS_STOPPING,
};

/*
 * How a session ended; OUT_RESTART: the operator's, no retry counted;
 * OUT_RESUME: a stable session broke (a worker died, the master closed a
 * connection): the live workers stay, the next session resumes.
 */
enum outcome { OUT_DONE, OUT_RETRY, OUT_FATAL, OUT_STOPPED, OUT_RESTART,
	OUT_RESUME };

/* The supervisor's view of one worker. */
struct flow {
	pid_t			 pid;		/* 0 once reaped */
	int			 fd;		/* message socket, -1 closed */
	int			 replied;	/* MSG_FLOW_REPLY received */
	int			 synced;	/* MSG_FULLSYNC_DONE received */
	int			 done;		/* MSG_DONE received */
	int			 killed;	/* we signalled it */
	int			 partial;	/* answered PARTIAL */
	uint64_t		 lsn;		/* asked for at its spawn */
	int			 died;		/* in stable sync: respawn */
	int			 lost;		/* MSG_FLOW_LOST: waits */
	int			 deaths;	/* in a row, for the backoff */
	int64_t			 started_ms;	/* mono ms of its fork */
	struct msg_stats	 st;
	char			 token[DFLY_ID_LEN + 1];
	char			 last_error[256];
};

struct sup {
	/* the process */
	struct config		 cfg;
	const char		*cmd;
	uint64_t		 sync_keys;	/* the master's, at DFLY SYNC */
	int64_t			 sync_ms;	/* mono ms of DFLY SYNC */
	int			 argc;		/* the command line, copied: */
	char			**argv;		/* a SIGHUP reads it again */
	int			 migrate;
	int			 ctlfd;
	int			 sigfd[2];
	struct pidfh		*pfh;
	int			 stop;		/* SIGTERM or "stop" */
	int64_t			 ctl_pause_until; /* mono ms, after EMFILE */
	int64_t			 t0;		/* mono ms at the start */
	struct httpd		 httpd;		/* metrics-listen (metrics.h) */

	/* the session */
	struct net_conn	 master;
	struct dfly_master	 m;
	struct flow		*flows;
	int			 nflows;
	struct session_shm	*shm;
	enum sess_state		 state;
	int			 attempt;
	int			 sessions;	/* started so far */
	int			 restart;	/* "restart-flow" in a full sync */
	int			 resume;	/* a stable session broke */
	int			 force_full;	/* next session: full, why: */
	char			 full_why[512];
	char			 prev_replid[DFLY_ID_LEN + 1]; /* live workers' */
	int64_t			 broken_ms;	/* mono ms the stable session broke */
	int			 broken_flow;	/* whose death broke it, or -1 */
	int			 ctl_wait_fd;	/* restart-flow waiting, or -1 */
	int			 ctl_wait_flow;
	int			 sweeping;	/* a full resync: mark, sweep */
	pid_t			 sweep_pid;	/* the sweeper, 0 none */
	int			 sweep_fd;	/* its socket, -1 closed */
	int			 sweep_done;	/* its result is in `swept` */
	struct msg_swept	 swept;
	int			 startstable_sent;
	int			 startstable_pending; /* +OK not read yet */
	enum outcome		 failure;	/* set by session_fail() */
	int			 failed;

	/* for the next session */
	struct resync		 resync;

	/* across sessions */
	struct status_hist	 hist;
	struct takeover		 takeover;
};

/* supervisor.c */
/*
 * Sleep in poll, serving every event, until cond(s) holds, the session
 * failed, a stop or restart was asked or timeout_ms (-1: none) passed;
 * with intr == 0 only cond and the timeout end the wait.  Returns 1 when
 * cond holds.
 */
int	sup_pump(struct sup *, int (*cond)(struct sup *), int timeout_ms,
	    int intr);
/* Fork the worker of flow i, asking for a partial sync from lsn (0: full). */
int	sup_spawn_worker(struct sup *, int i, uint64_t lsn);
void	sup_spawn_workers(struct sup *);
/* Every flow is done: let the workers close their flows and exit. */
void	sup_release_workers(struct sup *);
/* Send sig (0: none) to the workers still running and reap them all. */
void	sup_end_workers(struct sup *, int sig);
int	sup_all_reaped(struct sup *);
/* Close flow i's message socket and wait for its worker to end. */
void	sup_reap(struct sup *, int i);
/* Fork the sweeper (sweep.h); its MSG_SWEPT sets sweep_done. */
int	sup_spawn_sweeper(struct sup *);
/* Kill the sweeper if it runs, and reap it. */
void	sup_end_sweeper(struct sup *);

/* session.c */
enum outcome	 session_run(struct sup *);
/* The session failed; its outcome follows from the kind (error.h). */
void		 session_fail(struct sup *, enum err_kind, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
void		 session_worker_msg(struct sup *, int flow,
		    const struct msg *);
void		 session_master_event(struct sup *);
int		 session_running(const struct sup *);
const char	*session_state_name(enum sess_state);
void		 session_report(const struct sup *);
/* The worker of flow i is gone: how, and whether the session resumes. */
void		 session_worker_died(struct sup *, int i, const char *how);
/* A worker died unasked outside stable sync: counted against its flow. */
void		 session_flow_death(struct sup *, int i, const char *how);
/* restart-flow in stable sync: the reply waits for the flow's return. */
void		 session_restart_flow(struct sup *, int i, int ctlfd);
/* The restart-flow request waiting, if any, answered with text. */
void		 session_ctl_answer(struct sup *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* ctlcmd.c */
extern const struct ctl_request ctlcmd_requests[];

#endif
