/*
 * repl.c - replication sessions, flows and their state machine
 * (replication.md 2-10), plus the fault switches that act on a flow's data
 * stream (the bytes after the DFLY FLOW reply).
 */
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rdbenc.h"
#include "dflymaster.h"

struct sessionq	sessions = TAILQ_HEAD_INITIALIZER(sessions);
struct stats	stats;
char		master_id[41];
static int	session_counter;
static int	faults_spent;	/* --fault-once: a full sync had them */

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

static void
flow_free(struct flow *f)
{
	if (f->snap != NULL)
		snap_free(f->snap);
	free(f);
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
	stats.cancelled++;
	if (s->takeover)
		writes_blocked = 0;
	TAILQ_REMOVE(&sessions, s, entry);
	if (s->ctl != NULL) {
		s->ctl->sess = NULL;
		s->ctl->kind = C_PLAIN;
		client_close(s->ctl);
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

/* Bytes of the flow's data stream the socket has taken so far. */
static uint64_t
stream_sent(const struct flow *f)
{
	return f->c->sent > f->reply_len ? f->c->sent - f->reply_len : 0;
}

void
flow_emit(struct flow *f, const void *p, size_t n)
{
	const struct fault	*fl = &opt.fault_flip;

	if (f->c == NULL || n == 0)
		return;
	if (f->sess->faulty && fl->flow == f->shard &&
	    fl->at >= f->stream_queued && fl->at < f->stream_queued + n) {
		uint8_t	*tmp;

		if ((tmp = malloc(n)) == NULL)
			fatal("malloc");
		memcpy(tmp, p, n);
		tmp[fl->at - f->stream_queued] ^= 0x01;
		log_info("fault: flipped a bit of byte %llu of flow %d",
		    (unsigned long long)fl->at, f->shard);
		stats.faults++;
		obuf_add(&f->c->out, tmp, n);
		free(tmp);
	} else
		obuf_add(&f->c->out, p, n);
	f->stream_queued += n;
}

/*
 * How many more bytes the event loop may write to c (--fault-close-flow,
 * --fault-stall-flow); *close_at_limit says whether to close once reached.
 */
size_t
flow_write_limit(struct client *c, int *close_at_limit)
{
	struct flow	*f = c->flow;
	const struct fault *fs[2] = { &opt.fault_close, &opt.fault_stall };
	size_t		 lim = SIZE_MAX;
	int		 i;

	*close_at_limit = 0;
	if (f == NULL || !f->sess->faulty)
		return lim;
	for (i = 0; i < 2; i++) {
		uint64_t	 end = f->reply_len + fs[i]->at;

		if (fs[i]->flow != f->shard)
			continue;
		if (end <= c->sent) {
			lim = 0;
			*close_at_limit = i == 0;
			break;
		}
		if (end - c->sent < lim) {
			lim = (size_t)(end - c->sent);
			*close_at_limit = i == 0;
		}
	}
	return lim;
}

/* replication.md 5: records, and an LSN entry every ~3 s of traffic */
void
flow_journal(struct flow *f, uint64_t lsn, const uint8_t *p, size_t len)
{
	int64_t	 now = now_ms();

	flow_emit(f, p, len);
	if (now - f->last_lsn_ms >= opt.lsn_interval_ms) {
		struct enc	 e;

		enc_init(&e);
		enc_jr_lsn(&e, lsn);
		flow_emit(f, e.p, e.len);
		enc_free(&e);
		f->last_lsn_ms = now;
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
	s->nflows = opt.shards;
	s->faulty = !opt.fault_once;
	s->ctl = c;
	c->sess = s;
	c->kind = C_CTRL;
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	stats.sessions++;
	/* replication.md 2.3: exact element types */
	n = snprintf(buf, sizeof(buf), "*5\r\n+%s\r\n+SYNC%d\r\n:%d\r\n:%d\r\n"
	    "+%s\r\n", master_id, s->id, opt.shards, DFLY_VERSION, master_id);
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
static struct session *
session_arg(struct client *c, const char *p, size_t n)
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
	if (!str_eq(&(struct str){ master_id, 40 }, argv[2], lens[2])) {
		reply_error(c, "ERR bad master id");
		return;
	}
	if (parse_ll(argv[4], lens[4], &flow_id) == -1 || flow_id < 0 ||
	    flow_id >= opt.shards) {
		reply_error(c, "ERR value is not an integer or out of range");
		return;
	}
	if ((s = session_arg(c, argv[3], lens[3])) == NULL)
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
	if (lsn >= 0 && !opt.refuse_partial &&
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

	if (argc != 3) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if ((s = session_arg(c, argv[2], lens[2])) == NULL)
		return;
	if (s->state != S_PREPARATION || !all_flows(s, 0)) {
		reply_error(c, "ERR invalid state");
		return;
	}
	for (i = 0; i < s->nflows; i++)
		if (shards[i].snap != NULL) {
			reply_error(c, "ERR another full sync is running on "
			    "shard %d", i);
			return;
		}
	if (opt.fault_once && !faults_spent) {
		s->faulty = faults_spent = 1;
		log_info("SYNC%d: --fault-once, the faults act on this "
		    "session only", s->id);
	}
	for (i = 0; i < s->nflows; i++) {
		s->flows[i]->snap = snap_start(s->flows[i]);
		s->flows[i]->state = F_FULL;
	}
	s->state = S_FULL_SYNC;
	stats.full_syncs++;
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
		    stream_sent(f) < f->fullsync_end_at) {
			fprintf(stderr, "BARRIER VIOLATION: SYNC%d flow %d: "
			    "STARTSTABLE before FULLSYNC_END was written "
			    "(%llu of %llu bytes sent)\n", s->id, i,
			    (unsigned long long)stream_sent(f),
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

	if (argc != 3) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if ((s = session_arg(c, argv[2], lens[2])) == NULL)
		return;
	if (opt.startstable_error && s->faulty) {
		opt.startstable_error = 0;
		stats.faults++;
		reply_error(c, "ERR invalid state");
		return;
	}
	if (s->state == S_FULL_SYNC && all_flows(s, 0)) {
		barrier_check(s);
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			snap_finish(f->snap, shards[i].lsn);
			snap_free(f->snap);
			f->snap = NULL;
			f->state = F_STABLE;
			f->last_lsn_ms = now_ms();
		}
	} else if (s->state == S_PREPARATION && all_flows(s, 1)) {
		for (i = 0; i < s->nflows; i++)
			if (!journal_has(i, s->flows[i]->start_lsn)) {
				char	 why[128];

				snprintf(why, sizeof(why), "partial sync was "
				    "unsuccessful because entry #%llu was "
				    "dropped from the buffer",
				    (unsigned long long)s->flows[i]->start_lsn);
				reply_error(c, "ERR %s", why);
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
			f->last_lsn_ms = now_ms();
		}
		obuf_free(&ob);
		stats.partial_syncs++;
	} else {
		reply_error(c, "ERR invalid state");
		return;
	}
	s->state = S_STABLE_SYNC;
	log_info("SYNC%d: stable sync", s->id);
	reply_ok(c);
}

/* replication.md 10 */
static void
dfly_takeover(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct session	*s;
	double		 t;
	int		 i;

	if (argc != 4 && !(argc == 5 && arg_is(argv[3], lens[3], "save"))) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if (parse_double(argv[2], lens[2], &t) == -1) {
		reply_error(c, "ERR value is not a valid float");
		return;
	}
	if (t < 0) {
		reply_error(c, "ERR timeout is negative");
		return;
	}
	if ((s = session_arg(c, argv[argc - 1], lens[argc - 1])) == NULL)
		return;
	if (s->state != S_STABLE_SYNC || s->takeover) {
		reply_error(c, "ERR invalid state");
		return;
	}
	writes_blocked = 1;
	for (i = 0; i < s->nflows; i++) {
		journal_ping(i);
		s->takeover_lsn[i] = shards[i].lsn;
	}
	s->takeover = 1;
	s->takeover_deadline = now_ms() + (int64_t)ceil(t) * 1000;
	log_info("SYNC%d: takeover, waiting for ACKs", s->id);
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
		dfly_takeover(c, argc, argv, lens);
	else if (arg_is(sub, sl, "replicaoffset")) {
		/* replication.md 7.1 */
		reply_array(c, opt.shards);
		for (i = 0; i < opt.shards; i++)
			reply_int(c, (long long)shards[i].lsn);
	} else
		reply_error(c, "ERR Unknown subcommand or wrong number of "
		    "arguments for '%.*s'. Try DFLY HELP.", (int)sl, sub);
}

/* Write everything pending on c before exiting (takeover success). */
static void
drain_and_exit(struct client *c)
{
	while (obuf_pending(&c->out) > 0) {
		struct pollfd	 pfd = { c->fd, POLLOUT, 0 };
		ssize_t		 n;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = write(c->fd, c->out.p + c->out.off, obuf_pending(&c->out));
		if (n <= 0)
			break;
		c->out.off += (size_t)n;
	}
	log_info("takeover complete, shutting down");
	exit(0);
}

static void
takeover_tick(struct session *s)
{
	int	 i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i]->acked < s->takeover_lsn[i])
			break;
	if (i == s->nflows) {
		reply_ok(s->ctl);
		drain_and_exit(s->ctl);
	}
	if (now_ms() > s->takeover_deadline) {
		s->takeover = 0;
		writes_blocked = 0;
		reply_error(s->ctl, "ERR Takeover failed!");
	}
}

int
repl_throttled(void)
{
	struct session	*s;
	int		 i;

	TAILQ_FOREACH(s, &sessions, entry)
		for (i = 0; i < s->nflows; i++)
			if (s->flows[i] != NULL && s->flows[i]->c != NULL &&
			    s->flows[i]->state == F_STABLE &&
			    obuf_pending(&s->flows[i]->c->out) >
			    opt.output_limit)
				return 1;
	return 0;
}

/* replication.md 9: stalled flows; periodic takeover check */
void
repl_tick(void)
{
	struct session	*s, *next;
	int64_t		 now = now_ms();
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
			else if (now - f->blocked_since > opt.repl_timeout_ms) {
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
		c->flow->blocked_since = now_ms();
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
	    "journal_records:%llu\r\nfaults:%llu\r\njournal_blobs:%llu\r\n",
	    (unsigned long long)stats.sessions,
	    (unsigned long long)stats.full_syncs,
	    (unsigned long long)stats.partial_syncs,
	    (unsigned long long)stats.cancelled, active,
	    (unsigned long long)stats.journal_records,
	    (unsigned long long)stats.faults,
	    (unsigned long long)stats.journal_blobs);
	reply_bulk(c, buf, (size_t)n);
}
