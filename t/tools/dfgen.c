/*
 * dfgen - write Dragonfly FLOW streams for every construct of snapshot.md
 * together with the events the decoder must report for them.
 *
 *	dfgen OUTDIR
 *
 * For each construct NAME: NAME.bin (a FLOW from the header to the 0xFF
 * trailer), NAME.events (what `rdbevents --flow` prints) and NAME.pevents
 * (what `rdbevents --flow --pieces --piece 5` prints).  Negative constructs
 * get NAME.bin and NAME.error (a substring of the expected error).
 *
 * The expected events come from this program's own model of what it
 * encoded (t/dflymaster/rdbenc.c); nothing from src/ is used.
 */
#include <err.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dflymaster/rdbenc.h"

#define PIECE		5		/* piece size of the .pevents files */

struct seg {
	struct enc	 b;		/* bytes */
	struct enc	 ev;		/* default-mode event lines */
	struct enc	 pev;		/* --pieces event lines */
};

struct gen {
	const char	*dir;
	struct enc	 flow;
	struct enc	 batch;		/* items to be compressed into a blob */
	struct enc	*sink;		/* flow or batch */
	struct enc	 ev, pev;
	int		 db;
};

/* one key under construction: segment 0 is the header, then one per element */
struct kb {
	struct gen	*g;
	uint32_t	 eid;
	int		 type;
	int		 db;
	char		*key;
	size_t		 klen;
	struct seg	*s;
	size_t		 n, cap;
	size_t		 next;		/* next segment to emit */
	uint64_t	 index;		/* next item index */
};

struct kopt {
	int64_t		 expire_ms;	/* -1 none */
	int		 mask;		/* write DF_MASK */
	uint32_t	 flags, mc_flags;
};

static const struct kopt NOOPT = { -1, 0, 0, 0 };

/* ------------------------------------------------------------ text */

static void
put(struct enc *e, const char *s)
{
	enc_bytes(e, s, strlen(s));
}

static void
putf(struct enc *e, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		errx(1, "putf: line too long");
	enc_bytes(e, buf, n);
}

/* the rdbevents escaping: 0x21-0x7e except '\' verbatim, else \xHH */
static void
esc(struct enc *e, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 i;

	if (len == 0) {
		put(e, "\"\"");
		return;
	}
	for (i = 0; i < len; i++) {
		if (b[i] >= 0x21 && b[i] <= 0x7e && b[i] != '\\')
			enc_u8(e, b[i]);
		else
			putf(e, "\\x%02x", b[i]);
	}
}

static void
hex(struct enc *e, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < len; i++)
		putf(e, "%02x", b[i]);
}

static void
score(struct enc *e, double d)
{
	putf(e, "%.17g", d);
}

/* a line identical in both modes, outside any key */
static void
gline(struct gen *g, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		errx(1, "gline: line too long");
	enc_bytes(&g->ev, buf, n);
	enc_bytes(&g->pev, buf, n);
}

/* ------------------------------------------------------------ flow */

static void
gen_reset(struct gen *g)
{
	enc_reset(&g->flow);
	enc_reset(&g->batch);
	enc_reset(&g->ev);
	enc_reset(&g->pev);
	g->sink = &g->flow;
	g->db = 0;
}

static void
aux(struct gen *g, const char *name, const char *value)
{
	enc_aux(g->sink, name, value);
	put(&g->ev, "aux ");
	esc(&g->ev, name, strlen(name));
	put(&g->ev, " ");
	esc(&g->ev, value, strlen(value));
	put(&g->ev, "\n");
	put(&g->pev, "aux ");
	esc(&g->pev, name, strlen(name));
	put(&g->pev, " ");
	esc(&g->pev, value, strlen(value));
	put(&g->pev, "\n");
}

static void
flow_begin(struct gen *g, int version, int shard)
{
	char	 buf[32];

	enc_header(g->sink, version);
	aux(g, "redis-ver", "6.2.11");
	aux(g, "df-ver", "df-v1.40.1");
	aux(g, "redis-bits", "64");
	aux(g, "ctime", "1767225600");
	aux(g, "used-mem", "1048576");
	aux(g, "aof-preamble", "0");
	if (shard == 0) {
		aux(g, "shard-count", "4");
		aux(g, "table-mem", "65536");
	}
	snprintf(buf, sizeof(buf), "%d", shard);
	aux(g, "shard-id", buf);
}

static void
selectdb(struct gen *g, int db)
{
	enc_selectdb(g->sink, db);
	g->db = db;
	gline(g, "db %d\n", db);
}

static void
fullsync_end(struct gen *g)
{
	enc_fullsync_end(g->sink);
	gline(g, "fullsync_end\n");
}

static void
journal_offset(struct gen *g, uint64_t lsn)
{
	enc_journal_offset(g->sink, lsn);
	gline(g, "journal_offset %" PRIu64 "\n", lsn);
}

static void
flow_end(struct gen *g, uint64_t lsn)
{
	fullsync_end(g);
	journal_offset(g, lsn);
	enc_eof(&g->flow);
	gline(g, "eof\n");
}

static void
batch_begin(struct gen *g)
{
	enc_reset(&g->batch);
	g->sink = &g->batch;
}

static void
batch_end(struct gen *g, enum enc_blob kind)
{
	g->sink = &g->flow;
	if (enc_blob(&g->flow, kind, g->batch.p, g->batch.len, 2) != 1)
		errx(1, "a test blob did not compress");
}

/* a JOURNAL_BLOB of argc-argument commands, one record per command */
static void
journal(struct gen *g, int lzf, uint64_t nrec, const char *const *cmds[],
    const size_t argcs[], int db, uint64_t txid)
{
	struct enc	 rec;
	uint64_t	 i;
	size_t		 lens[16], j;

	enc_init(&rec);
	for (i = 0; i < nrec; i++) {
		if (cmds[i] == NULL) {
			enc_jr_ping(&rec);
			continue;
		}
		for (j = 0; j < argcs[i]; j++)
			lens[j] = strlen(cmds[i][j]);
		enc_jr_command(&rec, db, txid + i, argcs[i], cmds[i], lens);
	}
	enc_journal_blob(g->sink, nrec, rec.p, rec.len, lzf);
	put(&g->ev, "journal ");
	putf(&g->ev, "%" PRIu64 " ", nrec);
	hex(&g->ev, rec.p, rec.len);
	put(&g->ev, "\n");
	put(&g->pev, "journal ");
	putf(&g->pev, "%" PRIu64 " ", nrec);
	hex(&g->pev, rec.p, rec.len);
	put(&g->pev, "\n");
	enc_free(&rec);
}

static void
journal1(struct gen *g, int lzf, int db, uint64_t txid, size_t argc, ...)
{
	const char	*argv[16];
	const char *const *cmds[1];
	size_t		 argcs[1], i;
	va_list		 ap;

	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	cmds[0] = argv;
	argcs[0] = argc;
	journal(g, lzf, 1, cmds, argcs, db, txid);
}

static void
write_file(struct gen *g, const char *name, const char *ext, const void *p,
    size_t len)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.%s", g->dir, name, ext);
	if ((f = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	if (len > 0 && fwrite(p, 1, len, f) != len)
		err(1, "%s", path);
	if (fclose(f) != 0)
		err(1, "%s", path);
}

static void
save(struct gen *g, const char *name)
{
	if (g->sink != &g->flow)
		errx(1, "%s: batch left open", name);
	write_file(g, name, "bin", g->flow.p, g->flow.len);
	write_file(g, name, "events", g->ev.p, g->ev.len);
	write_file(g, name, "pevents", g->pev.p, g->pev.len);
}

static void
save_error(struct gen *g, const char *name, const char *error)
{
	write_file(g, name, "bin", g->flow.p, g->flow.len);
	write_file(g, name, "error", error, strlen(error));
}

/* ------------------------------------------------------------ keys */

static struct seg *
kb_seg(struct kb *k)
{
	struct seg	*s;

	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 16;
		if ((k->s = reallocarray(k->s, k->cap, sizeof(*k->s))) == NULL)
			err(1, "kb_seg");
	}
	s = &k->s[k->n++];
	enc_init(&s->b);
	enc_init(&s->ev);
	enc_init(&s->pev);
	return s;
}

static struct seg *
kb_cur(struct kb *k)
{
	return &k->s[k->n - 1];
}

static struct enc *
kb_bytes(struct kb *k)
{
	return &kb_cur(k)->b;
}

static const char *
vtype_name(int type)
{
	switch (type) {
	case ENC_T_STRING:
		return "string";
	case ENC_T_LIST_QUICKLIST_2:
		return "list";
	case ENC_T_SET:
	case ENC_T_SET_INTSET:
	case ENC_T_SET_WITH_EXPIRY:
		return "set";
	case ENC_T_ZSET_2:
	case ENC_T_ZSET_LISTPACK:
	case ENC_T_ZSET_ZIPLIST:
		return "zset";
	case ENC_T_HASH:
	case ENC_T_HASH_LISTPACK:
	case ENC_T_HASH_WITH_EXPIRY:
	case ENC_T_HASH_ZIPLIST:
		return "hash";
	case ENC_T_STREAM_LISTPACKS:
	case ENC_T_STREAM_LISTPACKS_2:
	case ENC_T_STREAM_LISTPACKS_3:
		return "stream";
	case ENC_T_JSON:
	case ENC_T_OLD_JSON:
		return "json";
	case ENC_T_SBF:
	case ENC_T_SBF2:
		return "sbf";
	case ENC_T_CMS:
		return "cms";
	case ENC_T_TOPK:
		return "topk";
	case ENC_T_CUCKOO:
		return "cuckoo";
	}
	errx(1, "vtype_name: type %d", type);
}

/* a line with the key's EID in both modes */
static void
kline(struct kb *k, const char *what, const char *fmt, ...)
{
	struct seg	*s = kb_cur(k);
	char		 buf[512];
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		errx(1, "kline: line too long");
	putf(&s->ev, "%s %u ", what, k->eid);
	enc_bytes(&s->ev, buf, n);
	putf(&s->pev, "%s %u ", what, k->eid);
	enc_bytes(&s->pev, buf, n);
}

static void
kesc(struct kb *k, const void *p, size_t len)
{
	esc(&kb_cur(k)->ev, p, len);
	esc(&kb_cur(k)->pev, p, len);
}

static void
kput(struct kb *k, const char *s)
{
	put(&kb_cur(k)->ev, s);
	put(&kb_cur(k)->pev, s);
}

/* [FC] [DC] type key */
static void
kb_begin(struct gen *g, struct kb *k, uint32_t eid, int type, const void *key,
    size_t klen, struct kopt o)
{
	memset(k, 0, sizeof(*k));
	k->g = g;
	k->eid = eid;
	k->type = type;
	k->db = g->db;
	if ((k->key = malloc(klen + 1)) == NULL)
		err(1, "kb_begin");
	memcpy(k->key, key, klen);
	k->klen = klen;
	kb_seg(k);
	if (o.expire_ms != -1)
		enc_expire_ms(kb_bytes(k), o.expire_ms);
	if (o.mask)
		enc_df_mask(kb_bytes(k), o.flags, o.mc_flags);
	enc_key(kb_bytes(k), type, key, klen);
	/* the key line is written by kb_keyline() once the count is known */
}

/* the key event; expire from the options */
static void
kb_keyline(struct kb *k, int64_t expire_ms, uint64_t count)
{
	kline(k, "key", "%d %s %d %" PRId64 " %" PRIu64 " ", k->db,
	    vtype_name(k->type), k->type, expire_ms, count);
	kesc(k, k->key, k->klen);
	kput(k, "\n");
}

static void
kb_end(struct kb *k)
{
	kline(k, "keyend", "");
	kesc(k, k->key, k->klen);
	kput(k, "\n");
}

/* item event for the current segment: nparts strings */
static void
kb_item(struct kb *k, double sc, int64_t expire_ms, int nparts,
    const void *p0, size_t l0, const void *p1, size_t l1)
{
	struct seg	*s = kb_cur(k);
	const void	*p[2] = { p0, p1 };
	size_t		 l[2] = { l0, l1 }, off;
	int		 i;

	putf(&s->ev, "item %u %" PRIu64 " ", k->eid, k->index);
	score(&s->ev, sc);
	putf(&s->ev, " %" PRId64, expire_ms);
	for (i = 0; i < nparts; i++) {
		put(&s->ev, " ");
		esc(&s->ev, p[i], l[i]);
	}
	put(&s->ev, "\n");

	for (i = 0; i < nparts; i++) {
		off = 0;
		do {
			size_t n = l[i] - off < PIECE ? l[i] - off : PIECE;

			putf(&s->pev, "str %u %d %zu %d ", k->eid, i, off,
			    off + n < l[i]);
			esc(&s->pev, (const char *)p[i] + off, n);
			put(&s->pev, "\n");
			off += n;
		} while (off < l[i]);
	}
	putf(&s->pev, "item %u %" PRIu64 " ", k->eid, k->index);
	score(&s->pev, sc);
	putf(&s->pev, " %" PRId64 "\n", expire_ms);
	k->index++;
}

static void
kb_free(struct kb *k)
{
	size_t	 i;

	for (i = 0; i < k->n; i++) {
		enc_free(&k->s[i].b);
		enc_free(&k->s[i].ev);
		enc_free(&k->s[i].pev);
	}
	free(k->s);
	free(k->key);
}

static void
emit_events(struct kb *k, size_t from, size_t to)
{
	size_t	 i;

	for (i = from; i < to; i++) {
		enc_bytes(&k->g->ev, k->s[i].ev.p, k->s[i].ev.len);
		enc_bytes(&k->g->pev, k->s[i].pev.p, k->s[i].pev.len);
	}
}

/* the whole key untagged */
static void
kb_emit(struct kb *k)
{
	size_t	 i;

	if (k->eid != 0)
		errx(1, "kb_emit: a tagged key");
	for (i = 0; i < k->n; i++)
		enc_bytes(k->g->sink, k->s[i].b.p, k->s[i].b.len);
	emit_events(k, 0, k->n);
	k->next = k->n;
	kb_free(k);
}

/* the next nseg segments as one tagged chunk; returns 1 when done */
static int
kb_chunk(struct kb *k, size_t nseg)
{
	struct enc	 pay;
	size_t		 i, to;

	if (k->eid == 0)
		errx(1, "kb_chunk: an untagged key");
	to = k->next + nseg;
	if (to > k->n)
		to = k->n;
	enc_init(&pay);
	for (i = k->next; i < to; i++)
		enc_bytes(&pay, k->s[i].b.p, k->s[i].b.len);
	enc_tagged_chunk(k->g->sink, k->eid, pay.p, pay.len);
	enc_free(&pay);
	emit_events(k, k->next, to);
	k->next = to;
	return k->next == k->n;
}

/* ------------------------------------------------------------ values */

static int64_t
member_ms(long long expiry)
{
	return expiry == -1 ? -1 : (expiry + ENC_MEMBER_EXPIRY_BASE) * 1000;
}

struct bstr {
	const char	*p;
	size_t		 len;
};

#define S(x)	{ x, sizeof(x) - 1 }

static void
k_string(struct gen *g, const void *key, size_t klen, const void *v,
    size_t vlen, struct kopt o)
{
	struct kb	 k;

	kb_begin(g, &k, 0, ENC_T_STRING, key, klen, o);
	enc_str(kb_bytes(&k), v, vlen);
	kb_keyline(&k, o.expire_ms, 0);
	kb_item(&k, 0, -1, 1, v, vlen, NULL, 0);
	kb_end(&k);
	kb_emit(&k);
}

static void
k_strz(struct gen *g, const char *key, const char *v, struct kopt o)
{
	k_string(g, key, strlen(key), v, strlen(v), o);
}

/* set type 2 or 32 (expiries != NULL) */
static void
kb_set(struct gen *g, struct kb *k, uint32_t eid, const char *key,
    const struct bstr *m, const long long *exp, size_t n, struct kopt o)
{
	size_t	 i;
	int	 type = exp ? ENC_T_SET_WITH_EXPIRY : ENC_T_SET;

	kb_begin(g, k, eid, type, key, strlen(key), o);
	enc_count(kb_bytes(k), n);
	kb_keyline(k, o.expire_ms, n);
	for (i = 0; i < n; i++) {
		kb_seg(k);
		if (exp)
			enc_set_member_ttl(kb_bytes(k), m[i].p, m[i].len,
			    exp[i]);
		else
			enc_set_member(kb_bytes(k), m[i].p, m[i].len);
		kb_item(k, 0, exp ? member_ms(exp[i]) : -1, 1, m[i].p,
		    m[i].len, NULL, 0);
	}
	kb_end(k);
}

/* hash type 4 or 31 */
static void
kb_hash(struct gen *g, struct kb *k, uint32_t eid, const char *key,
    const struct bstr *fv, const long long *exp, size_t n, struct kopt o)
{
	size_t	 i;
	int	 type = exp ? ENC_T_HASH_WITH_EXPIRY : ENC_T_HASH;

	kb_begin(g, k, eid, type, key, strlen(key), o);
	enc_count(kb_bytes(k), n);
	kb_keyline(k, o.expire_ms, n);
	for (i = 0; i < n; i++) {
		kb_seg(k);
		if (exp)
			enc_hash_field_ttl(kb_bytes(k), fv[2 * i].p,
			    fv[2 * i].len, fv[2 * i + 1].p, fv[2 * i + 1].len,
			    exp[i]);
		else
			enc_hash_field(kb_bytes(k), fv[2 * i].p, fv[2 * i].len,
			    fv[2 * i + 1].p, fv[2 * i + 1].len);
		kb_item(k, 0, exp ? member_ms(exp[i]) : -1, 2, fv[2 * i].p,
		    fv[2 * i].len, fv[2 * i + 1].p, fv[2 * i + 1].len);
	}
	kb_end(k);
}

static void
kb_zset(struct gen *g, struct kb *k, uint32_t eid, const char *key,
    const struct bstr *m, const double *sc, size_t n, struct kopt o)
{
	size_t	 i;

	kb_begin(g, k, eid, ENC_T_ZSET_2, key, strlen(key), o);
	enc_count(kb_bytes(k), n);
	kb_keyline(k, o.expire_ms, n);
	for (i = 0; i < n; i++) {
		kb_seg(k);
		enc_zset_member(kb_bytes(k), m[i].p, m[i].len, sc[i]);
		kb_item(k, sc[i], -1, 1, m[i].p, m[i].len, NULL, 0);
	}
	kb_end(k);
}

/* list node description: container, lzf, elements */
struct qlnode {
	int		 container;
	int		 lzf;
	const struct bstr *el;
	size_t		 n;
};

static void
kb_list(struct gen *g, struct kb *k, uint32_t eid, const char *key,
    const struct qlnode *nodes, size_t nn, struct kopt o)
{
	struct enc_lp	 lp;
	const uint8_t	*p;
	size_t		 i, j, len;

	kb_begin(g, k, eid, ENC_T_LIST_QUICKLIST_2, key, strlen(key), o);
	enc_count(kb_bytes(k), nn);
	kb_keyline(k, o.expire_ms, 0);
	for (i = 0; i < nn; i++) {
		kb_seg(k);
		if (nodes[i].container == ENC_QL_PLAIN) {
			enc_ql_node(kb_bytes(k), ENC_QL_PLAIN, nodes[i].el[0].p,
			    nodes[i].el[0].len, nodes[i].lzf);
			kb_item(k, 0, -1, 1, nodes[i].el[0].p,
			    nodes[i].el[0].len, NULL, 0);
			continue;
		}
		enc_lp_init(&lp);
		for (j = 0; j < nodes[i].n; j++)
			enc_lp_str(&lp, nodes[i].el[j].p, nodes[i].el[j].len);
		p = enc_lp_finish(&lp, &len);
		enc_ql_node(kb_bytes(k), ENC_QL_PACKED, p, len, nodes[i].lzf);
		enc_lp_free(&lp);
		for (j = 0; j < nodes[i].n; j++)
			kb_item(k, 0, -1, 1, nodes[i].el[j].p,
			    nodes[i].el[j].len, NULL, 0);
	}
	kb_end(k);
}

/* ------------------------------------------------------------ streams */

struct sentry {
	int		 flags;
	uint64_t	 ms, seq;
	size_t		 n;		/* strings in fv */
	const char	*fv[8];		/* fields+values, or values if SAMEFIELDS */
};

struct snode {
	uint64_t	 ms, seq;	/* master id */
	size_t		 nmf;
	const char	*mf[4];		/* master fields */
	size_t		 ne;
	const struct sentry *e;
};

static void
kb_stream_node(struct kb *k, const struct snode *nd)
{
	struct enc_lp	 lp;
	size_t		 lens[8], i, j, live = 0, dead = 0, len;
	const uint8_t	*p;
	struct enc_id	 key = { nd->ms, nd->seq };

	for (i = 0; i < nd->ne; i++) {
		if (nd->e[i].flags & ENC_STREAM_DELETED)
			dead++;
		else
			live++;
	}
	for (i = 0; i < nd->nmf; i++)
		lens[i] = strlen(nd->mf[i]);
	enc_lp_init(&lp);
	enc_stream_lp_begin(&lp, live, dead, nd->mf, lens, nd->nmf);
	for (i = 0; i < nd->ne; i++) {
		const struct sentry *e = &nd->e[i];

		for (j = 0; j < e->n; j++)
			lens[j] = strlen(e->fv[j]);
		enc_stream_lp_entry(&lp, e->flags, e->ms - nd->ms,
		    e->seq - nd->seq, e->fv, lens, e->n);
		if (e->flags & ENC_STREAM_DELETED)
			continue;
		if (e->flags & ENC_STREAM_SAMEFIELDS) {
			kline(k, "entry", "%" PRIu64 "-%" PRIu64 " %zu",
			    e->ms, e->seq, e->n);
			for (j = 0; j < e->n; j++) {
				kput(k, " ");
				kesc(k, nd->mf[j], strlen(nd->mf[j]));
				kput(k, " ");
				kesc(k, e->fv[j], lens[j]);
			}
		} else {
			kline(k, "entry", "%" PRIu64 "-%" PRIu64 " %zu",
			    e->ms, e->seq, e->n / 2);
			for (j = 0; j < e->n; j++) {
				kput(k, " ");
				kesc(k, e->fv[j], lens[j]);
			}
		}
		kput(k, "\n");
	}
	p = enc_lp_finish(&lp, &len);
	enc_stream_node(kb_bytes(k), key, p, len);
	enc_lp_free(&lp);
}

struct sgroup {
	const char	*name;
	struct enc_id	 last;
	int64_t		 entries_read;
	size_t		 npel;
	struct enc_id	 pel[4];
	int64_t		 pel_ms[4];
	uint64_t	 pel_cnt[4];
	size_t		 ncons;
	const char	*cname[3];
	int64_t		 seen[3], active[3];
	size_t		 ncpel[3];
	struct enc_id	 cpel[3][4];
};

struct smeta {
	uint64_t	 length;
	struct enc_id	 last, first, maxdel;
	uint64_t	 added;
};

static void
kb_stream(struct gen *g, struct kb *k, uint32_t eid, int type, const char *key,
    const struct snode *nodes, size_t nn, const struct smeta *m,
    const struct sgroup *gr, size_t ng, struct kopt o)
{
	size_t	 i, c, j;

	kb_begin(g, k, eid, type, key, strlen(key), o);
	enc_count(kb_bytes(k), nn);
	kb_keyline(k, o.expire_ms, 0);
	for (i = 0; i < nn; i++) {
		/* the last node travels with the metadata */
		kb_seg(k);
		kb_stream_node(k, &nodes[i]);
	}
	enc_stream_meta(kb_bytes(k), type, m->length, m->last, m->first,
	    m->maxdel, m->added, ng);
	if (type == ENC_T_STREAM_LISTPACKS)
		kline(k, "meta", "%" PRIu64 " %" PRIu64 "-%" PRIu64
		    " - - - %zu\n", m->length, m->last.ms, m->last.seq, ng);
	else
		kline(k, "meta", "%" PRIu64 " %" PRIu64 "-%" PRIu64
		    " %" PRIu64 "-%" PRIu64 " %" PRIu64 "-%" PRIu64
		    " %" PRIu64 " %zu\n", m->length, m->last.ms, m->last.seq,
		    m->first.ms, m->first.seq, m->maxdel.ms, m->maxdel.seq,
		    m->added, ng);
	for (i = 0; i < ng; i++) {
		const struct sgroup *x = &gr[i];

		enc_stream_group(kb_bytes(k), type, x->name, strlen(x->name),
		    x->last, x->entries_read, x->npel);
		kline(k, "group", "");
		kesc(k, x->name, strlen(x->name));
		{
			struct seg *s = kb_cur(k);
			int64_t er = type == ENC_T_STREAM_LISTPACKS ? -1 :
			    x->entries_read;

			putf(&s->ev, " %" PRIu64 "-%" PRIu64 " %" PRId64
			    " %zu %zu\n", x->last.ms, x->last.seq, er,
			    x->npel, x->ncons);
			putf(&s->pev, " %" PRIu64 "-%" PRIu64 " %" PRId64
			    " %zu %zu\n", x->last.ms, x->last.seq, er,
			    x->npel, x->ncons);
		}
		for (j = 0; j < x->npel; j++) {
			enc_stream_pel(kb_bytes(k), x->pel[j], x->pel_ms[j],
			    x->pel_cnt[j]);
			kline(k, "pel", "%" PRIu64 "-%" PRIu64 " %" PRId64
			    " %" PRIu64 "\n", x->pel[j].ms, x->pel[j].seq,
			    x->pel_ms[j], x->pel_cnt[j]);
		}
		enc_count(kb_bytes(k), x->ncons);
		for (c = 0; c < x->ncons; c++) {
			int64_t act = type == ENC_T_STREAM_LISTPACKS_3 ?
			    x->active[c] : -1;

			enc_stream_consumer(kb_bytes(k), type, x->cname[c],
			    strlen(x->cname[c]), x->seen[c], x->active[c],
			    x->ncpel[c]);
			kline(k, "consumer", "");
			kesc(k, x->cname[c], strlen(x->cname[c]));
			{
				struct seg *s = kb_cur(k);

				putf(&s->ev, " %" PRId64 " %" PRId64 " %zu\n",
				    x->seen[c], act, x->ncpel[c]);
				putf(&s->pev, " %" PRId64 " %" PRId64 " %zu\n",
				    x->seen[c], act, x->ncpel[c]);
			}
			for (j = 0; j < x->ncpel[c]; j++) {
				enc_stream_rawid(kb_bytes(k), x->cpel[c][j]);
				kline(k, "cpel", "%" PRIu64 "-%" PRIu64 "\n",
				    x->cpel[c][j].ms, x->cpel[c][j].seq);
			}
		}
	}
	kb_end(k);
}

/* ------------------------------------------------------------ constructs */

static struct kopt
expire(int64_t ms)
{
	struct kopt o = NOOPT;

	o.expire_ms = ms;
	return o;
}

static char *
filled(size_t len, unsigned seed)
{
	char	*p;
	size_t	 i;

	if ((p = malloc(len + 1)) == NULL)
		err(1, "filled");
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = 'a' + (seed >> 16) % 26;
	}
	p[len] = '\0';
	return p;
}

static void
c_strings(struct gen *g)
{
	static const char *ints[] = {
		"0", "7", "-1", "127", "-128", "128", "-129", "32767", "-32768",
		"32768", "-32769", "2147483647", "-2147483648", "2147483648",
		"-2147483649", "007", "+1", "-0", "1.0", " 1", "1 ",
		"12345678901", "-1234567890", "99999999999",
	};
	struct kopt	 o;
	char		 key[32], *big;
	size_t		 i;

	flow_begin(g, 9, 0);
	selectdb(g, 0);
	k_strz(g, "foo", "bar", NOOPT);
	k_strz(g, "empty-value", "", NOOPT);
	k_string(g, "", 0, "empty key", 9, NOOPT);
	k_string(g, "bin\x00\xff\n\\ key", 11, "\x00\x01\x02\x7f\x80\xfe\xff \\",
	    9, NOOPT);
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		k_strz(g, ints[i], ints[i], NOOPT);
		snprintf(key, sizeof(key), "int-%zu", i);
		k_strz(g, key, ints[i], expire(1767225600123LL + i));
	}
	k_strz(g, "expired", "past", expire(1000));
	k_strz(g, "ttl-zero", "epoch", expire(0));
	o = NOOPT;
	o.mask = 1;
	o.flags = ENC_DF_MASK_STICKY;
	k_strz(g, "sticky", "v", o);
	o.flags = ENC_DF_MASK_MC_FLAGS;
	o.mc_flags = 0xdeadbeef;
	k_strz(g, "mc-flags", "v", o);
	o.flags = ENC_DF_MASK_STICKY | ENC_DF_MASK_MC_FLAGS;
	o.mc_flags = 42;
	o.expire_ms = 1893456000000LL;
	k_strz(g, "mc-flags-ttl", "v", o);
	big = filled(100, 1);
	k_strz(g, "len-2-byte", big, NOOPT);
	free(big);
	big = filled(70000, 2);
	k_strz(g, "len-5-byte", big, NOOPT);
	free(big);
	selectdb(g, 1);
	k_strz(g, "in-db-1", "one", NOOPT);
	selectdb(g, 15);
	k_strz(g, "in-db-15", "fifteen", NOOPT);
	selectdb(g, 1000);
	k_strz(g, "in-db-1000", "thousand", NOOPT);
	flow_end(g, 1);
	save(g, "strings");
}

/* keys and lengths in wider-than-needed and LZF forms */
static void
c_lengths(struct gen *g)
{
	struct kb	 k;
	char		*v;
	int		 w;

	flow_begin(g, 9, 1);
	enc_u8(g->sink, ENC_OP_SELECTDB);
	enc_len_width(g->sink, 3, 9);
	g->db = 3;
	gline(g, "db 3\n");

	/* set: key length in 2 bytes, count in 9 bytes, members 1/2/5/9 */
	kb_begin(g, &k, 0, ENC_T_SET, "wide", 4, NOOPT);
	k.s[0].b.len = 0;
	enc_u8(kb_bytes(&k), ENC_T_SET);
	enc_len_width(kb_bytes(&k), 4, 2);
	enc_bytes(kb_bytes(&k), "wide", 4);
	enc_len_width(kb_bytes(&k), 4, 9);
	kb_keyline(&k, -1, 4);
	for (w = 1; w <= 9; w = w == 1 ? 2 : w == 2 ? 5 : 9) {
		char m[8];

		snprintf(m, sizeof(m), "m%d", w);
		kb_seg(&k);
		enc_len_width(kb_bytes(&k), strlen(m), w);
		enc_bytes(kb_bytes(&k), m, strlen(m));
		kb_item(&k, 0, -1, 1, m, strlen(m), NULL, 0);
		if (w == 9)
			break;
	}
	kb_end(&k);
	kb_emit(&k);

	/* LZF key and value (compression_mode=1) */
	v = filled(40, 3);
	memset(v + 10, 'z', 30);
	kb_begin(g, &k, 0, ENC_T_STRING, "x", 1, NOOPT);
	k.s[0].b.len = 0;
	free(k.key);
	k.key = strdup("lzf-key-lzf-key-lzf-key-lzf-key-lzf-key!");
	k.klen = strlen(k.key);
	enc_u8(kb_bytes(&k), ENC_T_STRING);
	if (enc_str_lzf(kb_bytes(&k), k.key, k.klen) != 0)
		errx(1, "lzf key did not compress");
	if (enc_str_lzf(kb_bytes(&k), v, 40) != 0)
		errx(1, "lzf value did not compress");
	kb_keyline(&k, -1, 0);
	kb_item(&k, 0, -1, 1, v, 40, NULL, 0);
	kb_end(&k);
	kb_emit(&k);
	free(v);

	/* single-entry rule on a long, compressible value */
	v = filled(5000, 4);
	memset(v + 100, '-', 4000);
	kb_begin(g, &k, 0, ENC_T_STRING, "single-entry", 12, NOOPT);
	enc_str_single_entry(kb_bytes(&k), v, 5000);
	if (kb_bytes(&k)->p[14] != 0xC3)
		errx(1, "single-entry value was not compressed");
	kb_keyline(&k, -1, 0);
	kb_item(&k, 0, -1, 1, v, 5000, NULL, 0);
	kb_end(&k);
	kb_emit(&k);
	free(v);
	flow_end(g, 7);
	save(g, "lengths");
}

static const struct bstr lp_values[] = {
	S("0"), S("127"), S("128"), S("-1"), S("4095"), S("-4096"), S("4096"),
	S("-4097"), S("32767"), S("-32768"), S("32768"), S("8388607"),
	S("-8388608"), S("8388608"), S("2147483647"), S("-2147483648"),
	S("2147483648"), S("9223372036854775807"), S("-9223372036854775808"),
	S("9223372036854775808"), S("007"), S("+5"), S("-0"), S("1.5"), S(""),
	S("a"), S("\x00\xff\\ bin"),
	S("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"),
	S("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"),
};
#define NLPV	(sizeof(lp_values) / sizeof(lp_values[0]))

static void
c_lists(struct gen *g)
{
	struct bstr	 big[6], plain[2], one[1] = { S("solo") }, lzfel[40];
	struct qlnode	 nodes[8];
	struct kb	 k;
	char		*b[6], *pl, num[40][8];
	size_t		 sizes[6] = { 4095, 4096, 16377, 16378, 16379, 127 };
	size_t		 i;

	flow_begin(g, 9, 0);
	selectdb(g, 0);
	for (i = 0; i < 6; i++) {
		b[i] = filled(sizes[i], 10 + i);
		big[i].p = b[i];
		big[i].len = sizes[i];
	}
	pl = filled(20000, 20);
	plain[0].p = pl;
	plain[0].len = 20000;
	plain[1].p = "";
	plain[1].len = 0;
	for (i = 0; i < 40; i++) {
		snprintf(num[i], sizeof(num[i]), "el%02zu", i % 4);
		lzfel[i].p = num[i];
		lzfel[i].len = strlen(num[i]);
	}
	nodes[0] = (struct qlnode){ ENC_QL_PACKED, 0, lp_values, NLPV };
	nodes[1] = (struct qlnode){ ENC_QL_PACKED, 0, big, 6 };
	nodes[2] = (struct qlnode){ ENC_QL_PLAIN, 0, plain, 1 };
	nodes[3] = (struct qlnode){ ENC_QL_PACKED, 1, lzfel, 40 };
	nodes[4] = (struct qlnode){ ENC_QL_PLAIN, 1, plain, 1 };
	nodes[5] = (struct qlnode){ ENC_QL_PLAIN, 0, plain + 1, 1 };
	nodes[6] = (struct qlnode){ ENC_QL_PACKED, 0, one, 0 };
	nodes[7] = (struct qlnode){ ENC_QL_PACKED, 0, one, 1 };
	kb_list(g, &k, 0, "list", nodes, 8, expire(1900000000000LL));
	kb_emit(&k);
	kb_list(g, &k, 0, "small-list", nodes + 7, 1, NOOPT);
	kb_emit(&k);
	kb_list(g, &k, 0, "7", nodes + 3, 1, NOOPT);
	kb_emit(&k);
	for (i = 0; i < 6; i++)
		free(b[i]);
	free(pl);
	flow_end(g, 2);
	save(g, "lists");
}

static void
kb_intset(struct gen *g, const char *key, const int64_t *v, size_t n)
{
	struct enc	 is;
	struct kb	 k;
	int64_t		*s;
	size_t		 i, j;
	char		 num[32];

	enc_init(&is);
	enc_intset(&is, v, n);
	kb_begin(g, &k, 0, ENC_T_SET_INTSET, key, strlen(key), NOOPT);
	enc_str_plain(kb_bytes(&k), is.p, is.len);
	kb_keyline(&k, -1, n);
	/* intsets are sorted */
	s = reallocarray(NULL, n, sizeof(*s));
	memcpy(s, v, n * sizeof(*s));
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s[j - 1] > s[j]; j--) {
			int64_t t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%" PRId64, s[i]);
		kb_item(&k, 0, -1, 1, num, strlen(num), NULL, 0);
	}
	kb_end(&k);
	kb_emit(&k);
	free(s);
	enc_free(&is);
}

static void
c_sets(struct gen *g)
{
	static const struct bstr m[] = {
		S("a"), S(""), S("12"), S("-7"), S("300000"), S("\x00\x01 \xff"),
		S("member with spaces"), S("4294967296"),
	};
	static const long long exp[] = {
		-1, 0, 1, 100000000, -1, 2000000, 3, 1234567,
	};
	static const int64_t i16[] = { 5, -3, 32767, -32768, 0 };
	static const int64_t i32[] = { 70000, 1, -2147483648LL, 2147483647 };
	static const int64_t i64[] = { 1, INT64_MAX, INT64_MIN, -1 };
	struct kb	 k;

	flow_begin(g, 9, 2);
	selectdb(g, 0);
	kb_set(g, &k, 0, "set", m, NULL, 8, NOOPT);
	kb_emit(&k);
	kb_set(g, &k, 0, "set-ttl", m, exp, 8, expire(1900000000000LL));
	kb_emit(&k);
	kb_set(g, &k, 0, "42", m, NULL, 1, NOOPT);
	kb_emit(&k);
	kb_set(g, &k, 0, "empty-set", m, NULL, 0, NOOPT);
	kb_emit(&k);
	kb_intset(g, "intset16", i16, 5);
	kb_intset(g, "intset32", i32, 4);
	kb_intset(g, "intset64", i64, 4);
	kb_intset(g, "-5", i16, 1);
	flow_end(g, 3);
	save(g, "sets");
}

static void
kb_hash_lp(struct gen *g, const char *key, const struct bstr *fv, size_t n,
    int unknown_count)
{
	struct enc_lp	 lp;
	struct kb	 k;
	const uint8_t	*p;
	size_t		 i, len;

	enc_lp_init(&lp);
	for (i = 0; i < 2 * n; i++)
		enc_lp_str(&lp, fv[i].p, fv[i].len);
	p = enc_lp_finish(&lp, &len);
	if (unknown_count) {
		lp.b.p[4] = 0xff;
		lp.b.p[5] = 0xff;
	}
	kb_begin(g, &k, 0, ENC_T_HASH_LISTPACK, key, strlen(key), NOOPT);
	enc_str_plain(kb_bytes(&k), p, len);
	kb_keyline(&k, -1, unknown_count ? 0 : n);
	for (i = 0; i < n; i++)
		kb_item(&k, 0, -1, 2, fv[2 * i].p, fv[2 * i].len,
		    fv[2 * i + 1].p, fv[2 * i + 1].len);
	kb_end(&k);
	kb_emit(&k);
	enc_lp_free(&lp);
}

static void
c_hashes(struct gen *g)
{
	static const struct bstr fv[] = {
		S("f1"), S("v1"), S(""), S("empty field"), S("empty value"), S(""),
		S("1"), S("-100"), S("\xff\x00"), S("\x01\x02"),
		S("same"), S("2147483648"),
	};
	static const long long exp[] = { -1, 5, 0, 999999999, -1, 31536000 };
	struct kb	 k;
	struct bstr	 big[4];
	char		*b1, *b2;

	flow_begin(g, 9, 3);
	selectdb(g, 2);
	kb_hash(g, &k, 0, "hash", fv, NULL, 6, NOOPT);
	kb_emit(&k);
	kb_hash(g, &k, 0, "hash-ttl", fv, exp, 6, NOOPT);
	kb_emit(&k);
	kb_hash_lp(g, "hash-lp", fv, 6, 0);
	kb_hash_lp(g, "hash-lp-values", lp_values, NLPV / 2, 0);
	kb_hash_lp(g, "hash-lp-unknown-count", fv, 6, 1);
	b1 = filled(16378, 30);
	b2 = filled(16377, 31);
	big[0] = (struct bstr)S("edge-16383");
	big[1] = (struct bstr){ b1, 16378 };
	big[2] = (struct bstr)S("edge-16382");
	big[3] = (struct bstr){ b2, 16377 };
	kb_hash_lp(g, "hash-lp-backlen-edge", big, 2, 0);
	free(b1);
	free(b2);
	flow_end(g, 4);
	save(g, "hashes");
}

static void
kb_zset_lp(struct gen *g, const char *key, int type, const struct bstr *m,
    const struct bstr *sc, const double *d, size_t n)
{
	struct enc_lp	 lp;
	struct enc_zl	 zl;
	struct kb	 k;
	const uint8_t	*p;
	size_t		 i, len;

	enc_lp_init(&lp);
	enc_zl_init(&zl);
	for (i = 0; i < n; i++) {
		if (type == ENC_T_ZSET_LISTPACK) {
			enc_lp_str(&lp, m[i].p, m[i].len);
			enc_lp_str(&lp, sc[i].p, sc[i].len);
		} else {
			enc_zl_str(&zl, m[i].p, m[i].len);
			enc_zl_str(&zl, sc[i].p, sc[i].len);
		}
	}
	if (type == ENC_T_ZSET_LISTPACK)
		p = enc_lp_finish(&lp, &len);
	else
		p = enc_zl_finish(&zl, &len);
	kb_begin(g, &k, 0, type, key, strlen(key), NOOPT);
	enc_str_plain(kb_bytes(&k), p, len);
	kb_keyline(&k, -1, n);
	for (i = 0; i < n; i++)
		kb_item(&k, d[i], -1, 1, m[i].p, m[i].len, NULL, 0);
	kb_end(&k);
	kb_emit(&k);
	enc_lp_free(&lp);
	enc_zl_free(&zl);
}

static const struct bstr zm[] = {
	S("ninf"), S("neg"), S("zero"), S("tenth"), S("one"), S("7"), S(""),
	S("big"), S("pinf"),
};
static const struct bstr zs[] = {
	S("-inf"), S("-2.25"), S("0"), S("0.1"), S("1"), S("1.5"), S("3"),
	S("1e+300"), S("inf"),
};
static const double zd[] = {
	-INFINITY, -2.25, 0, 0.1, 1, 1.5, 3, 1e300, INFINITY,
};

static void
c_zsets(struct gen *g)
{
	struct kb	 k;

	flow_begin(g, 9, 0);
	selectdb(g, 0);
	kb_zset(g, &k, 0, "zset", zm, zd, 9, NOOPT);
	kb_emit(&k);
	kb_zset_lp(g, "zset-lp", ENC_T_ZSET_LISTPACK, zm, zs, zd, 9);
	kb_zset_lp(g, "-1", ENC_T_ZSET_LISTPACK, zm + 2, zs + 2, zd + 2, 1);
	flow_end(g, 5);
	save(g, "zsets");
}

/* legacy ziplist types 12 and 13 (masters <= v1.30) */
static void
c_ziplists(struct gen *g)
{
	static const struct bstr fv[] = {
		S("f"), S("v"), S("12"), S("-1"), S("big"), S("4294967296"),
		S(""), S("x"), S("i24"), S("-8388608"), S("i8"), S("-100"),
		S("i16"), S("1000"), S("i32"), S("100000000"),
	};
	struct enc_zl	 zl;
	struct kb	 k;
	const uint8_t	*p;
	size_t		 i, len;
	char		*big;

	flow_begin(g, 9, 0);
	selectdb(g, 0);
	kb_zset_lp(g, "zset-zl", ENC_T_ZSET_ZIPLIST, zm, zs, zd, 9);
	enc_zl_init(&zl);
	for (i = 0; i < 16; i++)
		enc_zl_str(&zl, fv[i].p, fv[i].len);
	big = filled(300, 40);
	enc_zl_str(&zl, "long", 4);
	enc_zl_str(&zl, big, 300);
	enc_zl_str(&zl, "after-long", 10);
	enc_zl_str(&zl, "x", 1);
	p = enc_zl_finish(&zl, &len);
	kb_begin(g, &k, 0, ENC_T_HASH_ZIPLIST, "hash-zl", 7, NOOPT);
	enc_str_plain(kb_bytes(&k), p, len);
	kb_keyline(&k, -1, 10);
	for (i = 0; i < 8; i++)
		kb_item(&k, 0, -1, 2, fv[2 * i].p, fv[2 * i].len,
		    fv[2 * i + 1].p, fv[2 * i + 1].len);
	kb_item(&k, 0, -1, 2, "long", 4, big, 300);
	kb_item(&k, 0, -1, 2, "after-long", 10, "x", 1);
	kb_end(&k);
	kb_emit(&k);
	enc_zl_free(&zl);
	free(big);
	flow_end(g, 6);
	save(g, "ziplists");
}

static const struct sentry sn1[] = {
	{ 0, 1700000000000ULL, 0, 4, { "name", "alice", "age", "30" } },
	{ ENC_STREAM_SAMEFIELDS, 1700000000000ULL, 1, 2, { "bob", "-5" } },
	{ ENC_STREAM_DELETED | ENC_STREAM_SAMEFIELDS, 1700000000001ULL, 0, 2,
	    { "gone", "1" } },
	{ 0, 1700000000002ULL, 5, 2, { "other", "" } },
};
static const struct sentry sn2[] = {
	{ ENC_STREAM_SAMEFIELDS, 1700000005000ULL, 0, 1, { "x\x00y" } },
	{ 0, 1700000005000ULL, 7, 6, { "k", "1", "", "empty", "k3", "v3" } },
	{ ENC_STREAM_DELETED, 1700000006000ULL, 0, 2, { "k", "dead" } },
};
static const struct sentry sn3[] = {
	{ ENC_STREAM_SAMEFIELDS, 1700000009000ULL, 3, 1, { "last" } },
};

static const struct snode snodes[] = {
	{ 1700000000000ULL, 0, 2, { "name", "age" }, 4, sn1 },
	{ 1700000005000ULL, 0, 1, { "v" }, 3, sn2 },
	{ 1700000009000ULL, 3, 1, { "v" }, 1, sn3 },
};

static const struct smeta smeta = {
	6, { 1700000009000ULL, 3 }, { 1700000000000ULL, 0 },
	{ 1700000006000ULL, 0 }, 8,
};

static const struct sgroup sgroups[] = {
	{ "g1", { 1700000005000ULL, 7 }, 4, 2,
	    { { 1700000000000ULL, 0 }, { 1700000005000ULL, 7 } },
	    { 1700000100000LL, 1700000200000LL }, { 1, 3 },
	    2, { "alice", "bob" }, { 1700000300000LL, 1700000400000LL },
	    { 1700000350000LL, -1 }, { 2, 0 },
	    { { { 1700000000000ULL, 0 }, { 1700000005000ULL, 7 } } } },
	{ "", { 0, 0 }, -1, 0, { { 0, 0 } }, { 0 }, { 0 }, 0, { NULL },
	    { 0 }, { 0 }, { 0 }, { { { 0, 0 } } } },
};

static void
c_streams(struct gen *g)
{
	struct kb	 k;

	flow_begin(g, 9, 1);
	selectdb(g, 0);
	kb_stream(g, &k, 0, ENC_T_STREAM_LISTPACKS_3, "stream", snodes, 3,
	    &smeta, sgroups, 2, NOOPT);
	kb_emit(&k);
	kb_stream(g, &k, 0, ENC_T_STREAM_LISTPACKS_2, "stream-v2", snodes, 3,
	    &smeta, sgroups, 2, NOOPT);
	kb_emit(&k);
	kb_stream(g, &k, 0, ENC_T_STREAM_LISTPACKS, "stream-v1", snodes, 3,
	    &smeta, sgroups, 1, expire(1800000000000LL));
	kb_emit(&k);
	kb_stream(g, &k, 0, ENC_T_STREAM_LISTPACKS_3, "empty-stream", snodes,
	    0, &(struct smeta){ 0, { 5, 5 }, { 0, 0 }, { 3, 1 }, 9 }, NULL, 0,
	    NOOPT);
	kb_emit(&k);
	flow_end(g, 8);
	save(g, "streams");
}

static void
k_json(struct gen *g, int type, const char *key, const char *json)
{
	struct kb	 k;

	kb_begin(g, &k, 0, type, key, strlen(key), NOOPT);
	enc_str(kb_bytes(&k), json, strlen(json));
	kb_keyline(&k, -1, 0);
	kb_item(&k, 0, -1, 1, json, strlen(json), NULL, 0);
	kb_end(&k);
	kb_emit(&k);
}

static void
c_json(struct gen *g)
{
	flow_begin(g, 9, 0);
	selectdb(g, 0);
	k_json(g, ENC_T_JSON, "doc", "{\"a\":[1,2,{\"b\":null}],\"s\":\"x y\"}");
	k_json(g, ENC_T_JSON, "num", "42");
	k_json(g, ENC_T_JSON, "str", "\"\\u00e9\"");
	flow_end(g, 9);
	save(g, "json");

	gen_reset(g);
	flow_begin(g, 9, 0);
	selectdb(g, 0);
	k_json(g, ENC_T_OLD_JSON, "old-doc", "{\"old\":true}");
	k_strz(g, "after", "json", NOOPT);
	flow_end(g, 9);
	save(g, "json-old");
}

/* the skipped Dragonfly types: a key and its end, nothing in between */
static void
kb_opaque_end(struct kb *k)
{
	kb_keyline(k, -1, 0);
	kb_end(k);
	kb_emit(k);
}

static void
c_probabilistic(struct gen *g)
{
	struct kb	 k;
	uint8_t		 bits[32];
	int64_t		 cms[8];
	uint32_t	 topk[16];
	size_t		 i;

	for (i = 0; i < sizeof(bits); i++)
		bits[i] = i * 37;
	for (i = 0; i < 8; i++)
		cms[i] = i * 1000 - 3;
	for (i = 0; i < 16; i++)
		topk[i] = i * 7;
	flow_begin(g, 9, 0);
	selectdb(g, 0);

	kb_begin(g, &k, 0, ENC_T_SBF, "bloom33", 7, NOOPT);
	enc_sbf_begin(kb_bytes(&k), 2.0, 0.01, 100, 200, 300, 2);
	enc_sbf_filter(kb_bytes(&k), ENC_T_SBF, 7, bits, 16, 0);
	enc_sbf_filter(kb_bytes(&k), ENC_T_SBF, 8, bits, 32, 0);
	kb_opaque_end(&k);

	kb_begin(g, &k, 0, ENC_T_SBF2, "bloom34", 7, NOOPT);
	enc_sbf_begin(kb_bytes(&k), 2.0, 0.001, 100, 200, 300, 2);
	enc_sbf_filter(kb_bytes(&k), ENC_T_SBF2, 10, bits, 32, 5);
	enc_sbf_filter(kb_bytes(&k), ENC_T_SBF2, 11, bits, 16, 16);
	kb_opaque_end(&k);

	kb_begin(g, &k, 0, ENC_T_SBF2, "bloom-empty", 11, NOOPT);
	enc_sbf_begin(kb_bytes(&k), 2.0, 0, 0, 0, 0, 0);
	kb_opaque_end(&k);

	kb_begin(g, &k, 0, ENC_T_CMS, "cms", 3, NOOPT);
	enc_cms(kb_bytes(&k), 4, 2, 123456, cms);
	kb_opaque_end(&k);

	kb_begin(g, &k, 0, ENC_T_TOPK, "topk", 4, NOOPT);
	enc_topk_begin(kb_bytes(&k), 3, 8, 2, 0.9, 2);
	enc_topk_heap(kb_bytes(&k), "hot", 3, 100);
	enc_topk_heap(kb_bytes(&k), "12", 2, 5);
	enc_topk_counters(kb_bytes(&k), topk, 16);
	kb_opaque_end(&k);

	kb_begin(g, &k, 0, ENC_T_CUCKOO, "cuckoo", 6, NOOPT);
	enc_cuckoo_begin(kb_bytes(&k), 4, 20, 1, 8, 3, 0, 2);
	enc_cuckoo_filter(kb_bytes(&k), bits, 32, 10);
	enc_cuckoo_filter(kb_bytes(&k), bits, 16, 0);
	kb_opaque_end(&k);

	k_strz(g, "after", "probabilistic", NOOPT);
	flow_end(g, 10);
	save(g, "probabilistic");
}

static void
c_versions(struct gen *g)
{
	static const struct bstr m[] = { S("a"), S("2") };
	struct kb	 k;
	char		 name[32];
	int		 v;

	for (v = 5; v <= 12; v++) {
		gen_reset(g);
		flow_begin(g, v, 0);
		selectdb(g, 0);
		k_strz(g, "k", "v", NOOPT);
		kb_set(g, &k, 0, "s", m, NULL, 2, NOOPT);
		kb_emit(&k);
		flow_end(g, v);
		snprintf(name, sizeof(name), "version-%d", v);
		save(g, name);
	}
}

static void
c_journal(struct gen *g)
{
	const char *set[] = { "SET", "foo", "bar" };
	const char *hset[] = { "HSET", "h", "f", "" };
	const char *const *cmds[3] = { set, NULL, hset };
	size_t		 argcs[3] = { 3, 0, 4 };
	char		*rep;

	flow_begin(g, 9, 0);
	selectdb(g, 0);
	k_strz(g, "before", "journal", NOOPT);
	journal1(g, 0, 0, 5, 3, "SET", "foo", "baz");
	journal(g, 0, 3, cmds, argcs, 1, 100);
	rep = filled(200, 50);
	memset(rep, 'r', 150);
	journal1(g, 1, 0, 7, 3, "SET", "lzf", rep);
	k_strz(g, "between", "journal", NOOPT);
	fullsync_end(g);
	journal1(g, 0, 3, 8, 2, "DEL", "foo");
	journal1(g, 1, 0, 9, 4, "APPEND", "k", rep, rep);
	journal(g, 0, 1, cmds + 1, argcs + 1, 0, 0);
	free(rep);
	journal_offset(g, 12345678901ULL);
	enc_eof(&g->flow);
	gline(g, "eof\n");
	save(g, "journal");
}

/* compressed blobs holding entries, SELECTDB, journal, JOURNAL_OFFSET */
static void
c_blobs(struct gen *g, enum enc_blob kind, const char *name)
{
	static const struct bstr m[] = {
		S("alpha"), S("beta"), S("gamma"), S("delta"), S("epsilon"),
	};
	char		 key[32];
	struct kb	 k;
	int		 i;

	flow_begin(g, 9, 0);
	batch_begin(g);
	selectdb(g, 0);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		k_strz(g, key, "value value value value", NOOPT);
	}
	kb_set(g, &k, 0, "set", m, NULL, 5, NOOPT);
	kb_emit(&k);
	journal1(g, 0, 0, 1, 3, "SET", "key:1", "new");
	batch_end(g, kind);
	k_strz(g, "between", "blobs", NOOPT);
	batch_begin(g);
	selectdb(g, 1);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "db1:%d", i);
		k_strz(g, key, "value value value value", expire(1900000000000LL));
	}
	fullsync_end(g);
	batch_end(g, kind);
	batch_begin(g);
	journal1(g, 0, 1, 2, 3, "SET", "db1:1", "new new new new new new");
	journal1(g, 0, 1, 3, 3, "SET", "db1:2", "new new new new new new");
	journal1(g, 0, 1, 4, 3, "SET", "db1:3", "new new new new new new");
	journal_offset(g, 4);
	batch_end(g, kind);
	enc_eof(&g->flow);
	gline(g, "eof\n");
	save(g, name);
}

static void
c_tagged(struct gen *g)
{
	struct bstr	 m[30], fv[60], el[10];
	char		 mb[30][16], vb[30][24];
	long long	 exp[30];
	double		 sc[30];
	struct qlnode	 nodes[6];
	struct kb	 s, h, z, l, x, ht, st;
	struct kopt	 o = NOOPT;
	size_t		 i;

	for (i = 0; i < 30; i++) {
		snprintf(mb[i], sizeof(mb[i]), "member-%03zu", i);
		snprintf(vb[i], sizeof(vb[i]), i % 3 ? "value-%zu" : "%zu", i);
		m[i] = (struct bstr){ mb[i], strlen(mb[i]) };
		fv[2 * i] = m[i];
		fv[2 * i + 1] = (struct bstr){ vb[i], strlen(vb[i]) };
		exp[i] = i % 2 ? -1 : (long long)i * 1000;
		sc[i] = i * 0.5 - 3;
	}
	for (i = 0; i < 10; i++)
		el[i] = m[i];
	for (i = 0; i < 6; i++)
		nodes[i] = (struct qlnode){ ENC_QL_PACKED, i == 3, el + i, 4 };
	nodes[4].container = ENC_QL_PLAIN;

	flow_begin(g, 9, 1);
	selectdb(g, 0);
	o.expire_ms = 1900000000000LL;
	o.mask = 1;
	o.flags = ENC_DF_MASK_STICKY;
	kb_set(g, &s, 1, "big-set", m, NULL, 30, o);
	kb_hash(g, &h, 2, "big-hash", fv, NULL, 30, NOOPT);
	kb_zset(g, &z, 3, "big-zset", m, sc, 30, NOOPT);
	kb_list(g, &l, 4, "big-list", nodes, 6, NOOPT);
	kb_stream(g, &x, 5, ENC_T_STREAM_LISTPACKS_3, "big-stream", snodes, 3,
	    &smeta, sgroups, 2, NOOPT);

	kb_chunk(&s, 11);
	k_strz(g, "small:1", "between chunks", NOOPT);
	kb_chunk(&h, 11);
	journal1(g, 0, 0, 10, 3, "SET", "small:1", "changed");
	kb_chunk(&z, 11);
	kb_chunk(&l, 3);
	kb_chunk(&x, 2);
	kb_chunk(&s, 10);

	batch_begin(g);
	selectdb(g, 0);
	k_strz(g, "small:2", "inside lz4 inside lz4 inside lz4", NOOPT);
	kb_chunk(&s, 10);
	kb_chunk(&h, 10);
	journal1(g, 0, 0, 11, 3, "SET", "small:2", "changed");
	batch_end(g, ENC_BLOB_LZ4);

	kb_chunk(&h, 10);
	selectdb(g, 1);
	k_strz(g, "small:db1", "db one", NOOPT);
	kb_hash(g, &ht, 6, "big-hash-ttl", fv, exp, 9, NOOPT);
	kb_set(g, &st, 4294967294u, "big-set-ttl", m, exp, 9, NOOPT);
	kb_chunk(&ht, 4);
	kb_chunk(&st, 4);
	kb_chunk(&z, 10);

	batch_begin(g);
	kb_chunk(&l, 2);
	kb_chunk(&x, 1);
	kb_chunk(&z, 10);
	selectdb(g, 1);
	k_strz(g, "small:3", "inside zstd inside zstd inside zstd", NOOPT);
	batch_end(g, ENC_BLOB_ZSTD);

	kb_chunk(&l, 2);
	kb_chunk(&x, 1);
	kb_chunk(&ht, 3);
	kb_chunk(&st, 3);
	journal1(g, 0, 1, 12, 2, "DEL", "small:db1");
	kb_chunk(&ht, 3);
	kb_chunk(&st, 3);
	if (s.next != s.n || h.next != h.n || z.next != z.n || l.next != l.n ||
	    x.next != x.n || ht.next != ht.n || st.next != st.n)
		errx(1, "c_tagged: a key was left open");
	kb_free(&s);
	kb_free(&h);
	kb_free(&z);
	kb_free(&l);
	kb_free(&x);
	kb_free(&ht);
	kb_free(&st);
	flow_end(g, 13);
	save(g, "tagged");
}

/* ------------------------------------------------------------ errors */

static uint32_t
rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* XXH32 of fewer than 16 bytes: the LZ4 frame header checksum */
static uint32_t
xxh32_short(const uint8_t *p, size_t len)
{
	const uint32_t P1 = 2654435761u, P2 = 2246822519u, P3 = 3266489917u,
	    P4 = 668265263u, P5 = 374761393u;
	uint32_t	 h = P5 + (uint32_t)len, w;

	while (len >= 4) {
		w = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
		h = rotl32(h + w * P3, 17) * P4;
		p += 4;
		len -= 4;
	}
	while (len-- > 0)
		h = rotl32(h + *p++ * P5, 11) * P1;
	h ^= h >> 15;
	h *= P2;
	h ^= h >> 13;
	h *= P3;
	h ^= h >> 16;
	return h;
}

/* a flow with a valid beginning: header, AUX, SELECTDB 0, one key */
static void
err_begin(struct gen *g)
{
	gen_reset(g);
	flow_begin(g, 9, 0);
	selectdb(g, 0);
	k_strz(g, "good", "key", NOOPT);
}

static void
err_end(struct gen *g)
{
	enc_fullsync_end(&g->flow);
	enc_journal_offset(&g->flow, 1);
	enc_eof(&g->flow);
}

/* an LZ4 blob; returns the offset of the frame in g->flow */
static size_t
lz4_blob(struct gen *g, const void *p, size_t len)
{
	size_t	 at = g->flow.len;

	if (enc_blob(&g->flow, ENC_BLOB_LZ4, p, len, 2) != 1)
		errx(1, "lz4_blob: did not compress");
	/* opcode, then a 1-, 2- or 5-byte length */
	at += 1;
	if ((g->flow.p[at] & 0xC0) == 0)
		at += 1;
	else if ((g->flow.p[at] & 0xC0) == 0x40)
		at += 2;
	else
		at += 5;
	return at;
}

static void
c_errors(struct gen *g)
{
	static const struct bstr m[] = {
		S("one"), S("two"), S("three"), S("four"), S("five"),
	};
	static const struct bstr fv[] = { S("f1"), S("v1"), S("f2"), S("v2") };
	struct enc	 pay, items;
	struct enc_lp	 lp;
	struct kb	 k;
	const uint8_t	*p;
	size_t		 i, len, at;
	char		 key[32];

	enc_init(&pay);
	enc_init(&items);

	/* a chunk payload that ends inside an element */
	err_begin(g);
	kb_set(g, &k, 1, "cut", m, NULL, 5, NOOPT);
	for (i = 0; i < 3; i++)
		enc_bytes(&pay, k.s[i].b.p, k.s[i].b.len);
	enc_tagged_chunk(&g->flow, 1, pay.p, pay.len - 2);
	enc_reset(&pay);
	enc_bytes(&pay, k.s[2].b.p + k.s[2].b.len - 2, 2);
	for (i = 3; i < k.n; i++)
		enc_bytes(&pay, k.s[i].b.p, k.s[i].b.len);
	enc_tagged_chunk(&g->flow, 1, pay.p, pay.len);
	kb_free(&k);
	err_end(g);
	save_error(g, "err-chunk-cross", "byte");

	/* EOF while a chunked key is open */
	err_begin(g);
	kb_set(g, &k, 9, "open", m, NULL, 5, NOOPT);
	kb_chunk(&k, 3);
	kb_free(&k);
	err_end(g);
	save_error(g, "err-eof-open-chunk", "byte");

	/* chunk id 0 and an empty chunk */
	err_begin(g);
	kb_set(g, &k, 0, "zero-id", m, NULL, 2, NOOPT);
	k.eid = 1;
	kb_chunk(&k, 3);
	g->flow.p[g->flow.len - k.s[0].b.len - k.s[1].b.len - k.s[2].b.len - 8] = 0;
	kb_free(&k);
	err_end(g);
	save_error(g, "err-chunk-id0", "byte");

	err_begin(g);
	enc_tagged_chunk(&g->flow, 3, "", 0);
	err_end(g);
	save_error(g, "err-chunk-len0", "byte");

	/* unknown opcode and unknown type */
	err_begin(g);
	enc_u8(&g->flow, 0xE5);
	err_end(g);
	save_error(g, "err-opcode-e5", "0xe5");

	err_begin(g);
	enc_key(&g->flow, 0x26, "k", 1);
	enc_str(&g->flow, "v", 1);
	err_end(g);
	save_error(g, "err-unknown-type", "byte");

	/* compressed blobs: bad magic, truncated frame, huge content size */
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "blob-key-%zu", i);
		enc_key(&items, ENC_T_STRING, key, strlen(key));
		enc_str(&items, "a value a value a value", 23);
	}
	err_begin(g);
	at = lz4_blob(g, items.p, items.len);
	g->flow.p[at] ^= 0x01;
	err_end(g);
	save_error(g, "err-lz4-magic", "byte");

	err_begin(g);
	enc_reset(&pay);
	at = lz4_blob(g, items.p, items.len);
	len = g->flow.len - at;
	enc_bytes(&pay, g->flow.p + at, len - 6);
	g->flow.len = 0;
	err_begin(g);
	enc_u8(&g->flow, ENC_OP_LZ4_BLOB);
	enc_str_plain(&g->flow, pay.p, pay.len);
	err_end(g);
	save_error(g, "err-lz4-truncated", "byte");

	err_begin(g);
	at = lz4_blob(g, items.p, items.len);
	p = g->flow.p + at;
	if ((p[4] & 0x08) == 0 || (xxh32_short(p + 4, 10) >> 8 & 0xff) != p[14])
		errx(1, "LZ4 frame header is not as expected");
	for (i = 0; i < 8; i++)
		g->flow.p[at + 6 + i] = (uint64_t)1 << 40 >> (8 * i);
	g->flow.p[at + 14] = xxh32_short(g->flow.p + at + 4, 10) >> 8;
	err_end(g);
	save_error(g, "err-lz4-size", "byte");

	err_begin(g);
	enc_u8(&g->flow, ENC_OP_ZSTD_BLOB);
	enc_str_plain(&g->flow, "\x28\xb5\x2f\xfe garbage garbage", 20);
	err_end(g);
	save_error(g, "err-zstd-magic", "byte");

	/* a compressed blob that ends inside an entry */
	err_begin(g);
	enc_reset(&pay);
	enc_bytes(&pay, items.p, items.len);
	enc_key(&pay, ENC_T_STRING, "half", 4);
	enc_bytes(&pay, "\x10 only part", 11);
	lz4_blob(g, pay.p, pay.len);
	err_end(g);
	save_error(g, "err-blob-mid-item", "byte");

	/* a listpack whose first backlen is wrong */
	err_begin(g);
	enc_lp_init(&lp);
	for (i = 0; i < 4; i++)
		enc_lp_str(&lp, fv[i].p, fv[i].len);
	p = enc_lp_finish(&lp, &len);
	lp.b.p[9] = 0x05;
	enc_key(&g->flow, ENC_T_HASH_LISTPACK, "bad-backlen", 11);
	enc_str_plain(&g->flow, p, len);
	enc_lp_free(&lp);
	err_end(g);
	save_error(g, "err-backlen", "byte");

	/* the input ends inside a key */
	err_begin(g);
	enc_key(&g->flow, ENC_T_STRING, "cut-off", 7);
	enc_len(&g->flow, 10);
	enc_bytes(&g->flow, "abc", 3);
	save_error(g, "err-truncated", "truncated");

	enc_free(&pay);
	enc_free(&items);
}

int
main(int argc, char *argv[])
{
	struct gen	 g;

	if (argc != 2) {
		fprintf(stderr, "usage: dfgen OUTDIR\n");
		return 2;
	}
	memset(&g, 0, sizeof(g));
	g.dir = argv[1];
	enc_init(&g.flow);
	enc_init(&g.batch);
	enc_init(&g.ev);
	enc_init(&g.pev);

	gen_reset(&g);
	c_strings(&g);
	gen_reset(&g);
	c_lengths(&g);
	gen_reset(&g);
	c_lists(&g);
	gen_reset(&g);
	c_sets(&g);
	gen_reset(&g);
	c_hashes(&g);
	gen_reset(&g);
	c_zsets(&g);
	gen_reset(&g);
	c_ziplists(&g);
	gen_reset(&g);
	c_streams(&g);
	gen_reset(&g);
	c_json(&g);
	gen_reset(&g);
	c_probabilistic(&g);
	c_versions(&g);
	gen_reset(&g);
	c_journal(&g);
	gen_reset(&g);
	c_blobs(&g, ENC_BLOB_LZ4, "lz4");
	gen_reset(&g);
	c_blobs(&g, ENC_BLOB_ZSTD, "zstd");
	gen_reset(&g);
	c_tagged(&g);
	c_errors(&g);

	enc_free(&g.flow);
	enc_free(&g.batch);
	enc_free(&g.ev);
	enc_free(&g.pev);
	return 0;
}
