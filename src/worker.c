/*
 * worker.c - one process per FLOW: registers the flow with the master,
 * decodes its snapshot stream and writes it to the target, passes the
 * full-sync barrier, reads the trailer and checkpoints the LSN; then
 * `replicate` goes on in stable sync (stable.c) and `migrate` keeps the
 * flow open until every flow is done.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dfly.h"
#include "imsg.h"
#include "journal.h"
#include "log.h"
#include "lsnstore.h"
#include "rdb.h"
#include "resync.h"
#include "spool.h"
#include "target.h"
#include "tmpkeys.h"
#include "worker_int.h"

_Static_assert(CONFIG_MAXDB == WRITER_MAXDB, "one range of dbs");

volatile sig_atomic_t		 worker_stop;
static sigset_t			 poll_mask;	/* SIGTERM let through */

static void
on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

/*
 * SIGTERM is blocked except inside this poll, so one arriving after the
 * caller checked worker_stop still ends the wait (EINTR).
 */
int
worker_poll(struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	struct timespec ts;

	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
	return ppoll(pfd, n, timeout_ms < 0 ? NULL : &ts, &poll_mask);
}

/*
 * The master closed the flow.  On a stop, the first worker to exit closes
 * its flow and Dragonfly then closes every other flow of the session; by
 * then the supervisor has signalled every worker.  SIGTERM is blocked
 * outside the poll, so a pending one says this EOF is part of the stop.
 */
int
worker_stop_pending(void)
{
	sigset_t pending;

	if (sigpending(&pending) == 0 && sigismember(&pending, SIGTERM))
		worker_stop = 1;
	return worker_stop;
}

/* What ps shows: the phase, and how far the flow is in it. */
static void
title(struct worker *w)
{
	int64_t lag = 0;

	switch (w->st.phase) {
	case PHASE_STABLE:
		if (w->st.behind_since != 0)
			lag = mono_ms() - w->st.behind_since;
		setproctitle("flow %d stable lsn %" PRIu64 " lag %" PRId64
		    "ms", w->flow, w->st.lsn, lag > 0 ? lag : 0);
		break;
	case PHASE_FULL_SYNC:
		setproctitle("flow %d full-sync %" PRIu64 " keys", w->flow,
		    w->st.keys);
		break;
	default:
		setproctitle("flow %d %s", w->flow,
		    msg_phase_name(w->st.phase));
		break;
	}
}

void
worker_phase(struct worker *w, enum flow_phase p)
{
	w->st.phase = p;
	log_setprefix("flow %d %s", w->flow, msg_phase_name(p));
	title(w);
}

/* The spool and the time to drain it at the last second's apply rate. */
static void
spool_stats(struct worker *w)
{
	int64_t now = mono_ms(), dt = now - w->rate_ms;

	if (dt >= 1000) {
		w->rate = (w->applied - w->rate_applied) * 1000 / dt;
		w->rate_applied = w->applied;
		w->rate_ms = now;
	}
	w->st.spool = (w->spool != NULL ? spool_bytes(w->spool) : 0) +
	    (w->held != NULL ? spool_bytes(w->held) : 0);
	if (w->st.spool == 0)
		w->st.drain_ms = 0;
	else
		w->st.drain_ms = w->rate == 0 ? -1 :
		    (int64_t)(w->st.spool * 1000 / w->rate);
}

static void
fill_stats(struct worker *w)
{
	const uint64_t *c;

	if (w->writer != NULL) {
		c = writer_counts(w->writer);
		w->st.written = c[WC_WRITTEN];
		w->st.skipped = c[WC_SKIPPED_UNSUPPORTED] + c[WC_LOSSY] +
		    c[WC_EXPIRED];
		w->st.journal = c[WC_JOURNAL];
		w->st.commands = c[WC_COMMANDS];
		w->st.sent_bytes = c[WC_BYTES];
	}
	w->st.lag_records = w->st.phase == PHASE_STABLE ?
	    lag_records(&w->lag) : 0;
	w->st.lat = w->lag.hist;
	if (w->rdb != NULL)
		w->st.offset = rdb_offset(w->rdb);
	else if (w->st.phase == PHASE_STABLE)
		w->st.offset = journal_offset(w->jr);
	spool_stats(w);
	if (w->st.phase == PHASE_STABLE && target_pending(w->target) == 0 &&
	    w->st.spool == 0)
		w->caught_up_ms = mono_ms();
	w->st.behind_since = w->st.phase != PHASE_STABLE ||
	    (target_pending(w->target) == 0 && w->st.spool == 0) ? 0 :
	    w->caught_up_ms;
}

/* Send one message to the supervisor, or exit: nobody to report to. */
void
worker_report(struct worker *w, enum msg_type type, const void *p, size_t len)
{
	struct error e;

	if (msg_send(w->msgfd, type, p, len, &e) == -1) {
		log_warnx("message to the supervisor: %s", e.msg);
		_exit(1);
	}
}

/* Each target node's counters, for the supervisor's metrics. */
static void
node_stats(struct worker *w)
{
	struct target_node_stats ns;
	struct msg_node m;
	size_t i;

	for (i = 0; target_node_stats(w->target, i, &ns); i++) {
		memset(&m, 0, sizeof(m));
		m.inflight = ns.inflight;
		m.reconnects = ns.reconnects;
		m.moved = ns.moved;
		m.ask = ns.ask;
		strlcpy(m.name, ns.name, sizeof(m.name));
		worker_report(w, MSG_NODE, &m, sizeof(m));
	}
}

void
worker_stats(struct worker *w, enum msg_type type)
{
	fill_stats(w);
	title(w);
	worker_report(w, type, &w->st, sizeof(w->st));
	if (type == MSG_STATS && w->target != NULL)
		node_stats(w);
	w->last_stats_ms = mono_ms();
}

static void	forget_lsn(struct worker *);

/*
 * The worker's last word: the kind tells the supervisor whether a new
 * full sync may succeed (err_retryable()).
 */
void
wfail(struct worker *w, enum err_kind kind, const char *fmt, ...)
{
	struct msg_error e;
	va_list ap;
	int n;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	n = snprintf(e.text, sizeof(e.text), "flow %d: ", w->flow);
	va_start(ap, fmt);
	vsnprintf(e.text + n, sizeof(e.text) - n, fmt, ap);
	va_end(ap);
	log_warnx("%s", e.text + n);
	/*
	 * Commands behind a refused one ran: resuming from an LSN would skip
	 * or repeat some of them, so the next session is a full resync.
	 */
	if (w->writer != NULL && writer_refused(w->writer) && w->lsn != NULL &&
	    !w->forgot) {
		log_warnx("the target refused a command while later ones ran: "
		    "the LSN is dropped, the flow resumes by a full resync");
		forget_lsn(w);
	}
	(void)msg_send(w->msgfd, MSG_ERROR, &e,
	    sizeof(e.kind) + strlen(e.text) + 1, NULL);
	_exit(1);
}

/* tmpkeys_markers(): one LSN marker of this flow */
static int
marker_found(void *arg, int db, const char *name, size_t len, uint64_t lsn)
{
	struct worker *w = arg;

	return writer_marker_loaded(w->writer, db, name, len, lsn);
}

/*
 * Resuming from lsn: the target may hold records past it, applied before
 * the last worker of this flow died but after its checkpoint; their LSN
 * markers say which (jcmd.c).
 */
static void
load_markers(struct worker *w, const struct target_opts *topts, uint64_t lsn)
{
	struct error e;
	long n;

	if ((n = tmpkeys_markers(topts, w->flow, marker_found, w, &e)) == -1)
		wfail(w, e.kind == ERR_SYS ? ERR_SYS : ERR_TARGET, "target: "
		    "reading the LSN markers: %s", e.msg);
	if (n > 0)
		log_info("resuming from LSN %" PRIu64 ": %ld LSN markers on "
		    "the target", lsn, n);
}

/* The writer wrote it: a full resync's sweep keeps it (marks.h). */
static void
mark_key(void *arg, int db, const char *p, size_t len)
{
	struct worker *w = arg;

	if (w->marks != NULL)
		marks_add(w->marks, db, p, len);
}

static void
open_target(struct worker *w, uint64_t lsn)
{
	struct target_opts topts;
	struct writer_opts wopts;
	struct error e;
	char skipfile[PATH_MAX];
	size_t i;
	int cluster;

	/* config.c put the password there unless the URL has one */
	if (resync_target_opts(w->cfg, &topts, &e) == -1)
		wfail(w, e.kind, "%s", e.msg);
	if ((w->target = target_open(&topts, &e)) == NULL)
		wfail(w, e.kind, "target: %s", e.msg);
	writer_opts_init(&wopts);
	wopts.conflict = CONFLICT_OVERWRITE;	/* the snapshot replaces */
	wopts.unsupported = w->cfg->unsupported == CONFIG_UNSUPPORTED_SKIP ?
	    UNSUPPORTED_SKIP : w->cfg->unsupported == CONFIG_UNSUPPORTED_LOSSY ?
	    UNSUPPORTED_LOSSY : UNSUPPORTED_FAIL;
	if (w->filter == NULL && filter_spec_active(&w->cfg->filter) &&
	    (w->filter = filter_new(&w->cfg->filter, &e)) == NULL)
		wfail(w, e.kind, "filter: %s", e.msg);
	wopts.filter = w->filter;
	if (w->cfg->batch > 0)
		wopts.batch = w->cfg->batch;
	/*
	 * As import does: a /DB in the URL receives every db --db-map does
	 * not name; a cluster has only db 0, where they all go.
	 */
	cluster = target_is_cluster(w->target);
	for (i = 0; i < WRITER_MAXDB; i++) {
		wopts.db_map[i] = w->cfg->db_map[i];
		if (cluster && wopts.db_map[i] > 0)
			wfail(w, ERR_CONFIG, "--db-map %zu:%d: a cluster has "
			    "only db 0", i, wopts.db_map[i]);
		if (wopts.db_map[i] < 0 && (cluster || topts.have_db))
			wopts.db_map[i] = cluster ? 0 : topts.db;
	}
	wopts.target_db = topts.have_db ? topts.db : 0;
	if (w->stable)
		wopts.flow = w->flow;
	if (w->mark) {
		wopts.mark = mark_key;
		wopts.mark_arg = w;
	}
	snprintf(w->label, sizeof(w->label), "flow %d", w->flow);
	wopts.label = w->label;
	if ((size_t)snprintf(skipfile, sizeof(skipfile), "%s/skipped-%d",
	    w->cfg->state_dir, w->flow) >= sizeof(skipfile))
		wfail(w, ERR_CONFIG, "state-dir too long");
	if (wopts.unsupported == UNSUPPORTED_SKIP)
		wopts.skip_file = skipfile;
	else if (unlink(skipfile) == -1 && errno != ENOENT)
		log_warnx("%s: %s", skipfile, strerror(errno));
	/* an old Redis (or no memory): the same on every attempt */
	if ((w->writer = writer_open(w->target, &wopts, &e)) == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		wfail(w, ERR_CONFIG, "writer: %s", e.msg);
	}
	if (w->stable && lsn > 0)
		load_markers(w, &topts, lsn);
	explicit_bzero(&topts, sizeof(topts));
}

/*
 * DFLY FLOW on a new connection, asking for lsn (0: a full sync), and the
 * answer told to the supervisor.  A worker that dies here is a failed
 * session, so an unreachable master is no flow death.
 */
void
worker_register(struct worker *w, uint64_t lsn)
{
	struct msg_flow_reply r;
	struct error e;

	net_close(&w->conn);
	if (dfly_open(&w->conn, w->cfg, &e) == -1 ||
	    dfly_flow(&w->conn, w->m, w->flow, lsn, &w->reply, &e) == -1)
		wfail(w, e.kind, "%s", e.msg);
	if (lsn > 0)
		log_info("%s SYNC FLOW from LSN %" PRIu64 ": %s", w->m->syncid,
		    lsn, w->reply.partial ? "PARTIAL" : "FULL");
	else
		log_debug("FLOW registered: %s",
		    w->reply.partial ? "PARTIAL" : "FULL");
	if (w->reply.partial && lsn == 0)
		wfail(w, ERR_PROTO, "master answered PARTIAL to a full-sync "
		    "request");
	memset(&r, 0, sizeof(r));
	r.partial = w->reply.partial;
	r.lsn = lsn;
	memcpy(r.token, w->reply.token, sizeof(r.token));
	worker_report(w, MSG_FLOW_REPLY, &r, sizeof(r));
}

/*
 * PARTIAL: no snapshot, no token; the journal from the LSN asked for
 * starts right after the FLOW reply, once the supervisor sent
 * STARTSTABLE.  The bytes read with the reply are its first.
 */
void
worker_journal_start(struct worker *w)
{
	const char *p;
	size_t len;

	journal_free(w->jr);
	if ((w->jr = journal_new(NULL)) == NULL)
		wfail(w, ERR_SYS, "out of memory");
	w->jstart = w->st.bytes;
	if (journal_set_offset(w->jr, w->jstart) == -1)
		wfail(w, ERR_SYS, "journal offset");
	lag_reset(&w->lag, w->st.lsn);
	len = net_leftover(&w->conn, &p);
	w->st.bytes += len;
	if (len > 0 && journal_feed(w->jr, p, len) == -1)
		wfail(w, journal_err(w->jr)->kind, "%s",
		    journal_error(w->jr));
	lag_received(&w->lag, p, len, mono_us());
}

/*
 * The first byte of a snapshot: from now on the target no longer matches
 * any earlier LSN of this flow.  Not sooner: a FULL answer alone may end
 * in a mixed session that is retried, and a full sync may never start.
 * The record stays, without an LSN: it says the target holds an earlier
 * replication, so the next full sync is a resync (session.c).
 */
static void
forget_lsn(struct worker *w)
{
	struct lsn_rec rec;
	struct error e;

	if (w->forgot)
		return;
	w->forgot = 1;
	memset(&rec, 0, sizeof(rec));
	strlcpy(rec.replid, w->m->replid, sizeof(rec.replid));
	rec.nflows = w->m->nflows;
	rec.state = LSN_FULLSYNC;
	if (lsnstore_put(w->lsn, w->flow, &rec, &e) == -1)
		wfail(w, e.kind, "%s", e.msg);
}

struct spool *
worker_spool(struct worker *w, const char *name)
{
	struct spool_opts o;
	struct spool *sp;
	struct error e;
	char path[PATH_MAX];
	uint64_t share;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s-%d",
	    w->cfg->state_dir, name, w->flow) >= sizeof(path))
		wfail(w, ERR_CONFIG, "state-dir %s: too long for the spool",
		    w->cfg->state_dir);
	o.path = path;
	o.mem_max = w->cfg->spool_memory;
	o.file_max = w->cfg->spool_max;
	share = w->cfg->spool_max_total / (w->m->nflows > 0 ?
	    w->m->nflows : 1);
	if (share < o.file_max)
		o.file_max = share;
	if ((sp = spool_open(&o, &e)) == NULL)
		wfail(w, e.kind, "%s", e.msg);
	return sp;
}

/*
 * A value the target cannot hold (with --unsupported fail) fails the same
 * way on every attempt, so it must not be retried.  Anything else (a
 * target outage that outlived the target's own retries, a temporary key
 * someone else wrote to) is worth a new full sync.
 */
enum err_kind
worker_write_kind(struct worker *w)
{
	return writer_error(w->writer)->kind == ERR_DATA ? ERR_DATA :
	    ERR_TARGET;
}

/*
 * A snapshot the decoder refused: a new full sync may pass (the stream
 * is the master's, not a file), so corrupt is ERR_PROTO; memory is ERR_SYS.
 */
static enum err_kind
rdb_kind(struct worker *w)
{
	return rdb_err(w->rdb)->kind == ERR_SYS ? ERR_SYS : ERR_PROTO;
}

/* Journal arguments are counted bytes, not NUL-terminated strings. */
int
worker_is_command(const struct journal_rec *rec, const char *name)
{
	size_t n = strlen(name);

	return rec->argc > 0 && rec->argvlen[0] == n &&
	    strncasecmp(rec->argv[0], name, n) == 0;
}

/*
 * FLUSHALL or FLUSHDB inside the snapshot: what was written before it no
 * longer exists on the master, so the supervisor flushes the target's
 * matching dbs before the full sync starts again, as Dragonfly does.
 */
static void __attribute__((noreturn))
flushed(struct worker *w, const struct journal_rec *rec)
{
	struct msg_flushed f;

	if (filter_spec_keyed(&w->cfg->filter) && !w->cfg->filter.flush_all)
		wfail(w, ERR_DATA, "byte %" PRIu64 ": %.*s during the full "
		    "sync would delete on the target the keys --key-prefix/"
		    "--key-regex leave out (--filter-flush all to allow it)",
		    rdb_offset(w->rdb), (int)rec->argvlen[0], rec->argv[0]);
	memset(&f, 0, sizeof(f));
	f.db = worker_is_command(rec, "FLUSHALL") ? -1 : (int32_t)rec->db;
	worker_report(w, MSG_FLUSHED, &f, sizeof(f));
	/* the stream tells us to start over */
	if (f.db < 0)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": FLUSHALL during the "
		    "full sync: restarting it on a flushed target, as "
		    "Dragonfly does", rdb_offset(w->rdb));
	wfail(w, ERR_PROTO, "byte %" PRIu64 ": FLUSHDB of db %u during the "
	    "full sync: restarting it with that db flushed on the target",
	    rdb_offset(w->rdb), rec->db);
}

/*
 * A full resync holds the snapshot's journal until the sweep ran: a key
 * the master deleted while we were away and writes again in place
 * (APPEND, LPUSH, INCR) must not be applied to the stale value the
 * target still has.  Dragonfly sends a key's bucket before any journal
 * record that changes it, so applying the whole journal after every
 * snapshot gives the same result as applying it as it came.
 */
static void
hold_journal_blob(struct worker *w, const struct rdb_event *ev)
{
	struct error e;
	int rc;

	if ((rc = spool_put(w->held, ev->u.journal.p, ev->u.journal.len,
	    &e)) == -1)
		wfail(w, e.kind, "byte %" PRIu64 ": %s", rdb_offset(w->rdb),
		    e.msg);
	if (rc == SPOOL_FULL)
		wfail(w, ERR_SYS, "byte %" PRIu64 ": the journal of the full "
		    "resync, held for the sweep, outgrew the spool's limits "
		    "(%" PRIu64 " bytes): starting over; raise spool-max or "
		    "set flush-on-resync", rdb_offset(w->rdb),
		    spool_bytes(w->held));
}

/* A JOURNAL_BLOB inside the snapshot: apply its records in order. */
static void
apply_journal_blob(struct worker *w, const struct rdb_event *ev)
{
	struct journal_rec rec;
	uint64_t n = 0;
	int rc;

	if (journal_feed(w->jr, ev->u.journal.p, ev->u.journal.len) == -1)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": journal blob: %s",
		    rdb_offset(w->rdb), journal_error(w->jr));
	while ((rc = journal_next(w->jr, &rec)) == JOURNAL_OK) {
		if (rec.op != JOURNAL_COMMAND) {
			if (rec.op != JOURNAL_LSN)
				n++;
			continue;
		}
		n++;
		if (worker_is_command(&rec, "FLUSHALL") ||
		    worker_is_command(&rec, "FLUSHDB")) {
			if (worker_is_command(&rec, "FLUSHDB") &&
			    !filter_spec_db(&w->cfg->filter, (int)rec.db))
				continue;	/* a db left out */
			flushed(w, &rec);
		}
		if (w->held != NULL) {
			w->held_recs++;
			continue;
		}
		if (writer_journal(w->writer, &rec) == -1)
			wfail(w, ERR_TARGET, "byte %" PRIu64 ": journal %.*s: "
			    "%s", rdb_offset(w->rdb), rec.argc > 0 ?
			    (int)rec.argvlen[0] : 0, rec.argc > 0 ?
			    rec.argv[0] : "", writer_error(w->writer)->msg);
	}
	if (rc == JOURNAL_ERR)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": journal blob: %s",
		    rdb_offset(w->rdb), journal_error(w->jr));
	if (journal_pending(w->jr) != 0)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": journal blob ends "
		    "inside a record", rdb_offset(w->rdb));
	if (ev->u.journal.nrec != 0 && n != ev->u.journal.nrec)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": journal blob announced "
		    "%" PRIu64 " records, held %" PRIu64, rdb_offset(w->rdb),
		    ev->u.journal.nrec, n);
	if (w->held != NULL)
		hold_journal_blob(w, ev);
}

static void
barrier(struct worker *w)
{
	if (writer_sync(w->writer) == -1)
		wfail(w, ERR_TARGET, "byte %" PRIu64 ": target: %s",
		    rdb_offset(w->rdb), writer_error(w->writer)->msg);
	worker_phase(w, PHASE_BARRIER);
	atomic_fetch_add(&w->shm->barrier, 1);
	worker_stats(w, MSG_FULLSYNC_DONE);
	log_info("FULLSYNC_END at byte %" PRIu64 ", %" PRIu64 " keys applied",
	    rdb_offset(w->rdb), w->st.keys);
}

/* Run the decoder over what was fed; 1 when the trailer was read. */
static int
drain(struct worker *w)
{
	struct rdb_event ev;
	int rc;

	while ((rc = rdb_next(w->rdb, &ev)) == RDB_OK) {
		switch (ev.type) {
		case RDB_EV_JOURNAL:
			apply_journal_blob(w, &ev);
			continue;
		case RDB_EV_FULLSYNC_END:
			if (w->st.phase != PHASE_FULL_SYNC)
				wfail(w, ERR_PROTO, "byte %" PRIu64 ": second "
				    "FULLSYNC_END", rdb_offset(w->rdb));
			barrier(w);
			continue;
		case RDB_EV_JOURNAL_OFFSET:
			if (w->st.phase != PHASE_BARRIER)
				wfail(w, ERR_PROTO, "byte %" PRIu64 ": "
				    "JOURNAL_OFFSET before FULLSYNC_END",
				    rdb_offset(w->rdb));
			w->st.lsn = ev.u.journal_offset;
			w->have_offset = 1;
			worker_phase(w, PHASE_TRAILER);
			continue;
		case RDB_EV_KEY:
			/* the shard's traversal ended: only journal may follow */
			if (w->st.phase != PHASE_FULL_SYNC)
				wfail(w, ERR_PROTO, "key after FULLSYNC_END at "
				    "byte %" PRIu64, rdb_offset(w->rdb));
			break;
		case RDB_EV_KEY_END:
			w->st.keys++;
			break;
		case RDB_EV_MODULE_AUX:
			/* no key holds it: the target's module must */
			log_warnx("byte %" PRIu64 ": module \"%.*s\": its "
			    "auxiliary data (no key) is not written",
			    rdb_offset(w->rdb), (int)ev.u.module_name.len,
			    ev.u.module_name.p);
			continue;
		default:
			break;
		}
		if (writer_event(w->writer, &ev) == -1)
			wfail(w, worker_write_kind(w), "byte %" PRIu64 ": %s",
			    rdb_offset(w->rdb), writer_error(w->writer)->msg);
	}
	if (rc == RDB_ERR)
		wfail(w, rdb_kind(w), "%s", rdb_error(w->rdb));
	return rc == RDB_DONE;
}

ssize_t
worker_read(struct worker *w)
{
	ssize_t n;

	do {
		n = net_recv(&w->conn, w->rbuf, READ_CHUNK);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return -1;
	/*
	 * A cancelled session shuts the flow down; a reset (our ACKs were
	 * unread) is the same end as EOF, for the caller to judge.
	 */
	if (n == -1 && errno == ECONNRESET) {
		log_debug("byte %" PRIu64 ": read: connection reset",
		    w->st.bytes);
		return 0;
	}
	if (n == -1)
		wfail(w, ERR_IO, "byte %" PRIu64 ": read: %s",
		    w->st.bytes, net_strerror(&w->conn, errno));
	w->st.bytes += n;
	return n;
}

/* Waits for the flow (and no more than timeout_ms); poll(2)'s result. */
int
worker_poll_flow(struct worker *w, struct pollfd *pfd, nfds_t n,
    int timeout_ms)
{
	int pending = net_pending(&w->conn), rc;

	pfd[0].fd = w->conn.fd;
	pfd[0].events = net_events(&w->conn, POLLIN);
	pfd[0].revents = 0;
	rc = worker_poll(pfd, n, pending ? 0 : timeout_ms);
	if (pending && rc != -1) {
		if (pfd[0].revents == 0)
			rc++;
		pfd[0].revents |= POLLIN;
	}
	return rc;
}

static void
read_socket(struct worker *w, int *eof)
{
	ssize_t n;

	if ((n = worker_read(w)) == -1)
		return;
	if (n == 0) {
		*eof = 1;
		return;
	}
	if (w->rdb != NULL)
		forget_lsn(w);
	if (w->rdb != NULL && rdb_feed(w->rdb, w->rbuf, n) == -1)
		wfail(w, rdb_kind(w), "%s", rdb_error(w->rdb));
}

/* The EOF token; in stable sync what follows it is the journal. */
static void
take_token(struct worker *w, const char *p, size_t len)
{
	size_t n = DFLY_ID_LEN - w->ntoken;

	if (n > len)
		n = len;
	memcpy(w->token + w->ntoken, p, n);
	w->ntoken += n;
	if (len > n && w->stable && journal_feed(w->jr, p + n, len - n) == -1)
		wfail(w, journal_err(w->jr)->kind, "%s",
		    journal_error(w->jr));
	if (len > n && w->stable)
		lag_received(&w->lag, p + n, len - n, mono_us());
}

/*
 * The journal decoder of stable sync, numbering bytes in the flow: the
 * journal starts after the token, which starts `left` bytes before the
 * end of what was read.
 */
static void
journal_restart(struct worker *w, size_t left)
{
	journal_free(w->jr);
	if ((w->jr = journal_new(NULL)) == NULL)
		wfail(w, ERR_SYS, "out of memory");
	w->jstart = w->st.bytes - left + DFLY_ID_LEN;
	if (journal_set_offset(w->jr, w->jstart) == -1)
		wfail(w, ERR_SYS, "journal offset");
	lag_reset(&w->lag, w->st.lsn);
}

static void
full_sync(struct worker *w)
{
	struct pollfd pfd;
	const char *p;
	size_t len;
	int64_t deadline, left;
	int eof = 0, done = 0, n;

	if ((w->rdb = rdb_new(RDB_MODE_FLOW, NULL)) == NULL ||
	    (w->jr = journal_new(NULL)) == NULL)
		wfail(w, ERR_SYS, "out of memory");
	len = net_leftover(&w->conn, &p);
	if (len > 0) {
		forget_lsn(w);
		w->st.bytes += len;
		if (rdb_feed(w->rdb, p, len) == -1)
			wfail(w, rdb_kind(w), "%s", rdb_error(w->rdb));
	}
	while (!(done = drain(w))) {
		if (eof && worker_stop_pending())
			return;
		if (eof)
			wfail(w, ERR_IO, "byte %" PRIu64 ": the master closed "
			    "the flow (%s)", w->st.bytes,
			    msg_phase_name(w->st.phase));
		if (worker_stop)
			return;
		if (mono_ms() - w->last_stats_ms >= STATS_EVERY_MS)
			worker_stats(w, MSG_STATS);
		if ((n = worker_poll_flow(w, &pfd, 1, STATS_EVERY_MS)) == -1 &&
		    errno != EINTR)
			wfail(w, ERR_SYS, "byte %" PRIu64 ": poll: %s",
			    w->st.bytes, strerror(errno));
		if (n <= 0)
			continue;
		read_socket(w, &eof);
	}
	if (!w->have_offset)
		wfail(w, ERR_PROTO, "byte %" PRIu64 ": trailer without "
		    "JOURNAL_OFFSET", rdb_offset(w->rdb));
	rdb_leftover(w->rdb, &p, &len);
	journal_restart(w, len);
	take_token(w, p, len);
	worker_stats(w, MSG_STATS);	/* the trailer phase, for status */
	deadline = mono_ms() + w->cfg->timeout_ms;
	while (w->ntoken < DFLY_ID_LEN) {
		if (worker_stop)
			return;
		left = deadline - mono_ms();
		n = left > 0 ? worker_poll_flow(w, &pfd, 1, left) : 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			wfail(w, ERR_SYS, "byte %" PRIu64 ": poll: %s",
			    w->st.bytes, strerror(errno));
		if (n == 0)
			wfail(w, ERR_IO, "byte %" PRIu64 ": no EOF token "
			    "within %d ms of the trailer", w->st.bytes,
			    w->cfg->timeout_ms);
		eof = 0;
		len = w->st.bytes;
		rdb_free(w->rdb);	/* the stream past the token is journal */
		w->rdb = NULL;
		read_socket(w, &eof);
		if (eof && worker_stop_pending())
			return;
		if (eof)
			wfail(w, ERR_IO, "byte %" PRIu64 ": the master closed "
			    "the flow inside the EOF token", w->st.bytes);
		take_token(w, w->rbuf, w->st.bytes - len);
	}
	if (memcmp(w->token, w->reply.token, DFLY_ID_LEN) != 0)
		wfail(w, ERR_PROTO, "EOF token \"%.40s\" differs from the FLOW "
		    "reply's \"%s\"", w->token, w->reply.token);
}

/*
 * The snapshot is applied: JOURNAL_OFFSET may be resumed from, unless
 * its journal is held for the sweep (stable.c stores the LSN once it is
 * applied).
 */
static void
checkpoint(struct worker *w)
{
	struct lsn_rec rec;
	struct error e;

	if (w->held != NULL)
		return;
	memset(&rec, 0, sizeof(rec));
	strlcpy(rec.replid, w->m->replid, sizeof(rec.replid));
	rec.nflows = w->m->nflows;
	rec.next_lsn = w->st.lsn;
	rec.state = LSN_FULLSYNC_DONE;
	rec.keys = w->st.keys;
	rec.bytes = w->st.bytes;
	/* held by the target's replicas too: a failover keeps it */
	if (target_durable(w->target) == -1)
		wfail(w, ERR_TARGET, "target: %s", target_error(w->target));
	if (lsnstore_put(w->lsn, w->flow, &rec, &e) == -1)
		wfail(w, e.kind, "%s", e.msg);
}

/*
 * Closing the flow would cancel the master's session and with it the
 * trailer of any flow still draining: keep it open, reading and dropping
 * what the master sends now (the journal, which a full sync does not
 * apply; left unread it would make the master throttle and then cancel),
 * until the supervisor says every flow is done or goes away.
 */
static void
linger(struct worker *w)
{
	struct pollfd pfd[2];
	struct msg msg;
	ssize_t got;
	int n;

	rdb_free(w->rdb);
	w->rdb = NULL;
	while (!worker_stop) {
		/* pfd[0] the flow (-1 once closed: poll skips it) */
		pfd[1].fd = w->msgfd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if ((n = worker_poll_flow(w, pfd, 2, -1)) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("poll");
			return;
		}
		if (w->conn.fd != -1 && pfd[0].revents != 0) {
			/* our part is done: an end or error here is no failure */
			if ((got = net_recv(&w->conn, w->rbuf, READ_CHUNK)) > 0)
				w->st.bytes += got;
			else if (got == 0 || (errno != EINTR &&
			    errno != EAGAIN)) {
				log_debug("byte %" PRIu64 ": flow closed by the "
				    "master after our trailer", w->st.bytes);
				net_close(&w->conn);
			}
		}
		if (pfd[1].revents == 0)
			continue;
		n = msg_recv(w->msgfd, &msg, NULL);
		if (n == 1 && msg.hdr.type == MSG_ALLDONE) {
			log_debug("every flow is done: closing the flow");
			return;
		}
		if (n == 1 && msg.hdr.type == MSG_VERBOSE) {
			log_setverbose(msg.u.verbose.verbose);
			continue;
		}
		if (n == 1)
			log_warnx("unexpected message %u from the supervisor",
			    msg.hdr.type);
		else
			return;
	}
}

void
worker_main(const struct config *cfg, const struct dfly_master *m, int flow,
    int msgfd, struct session_shm *shm, uint64_t lsn, int mark)
{
	struct worker w;
	struct sigaction sa;
	struct error e;
	sigset_t block;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.m = m;
	w.flow = flow;
	w.msgfd = msgfd;
	w.shm = shm;
	w.stable = !cfg->full_sync_only;
	w.mark = mark;
	net_init(&w.conn);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &poll_mask);
	sigdelset(&poll_mask, SIGTERM);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);	/* the supervisor decides */
	sigaction(SIGPIPE, &sa, NULL);
	worker_phase(&w, PHASE_START);
	if ((w.rbuf = malloc(READ_CHUNK)) == NULL)
		wfail(&w, ERR_SYS, "out of memory");
	if ((w.lsn = lsnstore_open(cfg->state_dir, &e)) == NULL)
		wfail(&w, e.kind, "%s", e.msg);
	open_target(&w, lsn);
	worker_register(&w, w.stable ? lsn : 0);
	if (w.reply.partial) {
		w.st.lsn = lsn;
		worker_journal_start(&w);
		stable_run(&w);
	}
	/* a full sync: the markers are deleted before it (resync.c) */
	writer_markers_forget(w.writer);
	if (w.mark && (w.marks = marks_create(cfg->state_dir, flow, &e)) ==
	    NULL)
		wfail(&w, e.kind, "%s", e.msg);
	if (w.mark)
		w.held = worker_spool(&w, "held");
	worker_phase(&w, PHASE_FULL_SYNC);
	worker_stats(&w, MSG_STATS);
	full_sync(&w);
	if (w.writer != NULL && writer_sync(w.writer) == -1)
		wfail(&w, ERR_TARGET, "target: %s",
		    writer_error(w.writer)->msg);
	if (worker_stop) {
		log_info("stopped at byte %" PRIu64 ", writes flushed",
		    w.st.bytes);
		_exit(0);
	}
	checkpoint(&w);
	worker_phase(&w, PHASE_DONE);
	worker_stats(&w, MSG_DONE);
	fill_stats(&w);
	log_info("snapshot applied: journal offset %" PRIu64 ", %" PRIu64
	    " keys (%" PRIu64 " written, %" PRIu64 " skipped, %" PRIu64
	    " filtered), %" PRIu64 " journal commands%s, %" PRIu64 " bytes",
	    w.st.lsn, w.st.keys, w.st.written, w.st.skipped,
	    writer_counts(w.writer)[WC_FILTERED], w.held != NULL ?
	    w.held_recs : w.st.journal, w.held != NULL ?
	    " held for the sweep" : "", w.st.bytes);
	if (w.stable)
		stable_run(&w);
	linger(&w);
	net_close(&w.conn);
	writer_close(w.writer);
	target_close(w.target);
	lsnstore_close(w.lsn);
	free(w.rbuf);
	_exit(0);
}
