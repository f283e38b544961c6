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
 * Any failure of a worker or of the master ends the session: Dragonfly
 * cancels a whole sync when one of its connections closes, so no flow can
 * rejoin alone and the next session starts over with a full sync.
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
#include "supervisor.h"

/* time for every flow to answer FULL, on top of the source timeout */
#define REGISTER_GRACE_MS	10000

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

/* ------------------------------------------------------------ events */

void
session_worker_msg(struct sup *s, int i, const struct msg *msg)
{
	struct flow *f = &s->flows[i];

	switch (msg->hdr.type) {
	case MSG_FLOW_REPLY:
		f->replied = 1;
		memcpy(f->token, msg->u.reply.token, sizeof(f->token));
		if (msg->u.reply.partial)
			session_fail(s, ERR_PROTO, "flow %d: master answered "
			    "PARTIAL to a full-sync request", i);
		f->st.phase = PHASE_WAIT_SYNC;
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
	case MSG_DONE:
		f->done = 1;
		f->st = msg->u.stats;
		break;
	case MSG_FLUSHED:
		resync_master_flushed(&s->resync, msg->u.flushed.db);
		break;
	case MSG_ERROR:
		f->st.phase = PHASE_FAILED;
		status_flow_error(s, i, msg->u.error.text);
		session_fail(s, msg->u.error.kind, "%s", msg->u.error.text);
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
	ssize_t n;
	char c;

	n = recv(s->master.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
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
	} else if (s->failed || s->stop) {
		/* the session is ending already; this is a consequence */
		log_debug("master closed the control connection");
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

static int
startstable_answered(struct sup *s)
{
	return !s->startstable_pending;
}

/* ------------------------------------------------------------ steps */

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
	if (dfly_connect(&s->master, c->source_host, c->source_port,
	    c->source_user, c->source_password, c->timeout_ms, &e) == -1 ||
	    dfly_handshake(&s->master, &s->m, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		net_close(&s->master);
		return -1;
	}
	log_info("master %s session %s: %d flows, protocol version %d",
	    s->m.replid, s->m.syncid, s->m.nflows, s->m.version);
	free(s->flows);
	if ((s->flows = calloc(s->m.nflows, sizeof(*s->flows))) == NULL)
		fatal("calloc");
	s->nflows = s->m.nflows;
	for (i = 0; i < s->nflows; i++)
		s->flows[i].fd = -1;
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
	log_info("all %d flows answered FULL: DFLY SYNC", s->nflows);
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
	s->state = SESS_STABLE;
	s->attempt = 0;		/* a session that got here is no failure */
	log_info("full sync complete in %.2f s: %d flows in stable sync",
	    (mono_ms() - s->t0) / 1000.0, s->nflows);
	/* the workers report their LSNs; only an end stops this */
	sup_pump(s, NULL, -1, 1);
}

/* The outcome, with every worker reaped. */
static enum outcome
finish(struct sup *s)
{
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
	/* collect the workers' own account of the failure for the log */
	sup_pump(s, sup_all_reaped, 200, 0);
	sup_end_workers(s, SIGKILL);
	return s->failure;
}

enum outcome
session_run(struct sup *s)
{
	struct error e;
	enum outcome o;

	/* a restarted full sync overwrites key by key; deleted keys stay */
	if (s->sessions++ > 0 && s->cfg.flush_on_resync)
		resync_flush_all(&s->resync);
	s->state = SESS_CONNECTING;
	s->failed = 0;
	if (resync_prepare(&s->resync, &s->cfg, &e) == -1) {
		session_fail(s, e.kind, "%s", e.msg);
		return s->failure;
	}
	if (handshake(s) == -1)
		return s->failure;
	sup_spawn_workers(s);
	start_full_sync(s);
	if (!s->failed && sup_pump(s, barrier_reached, -1, 1))
		start_stable(s);
	wait_trailers(s);
	o = finish(s);
	takeover_session_end(s);
	return o;
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
