/*
 * repl.c - replication sessions and their state machine (replication.md
 * 2-9): REPLCONF, DFLY FLOW / SYNC / STARTSTABLE, cancelling a session on any
 * error or close, stalled flows, and handing journal records and snapshot
 * work to the flows of each session.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"
#include "text.h"
#include "options.h"
#include "keyspace.h"
#include "journal.h"
#include "client.h"
#include "resp.h"
#include "snapshot.h"
#include "stats.h"
#include "flow.h"
#include "takeover.h"
#include "repl.h"

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);

static int	session_counter;

static int	startstable_error_spent;	/* --startstable-error: once */
static int	faults_spent;	/* --fault-once: a full sync had them */
static int	evict_armed;	/* repl_evict_next_partial() */

#define DFLY_VERSION	5	/* replication.md 8: VER6, 0-based */

static struct session *
session_find(int id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

/* replication.md 9: any error or close cancels the whole session */
void
repl_cancel(struct session *s, const char *why)
{
	int	 i;

	if (s->state == S_CANCELLED)
		return;
	log_info("session SYNC%d cancelled: %s", s->id, why);
	s->state = S_CANCELLED;
	stat_inc(STAT_CANCELLED);
	if (s->takeover)
		takeover_unblock();
	TAILQ_REMOVE(&sessions, s, entry);
	/* the flows are shut down; the control connection stays open */
	if (s->ctl != NULL) {
		s->ctl->sess = NULL;
		s->ctl->kind = C_PLAIN;
	}
	for (i = 0; i < s->nflows; i++) {
		struct flow	*f = s->flows[i];

		if (f == NULL)
			continue;
		if (f->c != NULL) {
			f->c->flow = NULL;
			client_close(f->c);
		}
		flow_free(f);
	}
	free(s);
}

void
repl_client_closed(struct client *c)
{
	if (c->sess != NULL) {
		c->sess->ctl = NULL;
		repl_cancel(c->sess, "control connection closed");
		c->sess = NULL;
	}
	if (c->flow != NULL) {
		struct session	*s = c->flow->sess;
		char		 why[64];

		snprintf(why, sizeof(why), "flow %d connection closed",
		    c->flow->shard);
		c->flow->c = NULL;
		c->flow = NULL;
		repl_cancel(s, why);
	}
}

/* ---------------------------------------------------------------- REPLCONF */

static void
create_session(struct client *c)
{
	struct session	*s;
	char		 buf[256];
	int		 n;

	if (c->sess != NULL) {
		struct session	*old = c->sess;

		old->ctl = NULL;
		c->sess = NULL;
		repl_cancel(old, "new session on the same connection");
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = ++session_counter;
	s->state = S_PREPARATION;
	s->nflows = options()->shards;
	s->faulty = !options()->fault_once;
	s->ctl = c;
	c->sess = s;
	c->kind = C_CTRL;
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	stat_inc(STAT_SESSIONS);
	/* replication.md 2.3: exact element types */
	n = snprintf(buf, sizeof(buf), "*5\r\n+%s\r\n+SYNC%d\r\n:%d\r\n:%d\r\n"
	    "+%s\r\n", options()->master_id, s->id, options()->shards,
	    DFLY_VERSION, options()->master_id);
	reply_raw(c, buf, (size_t)n);
	log_info("session SYNC%d created", s->id);
}

static void
replconf_ack(struct client *c, const char *p, size_t n)
{
	long long	 v;

	/* replication.md 6.2: never a reply */
	if (c->flow == NULL) {
		log_info("REPLCONF ACK on a connection that is not a flow");
		return;
	}
	if (parse_ll(p, n, &v) == -1 || v < 0) {
		log_info("flow %d: bad ACK value", c->flow->shard);
		return;
	}
	c->flow->acked = (uint64_t)v;
	c->flow->nacks++;
	if (c->flow->acked > journal_lsn(c->flow->shard)) {
		log_info("flow %d: ACK %llu past the next LSN %llu",
		    c->flow->shard, (unsigned long long)c->flow->acked,
		    (unsigned long long)journal_lsn(c->flow->shard));
		stat_inc(STAT_ACKS_AHEAD);
	}
}

/* replication.md 2.2 */
void
repl_replconf(struct client *c, size_t argc, char **argv, size_t *lens)
{
	size_t		 i;
	long long	 v;

	if ((argc - 1) % 2 != 0 || argc < 3) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if (argc == 3 && arg_is(argv[1], lens[1], "ack")) {
		replconf_ack(c, argv[2], lens[2]);
		return;
	}
	if (arg_is(argv[1], lens[1], "ack"))
		stat_inc(STAT_BAD_ACKS);	/* answered as Dragonfly does */
	if (argc == 3 && arg_is(argv[1], lens[1], "capa") &&
	    arg_is(argv[2], lens[2], "dragonfly")) {
		create_session(c);
		return;
	}
	for (i = 1; i < argc; i += 2) {
		const char	*k = argv[i], *val = argv[i + 1];
		size_t		 kl = lens[i], vl = lens[i + 1];

		if (arg_is(k, kl, "listening-port")) {
			if (parse_ll(val, vl, &v) == -1) {
				reply_error(c, "ERR value is not an integer "
				    "or out of range");
				return;
			}
		} else if (arg_is(k, kl, "client-version")) {
			if (parse_ll(val, vl, &v) == -1) {
				reply_error(c, "ERR value is not an integer "
				    "or out of range");
				return;
			}
			if (c->sess != NULL)
				c->sess->client_version = (int)v;
		} else if (!arg_is(k, kl, "ip-address") &&
		    !arg_is(k, kl, "capa") && !arg_is(k, kl, "client-id")) {
			reply_error(c, "ERR syntax error");
			return;
		}
	}
	reply_ok(c);
}

/* ---------------------------------------------------------------- DFLY */

/* replication.md 3: "SYNC" + integer, then a live session */
struct session *
repl_session_arg(struct client *c, const char *p, size_t n)
{
	struct session	*s;
	long long	 id;

	if (n < 5 || strncmp(p, "SYNC", 4) != 0 ||
	    parse_ll(p + 4, n - 4, &id) == -1 || id < 0 || id > INT32_MAX) {
		reply_error(c, "ERR bad sync id");
		return NULL;
	}
	if ((s = session_find((int)id)) == NULL) {
		reply_error(c, "ERR syncid not found");
		return NULL;
	}
	return s;
}

static void
dfly_flow(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct session	*s;
	struct flow	*f;
	long long	 flow_id, lsn = -1, x;
	char		 buf[128];
	size_t		 i, start;
	int		 n;

	if (argc < 5 || argc > 7) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if (argc == 6 && parse_ll(argv[5], lens[5], &lsn) == -1) {
		reply_error(c, "ERR value is not an integer or out of range");
		return;
	}
	if (argc == 7) {
		/* <last_master_id> <lsn_vec>: we never replicated from anyone */
		for (i = 0, start = 0; i <= lens[6]; i++)
			if (i == lens[6] || argv[6][i] == '-') {
				if (parse_ll(argv[6] + start, i - start,
				    &x) == -1) {
					reply_error(c, "ERR value is not an "
					    "integer or out of range");
					return;
				}
				start = i + 1;
			}
	}
	if (lens[2] != 40 || memcmp(options()->master_id, argv[2], 40) != 0) {
		reply_error(c, "ERR bad master id");
		return;
	}
	if (parse_ll(argv[4], lens[4], &flow_id) == -1 || flow_id < 0 ||
	    flow_id >= options()->shards) {
		reply_error(c, "ERR value is not an integer or out of range");
		return;
	}
	if ((s = repl_session_arg(c, argv[3], lens[3])) == NULL)
		return;
	if (s->state != S_PREPARATION || c->kind != C_PLAIN ||
	    s->flows[flow_id] != NULL) {
		reply_error(c, "ERR invalid state");
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal("calloc");
	f->sess = s;
	f->c = c;
	f->shard = (int)flow_id;
	f->state = F_REGISTERED;
	random_hex(f->token, 40);
	if (lsn >= 0 && !options()->refuse_partial &&
	    journal_has(f->shard, (uint64_t)lsn)) {
		f->partial = 1;
		f->start_lsn = (uint64_t)lsn;
	}
	s->flows[flow_id] = f;
	c->kind = C_FLOW;
	c->flow = f;
	n = snprintf(buf, sizeof(buf), "*2\r\n+%s\r\n+%s\r\n",
	    f->partial ? "PARTIAL" : "FULL", f->token);
	reply_raw(c, buf, (size_t)n);
	f->reply_len = c->sent + obuf_pending(&c->out);
	log_info("SYNC%d flow %d registered: %s", s->id, f->shard,
	    f->partial ? "PARTIAL" : "FULL");
}

/* DFLY SYNC|STARTSTABLE <sync id> */
static struct session *
sync_session(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc != 3) {
		reply_error(c, "ERR syntax error");
		return NULL;
	}
	return repl_session_arg(c, argv[2], lens[2]);
}

static int
all_flows(const struct session *s, int want_partial)
{
	int	 i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i] == NULL || s->flows[i]->c == NULL ||
		    s->flows[i]->partial != want_partial)
			return 0;
	return 1;
}

/* replication.md 4.1 */
static void
dfly_sync(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct session	*s;
	int		 i;

	if ((s = sync_session(c, argc, argv, lens)) == NULL)
		return;
	if (s->state != S_PREPARATION || !all_flows(s, 0)) {
		reply_error(c, "ERR invalid state");
		return;
	}
	for (i = 0; i < s->nflows; i++)
		if (ks_shard(i)->snap != NULL) {
			reply_error(c, "ERR another full sync is running on "
			    "shard %d", i);
			return;
		}
	if (options()->fault_once && !faults_spent) {
		s->faulty = faults_spent = 1;
		log_info("SYNC%d: --fault-once, the faults act on this "
		    "session only", s->id);
	}
	for (i = 0; i < s->nflows; i++) {
		s->flows[i]->snap = snap_start(s->flows[i]);
		s->flows[i]->state = F_FULL;
	}
	s->state = S_FULL_SYNC;
	stat_inc(STAT_FULL_SYNCS);
	reply_ok(c);
}

/*
 * Test hook: a client that sends STARTSTABLE before it could have read
 * FULLSYNC_END on every flow broke the barrier (replication.md 4.3 step 1).
 */
static void
barrier_check(struct session *s)
{
	int	 i;

	for (i = 0; i < s->nflows; i++) {
		struct flow	*f = s->flows[i];

		if (f->fullsync_end_at == 0 ||
		    flow_stream_sent(f) < f->fullsync_end_at) {
			fprintf(stderr, "BARRIER VIOLATION: SYNC%d flow %d: "
			    "STARTSTABLE before FULLSYNC_END was written "
			    "(%llu of %llu bytes sent)\n", s->id, i,
			    (unsigned long long)flow_stream_sent(f),
			    (unsigned long long)f->fullsync_end_at);
			fflush(stderr);
			_exit(3);
		}
	}
}

/* replication.md 4.3, 7.2 */
static void
dfly_startstable(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct session	*s;
	struct obuf	 ob;
	int		 i;

	if ((s = sync_session(c, argc, argv, lens)) == NULL)
		return;
	if (options()->startstable_error && !startstable_error_spent &&
	    s->faulty) {
		startstable_error_spent = 1;
		stat_inc(STAT_FAULTS);
		reply_error(c, "ERR invalid state");
		return;
	}
	if (s->state == S_FULL_SYNC && all_flows(s, 0)) {
		barrier_check(s);
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			snap_finish(f->snap, journal_lsn(i));
			snap_free(f->snap);
			f->snap = NULL;
			f->state = F_STABLE;
			f->last_lsn_ms = wall_ms();
		}
	} else if (s->state == S_PREPARATION && all_flows(s, 1)) {
		for (i = 0; i < s->nflows && evict_armed; i++)
			journal_drop(i);
		evict_armed = 0;
		/*
		 * STARTSTABLE answers +OK; a flow that finds its next entry
		 * gone while replaying cancels the session (the client is
		 * told nothing more than its flows closing).
		 */
		for (i = 0; i < s->nflows; i++)
			if (!journal_has(i, s->flows[i]->start_lsn)) {
				char	 why[128];

				snprintf(why, sizeof(why), "partial sync was "
				    "unsuccessful because entry #%llu was "
				    "dropped from the buffer",
				    (unsigned long long)s->flows[i]->start_lsn);
				reply_ok(c);
				repl_cancel(s, why);
				return;
			}
		memset(&ob, 0, sizeof(ob));
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			journal_replay(i, f->start_lsn, &ob);
			flow_emit(f, ob.p + ob.off, obuf_pending(&ob));
			ob.off = ob.len = 0;
			f->state = F_STABLE;
			f->last_lsn_ms = wall_ms();
		}
		obuf_free(&ob);
		stat_inc(STAT_PARTIAL_SYNCS);
	} else {
		reply_error(c, "ERR invalid state");
		return;
	}
	s->state = S_STABLE_SYNC;
	log_info("SYNC%d: stable sync", s->id);
	reply_ok(c);
}

void
repl_dfly(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const char	*sub = argc > 1 ? argv[1] : "";
	size_t		 sl = argc > 1 ? lens[1] : 0;
	int		 i;

	if (arg_is(sub, sl, "flow"))
		dfly_flow(c, argc, argv, lens);
	else if (arg_is(sub, sl, "sync"))
		dfly_sync(c, argc, argv, lens);
	else if (arg_is(sub, sl, "startstable"))
		dfly_startstable(c, argc, argv, lens);
	else if (arg_is(sub, sl, "takeover"))
		takeover_start(c, argc, argv, lens);
	else if (arg_is(sub, sl, "replicaoffset")) {
		/* replication.md 7.1 */
		reply_array(c, options()->shards);
		for (i = 0; i < options()->shards; i++)
			reply_int(c, (long long)journal_lsn(i));
	} else
		reply_error(c, "ERR Unknown subcommand or wrong number of "
		    "arguments for '%.*s'. Try DFLY HELP.", (int)sl, sub);
}

int
repl_throttled(void)
{
	static int64_t	 since;		/* wall ms throttling began, or 0 */
	struct session	*s;
	int		 i, on = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		for (i = 0; i < s->nflows; i++)
			if (s->flows[i] != NULL && s->flows[i]->c != NULL &&
			    s->flows[i]->state == F_STABLE &&
			    obuf_pending(&s->flows[i]->c->out) >
			    options()->output_limit)
				on = 1;
	/* what a slow replica costs the writers (DFLYMASTER STATS) */
	if (on && since == 0) {
		since = wall_ms();
		stat_inc(STAT_THROTTLES);
	} else if (!on && since != 0) {
		stat_add(STAT_THROTTLED_MS, (uint64_t)(wall_ms() - since));
		since = 0;
	}
	return on;
}

/* replication.md 9: stalled flows; periodic takeover check */
void
repl_tick(void)
{
	struct session	*s, *next;
	int64_t		 now = wall_ms();
	int		 i;

	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->takeover && s->ctl != NULL) {
			takeover_tick(s);
			continue;
		}
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			if (f == NULL || f->c == NULL)
				continue;
			if (obuf_pending(&f->c->out) == 0) {
				f->blocked_since = 0;
				continue;
			}
			if (f->blocked_since == 0)
				f->blocked_since = now;
			else if (now - f->blocked_since >
			    options()->repl_timeout_ms) {
				repl_cancel(s, "flow write timeout");
				break;
			}
		}
	}
}

/* progress on a flow socket resets its stall timer */
void
repl_wrote(struct client *c)
{
	if (c->flow != NULL)
		c->flow->blocked_since = wall_ms();
}

int
repl_nsessions(void)
{
	struct session	*s;
	int		 n = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		n++;
	return n;
}

/* A journal record of shard: into a running full sync or the stable stream. */
void
repl_journal(int shard, uint64_t lsn, const uint8_t *p, size_t len)
{
	struct session	*sess;

	TAILQ_FOREACH(sess, &sessions, entry) {
		struct flow	*f;

		if (sess->state == S_CANCELLED || shard >= sess->nflows ||
		    (f = sess->flows[shard]) == NULL)
			continue;
		if (f->state == F_FULL && f->snap != NULL)
			snap_journal(f->snap, p, len);
		else if (f->state == F_STABLE)
			flow_journal(f, lsn, p, len);
	}
}

void
repl_stats(struct client *c)
{
	char		 buf[512];
	struct session	*s;
	int		 n, active = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		active++;
	n = snprintf(buf, sizeof(buf), "sessions:%llu\r\nfull_syncs:%llu\r\n"
	    "partial_syncs:%llu\r\ncancelled:%llu\r\nactive_sessions:%d\r\n"
	    "journal_records:%llu\r\nfaults:%llu\r\njournal_blobs:%llu\r\n"
	    "throttles:%llu\r\nthrottled_ms:%llu\r\nuser_auths:%llu\r\n",
	    (unsigned long long)stat_get(STAT_SESSIONS),
	    (unsigned long long)stat_get(STAT_FULL_SYNCS),
	    (unsigned long long)stat_get(STAT_PARTIAL_SYNCS),
	    (unsigned long long)stat_get(STAT_CANCELLED), active,
	    (unsigned long long)stat_get(STAT_JOURNAL_RECORDS),
	    (unsigned long long)stat_get(STAT_FAULTS),
	    (unsigned long long)stat_get(STAT_JOURNAL_BLOBS),
	    (unsigned long long)stat_get(STAT_THROTTLES),
	    (unsigned long long)stat_get(STAT_THROTTLED_MS),
	    (unsigned long long)stat_get(STAT_USER_AUTHS));
	reply_bulk(c, buf, (size_t)n);
}

/*
 * DFLYMASTER FLOWS: per flow of every session in stable sync, the shard's
 * next LSN and the flow's last ACK; then the ACK faults.
 */
void
repl_flows(struct client *c)
{
	char		*buf = NULL;
	size_t		 len = 0;
	struct session	*s;
	FILE		*fp;
	int		 i;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		fatal("open_memstream");
	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->state != S_STABLE_SYNC)
			continue;
		for (i = 0; i < s->nflows; i++)
			fprintf(fp, "SYNC%d flow:%d lsn:%llu acked:%llu "
			    "acks:%llu\r\n", s->id, i,
			    (unsigned long long)journal_lsn(i),
			    (unsigned long long)s->flows[i]->acked,
			    (unsigned long long)s->flows[i]->nacks);
	}
	fprintf(fp, "bad_acks:%llu\r\nacks_ahead:%llu\r\n",
	    (unsigned long long)stat_get(STAT_BAD_ACKS),
	    (unsigned long long)stat_get(STAT_ACKS_AHEAD));
	fclose(fp);
	reply_bulk(c, buf, len);
	free(buf);
}

/* a little of every running full sync; 1: more work left */
int
repl_snapshots_step(void)
{
	struct session	*s;
	int		 i, more = 0;

	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->state != S_FULL_SYNC)
			continue;
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			if (f->snap == NULL || snap_done(f->snap) ||
			    f->c == NULL)
				continue;
			/* throttling: let the socket drain first */
			if (obuf_pending(&f->c->out) > options()->output_limit)
				continue;
			if (snap_step(f->snap))
				more = 1;
		}
	}
	if (more && options()->snapshot_slow_us > 0)
		usleep((useconds_t)options()->snapshot_slow_us);
	return more;
}

void
repl_evict_next_partial(void)
{
	evict_armed = 1;
}
