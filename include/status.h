/*
 * status.h - what the supervisor's `status` request shows (ctl.h): the
 * session and one record per flow, as text lines or as one JSON object
 * for scripts, and the per-flow history behind them, which outlives a
 * session (the session's own view, struct flow, is made anew each time).
 *
 * Per flow, counted since the daemon started:
 *	restarts	worker processes started for the flow after its first
 *			(a full resync starts every flow's worker again; a
 *			resume by partial sync only the dead flow's)
 *	resyncs_full	full syncs the flow completed (FULLSYNC_END applied),
 *			the first one included
 *	resyncs_partial	resumes by partial sync (every flow PARTIAL and
 *			DFLY STARTSTABLE accepted)
 *	last_error	the last error of the flow's worker: its own report,
 *			or how it died; NULL if none
 *	errors		the errors behind last_error, by kind: a worker's
 *			own report, or its death when it sent none
 *	nodes		each target node's counters as the flow's workers
 *			reported them (MSG_NODE), summed over the workers
 */
#ifndef DF2REDIS_STATUS_H
#define DF2REDIS_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "cluster.h"
#include "error.h"
#include "imsg.h"

struct sup;

/* One target node of one flow; counters summed over its workers. */
struct node_hist {
	char		 name[CLUSTER_HOSTLEN + 16];
	int		 pid;		/* the worker that reported last */
	uint64_t	 inflight;	/* as it reported */
	struct msg_node	 base;		/* the counters of earlier workers */
	struct msg_node	 last;		/* the last report */
};

struct flow_hist {
	uint64_t	 started;	/* workers started for the flow */
	uint64_t	 resyncs_full;
	uint64_t	 resyncs_partial;
	uint64_t	 spool_full;	/* sessions dropped on a full spool */
	uint64_t	 errors[ERR_MAX];
	struct node_hist *nodes;
	int		 nnodes;
	char		*last_error;
};

struct status_hist {
	struct flow_hist	*flows;
	int			 nflows;
	uint64_t		 sweeps;	/* full resyncs swept */
	uint64_t		 swept;		/* keys they deleted */
	struct msg_swept	 last_sweep;
};

void	status_worker_started(struct sup *, int flow);
void	status_fullsync_done(struct sup *, int flow);
void	status_resumed(struct sup *, int flow);
/* The flow's last error; counted under kind unless ERR_NONE (the same one). */
void	status_flow_error(struct sup *, int flow, enum err_kind, const char *);
/* A worker's report on one of its target nodes. */
void	status_node(struct sup *, int flow, int pid, const struct msg_node *);
/* The flow's history, zeros for a flow never seen. */
const struct flow_hist *status_hist(const struct sup *, int flow);
/* Records received and not acknowledged; -1 outside stable sync. */
int64_t	status_lag_records(const struct sup *, int flow);
/* The lag in ms (below); -1 outside stable sync. */
int64_t	status_lag_ms(const struct sup *, int flow);
uint64_t status_restarts(const struct flow_hist *);
/* A full resync's sweep ended well (sweep.h). */
void	status_swept(struct sup *, const struct msg_swept *);
/* The flow's spool filled up and its session was dropped. */
void	status_spool_full(struct sup *, int flow, const char *);
/* session_fail() for a flow, whose last error it becomes. */
void	status_flow_fail(struct sup *, int flow, enum err_kind, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
void	status_free(struct sup *);

/* The reply lines after "ok" (ctl.h), and the JSON object on one line. */
void	status_text(const struct sup *, FILE *);
void	status_json(const struct sup *, FILE *);

#endif
