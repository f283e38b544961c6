/*
 * stable.c - stable sync of one flow (replication.md 5-6, journal.md 4):
 * the journal after the EOF token is decoded and replayed into the
 * target, in order, through the writer (cluster routing, sequence
 * markers), until a stop or an error.
 *
 * The next-LSN counter starts at JOURNAL_OFFSET and counts every record
 * (PING and the legacy EXEC too), never an LSN entry, whose value must be
 * the LSN of the record before it.  What is stored in LMDB and sent in
 * REPLCONF ACK covers only records the target acknowledged: writer_sync()
 * first waits for every command sent, then the LSN is committed, at most
 * every checkpoint-ms, and an ACK carries the last LSN committed.  ACKs go
 * out as Dragonfly's replica sends them: at once, then every second, after
 * 1024 records (once a checkpoint is due), or right after a PING (which
 * stores one at once).  A quiet journal drains the writer at once, so the target lags
 * the master by no more than a round trip.  FLUSHALL and FLUSHDB, which
 * come on every flow, run once behind a barrier of all flows (worker.h).
 *
 * The worker never stops reading its flow for the target's sake: what it
 * reads goes to the spool (spool.h) and records are taken from there only
 * while the writer has room.  Whatever has to wait for the target (a
 * checkpoint, the ACK after a PING, a FLUSHALL's barrier) holds the
 * records back instead of blocking: the hold ends when the writer is idle.
 * Dragonfly therefore never throttles its writers for a slow target; a
 * spool that fills up drops the session (the LSN store resumes it).
 *
 * A flow the master closes (it cancels the whole session when any of its
 * connections closes, so one dead worker ends every flow) is no failure:
 * the worker drains its target, stores its LSN, tells the supervisor
 * (MSG_FLOW_LOST) and waits for MSG_REFLOW, then registers a new flow
 * from exactly the LSN it applied and, on PARTIAL, goes on with the same
 * target connection (imsg.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "spool.h"
#include "worker_int.h"

#define ACK_EVERY_MS	1000	/* --replication_acks_interval */
#define ACK_RECORDS	1024
#define SLICE_RECORDS	4096	/* then the flow socket is read again */
#define FEED_CHUNK	(64 * 1024)
#define MAX_TARGET_FDS	64
#define HELD_ARGS	8

/* Why records are held back, and what runs once the writer is idle. */
enum hold { H_NONE, H_DRAIN, H_GLOBAL, H_SWEEP };
enum after {
	A_COMMIT,	/* a checkpoint */
	A_ACK,		/* a checkpoint, then REPLCONF ACK */
	A_PING,		/* the same, at once, then the stats (TAKEOVER) */
	A_ARRIVE,	/* at a FLUSHALL/FLUSHDB: join the barrier */
	A_GLOBAL_RAN,	/* the last to arrive ran it: store, release */
	A_HELD,		/* a full resync's journal applied: store, ACK,
			   and stable sync at last */
};

/* A FLUSHALL or FLUSHDB kept while the flows meet at its barrier. */
struct held_rec {
	struct journal_rec	 rec;
	const char		*argv[HELD_ARGS];
	size_t			 argvlen[HELD_ARGS];
	char			 buf[256];
};

struct stable {
	uint64_t	 acked;		/* every record below, acknowledged */
	uint64_t	 committed;	/* next_lsn stored in LMDB */
	uint64_t	 since_ack;	/* records since the last ACK */
	int64_t		 ack_ms;	/* mono ms of the last ACK */
	int64_t		 commit_ms;	/* mono ms of the last commit */
	int		 full_wait;	/* answered FULL: the flow is kept
					   open, unread, till the session
					   ends (a close would cancel it
					   under the flows still registering) */
	enum hold	 hold;
	enum after	 after;
	unsigned int	 gen;		/* H_GLOBAL: the barrier's round */
	int64_t		 deadline;	/* H_GLOBAL: mono ms */
	struct held_rec	 held;
};

/* The writer failed behind our back (a reply it was given). */
static void
check_writer(struct worker *w)
{
	if (writer_error(w->writer)->kind != ERR_NONE)
		wfail(w, worker_write_kind(w), "LSN %" PRIu64 ": %s",
		    w->st.lsn, writer_error(w->writer)->msg);
}

/* Wait for the target to acknowledge everything sent so far. */
static void
drain_target(struct worker *w, struct stable *ss)
{
	if (writer_sync(w->writer) == -1)
		wfail(w, worker_write_kind(w), "LSN %" PRIu64 ": %s",
		    w->st.lsn, writer_error(w->writer)->msg);
	ss->acked = w->st.lsn;
	w->caught_up_ms = mono_ms();
	lag_acked(&w->lag, ss->acked, mono_us());
}

/* Store the acknowledged LSN, durably, unless it is stored already. */
static void
commit(struct worker *w, struct stable *ss)
{
	struct lsn_rec rec;
	struct error e;

	ss->commit_ms = mono_ms();
	/* the journal of a full resync is not applied yet: nothing to resume */
	if (ss->committed == ss->acked || w->held != NULL)
		return;
	/* held by the target's replicas too: a failover keeps it */
	if (target_durable(w->target) == -1)
		wfail(w, ERR_TARGET, "LSN %" PRIu64 ": %s", ss->acked,
		    target_error(w->target));
	memset(&rec, 0, sizeof(rec));
	strlcpy(rec.replid, w->m->replid, sizeof(rec.replid));
	rec.nflows = w->m->nflows;
	rec.next_lsn = ss->acked;
	rec.state = LSN_STABLE;
	rec.keys = w->st.keys;
	rec.bytes = w->st.bytes;
	if (lsnstore_put(w->lsn, w->flow, &rec, &e) == -1)
		wfail(w, e.kind, "%s", e.msg);
	ss->committed = ss->acked;
	/* what the checkpoint covers is never replayed: its markers go */
	if (writer_markers_trim(w->writer, ss->acked) == -1)
		wfail(w, worker_write_kind(w), "LSN %" PRIu64 ": %s",
		    ss->acked, writer_error(w->writer)->msg);
}

/* REPLCONF ACK, inline and exactly three tokens; the master never answers. */
static void
send_ack(struct worker *w, struct stable *ss)
{
	struct error e;
	char buf[64];
	int len;

	if (w->conn.fd == -1)
		return;
	len = snprintf(buf, sizeof(buf), "REPLCONF ACK %" PRIu64 "\r\n",
	    ss->committed);
	if (net_write_all(&w->conn, buf, (size_t)len, &e) == -1)
		wfail(w, ERR_IO, "byte %" PRIu64 ": REPLCONF ACK: %s",
		    w->st.bytes, e.msg);
	w->st.acked = ss->committed;
	ss->since_ack = 0;
	ss->ack_ms = mono_ms();
}

/* Whether the next checkpoint may be written (checkpoint-ms). */
static int
commit_due(struct worker *w, struct stable *ss, int64_t now)
{
	return now - ss->commit_ms >= w->cfg->checkpoint_ms;
}

/*
 * Records are held back until the writer is idle, then `after` runs: a
 * checkpoint covers exactly the records fed before it.
 */
static void
hold(struct stable *ss, enum after after)
{
	ss->hold = H_DRAIN;
	ss->after = after;
}

/* Stop reading, let the target acknowledge what was sent, store it. */
static void __attribute__((noreturn))
stop(struct worker *w, struct stable *ss, const char *why)
{
	uint64_t left = spool_bytes(w->spool);

	drain_target(w, ss);
	commit(w, ss);
	if (writer_sync(w->writer) == -1)	/* the markers' deletion */
		log_warnx("LSN markers not deleted: %s",
		    writer_error(w->writer)->msg);
	if (left > 0)
		log_info("%s: %" PRIu64 " spooled bytes not applied: they "
		    "come again from the master", why, left);
	log_info("%s: stopped at LSN %" PRIu64 ", byte %" PRIu64 ", stored",
	    why, ss->acked, w->st.bytes);
	net_close(&w->conn);
	spool_close(w->spool);
	writer_close(w->writer);
	target_close(w->target);
	lsnstore_close(w->lsn);
	_exit(0);
}

static void
apply_command(struct worker *w, const struct journal_rec *rec)
{
	if (writer_journal_lsn(w->writer, rec, w->st.lsn) == -1)
		wfail(w, worker_write_kind(w), "byte %" PRIu64 ": LSN %"
		    PRIu64 ": journal %.*s: %s", rec->offset, w->st.lsn,
		    rec->argc > 0 ? (int)rec->argvlen[0] : 0,
		    rec->argc > 0 ? rec->argv[0] : "",
		    writer_error(w->writer)->msg);
}

/* The record outlives the decoder's buffer while the flows meet. */
static void
keep_record(struct worker *w, struct held_rec *h,
    const struct journal_rec *rec)
{
	size_t i, off = 0;

	if (rec->argc > HELD_ARGS)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": LSN %" PRIu64 ": %.*s "
		    "with %zu arguments", rec->offset, w->st.lsn,
		    (int)rec->argvlen[0], rec->argv[0], rec->argc);
	h->rec = *rec;
	for (i = 0; i < rec->argc; i++) {
		if (off + rec->argvlen[i] > sizeof(h->buf))
			wfail(w, ERR_PROTO, "byte %" PRIu64 ": LSN %" PRIu64
			    ": %.*s: arguments too long", rec->offset,
			    w->st.lsn, (int)rec->argvlen[0], rec->argv[0]);
		memcpy(h->buf + off, rec->argv[i], rec->argvlen[i]);
		h->argv[i] = h->buf + off;
		h->argvlen[i] = rec->argvlen[i];
		off += rec->argvlen[i];
	}
	h->rec.argv = h->argv;
	h->rec.argvlen = h->argvlen;
}

/*
 * FLUSHALL and FLUSHDB come on every flow and run once, after every flow
 * reached them and before any flow applies what follows (journal.md 5):
 * run early, one would erase what other flows wrote after it on the
 * master.  Each flow arrives once its target is idle; the last one runs
 * it, the others hold their records, at most the source timeout.
 */
static void
arrive(struct worker *w, struct stable *ss)
{
	struct session_shm *shm = w->shm;
	const struct journal_rec *rec = &ss->held.rec;

	ss->gen = atomic_load(&shm->generation);
	/* the flow that runs it clears its own in the writer */
	writer_flushed(w->writer, rec);
	if (atomic_fetch_add(&shm->arrived, 1) + 1 == (unsigned)w->m->nflows) {
		/* its LSN is w->st.lsn - 1: apply() counted it */
		w->st.lsn--;
		apply_command(w, rec);
		w->st.lsn++;
		hold(ss, A_GLOBAL_RAN);
		return;
	}
	ss->hold = H_GLOBAL;
	ss->deadline = mono_ms() + w->cfg->timeout_ms;
}

static void
global_ran(struct worker *w, struct stable *ss)
{
	struct session_shm *shm = w->shm;
	const struct journal_rec *rec = &ss->held.rec;

	/* stored at once: a replay would erase later writes */
	commit(w, ss);
	atomic_store(&shm->arrived, 0);
	atomic_fetch_add(&shm->generation, 1);
	log_debug("LSN %" PRIu64 ": %.*s run once for every flow",
	    w->st.lsn - 1, (int)rec->argvlen[0], rec->argv[0]);
}

/* The writer went idle: what the hold waited for. */
static void
release(struct worker *w, struct stable *ss)
{
	ss->hold = H_NONE;
	ss->acked = w->st.lsn;
	w->caught_up_ms = mono_ms();
	/* a FLUSHALL waiting at its barrier did not run yet */
	lag_acked(&w->lag, ss->after == A_ARRIVE ? ss->acked - 1 : ss->acked,
	    mono_us());
	switch (ss->after) {
	case A_COMMIT:
		commit(w, ss);
		break;
	case A_ACK:
		commit(w, ss);
		send_ack(w, ss);
		break;
	case A_PING:
		commit(w, ss);
		send_ack(w, ss);
		/* the final LSN, should this PING be a TAKEOVER's */
		worker_stats(w, MSG_STATS);
		break;
	case A_ARRIVE:
		arrive(w, ss);
		break;
	case A_GLOBAL_RAN:
		global_ran(w, ss);
		break;
	case A_HELD:
		commit(w, ss);
		send_ack(w, ss);
		if (w->conn.fd != -1)	/* not settling */
			worker_phase(w, PHASE_STABLE);
		worker_stats(w, MSG_STATS);
		break;
	}
}

/* End a hold whose condition is met. */
static void
progress(struct worker *w, struct stable *ss)
{
	if (ss->hold == H_GLOBAL) {
		if (atomic_load(&w->shm->generation) != ss->gen) {
			ss->hold = H_NONE;
			return;
		}
		if (mono_ms() > ss->deadline)
			wfail(w, ERR_PROTO, "byte %" PRIu64 ": LSN %" PRIu64
			    ": %.*s: not every flow reached it within %d ms",
			    ss->held.rec.offset, w->st.lsn - 1,
			    (int)ss->held.rec.argvlen[0],
			    ss->held.rec.argv[0], w->cfg->timeout_ms);
		return;
	}
	if (ss->hold == H_DRAIN && writer_idle(w->writer))
		release(w, ss);
}

static void
apply(struct worker *w, struct stable *ss, const struct journal_rec *rec)
{
	switch (rec->op) {
	case JOURNAL_LSN:
		/* the LSN of the record before it */
		if (rec->lsn + 1 != w->st.lsn)
			wfail(w, ERR_PROTO, "byte %" PRIu64 ": LSN entry "
			    "%" PRIu64 " but the last record was LSN %" PRIu64
			    ": records lost or doubled", rec->offset, rec->lsn,
			    w->st.lsn - 1);
		return;
	case JOURNAL_PING:
		hold(ss, A_PING);
		break;
	case JOURNAL_EXEC:
		/* legacy: its MULTI_COMMANDs were applied as they came */
		break;
	case JOURNAL_COMMAND:
		/* EXPIRED and MULTI_COMMAND too: a plain command */
		if (worker_is_command(rec, "FLUSHALL") ||
		    worker_is_command(rec, "FLUSHDB")) {
			keep_record(w, &ss->held, rec);
			hold(ss, A_ARRIVE);
		} else
			apply_command(w, rec);
		break;
	}
	w->st.lsn++;
	ss->since_ack++;
}

/* Spooled bytes into the decoder; 0 when the spool is empty. */
static size_t
refill(struct worker *w)
{
	struct error e;
	ssize_t n;

	if ((n = spool_get(w->spool, w->rbuf, FEED_CHUNK, &e)) == -1)
		wfail(w, e.kind, "LSN %" PRIu64 ": %s", w->st.lsn, e.msg);
	if (n > 0 && journal_feed(w->jr, w->rbuf, n) == -1)
		wfail(w, journal_err(w->jr)->kind, "%s",
		    journal_error(w->jr));
	return (size_t)n;
}

/* The held journal is applied: the next checkpoint stores an LSN again. */
static void
held_done(struct worker *w, struct stable *ss)
{
	log_info("the full resync's journal is applied (%" PRIu64 " records "
	    "held for the sweep)", w->held_recs);
	spool_close(w->held);
	w->held = NULL;
	journal_free(w->hjr);
	w->hjr = NULL;
	ss->committed = UINT64_MAX;
	hold(ss, A_HELD);
}

/*
 * The snapshot's journal, held while the sweep ran, as the full sync
 * would have applied it (no LSN: it precedes JOURNAL_OFFSET): 1 when
 * more could be applied now, 0 otherwise.
 */
static int
replay_held(struct worker *w, struct stable *ss)
{
	struct journal_rec rec;
	struct error e;
	uint64_t before = journal_offset(w->hjr);
	ssize_t got;
	int rc = JOURNAL_OK, n;

	for (n = 0; n < SLICE_RECORDS; n++) {
		if (worker_stop || !writer_room(w->writer))
			break;
		while ((rc = journal_next(w->hjr, &rec)) == JOURNAL_AGAIN) {
			if ((got = spool_get(w->held, w->rbuf, FEED_CHUNK,
			    &e)) == -1)
				wfail(w, e.kind, "the full resync's journal: "
				    "%s", e.msg);
			if (got == 0)
				break;
			if (journal_feed(w->hjr, w->rbuf, got) == -1)
				wfail(w, journal_err(w->hjr)->kind, "the full "
				    "resync's journal: %s",
				    journal_error(w->hjr));
		}
		if (rc == JOURNAL_ERR)
			wfail(w, ERR_DATA, "the full resync's journal, byte "
			    "%" PRIu64 " of what %s/held-%d held: %s",
			    journal_offset(w->hjr), w->cfg->state_dir, w->flow,
			    journal_error(w->hjr));
		if (rc == JOURNAL_AGAIN)
			break;
		if (rec.op == JOURNAL_COMMAND && writer_journal(w->writer,
		    &rec) == -1)
			wfail(w, worker_write_kind(w), "the full resync's "
			    "journal: %.*s: %s", rec.argc > 0 ?
			    (int)rec.argvlen[0] : 0, rec.argc > 0 ?
			    rec.argv[0] : "", writer_error(w->writer)->msg);
	}
	w->applied += journal_offset(w->hjr) - before;
	if (rc == JOURNAL_AGAIN && spool_bytes(w->held) == 0) {
		if (journal_pending(w->hjr) != 0)
			wfail(w, ERR_DATA, "the full resync's journal ends "
			    "inside a record");
		held_done(w, ss);
		return 0;
	}
	return n == SLICE_RECORDS;
}

/*
 * Apply records while the writer has room and nothing holds them, at
 * most a slice: 1 when more could be applied now, 0 otherwise.
 */
static int
replay(struct worker *w, struct stable *ss)
{
	struct journal_rec rec;
	uint64_t before = journal_offset(w->jr);
	int rc, n;

	if (ss->hold == H_NONE && w->held != NULL)
		return replay_held(w, ss);
	for (n = 0; n < SLICE_RECORDS; n++) {
		if (worker_stop || ss->hold != H_NONE ||
		    !writer_room(w->writer))
			break;
		while ((rc = journal_next(w->jr, &rec)) == JOURNAL_AGAIN)
			if (refill(w) == 0)
				break;
		if (rc == JOURNAL_ERR)
			wfail(w, journal_err(w->jr)->kind == ERR_SYS ?
			    ERR_SYS : ERR_PROTO, "LSN %" PRIu64 ": %s",
			    w->st.lsn, journal_error(w->jr));
		if (rc == JOURNAL_AGAIN)
			break;
		apply(w, ss, &rec);
		if (ss->hold == H_NONE && ss->since_ack >= ACK_RECORDS &&
		    commit_due(w, ss, mono_ms()))
			hold(ss, A_ACK);
	}
	w->applied += journal_offset(w->jr) - before;
	return n == SLICE_RECORDS;
}

static void	lost(struct worker *, struct stable *, const char *);
static void	swept(struct worker *, struct stable *,
		    const struct msg_swept *);

/* The spool is full: the session goes, the LSN store resumes it. */
static void
spool_full(struct worker *w, struct stable *ss)
{
	log_warnx("byte %" PRIu64 ": LSN %" PRIu64 ": spool full (%" PRIu64
	    " bytes, %" PRIu64 " on disk): the target is too far behind; "
	    "dropping the session to resume from LSN %" PRIu64, w->st.bytes,
	    w->st.lsn, spool_bytes(w->spool), spool_file_bytes(w->spool),
	    ss->committed);
	w->st.spool_full = 1;	/* for this MSG_FLOW_LOST only */
	lost(w, ss, "spool full");
	w->st.spool_full = 0;
}

static void
read_flow(struct worker *w, struct stable *ss)
{
	struct error e;
	ssize_t n;
	int rc;

	if ((n = worker_read(w)) == -1)
		return;
	if (n == 0 && worker_stop_pending())
		stop(w, ss, "SIGTERM");
	if (n == 0) {
		lost(w, ss, "the master closed the flow");
		return;
	}
	if ((rc = spool_put(w->spool, w->rbuf, n, &e)) == -1)
		wfail(w, e.kind, "byte %" PRIu64 ": %s", w->st.bytes, e.msg);
	if (rc == SPOOL_FULL) {
		spool_full(w, ss);
		return;
	}
	lag_received(&w->lag, w->rbuf, n, mono_us());
}

/*
 * One wait for the target, the flow and the supervisor (whichever are
 * given), then the target's I/O.  The poll's result; pfd[0] is the flow,
 * pfd[1] the supervisor.
 */
static int
wait_events(struct worker *w, struct pollfd *pfd, int timeout)
{
	int n, nt = 0;

	if (target_pending(w->target) > 0)
		nt = target_pollfds(w->target, pfd + 2, MAX_TARGET_FDS,
		    &timeout);
	n = worker_poll_flow(w, pfd, 2 + nt, timeout);
	if (n == -1 && errno != EINTR)
		wfail(w, ERR_SYS, "poll: %s", strerror(errno));
	/* a failed target fails the writer, which says why */
	if (target_pending(w->target) > 0 && target_poll(w->target, 0) == -1)
		(void)writer_sync(w->writer);
	check_writer(w);
	return n;
}

/*
 * The flow is gone, or about to be (the supervisor starts a new session):
 * everything read is applied, acknowledged and stored, so the LSN of the
 * next FLOW is exactly what the target holds.
 */
static void
settle(struct worker *w, struct stable *ss, const char *why)
{
	struct pollfd pfd[2 + MAX_TARGET_FDS];
	struct error e;

	if (w->conn.fd == -1)
		return;
	net_close(&w->conn);
	worker_phase(w, PHASE_START);
	for (;;) {
		if (worker_stop)
			stop(w, ss, "SIGTERM");
		/* unswept, the journal held comes again from the master */
		if (ss->hold == H_SWEEP) {
			if (spool_clear(w->spool, &e) == -1)
				wfail(w, e.kind, "%s", e.msg);
			break;
		}
		progress(w, ss);
		if (replay(w, ss))
			continue;
		if (ss->hold == H_NONE && w->held == NULL &&
		    spool_bytes(w->spool) == 0 && journal_pending(w->jr) == 0)
			break;
		if (ss->hold == H_NONE && w->held == NULL &&
		    writer_room(w->writer) && spool_bytes(w->spool) == 0)
			break;	/* a partial record: it comes again */
		pfd[0].fd = pfd[1].fd = -1;
		(void)wait_events(w, pfd, ss->hold == H_GLOBAL ? 1 :
		    TARGET_TICK_MS);
	}
	drain_target(w, ss);
	commit(w, ss);
	log_info("%s at LSN %" PRIu64 ", byte %" PRIu64 ": stored, waiting "
	    "for a new session", why, ss->acked, w->st.bytes);
}

/* A new session: register from the applied LSN; FULL waits to be ended. */
static void
reflow(struct worker *w, struct stable *ss, const struct msg_reflow *r)
{
	settle(w, ss, "new session");
	ss->full_wait = 0;
	w->mbuf = r->m;
	w->m = &w->mbuf;
	worker_register(w, ss->acked);
	if (!w->reply.partial) {
		log_info("LSN %" PRIu64 " answered FULL: waiting for the full "
		    "resync", ss->acked);
		ss->full_wait = 1;
		return;
	}
	worker_journal_start(w);
	worker_phase(w, PHASE_STABLE);
	commit(w, ss);
	send_ack(w, ss);
	worker_stats(w, MSG_STATS);
}

/* A message from the supervisor; its end is ours. */
static void
read_supervisor(struct worker *w, struct stable *ss)
{
	struct msg msg;
	int n;

	n = msg_recv(w->msgfd, &msg, NULL);
	if (n == 1 && msg.hdr.type == MSG_REFLOW) {
		reflow(w, ss, &msg.u.reflow);
		return;
	}
	if (n == 1 && msg.hdr.type == MSG_SWEPT) {
		swept(w, ss, &msg.u.swept);
		return;
	}
	if (n == 1 && msg.hdr.type == MSG_VERBOSE) {
		log_setverbose(msg.u.verbose.verbose);
		return;
	}
	if (n == 1) {
		log_warnx("unexpected message %u from the supervisor",
		    msg.hdr.type);
		return;
	}
	stop(w, ss, "the supervisor went away");
}

/* The master closed the flow: settle and tell; a new session follows. */
static void
lost(struct worker *w, struct stable *ss, const char *why)
{
	settle(w, ss, why);
	worker_stats(w, MSG_FLOW_LOST);
}

/* How long poll may sleep: until the next ACK, commit or stats. */
static int
sleep_ms(struct worker *w, struct stable *ss, int64_t now)
{
	int64_t t = ss->ack_ms + ACK_EVERY_MS - now;

	if (w->last_stats_ms + STATS_EVERY_MS - now < t)
		t = w->last_stats_ms + STATS_EVERY_MS - now;
	/* a checkpoint already waiting for the writer needs no timer */
	if (ss->hold == H_NONE && ss->committed != w->st.lsn &&
	    ss->commit_ms + w->cfg->checkpoint_ms - now < t)
		t = ss->commit_ms + w->cfg->checkpoint_ms - now;
	if (ss->hold == H_GLOBAL && t > 1)
		t = 1;
	return t < 0 ? 0 : (int)t;
}

/*
 * Time-driven work: ACK, checkpoint, stats.  A checkpoint waits for the
 * writer to be idle; the ACK after it carries the LSN it stores.
 */
static void
timers(struct worker *w, struct stable *ss)
{
	int64_t now = mono_ms();
	int ack_due = now - ss->ack_ms >= ACK_EVERY_MS ||
	    (ss->since_ack >= ACK_RECORDS && commit_due(w, ss, now));

	if (ss->hold == H_NONE && ss->committed != w->st.lsn &&
	    commit_due(w, ss, now))
		hold(ss, ack_due ? A_ACK : A_COMMIT);
	else if (ack_due && (ss->hold == H_NONE || ss->after != A_ACK))
		send_ack(w, ss);
	/* the target holds every record decoded: their latency is known */
	if (ss->hold == H_NONE && writer_idle(w->writer))
		lag_acked(&w->lag, w->st.lsn, mono_us());
	if (now - w->last_stats_ms >= STATS_EVERY_MS)
		worker_stats(w, MSG_STATS);
}

/*
 * A full resync: every key written is acknowledged and marked; the
 * snapshot's journal (held) and what follows it (the spool) wait until
 * the supervisor's sweeper is done (sweep.h), which PHASE_SWEEP in the
 * next stats asks for.
 */
static void
hold_for_sweep(struct worker *w, struct stable *ss)
{
	struct error e;

	if (marks_flush(w->marks, &e) == -1)
		wfail(w, e.kind, "the full resync's marks: %s", e.msg);
	log_info("%" PRIu64 " keys marked: holding the journal for the "
	    "sweep", marks_count(w->marks));
	marks_close(w->marks);
	w->marks = NULL;
	ss->hold = H_SWEEP;
	worker_phase(w, PHASE_SWEEP);
}

/* The sweep is done: the journal held since is applied. */
static void
swept(struct worker *w, struct stable *ss, const struct msg_swept *r)
{
	if (ss->hold != H_SWEEP) {
		log_warnx("MSG_SWEPT while not holding for a sweep");
		return;
	}
	ss->hold = H_NONE;
	/* PHASE_SWEEP until the snapshot's journal is applied and stored */
	if (w->held == NULL)
		worker_phase(w, PHASE_STABLE);
	log_info("the sweep deleted %" PRIu64 " keys: applying the journal "
	    "(%" PRIu64 " records held from the snapshot, %" PRIu64 " bytes "
	    "spooled meanwhile)", r->swept, w->held_recs,
	    spool_bytes(w->spool));
	if (w->held != NULL && (w->hjr = journal_new(NULL)) == NULL)
		wfail(w, ERR_SYS, "out of memory");
	worker_stats(w, MSG_STATS);
}

void
stable_run(struct worker *w)
{
	struct stable ss;
	struct pollfd pfd[2 + MAX_TARGET_FDS];
	int more = 0, n;

	rdb_free(w->rdb);	/* the snapshot's decoder is done */
	w->rdb = NULL;
	w->spool = worker_spool(w, "spool");
	memset(&ss, 0, sizeof(ss));
	ss.committed = UINT64_MAX;	/* the first ACK stores LSN_STABLE */
	worker_phase(w, PHASE_STABLE);
	log_info("stable sync from LSN %" PRIu64 " at byte %" PRIu64,
	    w->st.lsn, w->jstart);
	drain_target(w, &ss);
	if (w->marks != NULL)
		hold_for_sweep(w, &ss);
	if (w->held != NULL)
		ss.committed = ss.acked;	/* for the ACKs; not stored */
	commit(w, &ss);
	send_ack(w, &ss);
	worker_stats(w, MSG_STATS);
	for (;;) {
		if (worker_stop)
			stop(w, &ss, "SIGTERM");
		if (w->conn.fd != -1 && !ss.full_wait) {
			progress(w, &ss);
			more = replay(w, &ss);
		}
		if (worker_stop)
			stop(w, &ss, "SIGTERM");
		/* -1 between sessions: ignored */
		pfd[0].fd = ss.full_wait ? -1 : w->conn.fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = w->msgfd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (pfd[0].fd == -1) {
			n = worker_poll(pfd, 2, -1);
			goto events;
		}
		timers(w, &ss);
		n = wait_events(w, pfd, more ? 0 : sleep_ms(w, &ss,
		    mono_ms()));
events:
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			wfail(w, ERR_SYS, "poll: %s", strerror(errno));
		if (pfd[1].revents != 0)
			read_supervisor(w, &ss);
		else if (pfd[0].revents != 0 && pfd[0].fd != -1)
			read_flow(w, &ss);
	}
}
