/*
 * inspect.c - "df2redis inspect": decode an RDB file or a recorded FLOW and
 * print every key as one JSON line, or a per-db, per-type summary.
 *
 * Keys decoded in one go are written straight to the output buffer.  The
 * pieces of a key split in Dragonfly tagged chunks interleave with other
 * keys (keyevents.h keeps them apart), so such a key is written to a
 * buffer of its own that spills to an unlinked temporary file past a few
 * KiB, and is copied out when it ends: memory stays bounded whatever the
 * size of the values (json.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "journal.h"
#include "json.h"
#include "keyevents.h"
#include "rdb.h"
#include "version.h"

#define OUT_BUFSZ	(1024 * 1024)	/* stdout buffer */
#define KEY_MEMSZ	(16 * 1024)	/* a split key's output held in memory */
#define READ_BUFSZ	(64 * 1024)	/* small: it and the decoder's copy stay in L2 */

struct pel {
	struct rdb_stream_id	 id;
	int64_t			 delivery_ms;
	uint64_t		 count;
	ssize_t			 consumer;	/* index in group.cons, -1 */
};

struct consumer {
	char		*name;
	size_t		 len;
	int64_t		 seen_ms, active_ms;
};

/* A stream consumer group, held until the next group or the key's end:
 * a PEL entry names its consumer, which is only known after the PEL. */
struct group {
	int			 open;
	char			*name;
	size_t			 len;
	struct rdb_stream_id	 last_id;
	struct pel		*pel;
	size_t			 npel, pelcap;
	int			 pel_sorted;
	struct consumer		*cons;
	size_t			 ncons, conscap;
};

/* a key being printed: keyevents.h's state of an open key */
struct okey {
	enum rdb_vtype	 vtype;
	int		 ttlset;	/* set whose members may carry TTLs */
	struct obuf	*out;		/* &outbuf, or &own for a split key */
	struct obuf	 own;
	struct obuf	 scratch;	/* a TTL set's member, until its ITEM */
	int		 part;		/* string being written, -1 none */
	int		 nparts;	/* strings of the current item begun */
	uint64_t	 nitems;
	int		 meta;		/* stream: META seen */
	uint64_t	 nentries, ngroups;
	struct group	 g;
};

struct tally {
	int		 db;
	enum rdb_vtype	 vt;
	int		 named;		/* type is a module's own name */
	char		*type;
	uint64_t	 keys, expired;
};

struct inspect {
	const char	*file;
	int		 summary, flow, journal;
	int64_t		 now_ms;
	struct rdb	*rdb;
	struct journal	*jr;
	uint64_t	 fed;
	struct keytab	*keys;		/* keys being printed */
	struct tally	*tally;
	size_t		 ntally, tallycap, lasttally;
	int		 bytype_db;	/* bytype[] is for this db */
	size_t		 bytype[RDB_VT_CUCKOO + 1];	/* 1 + tally index, 0 none */
	uint64_t	 nblobs, nrecords;
};

static struct obuf	 outbuf;		/* stdout */

static void
usage(FILE *out)
{
	fprintf(out,
"usage: df2redis inspect [--summary] [--flow [--journal]] FILE\n"
"\n"
"Decodes FILE (an RDB file, or with --flow a recorded Dragonfly FLOW up to\n"
"its 0xFF trailer; \"-\" reads stdin) and prints one JSON object per key and\n"
"line, in file order (a key split in tagged chunks when it completes):\n"
"  {\"db\":0,\"key\":\"k\",\"type\":\"hash\",\"expire_ms\":1700000000000,\"value\":...}\n"
"Strings are byte-exact: bytes 0x20-0x7e other than '\"' and '\\' are\n"
"themselves, every other byte is \\u00xx (so bytes map to code points 0-255).\n"
"expire_ms is absolute Unix ms or null.  type and value:\n"
"  string, json   the string (json: the JSON text)\n"
"  list           [elem, ...] in order\n"
"  set            [member, ...]; a member with a TTL (Dragonfly) is\n"
"                 [member, expire_ms]\n"
"  zset           [[member, score], ...]; score a number (%%.17g), or the\n"
"                 strings \"inf\", \"-inf\", \"nan\"\n"
"  hash           [[field, value], ...]; a field with a TTL (Dragonfly) is\n"
"                 [field, value, expire_ms]\n"
"  stream         {\"entries\":[[id,[f,v,...]],...],\"last_id\":id,\"groups\":\n"
"                 [{\"name\":n,\"last_id\":id,\"pel\":[[id,consumer,delivery_ms,\n"
"                 count],...],\"consumers\":[[name,seen_ms,active_ms],...]}]}\n"
"                 (consumer null when no consumer holds the id; active_ms\n"
"                 null when the file does not have it)\n"
"  other          a module or Dragonfly type the decoder skips, named by its\n"
"                 type name (e.g. \"MBbloom--\"); value null\n"
"--summary prints instead one line per db and type, sorted by db then type:\n"
"  {\"db\":0,\"type\":\"hash\",\"keys\":N,\"expired\":M}\n"
"then {\"total\":{\"keys\":N,\"expired\":M}}; expired counts keys whose\n"
"expire_ms was already past when inspect started.\n"
"--flow: journal blobs are reported on stderr, one line each (records,\n"
"bytes), unless --journal is given: then each journal command is printed\n"
"in stream order among the keys as {\"journal\":[\"SET\",\"k\",\"v\"],\"db\":0}\n"
"(with --summary, counted as {\"journal\":{\"blobs\":N,\"commands\":M}}).\n"
"Exit status: 0 on success, 1 on a decode error (printed on stderr after\n"
"the file name), 2 on a usage error.  -h, --help: this text; -V, --version:\n"
"the version.\n");
}

/* ------------------------------------------------------------ output */

static void
die(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void
die(const char *file, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ------------------------------------------------------------ keys */

/* A module's own type name, NULL for the built-in types. */
static inline const char *
named_type(const struct rdb_event *ev)
{
	switch (ev->vtype) {
	case RDB_VT_MODULE:
	case RDB_VT_SBF:
	case RDB_VT_CMS:
	case RDB_VT_TOPK:
	case RDB_VT_CUCKOO:
		if (ev->u.k.type_name != NULL && ev->u.k.type_name[0] != '\0')
			return ev->u.k.type_name;
		return NULL;
	default:
		return NULL;
	}
}

static const char *
type_name(const struct rdb_event *ev)
{
	const char *named = named_type(ev);

	return named != NULL ? named : rdb_vtype_name(ev->vtype);
}

static int
has_items(enum rdb_vtype t)
{
	return t == RDB_VT_STRING || t == RDB_VT_JSON || t == RDB_VT_LIST ||
	    t == RDB_VT_SET || t == RDB_VT_ZSET || t == RDB_VT_HASH;
}

static int
is_collection(enum rdb_vtype t)
{
	return t == RDB_VT_LIST || t == RDB_VT_SET || t == RDB_VT_ZSET ||
	    t == RDB_VT_HASH;
}

static void
group_free(struct group *g)
{
	size_t i;

	if (g->name == NULL && g->pel == NULL && g->cons == NULL)
		return;
	free(g->name);
	free(g->pel);
	for (i = 0; i < g->ncons; i++)
		free(g->cons[i].name);
	free(g->cons);
	memset(g, 0, sizeof(*g));
}

static void
group_write(struct okey *k)
{
	struct group *g = &k->g;
	struct obuf *b = k->out;
	const struct consumer *c;
	const struct pel *p;
	size_t i;

	if (!g->open)
		return;
	if (k->ngroups++ > 0)
		obuf_putc(b, ',');
	obuf_lit(b, "{\"name\":");
	obuf_str(b, g->name, g->len);
	obuf_lit(b, ",\"last_id\":");
	obuf_id(b, &g->last_id);
	obuf_lit(b, ",\"pel\":[");
	for (i = 0; i < g->npel; i++) {
		p = &g->pel[i];
		if (i > 0)
			obuf_putc(b, ',');
		obuf_putc(b, '[');
		obuf_id(b, &p->id);
		obuf_putc(b, ',');
		if (p->consumer >= 0)
			obuf_str(b, g->cons[p->consumer].name,
			    g->cons[p->consumer].len);
		else
			obuf_lit(b, "null");
		obuf_putc(b, ',');
		obuf_int(b, p->delivery_ms);
		obuf_putc(b, ',');
		obuf_uint(b, p->count);
		obuf_putc(b, ']');
	}
	obuf_lit(b, "],\"consumers\":[");
	for (i = 0; i < g->ncons; i++) {
		c = &g->cons[i];
		if (i > 0)
			obuf_putc(b, ',');
		obuf_putc(b, '[');
		obuf_str(b, c->name, c->len);
		obuf_putc(b, ',');
		obuf_int(b, c->seen_ms);
		obuf_putc(b, ',');
		obuf_ms(b, c->active_ms);
		obuf_putc(b, ']');
	}
	obuf_lit(b, "]}");
	group_free(g);
}

static struct pel *
pel_find(struct group *g, const struct rdb_stream_id *id)
{
	size_t lo = 0, hi = g->npel, mid, i;
	int c;

	if (g->pel_sorted) {
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			c = keyev_idcmp(&g->pel[mid].id, id);
			if (c == 0)
				return &g->pel[mid];
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return NULL;
	}
	for (i = 0; i < g->npel; i++)
		if (keyev_idcmp(&g->pel[i].id, id) == 0)
			return &g->pel[i];
	return NULL;
}

static void *
grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(p, ncap, size)) == NULL)
		die("df2redis inspect", "out of memory");
	*cap = ncap;
	return p;
}

static char *
memdup(const char *p, size_t n)
{
	char *d;

	if ((d = malloc(n + 1)) == NULL)
		die("df2redis inspect", "out of memory");
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/*
 * keyevents.h's functions, below: arg is the struct inspect, state the
 * key's struct okey.  They die on an error rather than return it.
 */
static int
key_begin(void *arg, void *state, const struct rdb_event *ev)
{
	struct okey *k = state;
	struct obuf *b;

	(void)arg;
	memset(k, 0, sizeof(*k));
	if (ev->eid == 0)
		k->out = &outbuf;
	else {
		obuf_init(&k->own, -1, KEY_MEMSZ, 1);
		k->out = &k->own;
	}
	k->vtype = ev->vtype;
	k->ttlset = ev->vtype == RDB_VT_SET && ev->enc == 32;
	k->part = -1;
	obuf_init(&k->scratch, -1, KEY_MEMSZ, 1);

	b = k->out;
	obuf_lit(b, "{\"db\":");
	obuf_int(b, ev->db);
	obuf_lit(b, ",\"key\":");
	obuf_str(b, ev->key.p, ev->key.len);
	obuf_lit(b, ",\"type\":");
	obuf_putc(b, '"');
	obuf_puts(b, type_name(ev));
	obuf_lit(b, "\",\"expire_ms\":");
	obuf_ms(b, ev->u.k.expire_ms);
	obuf_lit(b, ",\"value\":");
	if (is_collection(k->vtype))
		obuf_putc(b, '[');
	else if (k->vtype == RDB_VT_STREAM)
		obuf_lit(b, "{\"entries\":[");
	else if (!has_items(k->vtype))
		obuf_lit(b, "null");
	return 0;
}

/* Where the current item's strings go. */
static struct obuf *
item_buf(struct okey *k)
{
	return k->ttlset ? &k->scratch : k->out;
}

/* Begins string number part of the current item. */
static void
part_begin(struct inspect *in, struct okey *k, const struct rdb_event *ev,
    int part)
{
	struct obuf *b = item_buf(k);

	if (part != k->nparts || part > (k->vtype == RDB_VT_HASH ? 1 : 0))
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": string part %d "
		    "out of order", rdb_offset(in->rdb), (int)ev->key.len, ev->key.p,
		    part);
	if (k->part >= 0)
		obuf_putc(b, '"');
	if (part == 0) {
		if (k->nitems > 0 && !k->ttlset && is_collection(k->vtype))
			obuf_putc(b, ',');
		if (k->vtype == RDB_VT_ZSET || k->vtype == RDB_VT_HASH)
			obuf_putc(b, '[');
	} else
		obuf_putc(b, ',');
	obuf_putc(b, '"');
	k->part = part;
	k->nparts = part + 1;
}

static int
on_str(void *arg, void *state, const struct rdb_event *ev)
{
	struct inspect *in = arg;
	struct okey *k = state;

	if (!has_items(k->vtype))
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": string piece in "
		    "a %s value", rdb_offset(in->rdb), (int)ev->key.len,
		    ev->key.p, rdb_vtype_name(k->vtype));
	if (ev->u.str.part != k->part)
		part_begin(in, k, ev, ev->u.str.part);
	obuf_esc(item_buf(k), ev->u.str.p, ev->u.str.len);
	return 0;
}

static int
on_item(void *arg, void *state, const struct rdb_event *ev)
{
	struct inspect *in = arg;
	struct okey *k = state;
	int want = k->vtype == RDB_VT_HASH ? 2 : 1;
	struct obuf *b = k->out;
	int64_t exp = ev->u.item.expire_ms;

	if (!has_items(k->vtype))
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": item in a %s "
		    "value", rdb_offset(in->rdb), (int)ev->key.len, ev->key.p,
		    rdb_vtype_name(k->vtype));
	if (!is_collection(k->vtype) && k->nitems > 0)
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": second item in "
		    "a %s value", rdb_offset(in->rdb), (int)ev->key.len,
		    ev->key.p, rdb_vtype_name(k->vtype));
	while (k->nparts < want)
		part_begin(in, k, ev, k->nparts);
	obuf_putc(item_buf(k), '"');
	switch (k->vtype) {
	case RDB_VT_SET:
		if (!k->ttlset)
			break;
		if (k->nitems > 0)
			obuf_putc(b, ',');
		if (exp >= 0)
			obuf_putc(b, '[');
		obuf_move(b, &k->scratch);
		if (exp >= 0) {
			obuf_putc(b, ',');
			obuf_int(b, exp);
			obuf_putc(b, ']');
		}
		break;
	case RDB_VT_ZSET:
		obuf_putc(b, ',');
		obuf_score(b, ev->u.item.score);
		obuf_putc(b, ']');
		break;
	case RDB_VT_HASH:
		if (exp >= 0) {
			obuf_putc(b, ',');
			obuf_int(b, exp);
		}
		obuf_putc(b, ']');
		break;
	default:
		break;
	}
	k->nitems++;
	k->part = -1;
	k->nparts = 0;
	return 0;
}

static void
stream_check(struct inspect *in, struct okey *k, const struct rdb_event *ev)
{
	if (k->vtype != RDB_VT_STREAM)
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": stream event in "
		    "a %s value", rdb_offset(in->rdb), (int)ev->key.len,
		    ev->key.p, rdb_vtype_name(k->vtype));
}

static void
stream_meta(struct okey *k, const struct rdb_stream_id *last_id)
{
	obuf_lit(k->out, "],\"last_id\":");
	if (last_id != NULL)
		obuf_id(k->out, last_id);
	else
		obuf_lit(k->out, "null");
	obuf_lit(k->out, ",\"groups\":[");
	k->meta = 1;
}

static int
on_stream(void *arg, void *state, const struct rdb_event *ev)
{
	struct inspect *in = arg;
	struct okey *k = state;
	struct obuf *b = k->out;
	struct group *g = &k->g;
	struct consumer *c;
	struct pel *p;
	size_t i;

	stream_check(in, k, ev);
	if (ev->type != RDB_EV_STREAM_ENTRY && ev->type !=
	    RDB_EV_STREAM_META && !k->meta)
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": consumer group "
		    "before the stream metadata", rdb_offset(in->rdb),
		    (int)ev->key.len, ev->key.p);
	if ((ev->type == RDB_EV_STREAM_PEL ||
	    ev->type == RDB_EV_STREAM_CONSUMER) && !g->open)
		die(in->file, "byte %" PRIu64 ": key \"%.*s\": PEL or consumer "
		    "outside a group", rdb_offset(in->rdb), (int)ev->key.len,
		    ev->key.p);
	switch (ev->type) {
	case RDB_EV_STREAM_ENTRY:
		if (k->meta)
			die(in->file, "byte %" PRIu64 ": key \"%.*s\": stream "
			    "entry after the metadata", rdb_offset(in->rdb),
			    (int)ev->key.len, ev->key.p);
		if (k->nentries++ > 0)
			obuf_putc(b, ',');
		obuf_putc(b, '[');
		obuf_id(b, &ev->u.entry.id);
		obuf_lit(b, ",[");
		for (i = 0; i < 2 * ev->u.entry.nfields; i++) {
			if (i > 0)
				obuf_putc(b, ',');
			obuf_str(b, ev->u.entry.fv[i].p, ev->u.entry.fv[i].len);
		}
		obuf_lit(b, "]]");
		break;
	case RDB_EV_STREAM_META:
		if (k->meta)
			die(in->file, "byte %" PRIu64 ": key \"%.*s\": second "
			    "stream metadata", rdb_offset(in->rdb),
			    (int)ev->key.len, ev->key.p);
		stream_meta(k, &ev->u.meta.last_id);
		break;
	case RDB_EV_STREAM_GROUP:
		group_write(k);
		g->open = 1;
		g->name = memdup(ev->u.group.name.p, ev->u.group.name.len);
		g->len = ev->u.group.name.len;
		g->last_id = ev->u.group.last_id;
		g->pel_sorted = 1;
		break;
	case RDB_EV_STREAM_PEL:
		g->pel = grow(g->pel, &g->pelcap, g->npel, sizeof(*g->pel));
		p = &g->pel[g->npel];
		p->id = ev->u.pel.id;
		p->delivery_ms = ev->u.pel.delivery_ms;
		p->count = ev->u.pel.delivery_count;
		p->consumer = -1;
		if (g->npel > 0 &&
		    keyev_idcmp(&g->pel[g->npel - 1].id, &p->id) >= 0)
			g->pel_sorted = 0;
		g->npel++;
		break;
	case RDB_EV_STREAM_CONSUMER:
		g->cons = grow(g->cons, &g->conscap, g->ncons, sizeof(*g->cons));
		c = &g->cons[g->ncons++];
		c->name = memdup(ev->u.consumer.name.p, ev->u.consumer.name.len);
		c->len = ev->u.consumer.name.len;
		c->seen_ms = ev->u.consumer.seen_ms;
		c->active_ms = ev->u.consumer.active_ms;
		break;
	case RDB_EV_STREAM_CPEL:
		if (!g->open || g->ncons == 0)
			die(in->file, "byte %" PRIu64 ": key \"%.*s\": consumer "
			    "PEL outside a consumer", rdb_offset(in->rdb),
			    (int)ev->key.len, ev->key.p);
		if ((p = pel_find(g, &ev->u.cpel)) == NULL)
			die(in->file, "byte %" PRIu64 ": key \"%.*s\": consumer "
			    "PEL id %" PRIu64 "-%" PRIu64 " not in the group "
			    "PEL", rdb_offset(in->rdb), (int)ev->key.len,
			    ev->key.p, ev->u.cpel.ms, ev->u.cpel.seq);
		p->consumer = g->ncons - 1;
		break;
	default:
		break;
	}
	return 0;
}

static int
key_end(void *arg, void *state, const struct rdb_event *ev)
{
	struct inspect *in = arg;
	struct okey *k = state;
	struct obuf *b = k->out;

	if (k->nparts > 0 || k->part >= 0)
		die(in->file, "byte %" PRIu64 ": key \"%.*s\" ends inside an "
		    "item", rdb_offset(in->rdb), (int)ev->key.len, ev->key.p);
	if (is_collection(k->vtype))
		obuf_putc(b, ']');
	else if (k->vtype == RDB_VT_STREAM) {
		if (!k->meta)
			stream_meta(k, NULL);
		group_write(k);
		obuf_lit(b, "]}");
	} else if (has_items(k->vtype) && k->nitems == 0)
		obuf_lit(b, "null");
	obuf_lit(b, "}\n");
	obuf_free(&k->scratch);
	group_free(&k->g);
	if (k->out != &outbuf)
		obuf_move(&outbuf, &k->own);
	return 0;
}

/* ------------------------------------------------------------ summary */

/*
 * Does the key go into tally t?  Keys of the built-in types match on db
 * and value type alone; only named types (modules' own names, which may
 * come from several value types) need a comparison.
 */
static inline int
tally_match(const struct tally *t, const struct rdb_event *ev, int named,
    const char *type)
{
	if (t->db != ev->db || t->named != named)
		return 0;
	if (!named)
		return t->vt == ev->vtype;
	return strcmp(t->type, type) == 0;
}

static void
tally_key(struct inspect *in, const struct rdb_event *ev)
{
	const char *type = named_type(ev);
	int named = type != NULL;
	struct tally *t = NULL;
	size_t i;

	/* built-in types of one db: straight from the table */
	if (!named && (unsigned)ev->vtype <= RDB_VT_CUCKOO &&
	    ev->db == in->bytype_db && in->bytype[ev->vtype] != 0) {
		t = &in->tally[in->bytype[ev->vtype] - 1];
		goto found;
	}
	/* consecutive keys mostly share db and type */
	if (in->lasttally < in->ntally &&
	    tally_match(&in->tally[in->lasttally], ev, named, type)) {
		t = &in->tally[in->lasttally];
		goto found;
	}
	for (i = 0; i < in->ntally; i++)
		if (tally_match(&in->tally[i], ev, named, type)) {
			t = &in->tally[i];
			break;
		}
	if (t == NULL) {
		in->tally = grow(in->tally, &in->tallycap, in->ntally,
		    sizeof(*in->tally));
		t = &in->tally[in->ntally++];
		t->db = ev->db;
		t->vt = ev->vtype;
		t->named = named;
		if (!named)
			type = rdb_vtype_name(ev->vtype);
		t->type = memdup(type, strlen(type));
		t->keys = t->expired = 0;
	}
	if (!named && (unsigned)ev->vtype <= RDB_VT_CUCKOO) {
		if (ev->db != in->bytype_db) {
			memset(in->bytype, 0, sizeof(in->bytype));
			in->bytype_db = ev->db;
		}
		in->bytype[ev->vtype] = 1 + (t - in->tally);
	}
found:
	in->lasttally = t - in->tally;
	t->keys++;
	if (ev->u.k.expire_ms >= 0 && ev->u.k.expire_ms < in->now_ms)
		t->expired++;
}

static int
tally_cmp(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	if (x->db != y->db)
		return x->db < y->db ? -1 : 1;
	return strcmp(x->type, y->type);
}

static void
tally_print(struct inspect *in)
{
	uint64_t keys = 0, expired = 0;
	size_t i;

	qsort(in->tally, in->ntally, sizeof(*in->tally), tally_cmp);
	for (i = 0; i < in->ntally; i++) {
		obuf_lit(&outbuf, "{\"db\":");
		obuf_int(&outbuf, in->tally[i].db);
		obuf_lit(&outbuf, ",\"type\":");
		obuf_str(&outbuf, in->tally[i].type, strlen(in->tally[i].type));
		obuf_lit(&outbuf, ",\"keys\":");
		obuf_uint(&outbuf, in->tally[i].keys);
		obuf_lit(&outbuf, ",\"expired\":");
		obuf_uint(&outbuf, in->tally[i].expired);
		obuf_lit(&outbuf, "}\n");
		keys += in->tally[i].keys;
		expired += in->tally[i].expired;
		free(in->tally[i].type);
	}
	free(in->tally);
	in->tally = NULL;
	obuf_lit(&outbuf, "{\"total\":{\"keys\":");
	obuf_uint(&outbuf, keys);
	obuf_lit(&outbuf, ",\"expired\":");
	obuf_uint(&outbuf, expired);
	obuf_lit(&outbuf, "}}\n");
	if (in->journal) {
		obuf_lit(&outbuf, "{\"journal\":{\"blobs\":");
		obuf_uint(&outbuf, in->nblobs);
		obuf_lit(&outbuf, ",\"commands\":");
		obuf_uint(&outbuf, in->nrecords);
		obuf_lit(&outbuf, "}}\n");
	}
}

/* ------------------------------------------------------------ journal */

static void
on_journal(struct inspect *in, const struct rdb_event *ev)
{
	struct journal_rec rec;
	size_t i;
	int r;

	in->nblobs++;
	if (!in->journal) {
		fprintf(stderr, "%s: byte %" PRIu64 ": journal blob: %" PRIu64
		    " records, %zu bytes\n", in->file, rdb_offset(in->rdb),
		    ev->u.journal.nrec, ev->u.journal.len);
		return;
	}
	if (journal_feed(in->jr, ev->u.journal.p, ev->u.journal.len) == -1)
		die(in->file, "byte %" PRIu64 ": journal blob: %s",
		    rdb_offset(in->rdb), journal_error(in->jr));
	while ((r = journal_next(in->jr, &rec)) == JOURNAL_OK) {
		if (rec.op != JOURNAL_COMMAND)
			continue;
		in->nrecords++;
		if (in->summary)
			continue;
		obuf_lit(&outbuf, "{\"journal\":[");
		for (i = 0; i < rec.argc; i++) {
			if (i > 0)
				obuf_putc(&outbuf, ',');
			obuf_str(&outbuf, rec.argv[i], rec.argvlen[i]);
		}
		obuf_lit(&outbuf, "],\"db\":");
		obuf_uint(&outbuf, rec.db);
		obuf_lit(&outbuf, "}\n");
	}
	if (r == JOURNAL_ERR)
		die(in->file, "byte %" PRIu64 ": journal blob: %s",
		    rdb_offset(in->rdb), journal_error(in->jr));
}

/* ------------------------------------------------------------ events */

static const struct keyev_ops keyops = {
	key_begin, on_str, on_item, on_stream, key_end,
};

static void
on_event(struct inspect *in, const struct rdb_event *ev)
{
	struct error e;

	if (ev->type == RDB_EV_JOURNAL)
		on_journal(in, ev);
	else if (keytab_event(in->keys, &keyops, in, ev, &e) == -1)
		die(in->file, "byte %" PRIu64 ": %s", rdb_offset(in->rdb),
		    e.msg);
}

/* Decodes everything fed so far; 1 when the trailer was read. */
static int
drain(struct inspect *in)
{
	struct rdb_event ev;
	int r;

	if (in->summary) {
		/* only keys and journal blobs count */
		while ((r = rdb_next(in->rdb, &ev)) == RDB_OK) {
			if (ev.type == RDB_EV_KEY)
				tally_key(in, &ev);
			else if (ev.type == RDB_EV_JOURNAL)
				on_journal(in, &ev);
		}
	} else
		while ((r = rdb_next(in->rdb, &ev)) == RDB_OK)
			on_event(in, &ev);
	if (r == RDB_ERR)
		die(in->file, "%s", rdb_error(in->rdb));
	return r == RDB_DONE;
}

static void
inspect_fd(struct inspect *in, int fd)
{
	char *buf;
	ssize_t r;
	int done = 0;

	if ((buf = malloc(READ_BUFSZ)) == NULL)
		die(in->file, "out of memory");
	while (!done) {
		r = read(fd, buf, READ_BUFSZ);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die(in->file, "read: %s", strerror(errno));
		if (r == 0)
			die(in->file, "truncated at byte %" PRIu64, in->fed);
		in->fed += r;
		if (rdb_feed(in->rdb, buf, r) == -1)
			die(in->file, "%s", rdb_error(in->rdb));
		done = drain(in);
	}
	free(buf);
	if (keytab_nopen(in->keys, 1) > 0 || keytab_nopen(in->keys, 0) > 0)
		die(in->file, "byte %" PRIu64 ": the trailer came while key "
		    "\"%s\" was incomplete", rdb_offset(in->rdb),
		    keytab_nopen(in->keys, 1) > 0 ? "(split)" : "(whole)");
	if (in->jr != NULL && journal_pending(in->jr) > 0)
		die(in->file, "the last journal blob ends inside a record "
		    "(%zu bytes pending)", journal_pending(in->jr));
}

int
cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "summary",	no_argument,	NULL,	's' },
		{ "flow",	no_argument,	NULL,	'f' },
		{ "journal",	no_argument,	NULL,	'j' },
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ NULL,		0,		NULL,	0 }
	};
	struct rdb_limits lim = { 64 * 1024, 256 * 1024 * 1024 };
	struct journal_limits jlim = { 512 * 1024 * 1024, 16 * 1024 * 1024 };
	struct inspect in;
	int ch, fd;

	memset(&in, 0, sizeof(in));
	while ((ch = getopt_long(argc, argv, "sfjhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			in.summary = 1;
			break;
		case 'f':
			in.flow = 1;
			break;
		case 'j':
			in.journal = 1;
			break;
		default:
			return usage_done(ch, usage);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || (in.journal && !in.flow)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	in.file = argv[0];

	in.now_ms = wall_ms();

	if (strcmp(in.file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(in.file, O_RDONLY | O_CLOEXEC)) == -1)
		die(in.file, "%s", strerror(errno));
	if ((in.rdb = rdb_new(in.flow ? RDB_MODE_FLOW : RDB_MODE_FILE,
	    &lim)) == NULL)
		die(in.file, "out of memory");
	if (in.journal && (in.jr = journal_new(&jlim)) == NULL)
		die(in.file, "out of memory");
	if ((in.keys = keytab_new(sizeof(struct okey))) == NULL)
		die(in.file, "out of memory");
	obuf_init(&outbuf, STDOUT_FILENO, OUT_BUFSZ, 0);

	inspect_fd(&in, fd);
	if (in.summary)
		tally_print(&in);
	obuf_flush(&outbuf);
	obuf_free(&outbuf);
	if (fd != STDIN_FILENO)
		close(fd);
	rdb_free(in.rdb);
	keytab_free(in.keys, NULL);
	if (in.jr != NULL)
		journal_free(in.jr);
	return 0;
}
