/*
 * rdbvalue.c - one key entry of the RDB decoder (rdb_int.h): the prefix
 * (expiry, hints), the type byte, the value header and the elements of
 * every value type but streams (rdbstream.c) and Dragonfly's skipped
 * types (dflyrdb.c): strings, length-counted lists/sets/zsets/hashes,
 * compact containers (compact.h), quicklists and module values.
 *
 * Length-counted values run a small program per element (OP_*), compact
 * containers one per group of elements (C_*).  Strings longer than a
 * piece are emitted as several RDB_EV_STR events.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "compact.h"
#include "rdb_int.h"

/* Dragonfly kMemberExpiryBase */
#define MEMBER_EXPIRY_BASE	1675209600LL

/* element fields of length-counted values */
enum { OP_END, OP_STR0, OP_STR1, OP_SDBL, OP_DBL, OP_DFEXP, OP_ABSEXP,
    OP_RELEXP };

/* element roles inside compact containers */
enum { C_STR0, C_STR1, C_SCORE, C_EXP };

static const uint8_t prog_one[] = { OP_STR0, OP_END };
static const uint8_t prog_zset[] = { OP_STR0, OP_SDBL, OP_END };
static const uint8_t prog_zset2[] = { OP_STR0, OP_DBL, OP_END };
static const uint8_t prog_hash[] = { OP_STR0, OP_STR1, OP_END };
static const uint8_t prog_hashdf[] = { OP_STR0, OP_STR1, OP_DFEXP, OP_END };
static const uint8_t prog_setdf[] = { OP_STR0, OP_DFEXP, OP_END };
static const uint8_t prog_hash22[] = { OP_ABSEXP, OP_STR0, OP_STR1, OP_END };
static const uint8_t prog_hash24[] = { OP_RELEXP, OP_STR0, OP_STR1, OP_END };

static const uint8_t cprog_one[] = { C_STR0 };
static const uint8_t cprog_pair[] = { C_STR0, C_STR1 };
static const uint8_t cprog_zset[] = { C_STR0, C_SCORE };
static const uint8_t cprog_hashex[] = { C_STR0, C_STR1, C_EXP };

/* ------------------------------------------------------------ events */

static const char *const vtype_names[] = {
	"string", "list", "set", "zset", "hash", "stream", "json", "module",
	"sbf", "cms", "topk", "cuckoo",
};

const char *
rdb_vtype_name(enum rdb_vtype vt)
{
	if ((unsigned)vt >= sizeof(vtype_names) / sizeof(vtype_names[0]))
		return "unknown";
	return vtype_names[vt];
}

static int
emit_key(struct kctx *k, struct rdb_event *ev, int next)
{
	kev(k, ev, RDB_EV_KEY);
	ev->u.k.expire_ms = k->expire_ms;
	ev->u.k.count = k->count;
	ev->u.k.type_name = k->type_name;
	k->st = next;
	return S_EV;
}

/* Emit the next piece of the current string. */
static int
emit_piece(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	size_t n;

	kev(k, ev, RDB_EV_STR);
	ev->u.str.part = k->part;
	ev->u.str.off = k->soff;
	if (k->hp != NULL) {
		n = k->hlen - k->soff;
		if (n > r->lim.piece)
			n = r->lim.piece;
		ev->u.str.p = k->hp + k->soff;
		k->soff += n;
		ev->u.str.more = k->soff < k->hlen;
	} else {
		n = k->srem < r->lim.piece ? k->srem : r->lim.piece;
		NEED(r, n);
		ev->u.str.p = (const char *)cur(r);
		adv(r, n);
		k->soff += n;
		k->srem -= n;
		ev->u.str.more = k->srem > 0;
	}
	ev->u.str.len = n;
	if (!ev->u.str.more)
		k->st = k->ret;
	return S_EV;
}

/* Begin emitting a held string (container element, integer). */
static void
start_held(struct kctx *k, int part, const char *p, size_t len, int ret)
{
	k->part = part;
	k->hp = p;
	k->hlen = len;
	k->soff = 0;
	k->ret = ret;
	k->st = K_PIECE;
}

/*
 * A plain string of up to 63 bytes that is all buffered: its one piece
 * at once, the event emit_piece() would make, without the detour.
 */
static inline int
short_str(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	const unsigned char *p = cur(r);
	size_t avail = r->s->len - r->s->pos;

	if (r->top == T_CHUNK || avail == 0 || p[0] >= 0x40 ||
	    p[0] >= avail || p[0] > r->lim.piece)
		return 0;
	kev(k, ev, RDB_EV_STR);
	ev->u.str.part = k->part;
	ev->u.str.p = (const char *)p + 1;
	ev->u.str.len = p[0];
	ev->u.str.off = 0;
	ev->u.str.more = 0;
	r->s->pos += 1 + (size_t)p[0];
	k->st = k->ret;
	return 1;
}

/* K_STR: read a string header and start emitting it. */
static int
start_str(struct rdb *r, struct kctx *k)
{
	struct strhdr h;

	if (r->top != T_CHUNK && r->s->pos < r->s->len &&
	    cur(r)[0] < 0x40) {
		k->srem = cur(r)[0];
		k->soff = 0;
		k->hp = NULL;
		r->s->pos++;
		k->st = K_PIECE;
		return S_OK;
	}
	TRY(rdb_peek_strhdr(r, &h));
	k->soff = 0;
	switch (h.kind) {
	case SH_PLAIN:
		if (chunked(r) && h.len > r->budget - h.hsz)
			return rdb_fail(r, "a string of %llu bytes crosses the "
			    "end of the tagged chunk (%zu bytes left in it)",
			    (unsigned long long)h.len, r->budget - h.hsz);
		adv(r, h.hsz);
		k->hp = NULL;
		k->srem = h.len;
		break;
	case SH_INT:
		adv(r, h.hsz);
		k->hlen = rdb_fmt_int(k->num, h.ival);
		k->hp = k->num;
		break;
	default:
		TRY(rdb_read_lzf(r, &h, &k->sbuf));
		k->hp = k->sbuf.p;
		k->hlen = h.len;
		break;
	}
	k->st = K_PIECE;
	return S_OK;
}

/* ------------------------------------------------------------ entries */

void
rdb_kctx_reset(struct kctx *k, uint32_t eid, int db, int what, int st)
{
	k->eid = eid;
	k->db = db;
	k->what = what;
	k->st = st;
	k->type = 0;
	k->vt = RDB_VT_STRING;
	k->type_name = NULL;
	k->expire_ms = -1;
	k->keyp = NULL;
	k->keylen = 0;
	k->cp = NULL;
	k->clen = 0;
	k->count = k->n = k->i = k->index = 0;
	k->score = 0;
	k->iexp = -1;
	k->hp = NULL;
	k->modname[0] = '\0';
	memset(k->c, 0, sizeof(k->c));
}

void
rdb_kctx_release(struct kctx *k)
{
	free(k->key.p);
	free(k->sbuf.p);
	free(k->cbuf.p);
	free(k->name.p);
	free(k->arena.p);
	free(k->refs);
	free(k->fv);
}

void
rdb_kctx_trim(struct kctx *k)
{
	if (k->sbuf.cap > SHRINK_ABOVE)
		rdb_shrink(&k->sbuf);
	if (k->cbuf.cap > SHRINK_ABOVE)
		rdb_shrink(&k->cbuf);
	if (k->arena.cap > SHRINK_ABOVE)
		rdb_shrink(&k->arena);
}

/* Value type and logical type of an RDB type byte; -1 if unknown. */
static int
classify(struct rdb *r, struct kctx *k, uint8_t t)
{
	static const struct {
		enum rdb_vtype	 vt;
		const char	*name;
	} map[] = {
		[0] = { RDB_VT_STRING, "string" }, [1] = { RDB_VT_LIST, "list" },
		[2] = { RDB_VT_SET, "set" }, [3] = { RDB_VT_ZSET, "zset" },
		[4] = { RDB_VT_HASH, "hash" }, [5] = { RDB_VT_ZSET, "zset" },
		[7] = { RDB_VT_MODULE, NULL }, [9] = { RDB_VT_HASH, "hash" },
		[10] = { RDB_VT_LIST, "list" }, [11] = { RDB_VT_SET, "set" },
		[12] = { RDB_VT_ZSET, "zset" }, [13] = { RDB_VT_HASH, "hash" },
		[14] = { RDB_VT_LIST, "list" }, [15] = { RDB_VT_STREAM, "stream" },
		[16] = { RDB_VT_HASH, "hash" }, [17] = { RDB_VT_ZSET, "zset" },
		[18] = { RDB_VT_LIST, "list" }, [19] = { RDB_VT_STREAM, "stream" },
		[20] = { RDB_VT_SET, "set" }, [21] = { RDB_VT_STREAM, "stream" },
		[22] = { RDB_VT_HASH, "hash" }, [23] = { RDB_VT_HASH, "hash" },
		[24] = { RDB_VT_HASH, "hash" }, [25] = { RDB_VT_HASH, "hash" },
		[30] = { RDB_VT_JSON, "ReJSON-RL" },
		[31] = { RDB_VT_HASH, "hash" }, [32] = { RDB_VT_SET, "set" },
		[33] = { RDB_VT_SBF, "MBbloom--" },
		[34] = { RDB_VT_SBF, "MBbloom--" },
		[35] = { RDB_VT_CMS, "CMSk-TYPE" },
		[36] = { RDB_VT_TOPK, "TopK-TYPE" },
		[37] = { RDB_VT_CUCKOO, "MBbloomCF" },
	};

	if (t == 6)
		return rdb_fail(r, "value type 6 (pre-GA module format) cannot "
		    "be decoded");
	if (t >= sizeof(map) / sizeof(map[0]) ||
	    (map[t].name == NULL && t != 7))
		return rdb_fail(r, "unknown value type 0x%02x", t);
	k->type = t;
	k->vt = map[t].vt;
	k->type_name = map[t].name;
	if (t == 20 && r->version < 10) {
		/* Dragonfly < 1.7 wrote JSON as type 20 (snapshot.md 6.14) */
		k->vt = RDB_VT_JSON;
		k->type_name = "ReJSON-RL";
	}
	return S_OK;
}

/* K_PREFIX: expiry, DF_MASK, LRU/LFU hints, then the type byte. */
static int
entry_prefix(struct rdb *r, struct kctx *k)
{
	uint64_t v[2];
	uint32_t flags;
	uint8_t b;

	for (;;) {
		NEED(r, 1);
		b = cur(r)[0];
		switch (b) {
		case 0xfc:
			TRY(rdb_fields(r, "18", v));
			k->expire_ms = (int64_t)v[1];
			continue;
		case 0xfd:
			TRY(rdb_fields(r, "14", v));
			k->expire_ms = (int64_t)(int32_t)v[1] * 1000;
			continue;
		case 0xdc:
			NEED(r, 5);
			flags = le32(cur(r) + 1);
			NEED(r, flags & 2 ? 9 : 5);
			adv(r, flags & 2 ? 9 : 5);
			continue;
		case 0xf8:
			TRY(rdb_fields(r, "1L", v));
			continue;
		case 0xf9:
			TRY(rdb_fields(r, "11", v));
			continue;
		}
		TRY(classify(r, k, b));
		adv(r, 1);
		k->st = K_KEY;
		return S_OK;
	}
}

/* K_HDR: the value header; emits RDB_EV_KEY when it is known. */
static int
value_header(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t v[2];

	k->loopst = K_ELEM;
	switch (k->type) {
	case 0:
	case 30:
		k->n = 1;
		k->prog = prog_one;
		return emit_key(k, ev, K_ELEM);
	case 20:
		if (k->vt == RDB_VT_JSON) {
			k->n = 1;
			k->prog = prog_one;
			return emit_key(k, ev, K_ELEM);
		}
		k->cprog = cprog_one;
		k->cw = 1;
		k->st = K_CLOAD;
		return S_OK;
	case 1:
	case 2:
		k->prog = prog_one;
		break;
	case 3:
		k->prog = prog_zset;
		break;
	case 5:
		k->prog = prog_zset2;
		break;
	case 4:
		k->prog = prog_hash;
		break;
	case 31:
		k->prog = prog_hashdf;
		break;
	case 32:
		k->prog = prog_setdf;
		break;
	case 22:
		k->prog = prog_hash22;
		break;
	case 24:
		TRY(rdb_fields(r, "8L", v));
		k->minexp = (int64_t)v[0];
		k->n = k->count = v[1];
		k->prog = prog_hash24;
		return emit_key(k, ev, K_ELEM);
	case 9:
	case 13:
	case 16:
		k->cprog = cprog_pair;
		k->cw = 2;
		k->st = K_CLOAD;
		return S_OK;
	case 10:
	case 11:
		k->cprog = cprog_one;
		k->cw = 1;
		k->st = K_CLOAD;
		return S_OK;
	case 12:
	case 17:
		k->cprog = cprog_zset;
		k->cw = 2;
		k->st = K_CLOAD;
		return S_OK;
	case 25:
		TRY(rdb_fields(r, "8", v));
		/* FALLTHROUGH */
	case 23:
		k->cprog = cprog_hashex;
		k->cw = 3;
		k->st = K_CLOAD;
		return S_OK;
	case 14:
	case 18:
		TRY(read_len(r, v));
		k->c[0] = v[0];
		k->cprog = cprog_one;
		k->cw = 1;
		return emit_key(k, ev, K_QL_NODE);
	case 15:
	case 19:
	case 21:
		TRY(read_len(r, v));
		k->c[0] = v[0];
		return emit_key(k, ev, K_ST_NODE);
	case 7:
		k->st = K_MOD_HDR;
		return S_OK;
	case 33:
	case 34:
		return emit_key(k, ev, K_SBF_HDR);
	case 35:
		return emit_key(k, ev, K_CMS_HDR);
	case 36:
		return emit_key(k, ev, K_TOPK_HDR);
	case 37:
		return emit_key(k, ev, K_CF_HDR);
	default:
		return rdb_fail(r, "unknown value type 0x%02x", k->type);
	}
	TRY(read_len(r, v));
	k->n = k->count = v[0];
	return emit_key(k, ev, K_ELEM);
}

/* K_OP: one field of an element of a length-counted value. */
static int
elem_op(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t v[1];
	const char *p;
	size_t len;
	int64_t x;
	double d;
	uint8_t n;

	switch (k->prog[k->op]) {
	case OP_END:
		k->i++;
		return emit_item(k, ev, k->loopst);
	case OP_STR0:
	case OP_STR1:
		k->part = k->prog[k->op] == OP_STR1;
		k->ret = K_OP;
		k->op++;
		if (short_str(r, k, ev))
			return S_EV;
		k->st = K_STR;
		TRY(start_str(r, k));
		return emit_piece(r, k, ev);
	case OP_SDBL:
		NEED(r, 1);
		n = cur(r)[0];
		if (n >= 253) {
			if (n == 253)
				return rdb_fail(r, "NaN score");
			d = n == 254 ? INFINITY : -INFINITY;
			adv(r, 1);
		} else {
			NEED(r, 1 + (size_t)n);
			if (rdb_parse_double((const char *)cur(r) + 1, n,
			    &d) == -1)
				return rdb_fail(r, "bad score \"%.*s\"", (int)n,
				    (const char *)cur(r) + 1);
			adv(r, 1 + (size_t)n);
		}
		k->score = d;
		break;
	case OP_DBL:
		TRY(rdb_fields(r, "8", v));
		memcpy(&d, v, sizeof(d));
		if (isnan(d))
			return rdb_fail(r, "NaN score");
		k->score = d;
		break;
	case OP_DFEXP:
		TRY(read_whole(r, 30, "member expiry", &k->sbuf, k->num, &p,
		    &len));
		if (rdb_parse_int(p, len, &x) == -1 || x < -1 ||
		    x > INT64_MAX / 1000 - MEMBER_EXPIRY_BASE)
			return rdb_fail(r, "bad member expiry \"%.*s\"",
			    (int)len, p);
		k->iexp = x == -1 ? -1 : (x + MEMBER_EXPIRY_BASE) * 1000;
		break;
	case OP_ABSEXP:
		TRY(read_len(r, v));
		k->iexp = v[0] == 0 ? -1 : (int64_t)v[0];
		break;
	case OP_RELEXP:
		TRY(read_len(r, v));
		k->iexp = v[0] == 0 ? -1 : k->minexp + (int64_t)v[0] - 1;
		break;
	}
	k->op++;
	return S_OK;
}

static int
container_open(struct rdb *r, struct kctx *k, int lp)
{
	const char *p = k->cp;
	size_t n = k->clen;
	int rc;

	switch (k->type) {
	case 9:
		rc = zm_open(&k->it, p, n);
		break;
	case 11:
		rc = is_open(&k->it, p, n);
		break;
	case 10:
	case 12:
	case 13:
	case 14:
		rc = zl_open(&k->it, p, n);
		break;
	default:
		rc = lp ? lp_open(&k->it, p, n) : zl_open(&k->it, p, n);
		break;
	}
	if (rc == -1)
		return rdb_fail(r, "%s", k->it.err);
	return S_OK;
}

/*
 * May a string that read_whole() returned be kept in place by an untagged
 * entry?  Only plain strings (LZF and integer text live in buffers the
 * next string reuses); unpin() moves them out before the input moves.  A
 * compressed blob is not replaced before the entry ends.  Tagged entries
 * outlive the chunk, so they always copy.
 */
static inline int
may_pin(const struct rdb *r, const struct kctx *k, const char *p)
{
	return k->eid == 0 && p >= (const char *)r->s->buf &&
	    p < (const char *)r->s->buf + r->s->len;
}

/* Read a whole string and keep it, in place or in b. */
static int
read_keep(struct rdb *r, struct kctx *k, const char *what, struct buf *b,
    const char **pp, size_t *lenp)
{
	const char *p;
	size_t len;

	/* an LZF string is decompressed straight into b */
	TRY(read_whole(r, r->lim.max_blob, what, b, k->num, &p, &len));
	if (p != b->p && !may_pin(r, k, p)) {
		if (rdb_bufset(b, p, len) == -1)
			return rdb_oom(r);
		p = b->p;
	}
	*pp = p;
	*lenp = len;
	return S_OK;
}

/* Load a container held whole: in place, or into k->cbuf. */
static int
load_container(struct rdb *r, struct kctx *k)
{
	return read_keep(r, k, "container", &k->cbuf, &k->cp, &k->clen);
}

/* K_CNEXT: the next element of the held container. */
static int
container_next(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	const char *p;
	size_t len;
	int64_t x;
	int rc;

	/* compact.c checks every element against the container */
	if ((rc = compact_next(&k->it, &p, &len)) == -1)
		return rdb_fail(r, "%s", k->it.err);
	if (rc == 0) {
		if (k->cop != 0)
			return rdb_fail(r, "the container ends inside an "
			    "element (%llu elements, groups of %d)",
			    (unsigned long long)k->it.index, k->cw);
		k->st = k->cdone;
		return S_OK;
	}
	switch (k->cprog[k->cop]) {
	case C_STR0:
	case C_STR1:
		if (len <= r->lim.piece) {
			/* the whole element in one piece */
			kev(k, ev, RDB_EV_STR);
			ev->u.str.part = k->cprog[k->cop] == C_STR1;
			ev->u.str.p = p;
			ev->u.str.len = len;
			ev->u.str.off = 0;
			ev->u.str.more = 0;
			k->st = K_CADV;
			return S_EV;
		}
		start_held(k, k->cprog[k->cop] == C_STR1, p, len, K_CADV);
		return emit_piece(r, k, ev);
	case C_SCORE:
		if (k->it.isint)
			k->score = (double)k->it.ival;
		else if (rdb_parse_double(p, len, &k->score) == -1)
			return rdb_fail(r, "bad score \"%.*s\"",
			    (int)(len > 40 ? 40 : len), p);
		break;
	case C_EXP:
		if (k->it.isint)
			x = k->it.ival;
		else if (rdb_parse_int(p, len, &x) == -1)
			return rdb_fail(r, "bad field expiry \"%.*s\"",
			    (int)(len > 40 ? 40 : len), p);
		k->iexp = x == 0 ? -1 : x;
		break;
	}
	k->st = K_CADV;
	return S_OK;
}

/*
 * The elements of a held container, without a trip through entry_step's
 * dispatch per event: most events of a typical file come from here.
 */
static inline int
container_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	int s;

	r->cur = k;
	for (;;) {
		if (k->st == K_CADV && container_adv(k, ev) == S_EV)
			return S_EV;
		if ((s = container_next(r, k, ev)) != S_OK)
			return s;
		if (k->st != K_CADV)
			return S_OK;
	}
}

/* ------------------------------------------------------------ modules */

static void
module_name(char *dst, uint64_t id)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	int j;

	id >>= 10;
	for (j = 8; j >= 0; j--) {
		dst[j] = set[id & 63];
		id >>= 6;
	}
	dst[9] = '\0';
}

/* Module-annotated data until the module EOF opcode (redis-rdb.md 4.7). */
static int
module_skip(struct rdb *r, struct kctx *k)
{
	uint64_t v[2];
	size_t sz;

	/* an integer opcode and its value are one atomic read */
	TRY(peek_len(r, 0, &v[0], &sz));
	if (v[0] == 1 || v[0] == 2)
		return rdb_fields(r, "LL", v);
	TRY(read_len(r, v));
	switch (v[0]) {
	case 0:
		k->st = K_END;
		return S_OK;
	case 3:
		rdb_skip_raw(k, 4, K_MOD_SKIP);
		return S_OK;
	case 4:
		rdb_skip_raw(k, 8, K_MOD_SKIP);
		return S_OK;
	case 5:
		rdb_skip_str(k, K_MOD_SKIP);
		return S_OK;
	default:
		return rdb_fail(r, "unknown module opcode %llu in module "
		    "\"%s\"", (unsigned long long)v[0], k->modname);
	}
}

/* Module values and MODULE_AUX; the other skipped types in dflyrdb.c. */
static int
skipped_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t *v = k->v;

	switch (k->st) {
	case K_MOD_HDR:
		TRY(read_len(r, v));
		module_name(k->modname, v[0]);
		if (strcmp(k->modname, "ReJSON-RL") == 0 &&
		    (v[0] & 1023) == 3) {
			k->vt = RDB_VT_JSON;
			k->type_name = "ReJSON-RL";
			return emit_key(k, ev, K_MOD_JOP);
		}
		k->type_name = k->modname;
		return emit_key(k, ev, K_MOD_SKIP);
	case K_MOD_JOP:
		TRY(read_len(r, v));
		if (v[0] != 5)
			return rdb_fail(r, "ReJSON-RL value starts with module "
			    "opcode %llu, not 5", (unsigned long long)v[0]);
		k->n = 1;
		k->prog = prog_one;
		k->loopst = K_MOD_JEND;
		k->st = K_ELEM;
		return S_OK;
	case K_MOD_JEND:
		TRY(read_len(r, v));
		if (v[0] != 0)
			return rdb_fail(r, "ReJSON-RL value ends with module "
			    "opcode %llu, not 0", (unsigned long long)v[0]);
		k->st = K_END;
		return S_OK;
	case K_MOD_SKIP:
		return module_skip(r, k);
	case K_MAUX_HDR:
		TRY(rdb_fields(r, "LLL", v));
		module_name(k->modname, v[0]);
		if (v[1] != 2)
			return rdb_fail(r, "MODULE_AUX of \"%s\": when-opcode "
			    "%llu, not 2", k->modname,
			    (unsigned long long)v[1]);
		k->st = K_MOD_SKIP;
		return S_OK;
	}
	return rdb_df_skip_step(r, k);
}

/* ------------------------------------------------------------ entry */

/*
 * Redis never stores an empty list, set, zset or hash: such a key is a
 * corrupt file (Redis's own loader only drops them when told to).
 * Dragonfly's member-TTL types may be empty once their members expired,
 * and a reader of Dragonfly streams tolerates any empty container
 * (snapshot.md 4.1): on a FLOW such a key is passed on with no item.
 */
static int
may_be_empty(const struct rdb *r, const struct kctx *k)
{
	if (r->mode == RDB_MODE_FLOW)
		return 1;
	switch (k->vt) {
	case RDB_VT_LIST:
	case RDB_VT_SET:
	case RDB_VT_ZSET:
	case RDB_VT_HASH:
		return k->type == 31 || k->type == 32;
	default:
		return 1;
	}
}

/*
 * An untagged entry's key of up to 63 plain bytes that is all buffered
 * stays where it is, as read_keep() would leave it.
 */
static inline int
short_key(struct rdb *r, struct kctx *k)
{
	const unsigned char *p = cur(r);
	size_t avail = r->s->len - r->s->pos;

	if (r->top == T_CHUNK || k->eid != 0 || avail == 0 || p[0] >= 0x40 ||
	    p[0] >= avail)
		return 0;
	k->keyp = (const char *)p + 1;
	k->keylen = p[0];
	r->s->pos += 1 + (size_t)p[0];
	return 1;
}

/* Advance the entry until it has an event, needs input, or is done. */
int
rdb_entry_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t v[1];

	r->cur = k;
	for (;;) {
		switch (k->st) {
		case K_PREFIX:
			TRY(entry_prefix(r, k));
			break;
		case K_KEY:
			if (!short_key(r, k))
				TRY(read_keep(r, k, "key", &k->key, &k->keyp,
				    &k->keylen));
			k->st = K_HDR;
			break;
		case K_HDR: {
			int s = value_header(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		case K_ELEM:
			if (k->i == k->n) {
				k->st = K_END;
				break;
			}
			k->op = 0;
			k->st = K_OP;
			break;
		case K_OP: {
			int s = elem_op(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		case K_STR:
			TRY(start_str(r, k));
			break;
		case K_PIECE:
			return emit_piece(r, k, ev);
		case K_CLOAD:
			TRY(load_container(r, k));
			TRY(container_open(r, k, 1));
			k->count = k->it.count / k->cw;
			k->cop = 0;
			k->cdone = K_END;
			return emit_key(k, ev, K_CNEXT);
		case K_CNEXT: {
			int s = container_next(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		case K_CADV:
			if (container_adv(k, ev) == S_EV)
				return S_EV;
			break;
		case K_QL_NODE:
			if (k->c[0] == 0) {
				k->st = K_END;
				break;
			}
			if (k->type == 14) {
				k->st = K_QL_PACKED;
				break;
			}
			TRY(read_len(r, v));
			if (v[0] == 2) {
				k->st = K_QL_PACKED;
				break;
			}
			if (v[0] != 1)
				return rdb_fail(r, "bad quicklist container "
				    "%llu", (unsigned long long)v[0]);
			/* a PLAIN node: one element, streamed */
			k->c[0]--;
			k->n = 1;
			k->i = 0;
			k->prog = prog_one;
			k->loopst = K_QL_NODE;
			k->op = 0;
			k->st = K_OP;
			break;
		case K_QL_PACKED:
			TRY(load_container(r, k));
			TRY(container_open(r, k, k->type == 18));
			k->c[0]--;
			k->cop = 0;
			k->cdone = K_QL_NODE;
			k->st = K_CNEXT;
			break;
		case K_ST_NODE: case K_ST_LP: case K_ST_ENT: case K_ST_META:
		case K_ST_GROUP: case K_ST_GHDR: case K_ST_GSCAN:
		case K_ST_PEL: case K_ST_CONS: case K_ST_CHDR:
		case K_ST_CPEL: {
			int s = rdb_stream_step(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		case K_SKIPSTR:
		case K_SKIPRAW:
			TRY(rdb_skip_step(r, k));
			break;
		case K_END:
			if (k->what == NK_KEY && k->index == 0 &&
			    !may_be_empty(r, k))
				return rdb_fail(r, "empty %s value (type %u): "
				    "a key cannot be empty",
				    rdb_vtype_name(k->vt), k->type);
			k->st = K_DONE;
			if (k->what == NK_HNSW)
				return S_OK;
			if (k->what == NK_MODAUX) {
				ev->u.module_name.p = k->modname;
				ev->u.module_name.len = strlen(k->modname);
				return top_ev(ev, RDB_EV_MODULE_AUX);
			}
			kev(k, ev, RDB_EV_KEY_END);
			return S_EV;
		case K_DONE:
			return S_OK;
		default: {
			int s = skipped_step(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		}
	}
}

/* ------------------------------------------------------------ rdb_next */

/* The untagged entry r->k0 decodes what follows: a key, or NK_* data. */
int
rdb_start_k0(struct rdb *r, int what, int st)
{
	rdb_kctx_reset(&r->k0, 0, r->db, what, st);
	if (what == NK_KEY)
		rdb_kctx_trim(&r->k0);
	r->top = T_ENTRY;
	return S_OK;
}

/* The untagged entry is inside a held container (K_CNEXT). */
static int	next_container(struct rdb *, struct rdb_event *)
		    __attribute__((noinline));

static int
next_container(struct rdb *r, struct rdb_event *ev)
{
	struct kctx *k = &r->k0;
	int s;

	if ((s = container_step(r, k, ev)) == S_EV)
		return RDB_OK;
	if (s == S_OK && rdb_entry_step(r, k, ev) == S_EV)
		return RDB_OK;
	return rdb_next_slow(r, ev);
}

/* The untagged entry is elsewhere, or done and the next key follows. */
static int	next_entry(struct rdb *, struct rdb_event *)
		    __attribute__((noinline));

static int
next_entry(struct rdb *r, struct rdb_event *ev)
{
	struct kctx *k = &r->k0;

	if (k->st == K_DONE) {
		/* the next key's type byte right after, as top_item() would
		   find it: no expiry, no hints, not at a blob's end */
		if (r->s->pos == r->s->len || cur(r)[0] >= 0x40)
			return rdb_next_slow(r, ev);
		rdb_start_k0(r, NK_KEY, K_PREFIX);
	}
	if (rdb_entry_step(r, k, ev) == S_EV)
		return RDB_OK;
	return rdb_next_slow(r, ev);
}

/*
 * Most events come from an untagged entry, and most of those from a held
 * container: an item that completes a group of elements is emitted here
 * without a call, everything else is a tail call.
 */
int
rdb_next(struct rdb *r, struct rdb_event *ev)
{
	struct kctx *k = &r->k0;

	if (r->top != T_ENTRY || r->err.kind != ERR_NONE)
		return rdb_next_slow(r, ev);
	if (k->st == K_CADV) {
		if (container_adv(k, ev) == S_EV)
			return RDB_OK;
		return next_container(r, ev);
	}
	if (k->st == K_CNEXT)
		return next_container(r, ev);
	return next_entry(r, ev);
}
