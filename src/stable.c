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
#include "worker_int.h"

#define ACK_EVERY_MS	1000	/* --replication_acks_interval */
#define ACK_RECORDS	1024

struct stable {
	uint64_t	 acked;		/* every record below, acknowledged */
	uint64_t	 committed;	/* next_lsn stored in LMDB */
	uint64_t	 since_ack;	/* records since the last ACK */
	int		 ping;		/* a PING asks for an ACK now */
	int64_t		 ack_ms;	/* mono ms of the last ACK */
	int64_t		 commit_ms;	/* mono ms of the last commit */
	int		 full_wait;	/* answered FULL: the flow is kept
					   open, unread, till the session
					   ends (a close would cancel it
					   under the flows still registering) */
};

/* Wait for the target to acknowledge everything sent so far. */
static void
drain_target(struct worker *w, struct stable *ss)
{
	if (writer_sync(w->writer) == -1)
		wfail(w, worker_write_kind(w), "LSN %" PRIu64 ": %s",
		    w->st.lsn, writer_error(w->writer)->msg);
	ss->acked = w->st.lsn;
	w->caught_up_ms = mono_ms();
}

/* Store the acknowledged LSN, durably, unless it is stored already. */
static void
commit(struct worker *w, struct stable *ss)
{
	struct lsn_rec rec;
	struct error e;

	ss->commit_ms = mono_ms();
	if (ss->committed == ss->acked)
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
	char buf[64];
	size_t off = 0;
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf), "REPLCONF ACK %" PRIu64 "\r\n",
	    ss->committed);
	while (off < (size_t)len) {
		n = write(w->conn.fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			wfail(w, ERR_IO, "byte %" PRIu64 ": REPLCONF ACK: "
			    "%s", w->st.bytes, strerror(errno));
		off += n;
	}
	w->st.acked = ss->committed;
	ss->since_ack = 0;
	ss->ping = 0;
	ss->ack_ms = mono_ms();
}

/* Whether the next checkpoint may be written (checkpoint-ms). */
static int
commit_due(struct worker *w, struct stable *ss, int64_t now)
{
	return now - ss->commit_ms >= w->cfg->checkpoint_ms;
}

/*
 * The ACK carries the stored LSN: a new one is stored first if a
 * checkpoint is due, or at once (force) after a PING, which waits for it.
 */
static void
ack(struct worker *w, struct stable *ss, int force)
{
	if (force || commit_due(w, ss, mono_ms())) {
		drain_target(w, ss);
		commit(w, ss);
	}
	send_ack(w, ss);
}

/* Stop reading, let the target acknowledge what was sent, store it. */
static void __attribute__((noreturn))
stop(struct worker *w, struct stable *ss, const char *why)
{
	drain_target(w, ss);
	commit(w, ss);
	if (writer_sync(w->writer) == -1)	/* the markers' deletion */
		log_warnx("LSN markers not deleted: %s",
		    writer_error(w->writer)->msg);
	log_info("%s: stopped at LSN %" PRIu64 ", byte %" PRIu64 ", stored",
	    why, ss->acked, w->st.bytes);
	net_close(&w->conn);
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

/*
 * FLUSHALL and FLUSHDB come on every flow and run once, after every flow
 * reached them and before any flow applies what follows (journal.md 5):
 * run early, one would erase what other flows wrote after it on the
 * master.  The last flow to arrive runs it; the others wait, at most the
 * source timeout.
 */
static void
apply_global(struct worker *w, struct stable *ss,
    const struct journal_rec *rec)
{
	struct session_shm *shm = w->shm;
	unsigned int gen;
	int64_t deadline;

	drain_target(w, ss);
	gen = atomic_load(&shm->generation);
	if (atomic_fetch_add(&shm->arrived, 1) + 1 == (unsigned)w->m->nflows) {
		apply_command(w, rec);
		drain_target(w, ss);
		/* stored at once: a replay would erase later writes */
		ss->acked = w->st.lsn + 1;
		commit(w, ss);
		atomic_store(&shm->arrived, 0);
		atomic_fetch_add(&shm->generation, 1);
		log_debug("LSN %" PRIu64 ": %.*s run once for every flow",
		    w->st.lsn, (int)rec->argvlen[0], rec->argv[0]);
		return;
	}
	deadline = mono_ms() + w->cfg->timeout_ms;
	while (atomic_load(&shm->generation) == gen) {
		if (worker_stop)
			stop(w, ss, "SIGTERM at a global command");
		if (mono_ms() > deadline)
			wfail(w, ERR_PROTO, "byte %" PRIu64 ": LSN %"
			    PRIu64 ": %.*s: not every flow reached it within "
			    "%d ms", rec->offset, w->st.lsn,
			    (int)rec->argvlen[0], rec->argv[0],
			    w->cfg->timeout_ms);
		(void)worker_poll(NULL, 0, 1);
	}
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
		ss->ping = 1;
		break;
	case JOURNAL_EXEC:
		/* legacy: its MULTI_COMMANDs were applied as they came */
		break;
	case JOURNAL_COMMAND:
		/* EXPIRED and MULTI_COMMAND too: a plain command */
		if (worker_is_command(rec, "FLUSHALL") ||
		    worker_is_command(rec, "FLUSHDB"))
			apply_global(w, ss, rec);
		else
			apply_command(w, rec);
		break;
	}
	w->st.lsn++;
	ss->since_ack++;
}

/* Replay every complete record fed so far, acknowledging as we go. */
static void
replay(struct worker *w, struct stable *ss)
{
	struct journal_rec rec;
	int rc = JOURNAL_AGAIN;

	while (!worker_stop &&
	    (rc = journal_next(w->jr, &rec)) == JOURNAL_OK) {
		apply(w, ss, &rec);
		if (ss->ping) {
			ack(w, ss, 1);
			/* the final LSN, should this PING be a TAKEOVER's */
			worker_stats(w, MSG_STATS);
		} else if (ss->since_ack >= ACK_RECORDS &&
		    commit_due(w, ss, mono_ms()))
			ack(w, ss, 0);
	}
	if (!worker_stop && rc == JOURNAL_ERR)
		wfail(w, journal_err(w->jr)->kind == ERR_SYS ? ERR_SYS :
		    ERR_PROTO, "LSN %" PRIu64 ": %s", w->st.lsn,
		    journal_error(w->jr));
}

static void	lost(struct worker *, struct stable *, const char *);

static void
read_flow(struct worker *w, struct stable *ss)
{
	size_t n;

	n = worker_read(w);
	if (n == 0 && worker_stop_pending())
		stop(w, ss, "SIGTERM");
	if (n == 0) {
		lost(w, ss, "the master closed the flow");
		return;
	}
	if (journal_feed(w->jr, w->rbuf, n) == -1)
		wfail(w, journal_err(w->jr)->kind, "%s",
		    journal_error(w->jr));
}

/*
 * The flow is gone, or about to be (the supervisor starts a new session):
 * everything read is applied, acknowledged and stored, so the LSN of the
 * next FLOW is exactly what the target holds.
 */
static void
settle(struct worker *w, struct stable *ss, const char *why)
{
	if (w->conn.fd == -1)
		return;
	drain_target(w, ss);
	commit(w, ss);
	net_close(&w->conn);
	worker_phase(w, PHASE_START);
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
	ack(w, ss, 1);
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
	if (ss->committed != w->st.lsn &&
	    ss->commit_ms + w->cfg->checkpoint_ms - now < t)
		t = ss->commit_ms + w->cfg->checkpoint_ms - now;
	return t < 0 ? 0 : (int)t;
}

/* Time-driven work: ACK, checkpoint, stats. */
static void
timers(struct worker *w, struct stable *ss)
{
	int64_t now = mono_ms();

	if (now - ss->ack_ms >= ACK_EVERY_MS ||
	    (ss->since_ack >= ACK_RECORDS && commit_due(w, ss, now)))
		ack(w, ss, 0);
	else if (ss->committed != w->st.lsn && commit_due(w, ss, now)) {
		drain_target(w, ss);
		commit(w, ss);
	}
	if (now - w->last_stats_ms >= STATS_EVERY_MS)
		worker_stats(w, MSG_STATS);
}

void
stable_run(struct worker *w)
{
	struct stable ss;
	struct pollfd pfd[2];
	int n;

	rdb_free(w->rdb);	/* the snapshot's decoder is done */
	w->rdb = NULL;
	memset(&ss, 0, sizeof(ss));
	ss.committed = UINT64_MAX;	/* the first ACK stores LSN_STABLE */
	worker_phase(w, PHASE_STABLE);
	log_info("stable sync from LSN %" PRIu64 " at byte %" PRIu64,
	    w->st.lsn, w->jstart);
	ack(w, &ss, 1);
	worker_stats(w, MSG_STATS);
	for (;;) {
		if (w->conn.fd != -1 && !ss.full_wait)
			replay(w, &ss);
		if (worker_stop)
			stop(w, &ss, "SIGTERM");
		/* -1 between sessions: ignored */
		pfd[0].fd = ss.full_wait ? -1 : w->conn.fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = w->msgfd;
		pfd[1].events = POLLIN;
		if (pfd[0].fd == -1) {
			n = worker_poll(pfd, 2, -1);
			goto events;
		}
		timers(w, &ss);
		/* nothing to read: let the target catch up now */
		if (target_pending(w->target) > 0 &&
		    (n = worker_poll(pfd, 2, 0)) == 0)
			drain_target(w, &ss);
		n = worker_poll(pfd, 2, sleep_ms(w, &ss, mono_ms()));
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
