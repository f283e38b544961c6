/*
 * writerfeed - drive the writer with a script of decoder events and
 * journal records, as a replication worker would with Dragonfly's
 * interleaved tagged chunks, to test it key by key.
 *
 *	writerfeed [-b batch] [-c overwrite|skip|panic] [-u fail|skip] URL
 *	    [FILE]
 *
 * One command per line; tokens are separated by blanks and %XX-decoded:
 *
 *	key EID DB TYPE NAME [EXPIRE_MS]  TYPE: string list set zset hash
 *					  stream; EID 0 or a chunk handle
 *	item EID A [B]		a string value, element, member (B: score)
 *				or field (B: value); in 64 KiB pieces
 *	piece EID TEXT		a piece of a string value; "item EID" ends it
 *	entry EID MS-SEQ F V...	a stream entry
 *	meta EID MS-SEQ		a stream's last id (no v2 metadata)
 *	group EID NAME MS-SEQ	a consumer group and its last id
 *	pel EID MS-SEQ MS COUNT	a group's pending entry
 *	consumer EID NAME	a consumer of the last group
 *	cpel EID MS-SEQ		a pending entry of the last consumer
 *	end EID			the key is complete
 *	j DB CMD ARG...		a journal command in db DB
 *	sync			wait until the target acknowledged everything
 *	other DB CMD ARG...	run a command on a connection of its own
 *
 * Prints "ok" and the counters, or "error KIND: message" and exits 1.
 */
#include <ctype.h>
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "journal.h"
#include "log.h"
#include "rdb.h"
#include "target.h"
#include "writer.h"

#define PIECE		65536
#define MAXTOK		100000

struct open_key {
	uint32_t	 eid;
	int		 db;
	enum rdb_vtype	 vtype;
	char		*name;
	size_t		 namelen;
	uint64_t	 index;
	uint64_t	 off;		/* string bytes sent by "piece" */
};

static struct open_key	 keys[64];
static char		*tok[MAXTOK];
static size_t		 toklen[MAXTOK];
static struct target_opts topts;

static void
fail(struct writer *w)
{
	const struct error *e = writer_error(w);

	printf("error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

static int
hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	return tolower(c) - 'a' + 10;
}

/* Split line into %XX-decoded tokens, in place. */
static size_t
tokenize(char *line)
{
	size_t n = 0, o;
	char *p = line, *start;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0' || n == MAXTOK)
			return n;
		start = p;
		for (o = 0; *p != '\0' && *p != ' ' && *p != '\t' &&
		    *p != '\n'; p++) {
			if (*p == '%' && isxdigit((unsigned char)p[1]) &&
			    isxdigit((unsigned char)p[2])) {
				start[o++] = hexval(p[1]) * 16 + hexval(p[2]);
				p += 2;
			} else
				start[o++] = *p;
		}
		if (*p != '\0')
			p++;
		start[o] = '\0';
		tok[n] = start;
		toklen[n] = o;
		n++;
	}
}

static struct open_key *
find_key(uint32_t eid, int create)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].name != NULL && keys[i].eid == eid)
			return create ? NULL : &keys[i];
	if (!create)
		errx(2, "key %u is not open", eid);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].name == NULL)
			return &keys[i];
	errx(2, "too many open keys");
}

static void
base_event(struct rdb_event *ev, enum rdb_ev_type type,
    const struct open_key *k)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->eid = k->eid;
	ev->db = k->db;
	ev->key.p = k->name;
	ev->key.len = k->namelen;
	ev->vtype = k->vtype;
}

static void
feed(struct writer *w, const struct rdb_event *ev)
{
	if (writer_event(w, ev) == -1)
		fail(w);
}

static void
feed_str(struct writer *w, const struct open_key *k, int part,
    const char *p, size_t len)
{
	struct rdb_event ev;
	size_t off = 0, n;

	do {
		n = len - off > PIECE ? PIECE : len - off;
		base_event(&ev, RDB_EV_STR, k);
		ev.u.str.part = part;
		ev.u.str.p = p + off;
		ev.u.str.len = n;
		ev.u.str.off = off;
		off += n;
		ev.u.str.more = off < len;
		feed(w, &ev);
	} while (off < len);
}

static enum rdb_vtype
vtype_of(const char *s)
{
	static const char *names[] = { "string", "list", "set", "zset",
	    "hash", "stream" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum rdb_vtype)i;
	errx(2, "unknown type %s", s);
}

static void
parse_id(const char *s, struct rdb_stream_id *id)
{
	if (sscanf(s, "%" SCNu64 "-%" SCNu64, &id->ms, &id->seq) != 2)
		errx(2, "bad stream id %s", s);
}

static void
cmd_key(struct writer *w, size_t n)
{
	struct open_key *k;
	struct rdb_event ev;

	if (n < 5)
		errx(2, "key: too few arguments");
	k = find_key(strtoul(tok[1], NULL, 10), 1);
	k->eid = strtoul(tok[1], NULL, 10);
	k->db = atoi(tok[2]);
	k->vtype = vtype_of(tok[3]);
	if ((k->name = malloc(toklen[4] + 1)) == NULL)
		err(2, NULL);
	memcpy(k->name, tok[4], toklen[4]);
	k->namelen = toklen[4];
	k->index = 0;
	base_event(&ev, RDB_EV_KEY, k);
	ev.u.k.expire_ms = n > 5 ? strtoll(tok[5], NULL, 10) : -1;
	feed(w, &ev);
}

static void
cmd_item(struct writer *w, size_t n)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	if (n == 2) {
		/* the end of "piece" lines */
		k->off = 0;
		goto item;
	}
	feed_str(w, k, 0, tok[2], toklen[2]);
	if (k->vtype == RDB_VT_HASH)
		feed_str(w, k, 1, tok[3], toklen[3]);
item:
	base_event(&ev, RDB_EV_ITEM, k);
	ev.u.item.index = k->index++;
	ev.u.item.expire_ms = -1;
	if (k->vtype == RDB_VT_ZSET && n > 3)
		ev.u.item.score = strtod(tok[3], NULL);
	feed(w, &ev);
}

static void
cmd_piece(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STR, k);
	ev.u.str.p = tok[2];
	ev.u.str.len = toklen[2];
	ev.u.str.off = k->off;
	ev.u.str.more = 1;
	k->off += toklen[2];
	feed(w, &ev);
}

static void
cmd_entry(struct writer *w, size_t n)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_str fv[MAXTOK / 2];
	struct rdb_event ev;
	size_t i;

	base_event(&ev, RDB_EV_STREAM_ENTRY, k);
	parse_id(tok[2], &ev.u.entry.id);
	for (i = 3; i + 1 < n; i += 2) {
		fv[i - 3].p = tok[i];
		fv[i - 3].len = toklen[i];
		fv[i - 2].p = tok[i + 1];
		fv[i - 2].len = toklen[i + 1];
	}
	ev.u.entry.nfields = (n - 3) / 2;
	ev.u.entry.fv = fv;
	feed(w, &ev);
}

static void
cmd_meta(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STREAM_META, k);
	parse_id(tok[2], &ev.u.meta.last_id);
	feed(w, &ev);
}

static void
cmd_group(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STREAM_GROUP, k);
	ev.u.group.name.p = tok[2];
	ev.u.group.name.len = toklen[2];
	parse_id(tok[3], &ev.u.group.last_id);
	ev.u.group.entries_read = -1;
	feed(w, &ev);
}

static void
cmd_pel(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STREAM_PEL, k);
	parse_id(tok[2], &ev.u.pel.id);
	ev.u.pel.delivery_ms = strtoll(tok[3], NULL, 10);
	ev.u.pel.delivery_count = strtoull(tok[4], NULL, 10);
	feed(w, &ev);
}

static void
cmd_consumer(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STREAM_CONSUMER, k);
	ev.u.consumer.name.p = tok[2];
	ev.u.consumer.name.len = toklen[2];
	ev.u.consumer.active_ms = -1;
	feed(w, &ev);
}

static void
cmd_cpel(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_STREAM_CPEL, k);
	parse_id(tok[2], &ev.u.cpel);
	feed(w, &ev);
}

static void
cmd_end(struct writer *w)
{
	struct open_key *k = find_key(strtoul(tok[1], NULL, 10), 0);
	struct rdb_event ev;

	base_event(&ev, RDB_EV_KEY_END, k);
	feed(w, &ev);
	free(k->name);
	k->name = NULL;
}

static void
cmd_journal(struct writer *w, size_t n)
{
	struct journal_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.op = JOURNAL_COMMAND;
	rec.wire_op = 10;
	rec.db = atoi(tok[1]);
	rec.argc = n - 2;
	rec.argv = (const char **)tok + 2;
	rec.argvlen = toklen + 2;
	if (writer_journal(w, &rec) == -1)
		fail(w);
}

/* Someone else writes to the target: a connection of its own. */
static void
cmd_other(size_t n)
{
	struct timeval tv = { 5, 0 };
	redisContext *c;
	redisReply *r;

	if ((c = redisConnectWithTimeout(topts.host, topts.port, tv)) ==
	    NULL || c->err)
		errx(2, "other: connect to %s:%d failed", topts.host,
		    topts.port);
	if ((r = redisCommand(c, "SELECT %s", tok[1])) == NULL)
		errx(2, "other: SELECT: %s", c->errstr);
	freeReplyObject(r);
	if ((r = redisCommandArgv(c, n - 2, (const char **)tok + 2,
	    toklen + 2)) == NULL)
		errx(2, "other: %s", c->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		errx(2, "other: %s", r->str);
	freeReplyObject(r);
	redisFree(c);
}

int
main(int argc, char **argv)
{
	struct writer_opts wopts;
	struct target *t;
	struct writer *w;
	const uint64_t *c;
	struct error e;
	char *line = NULL;
	size_t cap = 0, n;
	FILE *f = stdin;
	int ch;

	log_init("writerfeed", LOG_TO_STDERR, 0);
	writer_opts_init(&wopts);
	while ((ch = getopt(argc, argv, "b:c:u:")) != -1) {
		switch (ch) {
		case 'b':
			wopts.batch = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			if (strcmp(optarg, "skip") == 0)
				wopts.conflict = CONFLICT_SKIP;
			else if (strcmp(optarg, "panic") == 0)
				wopts.conflict = CONFLICT_PANIC;
			break;
		case 'u':
			if (strcmp(optarg, "skip") == 0)
				wopts.unsupported = UNSUPPORTED_SKIP;
			break;
		default:
			errx(2, "usage: writerfeed [-b batch] [-c conflict] "
			    "[-u unsupported] URL [FILE]");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		errx(2, "usage: writerfeed [-b batch] [-c conflict] "
		    "URL [FILE]");
	if (argc > 1 && (f = fopen(argv[1], "r")) == NULL)
		err(2, "%s", argv[1]);
	if (target_parse(argv[0], &topts, &e) == -1 ||
	    (t = target_open(&topts, &e)) == NULL)
		errx(2, "%s", e.msg);
	wopts.target_db = topts.have_db ? topts.db : 0;
	if ((w = writer_open(t, &wopts, &e)) == NULL)
		errx(2, "%s", e.msg);
	while (getline(&line, &cap, f) != -1) {
		if ((n = tokenize(line)) == 0)
			continue;
		if (strcmp(tok[0], "key") == 0)
			cmd_key(w, n);
		else if (strcmp(tok[0], "item") == 0 && n >= 2)
			cmd_item(w, n);
		else if (strcmp(tok[0], "piece") == 0 && n == 3)
			cmd_piece(w);
		else if (strcmp(tok[0], "entry") == 0 && n >= 3)
			cmd_entry(w, n);
		else if (strcmp(tok[0], "meta") == 0 && n == 3)
			cmd_meta(w);
		else if (strcmp(tok[0], "group") == 0 && n == 4)
			cmd_group(w);
		else if (strcmp(tok[0], "pel") == 0 && n == 5)
			cmd_pel(w);
		else if (strcmp(tok[0], "consumer") == 0 && n == 3)
			cmd_consumer(w);
		else if (strcmp(tok[0], "cpel") == 0 && n == 3)
			cmd_cpel(w);
		else if (strcmp(tok[0], "end") == 0 && n == 2)
			cmd_end(w);
		else if (strcmp(tok[0], "j") == 0 && n >= 3)
			cmd_journal(w, n);
		else if (strcmp(tok[0], "sync") == 0) {
			if (writer_sync(w) == -1)
				fail(w);
		} else if (strcmp(tok[0], "other") == 0 && n >= 3)
			cmd_other(n);
		else
			errx(2, "unknown line: %s", tok[0]);
	}
	if (writer_sync(w) == -1)
		fail(w);
	c = writer_counts(w);
	printf("ok written %" PRIu64 " expired %" PRIu64 " journal %" PRIu64
	    " commands %" PRIu64 " lossy %" PRIu64 " skipped %" PRIu64
	    " existing %" PRIu64 "\n", c[WC_WRITTEN], c[WC_EXPIRED],
	    c[WC_JOURNAL], c[WC_COMMANDS], c[WC_LOSSY],
	    c[WC_SKIPPED_UNSUPPORTED], c[WC_SKIPPED_EXISTING]);
	free(line);
	writer_close(w);
	target_close(t);
	return 0;
}
