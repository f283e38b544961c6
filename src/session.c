/*
 * session.c - one replication session of the supervisor, as a state
 * machine (supervisor.h: enum sess_state).
 *
 * A session is one full sync, from the handshake to its outcome:
 *
 *   SESS_CONNECTING     the target is made ready (resync.h), the control
 *                       connection handshakes, one worker per flow
 *                       registers its FLOW and must hear FULL
 *   SESS_FULL_SYNC      DFLY SYNC starts every snapshot at once
 *   SESS_BARRIER        some flows passed FULLSYNC_END, not all
 *   SESS_STABLE_SWITCH  DFLY STARTSTABLE sent; each flow's trailer drains
 *   SESS_STABLE         replicate: every worker replays its journal, until
 *                       a stop, a restart or a failure
 *   SESS_DONE           migrate: every worker applied its trailer
 *
 * Any failure of a worker or of the master before stable sync ends the
 * session: Dragonfly cancels a whole sync when one of its connections
 * closes, so no flow can rejoin a full sync alone.
 *
 * Resume (replication.md 7.2): when every flow has a stored LSN of this
 * master (replid and shard count), or a live worker that applied one, the
 * session asks for those in DFLY FLOW instead; all PARTIAL, it goes
 * straight to DFLY STARTSTABLE.  A stable session that breaks (a worker
 * died, restart-flow, the master closed a connection) ends in OUT_RESUME:
 * the live workers keep their target connections and register again in
 * the next session (MSG_REFLOW), only the dead flow gets a new worker.
 * Any FULL answer, another replid or shard count, or a partial sync the
 * master gave up: one line says why, and a full resync follows.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "lsnstore.h"
#include "marks.h"
#include "supervisor.h"

/* time for every flow to answer FULL, on top of the source timeout */
#define REGISTER_GRACE_MS	10000
/* a flow that lived this long in a row starts its death count over */
#define FLOW_STEADY_MS		10000
#define MAX_FLOW_BACKOFF_MS	10000
/* a broken session's workers tell they settled within this */
#define SETTLE_MS		1000

void
session_fail(struct sup *s, enum err_kind kind, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	enum outcome o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (takeover_done(s)) {
		/* the master shuts down after its +OK: this is the end */
		log_debug("after the takeover: %s", msg);
		return;
	}
	log_warnx("%s", msg);
	/* the first failure says why; a later one only when it is fatal */
	o = err_retryable(kind) ? OUT_RETRY : OUT_FATAL;
	if (!s->failed || o == OUT_FATAL)
		s->failure = o;
	s->failed = 1;
}

const char *
session_state_name(enum sess_state st)
{
	switch (st) {
	case SESS_CONNECTING:		return "connecting";
	case SESS_FULL_SYNC:		return "full-sync";
	case SESS_SWEEP:		return "sweep";
	case SESS_BARRIER:		return "barrier";
	case SESS_STABLE_SWITCH:	return "stable-switch";
	case SESS_STABLE:		return "stable";
	case SESS_DONE:			return "done";
	case SESS_BACKOFF:		return "backoff";
	case SESS_STOPPING:		return "stopping";
	}
	return "unknown";
}

int
session_running(const struct sup *s)
{
	return !s->failed && !s->stop && (s->state == SESS_CONNECTING ||
	    s->state == SESS_FULL_SYNC || s->state == SESS_BARRIER ||
	    s->state == SESS_STABLE_SWITCH || s->state == SESS_STABLE);
}

/* Nothing ended the session yet: neither a failure, a stop nor a restart. */
static int
going(const struct sup *s)
{
	return !s->failed && !s->stop && !s->restart;
}

static void	run_stable(struct sup *);

/* ------------------------------------------------------------ events */

void
session_worker_msg(struct sup *s, int i, const struct msg *msg)
{
	struct flow *f = &s->flows[i];

	switch (msg->hdr.type) {
	case MSG_FLOW_REPLY:
		f->replied = 1;
		f->partial = msg->u.reply.partial;
		memcpy(f->token, msg->u.reply.token, sizeof(f->token));
		f->st.phase = PHASE_WAIT_SYNC;
		break;
	case MSG_FLOW_LOST:
		if (msg->u.stats.spool_full) {
			snprintf(f->last_error, sizeof(f->last_error), "flow "
			    "%d: spool full at LSN %" PRIu64 ": the target "
			    "fell too far behind; session dropped", i,
			    msg->u.stats.lsn);
			status_spool_full(s, i, f->last_error);
		}
		f->st = msg->u.stats;
		f->lost = 1;
		/* in a session not yet stable, the end of the last one */
		if (s->state != SESS_STABLE || s->failed || s->resume)
			break;
		log_info("flow %d: the master closed the flow at LSN %" PRIu64
		    ": resuming", i, f->st.lsn);
		s->resume = 1;
		s->broken_ms = mono_ms();
		break;
	case MSG_FULLSYNC_DONE:
		f->synced = 1;
		f->st = msg->u.stats;
		status_fullsync_done(s, i);
		if (s->state == SESS_FULL_SYNC)
			s->state = SESS_BARRIER;
		log_debug("flow %d passed the barrier (%u/%d)", i,
		    atomic_load(&s->shm->barrier), s->nflows);
		break;
	case MSG_STATS:
		f->st = msg->u.stats;
		break;
	case MSG_NODE:
		status_node(s, i, (int)f->pid, &msg->u.node);
		break;
	case MSG_DONE:
		f->done = 1;
		f->st = msg->u.stats;
		break;
	case MSG_FLUSHED:
		resync_master_flushed(&s->resync, msg->u.flushed.db);
		break;
	case MSG_ERROR:
		f->st.phase = PHASE_FAILED;
		status_flow_error(s, i, msg->u.error.kind, msg->u.error.text);
		strlcpy(f->last_error, msg->u.error.text,
		    sizeof(f->last_error));
		/* the worker exits: its death resumes the session */
		if (s->state == SESS_STABLE && !s->failed &&
		    err_retryable(msg->u.error.kind))
			log_warnx("%s", msg->u.error.text);
		else
			session_fail(s, msg->u.error.kind, "%s",
			    msg->u.error.text);
		break;
	default:
		session_fail(s, ERR_PROTO, "flow %d: unexpected message %u "
		    "from the worker", i, msg->hdr.type);
		break;
	}
}

/*
 * The master's control connection is readable: it sends nothing unasked,
 * so this is its end (or an error), or the reply to STARTSTABLE.  The fd
 * is closed on every path that found something, so it never stays in the
 * poll set at EOF.
 */
void
session_master_event(struct sup *s)
{
	struct error e;
	int n;

	n = net_peek(&s->master);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1 && takeover_pending(s)) {
		takeover_master_reply(s);
		return;
	}
	if (n == 1 && s->startstable_pending) {
		s->startstable_pending = 0;
		if (dfly_startstable_reply(&s->master, &e) == 0) {
			log_debug("DFLY STARTSTABLE: +OK");
			return;
		}
		session_fail(s, e.kind, "%s", e.msg);
	} else if (n == 0 && s->startstable_sent && !s->startstable_pending &&
	    !s->failed && s->cfg.full_sync_only) {
		/* each worker still reports DONE or its own error */
		log_debug("master ended the session after STARTSTABLE");
	} else if (s->failed || s->stop || s->resume) {
		/* the session is ending already; this is a consequence */
		log_debug("master closed the control connection");
	} else if (n == 0 && s->state == SESS_STABLE) {
		log_info("master closed the control connection: resuming");
		s->resume = 1;
		s->broken_ms = mono_ms();
	} else if (n == 0)
		session_fail(s, ERR_IO, "master closed the control connection");
	else if (n == 1)
		session_fail(s, ERR_PROTO, "unexpected data from the master on "
		    "the control connection");
	else
		session_fail(s, ERR_IO, "control connection: %s",
		    strerror(errno));
	net_close(&s->master);
}

/* ------------------------------------------------------------ conditions */

/* Whether every flow has the flag at off in struct flow set. */
static int
every_flow(const struct sup *s, size_t off)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (!*(const int *)((const char *)&s->flows[i] + off))
			return 0;
	return 1;
}

static int
all_replied(struct sup *s)
{
	return every_flow(s, offsetof(struct flow, replied));
}

static int
barrier_reached(struct sup *s)
{
	return atomic_load(&s->shm->barrier) == (unsigned)s->nflows;
}

static int
all_done(struct sup *s)
{
	return every_flow(s, offsetof(struct flow, done));
}

/* Every worker of a broken session died or settled (MSG_FLOW_LOST). */
static int
flows_settled(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0 && !s->flows[i].lost)
			return 0;
	return 1;
}

static int
startstable_answered(struct sup *s)
{
	return !s->startstable_pending;
}

/* ------------------------------------------------------------ steps */

/* SIGKILL and reap the workers still alive, the master's connection kept. */
static void
end_live(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0) {
			s->flows[i].killed = 1;
			kill(s->flows[i].pid, SIGKILL);
		}
	for (i = 0; i < s->nflows; i++)
		{
			s->flows[i].died = 0;
			sup_reap(s, i);
		}
}

/*
 * SESS_CONNECTING: the handshake tells the replication id, the session id
 * and how many flows (one per master shard) the workers must open.
 */
static int
handshake(struct sup *s)
{
	struct config *c = &s->cfg;
	struct error e;
	int i;

	s->restart = 0;
	s->startstable_sent = 0;
	s->startstable_pending = 0;
	memset(&s->m, 0, sizeof(s->m));
	if (dfly_open(&s->master, c, &e) == -1 ||
	    dfly_handshake(&s->master, &s->m, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		net_close(&s->master);
		return -1;
	}
	log_info("master %s session %s: %d flows, protocol version %d",
	    s->m.replid, s->m.syncid, s->m.nflows, s->m.version);
	if (s->flows != NULL && s->nflows != s->m.nflows)
		end_live(s);
	if (s->flows == NULL || s->nflows != s->m.nflows) {
		free(s->flows);
		if ((s->flows = calloc(s->m.nflows, sizeof(*s->flows))) ==
		    NULL)
			fatal("calloc");
		s->nflows = s->m.nflows;
		for (i = 0; i < s->nflows; i++)
			s->flows[i].fd = -1;
	}
	for (i = 0; i < s->nflows; i++) {
		s->flows[i].replied = s->flows[i].synced = 0;
		s->flows[i].done = s->flows[i].partial = 0;
		s->flows[i].killed = 0;
	}
	atomic_store(&s->shm->barrier, 0);
	atomic_store(&s->shm->arrived, 0);
	return 0;
}

/*
 * SESS_CONNECTING -> SESS_FULL_SYNC: the master starts no snapshot before
 * DFLY SYNC, and accepts it only once every flow of the session asked for
 * one, so the snapshots of all shards are cut at the same point.
 */
static void
start_full_sync(struct sup *s)
{
	const char *extra;
	struct error e;
	int wait_ms = s->cfg.timeout_ms + REGISTER_GRACE_MS;

	if (!s->failed && !sup_pump(s, all_replied, wait_ms, 1) && going(s))
		session_fail(s, ERR_IO, "flows did not register within %d ms",
		    wait_ms);
	if (!going(s))
		return;
	s->state = SESS_FULL_SYNC;
	/* what the snapshot is about to hold, for progress: not required */
	if (dfly_keys(&s->master, &s->sync_keys, &e) == -1)
		log_debug("no key count for progress: %s", e.msg);
	s->sync_ms = mono_ms();
	log_info("all %d flows answered FULL: DFLY SYNC (%" PRIu64 " keys "
	    "on the master)", s->nflows, s->sync_keys);
	if (dfly_sync(&s->master, &s->m, &e) == -1)
		session_fail(s, e.kind, "%s", e.msg);
	else if (net_leftover(&s->master, &extra) > 0)
		/* read with the reply: poll will never see them */
		session_fail(s, ERR_PROTO, "unexpected data from the master on "
		    "the control connection");
}

/*
 * SESS_BARRIER -> SESS_STABLE_SWITCH, once every worker passed the
 * barrier (worker.h): the master writes every flow's trailer before it
 * answers STARTSTABLE, and a trailer waits for its worker to drain the
 * flow, as long as a slow target makes that.  So the reply is read by
 * session_master_event() while the workers are served, and only once
 * every trailer was read is its delay bounded (by timeout_ms).
 */
static void
start_stable(struct sup *s)
{
	struct error e;

	/* a TAKEOVER sent before stable sync: its refusal comes first */
	if (!sup_pump(s, takeover_idle, s->cfg.timeout_ms, 1)) {
		if (going(s))
			session_fail(s, ERR_IO, "%s: no reply to DFLY TAKEOVER "
			    "within %d ms", s->master.name, s->cfg.timeout_ms);
		return;
	}
	log_info("every flow passed FULLSYNC_END: DFLY STARTSTABLE");
	s->startstable_sent = 1;
	if (dfly_startstable_send(&s->master, &s->m, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		return;
	}
	s->startstable_pending = 1;
	s->state = SESS_STABLE_SWITCH;
}

/* Every worker holds its journal, its marks flushed (sweep.h). */
static int
all_holding(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].st.phase != PHASE_SWEEP)
			return 0;
	return 1;
}

static int
sweep_ended(struct sup *s)
{
	return s->sweep_done;
}

/*
 * SESS_SWEEP, after a full resync: once every worker holds its journal,
 * the sweeper deletes what no flow wrote; then the marks go (no sweep is
 * owed any more) and the workers apply their journal.  0 done, -1 the
 * session failed.
 */
static int
sweep(struct sup *s)
{
	struct msg_swept *r = &s->swept;
	struct error e;
	int i;

	s->state = SESS_SWEEP;
	if (!sup_pump(s, all_holding, -1, 1) || sup_spawn_sweeper(s) == -1)
		return -1;
	log_info("every flow holds its journal: sweeping the keys the full "
	    "resync did not write");
	if (!sup_pump(s, sweep_ended, -1, 1)) {
		sup_end_sweeper(s);
		return -1;
	}
	if (r->kind != ERR_NONE) {
		session_fail(s, r->kind, "sweep after the full resync: %s",
		    r->text);
		return -1;
	}
	if (marks_remove(s->cfg.state_dir, &e) == -1) {
		session_fail(s, e.kind, "sweep after the full resync: %s",
		    e.msg);
		return -1;
	}
	status_swept(s, r);
	log_info("full resync: %" PRIu64 " keys swept (not in the new "
	    "snapshot, not written since), %" PRIu64 " looked at, %" PRIu64
	    " keys marked, in %.2f s", r->swept, r->scanned, r->marks,
	    r->ms / 1000.0);
	s->sweeping = 0;
	for (i = 0; i < s->nflows; i++)
		if (msg_send(s->flows[i].fd, MSG_SWEPT, r, sizeof(*r), &e) ==
		    -1) {
			session_fail(s, e.kind, "flow %d: message to the "
			    "worker: %s", i, e.msg);
			return -1;
		}
	return 0;
}

/*
 * SESS_STABLE_SWITCH -> SESS_DONE (migrate) or SESS_STABLE (replicate):
 * every trailer and the +OK read.
 */
static void
wait_trailers(struct sup *s)
{
	if (s->failed || !s->startstable_sent)
		return;
	if (sup_pump(s, all_done, -1, 1) &&
	    !sup_pump(s, startstable_answered, s->cfg.timeout_ms, 1) &&
	    going(s))
		session_fail(s, ERR_IO, "%s: no reply to DFLY STARTSTABLE "
		    "within %d ms of the last trailer", s->master.name,
		    s->cfg.timeout_ms);
	if (s->failed || !all_done(s) || !startstable_answered(s))
		return;
	if (s->cfg.full_sync_only) {
		s->state = SESS_DONE;
		return;
	}
	if (s->sweeping && sweep(s) == -1)
		return;
	log_info("full sync complete in %.2f s: %d flows in stable sync",
	    (mono_ms() - s->t0) / 1000.0, s->nflows);
	session_ctl_answer(s, "ok flow %d back in stable sync after a full "
	    "resync\n", s->ctl_wait_flow);
	run_stable(s);
}

/* The outcome, with every worker reaped. */
static enum outcome
finish(struct sup *s)
{
	sup_end_sweeper(s);
	if (s->state == SESS_DONE) {
		sup_release_workers(s);
		sup_end_workers(s, 0);
		return OUT_DONE;
	}
	if (s->stop && !s->failed) {
		s->state = SESS_STOPPING;
		sup_end_workers(s, SIGTERM);
		return OUT_STOPPED;
	}
	if (s->restart && !s->failed) {
		log_info("session restarted by the operator");
		sup_end_workers(s, SIGKILL);
		return OUT_RESTART;
	}
	if (s->resume && !s->failed) {
		/* the live workers stay for the next session */
		net_close(&s->master);
		return OUT_RESUME;
	}
	/* collect the workers' own account of the failure for the log */
	sup_pump(s, sup_all_reaped, 200, 0);
	sup_end_workers(s, SIGKILL);
	return s->failure;
}

/*
 * Which LSN each flow asks for: a live worker's own, else the stored one;
 * 1 when every flow has one of this master, 0 for a full sync, with why
 * (empty when there was nothing to resume).  *had: some LSN was stored,
 * so the target holds an earlier replication.
 */
static int
plan(struct sup *s, char *why, size_t len, int *had)
{
	struct lsnstore *ls;
	struct lsn_rec rec;
	struct error e;
	int i, rc, ok = 1;

	why[0] = '\0';
	*had = 0;
	if (s->cfg.full_sync_only)
		return 0;
	/* opening clears the reader slots of dead workers (lsnstore.h) */
	if ((ls = lsnstore_open(s->cfg.state_dir, &e)) == NULL) {
		strlcpy(why, e.msg, len);
		return 0;
	}
	for (i = 0; i < s->nflows; i++) {
		struct flow *f = &s->flows[i];

		if ((rc = lsnstore_get(ls, i, &rec, &e)) == 1)
			*had = 1;
		if (f->pid > 0) {
			if (strcmp(s->prev_replid, s->m.replid) != 0 && ok) {
				snprintf(why, len, "the master's replid changed "
				    "from %s to %s", s->prev_replid,
				    s->m.replid);
				ok = 0;
			}
			continue;
		}
		f->lsn = 0;
		if (!ok)
			continue;
		if (rc == -1)
			strlcpy(why, e.msg, len);
		else if (rc == 0)
			snprintf(why, len, "flow %d has no stored LSN", i);
		else if (strcmp(rec.replid, s->m.replid) != 0)
			snprintf(why, len, "the master's replid changed from "
			    "%s to %s", rec.replid, s->m.replid);
		else if (rec.nflows != (uint32_t)s->nflows)
			snprintf(why, len, "the master has %d shards, the "
			    "stored LSNs are of %u", s->nflows, rec.nflows);
		else if (rec.next_lsn == 0)
			snprintf(why, len, "flow %d: its last full sync did "
			    "not complete", i);
		else {
			f->lsn = rec.next_lsn;
			continue;
		}
		ok = 0;
	}
	lsnstore_close(ls);
	return ok;
}

/* The next session is a full resync, for this reason. */
static void
want_full(struct sup *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->full_why, sizeof(s->full_why), fmt, ap);
	va_end(ap);
	s->force_full = 1;
}

/* SESS_STABLE: the workers report their LSNs; only an end stops this. */
static void
run_stable(struct sup *s)
{
	int i;

	s->state = SESS_STABLE;
	s->attempt = 0;		/* a session that got here is no failure */
	strlcpy(s->prev_replid, s->m.replid, sizeof(s->prev_replid));
	for (i = 0; i < s->nflows; i++)
		s->flows[i].died = 0;
	s->broken_ms = 0;
	s->broken_flow = -1;
	sup_pump(s, NULL, -1, 1);
}

/* Before a resumed session: a flow that keeps dying waits longer. */
static void
flow_backoff(struct sup *s)
{
	long long ms, wait = 0;
	int i, n;

	for (i = 0; i < s->nflows; i++) {
		n = s->flows[i].deaths;
		if (!s->flows[i].died || n < 2)
			continue;
		ms = (long long)s->cfg.retry_delay_ms << (n - 2 < 16 ?
		    n - 2 : 16);
		if (ms > MAX_FLOW_BACKOFF_MS)
			ms = MAX_FLOW_BACKOFF_MS;
		log_info("flow %d died %d times in a row: restarting it in "
		    "%lld ms", i, n, ms);
		if (ms > wait)
			wait = ms;
	}
	if (wait > 0) {
		s->state = SESS_BACKOFF;
		sup_pump(s, NULL, wait, 1);
		s->state = SESS_CONNECTING;
	}
}

/* The flows of a session that is not all PARTIAL, for the log. */
static void
full_flows(const struct sup *s, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < s->nflows && off < len; i++)
		if (!s->flows[i].partial)
			off += snprintf(buf + off, len - off, "%s%d",
			    off > 0 ? "," : "", i);
}

/*
 * Every flow asks for its LSN: the live workers register again
 * (MSG_REFLOW), the others are forked.  0: every flow is PARTIAL and in
 * stable sync; 1: every flow answered FULL to new workers, whose full
 * sync may go on; -1: the session ends (failed, or a full resync is due).
 */
static int
resume_partial(struct sup *s)
{
	struct msg_reflow r;
	struct error e;
	char list[256];
	int i, fresh = 1, nfull = 0;
	int wait_ms = s->cfg.timeout_ms + REGISTER_GRACE_MS;

	memset(&r, 0, sizeof(r));
	r.m = s->m;
	for (i = 0; i < s->nflows && !s->failed; i++) {
		struct flow *f = &s->flows[i];

		f->lost = 0;
		if (f->pid > 0) {
			fresh = 0;
			if (msg_send(f->fd, MSG_REFLOW, &r, sizeof(r), &e) ==
			    -1)
				session_fail(s, e.kind, "flow %d: message to "
				    "the worker: %s", i, e.msg);
		} else {
			f->last_error[0] = '\0';
			(void)sup_spawn_worker(s, i, f->lsn);
		}
	}
	if (!s->failed && !sup_pump(s, all_replied, wait_ms, 1) && going(s))
		session_fail(s, ERR_IO, "flows did not register within %d ms",
		    wait_ms);
	if (!going(s))
		return -1;
	for (i = 0; i < s->nflows; i++)
		nfull += !s->flows[i].partial;
	if (nfull == s->nflows && fresh) {
		log_info("full resync: every flow answered FULL: the stored "
		    "LSNs are outside the master's backlog");
		return 1;
	}
	if (nfull > 0) {
		full_flows(s, list, sizeof(list));
		log_info("won't do a partial sync: flow %s answered FULL "
		    "(LSN outside the master's backlog): full resync", list);
		want_full(s, "flow %s answered FULL", list);
		return -1;
	}
	if (dfly_startstable(&s->master, &s->m, &e) == -1) {
		log_info("partial sync failed: %s: full resync", e.msg);
		want_full(s, "partial sync failed: %s", e.msg);
		return -1;
	}
	for (i = 0; i < s->nflows; i++)
		status_resumed(s, i);
	return 0;
}

/* Every flow is back in stable sync by partial sync: say how fast. */
static void
resumed(struct sup *s)
{
	int64_t ms = mono_ms() - (s->broken_ms ? s->broken_ms : s->t0);
	struct flow *f;
	int i;

	for (i = 0; i < s->nflows; i++)
		s->flows[i].st.phase = PHASE_STABLE;
	if (s->broken_flow >= 0)
		log_info("all flows in stable sync %lld ms after flow %d died",
		    (long long)ms, s->broken_flow);
	else if (s->broken_ms != 0)
		log_info("all flows in stable sync %lld ms after the session "
		    "broke", (long long)ms);
	else
		log_info("resumed by partial sync in %lld ms: %d flows in "
		    "stable sync", (long long)ms, s->nflows);
	if (s->ctl_wait_fd != -1) {
		f = &s->flows[s->ctl_wait_flow];
		session_ctl_answer(s, "ok flow %d back in stable sync in %lld "
		    "ms: partial sync from LSN %" PRIu64 ", pid %d\n",
		    s->ctl_wait_flow, (long long)ms, f->lsn, (int)f->pid);
	}
}

static enum outcome
run(struct sup *s)
{
	struct error e;
	char why[sizeof(s->full_why)];
	int partial, had, owed, resync, rc = 1;

	s->sessions++;
	if (s->resume) {
		/* hear the end of the broken session from every worker */
		sup_pump(s, flows_settled, SETTLE_MS, 0);
		s->resume = 0;
		s->state = SESS_CONNECTING;
		flow_backoff(s);
		if (!going(s))
			return finish(s);
	}
	s->state = SESS_CONNECTING;
	s->failed = 0;
	if (handshake(s) == -1)
		return finish(s);
	partial = plan(s, why, sizeof(why), &had);
	if (s->force_full) {
		strlcpy(why, s->full_why, sizeof(why));
		s->force_full = 0;
		partial = 0;
	}
	if ((owed = marks_pending(s->cfg.state_dir, &e)) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		return finish(s);
	}
	if (owed) {
		/* what was applied since the resync may not be resumed */
		strlcpy(why, "the sweep after the last full resync did not "
		    "run", sizeof(why));
		partial = 0;
	}
	/*
	 * A restarted full sync overwrites key by key: keys deleted on the
	 * master meanwhile go before it (flush-on-resync) or after it.  The
	 * workers mark what they write should their flow answer FULL.
	 */
	resync = s->sessions > 1 || had || owed;
	s->sweeping = resync && !s->cfg.full_sync_only &&
	    !s->cfg.flush_on_resync && s->cfg.sweep_on_resync;
	if (!s->sweeping && owed && marks_remove(s->cfg.state_dir, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		return finish(s);
	}
	if (partial) {
		if ((rc = resume_partial(s)) == 0) {
			s->sweeping = 0;
			resumed(s);
			run_stable(s);
			return finish(s);
		}
		if (rc == -1 && !s->failed && !s->stop && s->force_full) {
			/* the full resync, at once */
			sup_end_workers(s, SIGKILL);
			return OUT_RESTART;
		}
		if (rc == -1)
			return finish(s);
	} else {
		if (why[0] != '\0' && (had || s->sessions > 1))
			log_info("full resync: %s", why);
		end_live(s);
	}
	if (resync && s->cfg.flush_on_resync)
		resync_flush_all(&s->resync);
	if (resync_prepare(&s->resync, &s->cfg, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		return finish(s);
	}
	if (!partial)
		sup_spawn_workers(s);
	start_full_sync(s);
	if (!s->failed && sup_pump(s, barrier_reached, -1, 1))
		start_stable(s);
	wait_trailers(s);
	return finish(s);
}

enum outcome
session_run(struct sup *s)
{
	enum outcome o;

	o = run(s);
	takeover_session_end(s);
	return o;
}

/*
 * Flow i's worker died unasked: one more in a row, unless it lived
 * FLOW_STEADY_MS; past max-retries the daemon stops, naming the flow.
 */
void
session_flow_death(struct sup *s, int i, const char *how)
{
	struct flow *f = &s->flows[i];
	enum err_kind kind;
	size_t n;

	/* a death after the worker's own error is that error's end */
	kind = f->last_error[0] == '\0' ? ERR_SYS : ERR_NONE;
	if (f->last_error[0] == '\0')
		strlcpy(f->last_error, how, sizeof(f->last_error));
	else if ((n = strlen(f->last_error)) + 4 < sizeof(f->last_error))
		snprintf(f->last_error + n, sizeof(f->last_error) - n,
		    " (%s)", how);
	status_flow_error(s, i, kind, f->last_error);
	f->deaths = mono_ms() - f->started_ms < FLOW_STEADY_MS ?
	    f->deaths + 1 : 1;
	if (f->deaths <= s->cfg.max_retries)
		return;
	log_warnx("flow %d keeps dying: %d times in a row, at LSN %" PRIu64
	    ", last error: %s", i, f->deaths, f->st.lsn, f->last_error);
	s->failure = OUT_FATAL;
	s->failed = 1;
}

/* The worker of flow i died in stable sync: the session resumes without it. */
void
session_worker_died(struct sup *s, int i, const char *how)
{
	struct flow *f = &s->flows[i];
	char desc[200];

	f->died = 1;
	if (!s->resume) {
		s->resume = 1;
		s->broken_ms = mono_ms();
	}
	if (s->broken_flow == -1)
		s->broken_flow = i;
	if (s->ctl_wait_fd != -1 && s->ctl_wait_flow == i) {
		log_info("flow %d: worker %d %s (restart-flow) at LSN %" PRIu64,
		    i, (int)f->pid, how, f->st.lsn);
		return;
	}
	snprintf(desc, sizeof(desc), "flow %d: worker %d %s in stable sync "
	    "at LSN %" PRIu64, i, (int)f->pid, how, f->st.lsn);
	log_warnx("%s: restarting the flow", desc);
	session_flow_death(s, i, desc);
}

void
session_restart_flow(struct sup *s, int i, int ctlfd)
{
	struct flow *f = &s->flows[i];

	if (s->ctl_wait_fd != -1) {
		ctl_reply(ctlfd, "error: a restart-flow is in progress\n");
		return;
	}
	if (f->pid <= 0) {
		ctl_reply(ctlfd, "error: the flow has no worker now\n");
		return;
	}
	log_info("flow %d restart requested: stopping worker %d, the flow "
	    "resumes by partial sync", i, (int)f->pid);
	s->ctl_wait_fd = ctlfd;
	s->ctl_wait_flow = i;
	kill(f->pid, SIGTERM);
}

void
session_ctl_answer(struct sup *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (s->ctl_wait_fd == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctl_reply(s->ctl_wait_fd, buf);
	s->ctl_wait_fd = -1;
}

/* The outcome of a session that ended SESS_DONE, on stdout and in the log. */
void
session_report(const struct sup *s)
{
	uint64_t keys = 0, bytes = 0, written = 0, skipped = 0;
	double secs = (mono_ms() - s->t0) / 1000.0;
	int i;

	for (i = 0; i < s->nflows; i++) {
		const struct msg_stats *st = &s->flows[i].st;

		log_info("flow %d: journal offset %" PRIu64 ", %" PRIu64
		    " keys, %" PRIu64 " bytes", i, st->lsn, st->keys,
		    st->bytes);
		printf("flow %d: journal_offset %" PRIu64 " keys %" PRIu64
		    " written %" PRIu64 " skipped %" PRIu64 " bytes %" PRIu64
		    "\n", i, st->lsn, st->keys, st->written, st->skipped,
		    st->bytes);
		keys += st->keys;
		bytes += st->bytes;
		written += st->written;
		skipped += st->skipped;
	}
	printf("total: %d flows, %" PRIu64 " keys (%" PRIu64 " written, %"
	    PRIu64 " skipped), %" PRIu64 " bytes in %.2f s\n", s->nflows,
	    keys, written, skipped, bytes, secs);
	fflush(stdout);
	log_info("full sync complete: %d flows, %" PRIu64 " keys, %" PRIu64
	    " bytes in %.2f s", s->nflows, keys, bytes, secs);
}
