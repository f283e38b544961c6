/*
 * rdb.c - streaming, sans-I/O decoder for Redis RDB files and for the
 * Dragonfly snapshot dialect of a replication FLOW (redis-rdb.md,
 * snapshot.md).
 *
 * The decoder is a resumable state machine.  Every state either emits an
 * event without reading, or reads one small "atomic" token (an opcode, a
 * length, a fixed field group, a string held whole) that it only consumes
 * once all of its bytes are present; otherwise it returns and resumes in
 * the same state after the next rdb_feed().  Large strings are streamed in
 * pieces of exactly min(piece, remaining) bytes, so the events depend only
 * on the input bytes and the piece size, never on how the input was split.
 *
 * Bytes come from one of two sources: the outer input, or the decompressed
 * content of an LZ4/ZSTD blob (held whole, so running short in it is an
 * error).  A key entry is decoded by a per-entry context (struct kctx);
 * untagged entries use r->k0, Dragonfly's tagged chunks (opcode 224) each
 * get their own context that survives between chunks, and a chunk's
 * payload length is a budget that no read may cross.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zstd.h>

#include "compact.h"
#include "crc64.h"
#include "lzf.h"
#include "bytes.h"
#include "rdb.h"

#define DEFAULT_PIECE		(64 * 1024)
#define DEFAULT_MAX_BLOB	(256 * 1024 * 1024)
#define MAX_OPEN_CHUNKS		4096
#define MEMBER_EXPIRY_BASE	1675209600LL	/* Dragonfly kMemberExpiryBase */
#define SHRINK_ABOVE		(1024 * 1024)

/* results of the internal steps */
#define S_OK		0	/* progress, go on */
#define S_EV		1	/* *ev holds an event */
#define S_AGAIN		2	/* the outer input is short */
#define S_SUSP		3	/* the tagged chunk's budget is used up */
#define S_ERR		4

/* top-level states */
enum {
	T_MAGIC, T_ITEM, T_ENTRY, T_CHUNK, T_AUXNAME, T_AUXVAL, T_FUNC,
	T_JBLOB, T_CBLOB, T_CRC, T_DONE,
};

/* per-entry states */
enum {
	K_PREFIX, K_KEY, K_HDR, K_ELEM, K_OP, K_STR, K_PIECE, K_CLOAD,
	K_CNEXT, K_CADV, K_QL_NODE, K_QL_PACKED, K_ST_NODE, K_ST_LP,
	K_ST_ENT, K_ST_META, K_ST_GROUP, K_ST_GHDR, K_ST_GSCAN, K_ST_PEL,
	K_ST_CONS, K_ST_CHDR, K_ST_CPEL, K_MOD_HDR, K_MOD_JOP, K_MOD_JEND,
	K_MOD_SKIP, K_MAUX_HDR, K_SKIPSTR, K_SKIPRAW, K_SBF_HDR, K_SBF_FLT,
	K_SBF_CHUNK, K_CMS_HDR, K_TOPK_HDR, K_TOPK_HEAP, K_TOPK_CNT,
	K_TOPK_CTR, K_CF_HDR, K_CF_FLT, K_CF_CHUNK, K_HV_HDR, K_HV_NODE,
	K_HV_LEVEL, K_HD_HDR, K_HD_DOC, K_HD_DOCID, K_END, K_DONE,
};

/* element fields of length-counted values */
enum { OP_END, OP_STR0, OP_STR1, OP_SDBL, OP_DBL, OP_DFEXP, OP_ABSEXP,
    OP_RELEXP };

/* element roles inside compact containers */
enum { C_STR0, C_STR1, C_SCORE, C_EXP };

/* what a kctx that is not a key decodes */
enum { NK_KEY, NK_MODAUX, NK_HNSW };

struct buf {
	char		*p;
	size_t		 len, cap;
};

struct src {
	unsigned char	*buf;
	size_t		 pos, len, cap;
};

/* a stream field or value: in the container, or at off in the arena */
struct sref {
	const char	*p;
	size_t		 off, len;
};

struct kctx {
	uint32_t	 eid;
	int		 db;
	int		 st, ret;	/* state, state after a string/skip */
	int		 what;		/* NK_* */
	uint8_t		 type;
	enum rdb_vtype	 vt;
	const char	*type_name;
	int64_t		 expire_ms;
	/* the key and a held container: in the input when it lies there
	   whole (see unpin()), else in the owned buffers key and cbuf */
	const char	*keyp;
	size_t		 keylen;
	struct buf	 key;
	uint64_t	 count;
	uint64_t	 n, i;		/* elements announced, done */
	uint64_t	 index;		/* items emitted */
	const uint8_t	*prog;		/* OP_* per element */
	int		 op;
	int		 loopst;	/* state after an item */
	int64_t		 minexp;	/* type 24 base */
	double		 score;
	int64_t		 iexp;
	int		 part;
	/* the string being emitted: held (hp) or streamed from the input */
	const char	*hp;
	size_t		 hlen;
	uint64_t	 soff, srem;
	char		 num[24];
	struct buf	 sbuf;		/* LZF-decoded string */
	/* compact container */
	const char	*cp;
	size_t		 clen;
	struct buf	 cbuf;
	struct compact_it it;
	const uint8_t	*cprog;
	int		 cw, cop;
	int		 cdone;		/* state when the container ends */
	/* counters of nested loops (nodes, groups, consumers, ...) */
	uint64_t	 c[6];
	uint64_t	 v[12];
	char		 modname[10];
	/* streams */
	struct rdb_stream_id node;
	struct buf	 name;
	struct buf	 arena;
	struct sref	*refs;
	size_t		 nrefs, caprefs, nmaster;
	struct rdb_str	*fv;
	size_t		 capfv;
	size_t		 scan;
};

struct rdb {
	enum rdb_mode	 mode;
	struct rdb_limits lim;
	int		 version;
	int		 top;
	int		 failed;
	struct src	 in;
	uint64_t	 in_base;	/* outer offset of in.buf[0] */
	struct src	 blob;
	struct src	*s;
	uint64_t	 blob_off;	/* outer offset of the blob's opcode */
	int		 blob_zstd;	/* the blob being read is zstd */
	size_t		 budget;
	uint64_t	 crc;
	size_t		 crc_pos;
	int		 crc_on;
	int		 db;
	struct kctx	 k0;
	struct kctx	*cur;		/* the entry being decoded */
	struct kctx	*chunk;		/* entry fed by the current chunk */
	struct kctx	**open;
	size_t		 nopen, capopen;
	struct kctx	**spare;
	size_t		 nspare, capspare;
	struct buf	 aname;
	struct buf	 sbuf;
	char		 num[24];
	uint64_t	 nrec;
	LZ4F_dctx	*lz4;
	ZSTD_DCtx	*zstd;
	char		 err[1024];
};

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

static int	fail(struct rdb *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ helpers */

static int
buf_reserve(struct buf *b, size_t n)
{
	char *p;
	size_t cap;

	if (n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < n)
		cap = cap > SIZE_MAX / 2 ? n : cap * 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void
buf_shrink(struct buf *b)
{
	if (b->cap > SHRINK_ABOVE) {
		free(b->p);
		b->p = NULL;
		b->cap = b->len = 0;
	}
}

static size_t
fmt_int(char *dst, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t n = 0, i = 0;

	do {
		tmp[n++] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		dst[i++] = '-';
	while (n)
		dst[i++] = tmp[--n];
	dst[i] = '\0';
	return i;
}

/* Size of the length encoding that starts with b; 0 if it is none. */
static size_t
len_size(unsigned char b)
{
	switch (b >> 6) {
	case 0:
		return 1;
	case 1:
		return 2;
	case 2:
		if (b == 0x80)
			return 5;
		if (b == 0x81)
			return 9;
		return 0;
	default:
		return 0;
	}
}

static uint64_t
len_value(const unsigned char *p)
{
	switch (p[0] >> 6) {
	case 0:
		return p[0] & 0x3f;
	case 1:
		return (uint64_t)(p[0] & 0x3f) << 8 | p[1];
	default:
		if (p[0] == 0x80)
			return (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 |
			    (uint64_t)p[3] << 8 | p[4];
		return be64(p + 1);
	}
}

/*
 * Short plain decimals ("1.5", "-20", "0.25"): at most 15 digits make an
 * exact integer mantissa and at most 22 fraction digits an exact power of
 * ten, so one division is correctly rounded, as strtod() would be.
 */
static int
parse_decimal(const char *p, size_t len, double *d)
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	const char *end = p + len;
	uint64_t m = 0;
	int neg = 0, ndig = 0, nfrac = -1;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9') {
			m = m * 10 + (*p - '0');
			ndig++;
			if (nfrac >= 0)
				nfrac++;
		} else if (*p == '.' && nfrac < 0)
			nfrac = 0;
		else
			return -1;
	}
	if (ndig == 0 || ndig > 15)
		return -1;
	*d = (double)m;
	if (nfrac > 0)
		*d /= pow10[nfrac];
	if (neg)
		*d = -*d;
	return 0;
}

static int
parse_double(const char *p, size_t len, double *d)
{
	char tmp[128], *end;

	if (parse_decimal(p, len, d) == 0)
		return 0;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	errno = 0;
	*d = strtod(tmp, &end);
	if (end != tmp + len || isnan(*d))
		return -1;
	return 0;
}

static int
parse_int(const char *p, size_t len, int64_t *v)
{
	char tmp[32], *end;
	long long x;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	errno = 0;
	x = strtoll(tmp, &end, 10);
	if (end != tmp + len || errno != 0)
		return -1;
	*v = x;
	return 0;
}

/* ------------------------------------------------------------ errors */

static void
quote(char *dst, size_t cap, const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = p[i];

		if (i == 64) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = c;
		else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

static int
fail(struct rdb *r, const char *fmt, ...)
{
	char msg[256], where[96], key[400];
	struct kctx *k = r->cur;
	va_list ap;

	if (r->failed)
		return S_ERR;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->s == &r->blob)
		snprintf(where, sizeof(where), "byte %llu (offset %zu in the "
		    "compressed blob)", (unsigned long long)r->blob_off,
		    r->blob.pos);
	else
		snprintf(where, sizeof(where), "byte %llu",
		    (unsigned long long)(r->in_base + r->in.pos));
	key[0] = '\0';
	if (k != NULL && k->what == NK_KEY && k->st > K_KEY) {
		char q[280];

		quote(q, sizeof(q), k->keyp, k->keylen);
		if (k->eid)
			snprintf(key, sizeof(key), " while decoding key \"%s\" "
			    "(tagged chunk stream %u)", q, k->eid);
		else
			snprintf(key, sizeof(key), " while decoding key \"%s\"",
			    q);
	} else if (k != NULL && k->eid)
		snprintf(key, sizeof(key), " (tagged chunk stream %u)", k->eid);
	snprintf(r->err, sizeof(r->err), "%s: %s%s", where, msg, key);
	r->failed = 1;
	return S_ERR;
}

static int
oom(struct rdb *r)
{
	return fail(r, "out of memory");
}

/* ------------------------------------------------------------ input */

static inline const unsigned char *
cur(const struct rdb *r)
{
	return r->s->buf + r->s->pos;
}

static inline int
chunked(const struct rdb *r)
{
	return r->top == T_CHUNK;
}

static inline void
adv(struct rdb *r, size_t n)
{
	r->s->pos += n;
	if (chunked(r))
		r->budget -= n;
}

static int	need_slow(struct rdb *, size_t);

/* Are n bytes readable now?  S_OK, S_AGAIN, S_SUSP or S_ERR. */
static inline int
need(struct rdb *r, size_t n)
{
	if (r->top != T_CHUNK && r->s->len - r->s->pos >= n)
		return S_OK;
	return need_slow(r, n);
}

static int
need_slow(struct rdb *r, size_t n)
{
	if (n == 0)
		return S_OK;
	if (chunked(r)) {
		if (r->budget == 0)
			return S_SUSP;
		if (n > r->budget)
			return fail(r, "a read of %zu bytes crosses the end of "
			    "the tagged chunk (%zu bytes left in it)", n,
			    r->budget);
	}
	if (r->s->len - r->s->pos >= n)
		return S_OK;
	if (r->s == &r->blob)
		return fail(r, "the compressed blob ends inside an item "
		    "(%zu more bytes needed)", n - (r->s->len - r->s->pos));
	if (n > r->lim.max_blob + 64)
		return fail(r, "an item of %zu bytes exceeds the %zu-byte limit",
		    n, r->lim.max_blob);
	return S_AGAIN;
}

#define NEED(r, n) do {							\
	int need_s_ = need((r), (n));					\
	if (need_s_ != S_OK)						\
		return need_s_;						\
} while (0)

#define TRY(x) do {							\
	int try_s_ = (x);						\
	if (try_s_ != S_OK)						\
		return try_s_;						\
} while (0)

static int
peek_len_slow(struct rdb *r, size_t off, uint64_t *v, size_t *sz)
{
	const unsigned char *p;

	NEED(r, off + 1);
	p = cur(r) + off;
	if ((*sz = len_size(p[0])) == 0) {
		r->s->pos += off;
		fail(r, "bad length encoding 0x%02x", p[0]);
		r->s->pos -= off;
		return S_ERR;
	}
	NEED(r, off + *sz);
	*v = len_value(cur(r) + off);
	return S_OK;
}

static inline int
peek_len(struct rdb *r, size_t off, uint64_t *v, size_t *sz)
{
	if (r->top != T_CHUNK && r->s->len - r->s->pos > off &&
	    (cur(r)[off] & 0xc0) == 0) {
		*v = cur(r)[off];
		*sz = 1;
		return S_OK;
	}
	return peek_len_slow(r, off, v, sz);
}

static inline int
read_len(struct rdb *r, uint64_t *v)
{
	size_t sz;

	TRY(peek_len(r, 0, v, &sz));
	adv(r, sz);
	return S_OK;
}

/*
 * Read a group of fixed fields atomically: L length, 1 byte, 4 u32 LE,
 * 8 u64 LE, I a 16-byte big-endian stream id (two values).
 */
static int
fields(struct rdb *r, const char *fmt, uint64_t *v)
{
	size_t off = 0, sz;

	for (; *fmt; fmt++) {
		switch (*fmt) {
		case 'L':
			TRY(peek_len(r, off, v++, &sz));
			off += sz;
			break;
		case '1':
			NEED(r, off + 1);
			*v++ = cur(r)[off];
			off += 1;
			break;
		case '4':
			NEED(r, off + 4);
			*v++ = le32(cur(r) + off);
			off += 4;
			break;
		case '8':
			NEED(r, off + 8);
			*v++ = le64(cur(r) + off);
			off += 8;
			break;
		case 'I':
			NEED(r, off + 16);
			*v++ = be64(cur(r) + off);
			*v++ = be64(cur(r) + off + 8);
			off += 16;
			break;
		}
	}
	adv(r, off);
	return S_OK;
}

enum { SH_PLAIN, SH_INT, SH_LZF };

struct strhdr {
	int		 kind;
	size_t		 hsz;
	uint64_t	 len;		/* plain length, LZF ulen */
	uint64_t	 clen;
	int64_t		 ival;
};

/* Parse an RDB string header without consuming it. */
static int
peek_strhdr(struct rdb *r, struct strhdr *h)
{
	const unsigned char *p;
	size_t s1, s2;

	NEED(r, 1);
	p = cur(r);
	if ((p[0] >> 6) != 3) {
		h->kind = SH_PLAIN;
		h->clen = 0;
		return peek_len(r, 0, &h->len, &h->hsz);
	}
	switch (p[0] & 0x3f) {
	case 0:
		NEED(r, 2);
		h->kind = SH_INT;
		h->hsz = 2;
		h->ival = (int8_t)cur(r)[1];
		return S_OK;
	case 1:
		NEED(r, 3);
		h->kind = SH_INT;
		h->hsz = 3;
		h->ival = (int16_t)(cur(r)[1] | cur(r)[2] << 8);
		return S_OK;
	case 2:
		NEED(r, 5);
		h->kind = SH_INT;
		h->hsz = 5;
		h->ival = (int32_t)le32(cur(r) + 1);
		return S_OK;
	case 3:
		h->kind = SH_LZF;
		TRY(peek_len(r, 1, &h->clen, &s1));
		TRY(peek_len(r, 1 + s1, &h->len, &s2));
		h->hsz = 1 + s1 + s2;
		if (h->clen == 0 || h->len == 0)
			return fail(r, "LZF string with compressed length %llu "
			    "and length %llu", (unsigned long long)h->clen,
			    (unsigned long long)h->len);
		if (h->len > r->lim.max_blob || h->clen > r->lim.max_blob)
			return fail(r, "LZF string of %llu bytes exceeds the "
			    "%zu-byte limit", (unsigned long long)h->len,
			    r->lim.max_blob);
		return S_OK;
	default:
		return fail(r, "unknown string encoding 0x%02x", p[0]);
	}
}

/*
 * Read a whole RDB string of at most cap bytes.  The result points into
 * the input, into num (integers) or into b (LZF); it is valid until the
 * input moves, so callers that keep it across returns copy it.
 */
static int
read_whole_slow(struct rdb *r, size_t cap, const char *what, struct buf *b,
    char *num, const char **pp, size_t *lenp)
{
	struct strhdr h;
	const unsigned char *p;

	TRY(peek_strhdr(r, &h));
	switch (h.kind) {
	case SH_INT:
		adv(r, h.hsz);
		*lenp = fmt_int(num, h.ival);
		*pp = num;
		return S_OK;
	case SH_PLAIN:
		if (h.len > cap)
			return fail(r, "%s of %llu bytes exceeds the %zu-byte "
			    "limit", what, (unsigned long long)h.len, cap);
		NEED(r, h.hsz + h.len);
		*pp = (const char *)cur(r) + h.hsz;
		*lenp = h.len;
		adv(r, h.hsz + h.len);
		return S_OK;
	default:
		if (h.len > cap)
			return fail(r, "%s of %llu bytes exceeds the %zu-byte "
			    "limit", what, (unsigned long long)h.len, cap);
		NEED(r, h.hsz + h.clen);
		if (buf_reserve(b, h.len) == -1)
			return oom(r);
		p = cur(r);
		if (lzf_decompress(p + h.hsz, h.clen, b->p, h.len) == -1)
			return fail(r, "corrupt LZF string (%llu bytes "
			    "compressed, %llu expected)",
			    (unsigned long long)h.clen,
			    (unsigned long long)h.len);
		b->len = h.len;
		*pp = b->p;
		*lenp = h.len;
		adv(r, h.hsz + h.clen);
		return S_OK;
	}
}

/* The common case inline: a short plain string that is all buffered. */
static inline int
read_whole(struct rdb *r, size_t cap, const char *what, struct buf *b,
    char *num, const char **pp, size_t *lenp)
{
	const unsigned char *p;
	size_t avail = r->s->len - r->s->pos, n;

	if (r->top != T_CHUNK && avail > 1) {
		p = cur(r);
		if (p[0] < 0x40 && p[0] < avail && p[0] <= cap) {
			*pp = (const char *)p + 1;
			*lenp = p[0];
			r->s->pos += 1 + (size_t)p[0];
			return S_OK;
		}
		n = (size_t)(p[0] & 0x3f) << 8 | p[1];
		if ((p[0] & 0xc0) == 0x40 && n < avail - 1 && n <= cap) {
			*pp = (const char *)p + 2;
			*lenp = n;
			r->s->pos += 2 + n;
			return S_OK;
		}
	}
	return read_whole_slow(r, cap, what, b, num, pp, lenp);
}

/* Read a whole string and keep a copy in dst. */
static int
read_copy(struct rdb *r, struct kctx *k, size_t cap, const char *what,
    struct buf *dst)
{
	const char *p;
	size_t len;

	TRY(read_whole(r, cap, what, &k->sbuf, k->num, &p, &len));
	if (buf_reserve(dst, len + 1) == -1)
		return oom(r);
	memcpy(dst->p, p, len);
	dst->p[len] = '\0';
	dst->len = len;
	return S_OK;
}

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

static void
kev(struct kctx *k, struct rdb_event *ev, enum rdb_ev_type type)
{
	ev->type = type;
	ev->eid = k->eid;
	ev->db = k->db;
	ev->key.p = k->keyp;
	ev->key.len = k->keylen;
	ev->vtype = k->vt;
	ev->enc = k->type;
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

static int
emit_item(struct kctx *k, struct rdb_event *ev, int next)
{
	kev(k, ev, RDB_EV_ITEM);
	ev->u.item.index = k->index++;
	ev->u.item.score = k->vt == RDB_VT_ZSET ? k->score : 0;
	ev->u.item.expire_ms = k->iexp;
	k->score = 0;
	k->iexp = -1;
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
	TRY(peek_strhdr(r, &h));
	k->soff = 0;
	switch (h.kind) {
	case SH_PLAIN:
		if (chunked(r) && h.len > r->budget - h.hsz)
			return fail(r, "a string of %llu bytes crosses the end "
			    "of the tagged chunk (%zu bytes left in it)",
			    (unsigned long long)h.len, r->budget - h.hsz);
		adv(r, h.hsz);
		k->hp = NULL;
		k->srem = h.len;
		break;
	case SH_INT:
		adv(r, h.hsz);
		k->hlen = fmt_int(k->num, h.ival);
		k->hp = k->num;
		break;
	default:
		NEED(r, h.hsz + h.clen);
		if (buf_reserve(&k->sbuf, h.len) == -1)
			return oom(r);
		if (lzf_decompress(cur(r) + h.hsz, h.clen, k->sbuf.p,
		    h.len) == -1)
			return fail(r, "corrupt LZF string (%llu bytes "
			    "compressed, %llu expected)",
			    (unsigned long long)h.clen,
			    (unsigned long long)h.len);
		adv(r, h.hsz + h.clen);
		k->hp = k->sbuf.p;
		k->hlen = h.len;
		break;
	}
	k->st = K_PIECE;
	return S_OK;
}

/* ------------------------------------------------------------ entries */

static void
kctx_reset(struct kctx *k, uint32_t eid, int db, int what, int st)
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

static void
kctx_release(struct kctx *k)
{
	free(k->key.p);
	free(k->sbuf.p);
	free(k->cbuf.p);
	free(k->name.p);
	free(k->arena.p);
	free(k->refs);
	free(k->fv);
}

static inline void
kctx_trim(struct kctx *k)
{
	if (k->sbuf.cap > SHRINK_ABOVE)
		buf_shrink(&k->sbuf);
	if (k->cbuf.cap > SHRINK_ABOVE)
		buf_shrink(&k->cbuf);
	if (k->arena.cap > SHRINK_ABOVE)
		buf_shrink(&k->arena);
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
		return fail(r, "value type 6 (pre-GA module format) cannot be "
		    "decoded");
	if (t >= sizeof(map) / sizeof(map[0]) ||
	    (map[t].name == NULL && t != 7))
		return fail(r, "unknown value type 0x%02x", t);
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
			TRY(fields(r, "18", v));
			k->expire_ms = (int64_t)v[1];
			continue;
		case 0xfd:
			TRY(fields(r, "14", v));
			k->expire_ms = (int64_t)(int32_t)v[1] * 1000;
			continue;
		case 0xdc:
			NEED(r, 5);
			flags = le32(cur(r) + 1);
			NEED(r, flags & 2 ? 9 : 5);
			adv(r, flags & 2 ? 9 : 5);
			continue;
		case 0xf8:
			TRY(fields(r, "1L", v));
			continue;
		case 0xf9:
			TRY(fields(r, "11", v));
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
		TRY(fields(r, "8L", v));
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
		TRY(fields(r, "8", v));
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
		return fail(r, "unknown value type 0x%02x", k->type);
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
				return fail(r, "NaN score");
			d = n == 254 ? INFINITY : -INFINITY;
			adv(r, 1);
		} else {
			NEED(r, 1 + (size_t)n);
			if (parse_double((const char *)cur(r) + 1, n, &d) == -1)
				return fail(r, "bad score \"%.*s\"", (int)n,
				    (const char *)cur(r) + 1);
			adv(r, 1 + (size_t)n);
		}
		k->score = d;
		break;
	case OP_DBL:
		TRY(fields(r, "8", v));
		memcpy(&d, v, sizeof(d));
		if (isnan(d))
			return fail(r, "NaN score");
		k->score = d;
		break;
	case OP_DFEXP:
		TRY(read_whole(r, 30, "member expiry", &k->sbuf, k->num, &p,
		    &len));
		if (parse_int(p, len, &x) == -1 || x < -1 ||
		    x > INT64_MAX / 1000 - MEMBER_EXPIRY_BASE)
			return fail(r, "bad member expiry \"%.*s\"", (int)len, p);
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
		return fail(r, "%s", k->it.err);
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
		if (buf_reserve(b, len + 1) == -1)
			return oom(r);
		memcpy(b->p, p, len);
		b->p[len] = '\0';
		b->len = len;
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
		return fail(r, "%s", k->it.err);
	if (rc == 0) {
		if (k->cop != 0)
			return fail(r, "the container ends inside an element "
			    "(%llu elements, groups of %d)",
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
		else if (parse_double(p, len, &k->score) == -1)
			return fail(r, "bad score \"%.*s\"", (int)(len > 40 ?
			    40 : len), p);
		break;
	case C_EXP:
		if (k->it.isint)
			x = k->it.ival;
		else if (parse_int(p, len, &x) == -1)
			return fail(r, "bad field expiry \"%.*s\"",
			    (int)(len > 40 ? 40 : len), p);
		k->iexp = x == 0 ? -1 : x;
		break;
	}
	k->st = K_CADV;
	return S_OK;
}

static inline int
container_adv(struct kctx *k, struct rdb_event *ev)
{
	if (++k->cop < k->cw) {
		k->st = K_CNEXT;
		return S_OK;
	}
	k->cop = 0;
	return emit_item(k, ev, K_CNEXT);
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

/* ------------------------------------------------------------ streams */

static int
arena_ref(struct rdb *r, struct kctx *k, const char *p, size_t len, int isint)
{
	struct sref *s;

	if (k->nrefs == k->caprefs) {
		size_t cap = k->caprefs ? k->caprefs * 2 : 32;

		if ((s = reallocarray(k->refs, cap, sizeof(*s))) == NULL)
			return oom(r);
		k->refs = s;
		k->caprefs = cap;
	}
	s = &k->refs[k->nrefs++];
	s->len = len;
	if (!isint) {
		s->p = p;
		return S_OK;
	}
	if (buf_reserve(&k->arena, k->arena.len + len) == -1)
		return oom(r);
	s->p = NULL;
	s->off = k->arena.len;
	memcpy(k->arena.p + k->arena.len, p, len);
	k->arena.len += len;
	return S_OK;
}

static int
lp_elem(struct rdb *r, struct kctx *k, const char **p, size_t *len)
{
	int rc;

	if ((rc = compact_next(&k->it, p, len)) == -1)
		return fail(r, "stream node: %s", k->it.err);
	if (rc == 0)
		return fail(r, "stream node listpack ends inside an entry");
	return S_OK;
}

static int
lp_int(struct rdb *r, struct kctx *k, int64_t *v)
{
	const char *p;
	size_t len;

	TRY(lp_elem(r, k, &p, &len));
	if (!k->it.isint && parse_int(p, len, v) == -1)
		return fail(r, "stream node: element %llu is not an integer",
		    (unsigned long long)k->it.index - 1);
	if (k->it.isint)
		*v = k->it.ival;
	return S_OK;
}

/* Open a node listpack and read its master entry. */
static int
stream_node_open(struct rdb *r, struct kctx *k)
{
	int64_t count, deleted, nf, i, zero;
	const char *p;
	size_t len;

	if (lp_open(&k->it, k->cp, k->clen) == -1)
		return fail(r, "stream node: %s", k->it.err);
	k->nrefs = 0;
	k->arena.len = 0;
	TRY(lp_int(r, k, &count));
	TRY(lp_int(r, k, &deleted));
	TRY(lp_int(r, k, &nf));
	if (nf < 0 || (uint64_t)nf > k->clen)
		return fail(r, "stream node: bad master field count %lld",
		    (long long)nf);
	for (i = 0; i < nf; i++) {
		TRY(lp_elem(r, k, &p, &len));
		TRY(arena_ref(r, k, p, len, k->it.isint));
	}
	TRY(lp_int(r, k, &zero));
	if (zero != 0)
		return fail(r, "stream node: master entry not terminated by 0");
	k->nmaster = k->nrefs;
	return S_OK;
}

/* K_ST_ENT: the next live entry of the node, or the node's end. */
static int
stream_entry(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	int64_t flags, msd, seqd, nf, lpcount, i;
	const char *p;
	size_t len, j, nfields;
	int rc;

	for (;;) {
		if ((rc = compact_next(&k->it, &p, &len)) == -1)
			return fail(r, "stream node: %s", k->it.err);
		if (rc == 0) {
			k->c[0]--;
			k->st = K_ST_NODE;
			return S_OK;
		}
		if (!k->it.isint)
			return fail(r, "stream node: entry flags are not an "
			    "integer");
		flags = k->it.ival;
		k->nrefs = k->nmaster;
		TRY(lp_int(r, k, &msd));
		TRY(lp_int(r, k, &seqd));
		if (flags & 2) {
			for (j = 0; j < k->nmaster; j++) {
				TRY(arena_ref(r, k, NULL, 0, 0));
				k->refs[k->nrefs - 1] = k->refs[j];
				TRY(lp_elem(r, k, &p, &len));
				TRY(arena_ref(r, k, p, len, k->it.isint));
			}
		} else {
			TRY(lp_int(r, k, &nf));
			if (nf < 0 || (uint64_t)nf > k->clen)
				return fail(r, "stream node: bad field count "
				    "%lld", (long long)nf);
			for (i = 0; i < 2 * nf; i++) {
				TRY(lp_elem(r, k, &p, &len));
				TRY(arena_ref(r, k, p, len, k->it.isint));
			}
		}
		TRY(lp_int(r, k, &lpcount));
		if (flags & 1)
			continue;
		nfields = (k->nrefs - k->nmaster) / 2;
		if (k->capfv < 2 * nfields) {
			struct rdb_str *fv;

			if ((fv = reallocarray(k->fv, 2 * nfields,
			    sizeof(*fv))) == NULL)
				return oom(r);
			k->fv = fv;
			k->capfv = 2 * nfields;
		}
		for (j = 0; j < 2 * nfields; j++) {
			struct sref *s = &k->refs[k->nmaster + j];

			k->fv[j].p = s->p ? s->p : k->arena.p + s->off;
			k->fv[j].len = s->len;
		}
		kev(k, ev, RDB_EV_STREAM_ENTRY);
		ev->u.entry.id.ms = k->node.ms + (uint64_t)msd;
		ev->u.entry.id.seq = k->node.seq + (uint64_t)seqd;
		ev->u.entry.nfields = nfields;
		ev->u.entry.fv = k->fv;
		return S_EV;
	}
}

static int
stream_meta(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t *v = k->v;

	if (k->type == 15)
		TRY(fields(r, "LLLL", v));
	else
		TRY(fields(r, "LLLLLLLLL", v));
	kev(k, ev, RDB_EV_STREAM_META);
	ev->u.meta.length = v[0];
	ev->u.meta.last_id.ms = v[1];
	ev->u.meta.last_id.seq = v[2];
	if (k->type == 15) {
		ev->u.meta.has_v2 = 0;
		memset(&ev->u.meta.first_id, 0, sizeof(ev->u.meta.first_id));
		memset(&ev->u.meta.max_deleted_id, 0,
		    sizeof(ev->u.meta.max_deleted_id));
		ev->u.meta.entries_added = 0;
		ev->u.meta.ngroups = v[3];
	} else {
		ev->u.meta.has_v2 = 1;
		ev->u.meta.first_id.ms = v[3];
		ev->u.meta.first_id.seq = v[4];
		ev->u.meta.max_deleted_id.ms = v[5];
		ev->u.meta.max_deleted_id.seq = v[6];
		ev->u.meta.entries_added = v[7];
		ev->u.meta.ngroups = v[8];
	}
	k->c[1] = ev->u.meta.ngroups;
	k->st = K_ST_GROUP;
	return S_EV;
}

/*
 * K_ST_GSCAN: the group event carries the consumer count, which follows
 * the group's PEL; look ahead over the PEL without consuming it.
 */
static int
stream_gscan(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t nc;
	size_t sz;

	while (k->c[3] < k->v[3]) {
		NEED(r, k->scan + 25);
		if ((sz = len_size(cur(r)[k->scan + 24])) == 0)
			return fail(r, "bad length encoding in a PEL entry");
		k->scan += 24 + sz;
		k->c[3]++;
	}
	TRY(peek_len(r, k->scan, &nc, &sz));
	kev(k, ev, RDB_EV_STREAM_GROUP);
	ev->u.group.name.p = k->name.p;
	ev->u.group.name.len = k->name.len;
	ev->u.group.last_id.ms = k->v[0];
	ev->u.group.last_id.seq = k->v[1];
	ev->u.group.entries_read = (int64_t)k->v[2];
	ev->u.group.npel = k->v[3];
	ev->u.group.nconsumers = nc;
	k->c[2] = k->v[3];
	k->st = K_ST_PEL;
	return S_EV;
}

static int
stream_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t v[4];

	switch (k->st) {
	case K_ST_NODE:
		if (k->c[0] == 0) {
			k->st = K_ST_META;
			return S_OK;
		}
		TRY(read_copy(r, k, 16, "stream node key", &k->name));
		if (k->name.len != 16)
			return fail(r, "stream node key of %zu bytes, not 16",
			    k->name.len);
		k->node.ms = be64((unsigned char *)k->name.p);
		k->node.seq = be64((unsigned char *)k->name.p + 8);
		k->st = K_ST_LP;
		return S_OK;
	case K_ST_LP:
		/* entries point into the node: it must not move */
		TRY(read_copy(r, k, r->lim.max_blob, "container", &k->cbuf));
		k->cp = k->cbuf.p;
		k->clen = k->cbuf.len;
		TRY(stream_node_open(r, k));
		k->st = K_ST_ENT;
		return S_OK;
	case K_ST_ENT:
		return stream_entry(r, k, ev);
	case K_ST_META:
		return stream_meta(r, k, ev);
	case K_ST_GROUP:
		if (k->c[1] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(read_copy(r, k, r->lim.max_blob, "group name", &k->name));
		k->st = K_ST_GHDR;
		return S_OK;
	case K_ST_GHDR:
		if (k->type == 15) {
			TRY(fields(r, "LLL", v));
			k->v[0] = v[0];
			k->v[1] = v[1];
			k->v[2] = (uint64_t)-1;
			k->v[3] = v[2];
		} else
			TRY(fields(r, "LLLL", k->v));
		k->scan = 0;
		k->c[3] = 0;
		k->st = K_ST_GSCAN;
		return S_OK;
	case K_ST_GSCAN:
		return stream_gscan(r, k, ev);
	case K_ST_PEL:
		if (k->c[2] == 0) {
			TRY(read_len(r, v));
			k->c[4] = v[0];
			k->st = K_ST_CONS;
			return S_OK;
		}
		TRY(fields(r, "I8L", v));
		k->c[2]--;
		kev(k, ev, RDB_EV_STREAM_PEL);
		ev->u.pel.id.ms = v[0];
		ev->u.pel.id.seq = v[1];
		ev->u.pel.delivery_ms = (int64_t)v[2];
		ev->u.pel.delivery_count = v[3];
		return S_EV;
	case K_ST_CONS:
		if (k->c[4] == 0) {
			k->c[1]--;
			k->st = K_ST_GROUP;
			return S_OK;
		}
		TRY(read_copy(r, k, r->lim.max_blob, "consumer name",
		    &k->name));
		k->st = K_ST_CHDR;
		return S_OK;
	case K_ST_CHDR:
		if (k->type == 21)
			TRY(fields(r, "88L", v));
		else {
			TRY(fields(r, "8L", v));
			v[2] = v[1];
			v[1] = (uint64_t)-1;
		}
		kev(k, ev, RDB_EV_STREAM_CONSUMER);
		ev->u.consumer.name.p = k->name.p;
		ev->u.consumer.name.len = k->name.len;
		ev->u.consumer.seen_ms = (int64_t)v[0];
		ev->u.consumer.active_ms = (int64_t)v[1];
		ev->u.consumer.npel = v[2];
		k->c[5] = v[2];
		k->st = K_ST_CPEL;
		return S_EV;
	case K_ST_CPEL:
		if (k->c[5] == 0) {
			k->c[4]--;
			k->st = K_ST_CONS;
			return S_OK;
		}
		TRY(fields(r, "I", v));
		k->c[5]--;
		kev(k, ev, RDB_EV_STREAM_CPEL);
		ev->u.cpel.ms = v[0];
		ev->u.cpel.seq = v[1];
		return S_EV;
	}
	return fail(r, "internal: bad stream state %d", k->st);
}

/* ------------------------------------------------------------ skipped */

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

static void
skip_raw(struct kctx *k, uint64_t n, int ret)
{
	k->srem = n;
	k->ret = ret;
	k->st = K_SKIPRAW;
}

static void
skip_str(struct kctx *k, int ret)
{
	k->ret = ret;
	k->st = K_SKIPSTR;
}

static int
skip_step(struct rdb *r, struct kctx *k)
{
	struct strhdr h;
	size_t n;

	if (k->st == K_SKIPSTR) {
		TRY(peek_strhdr(r, &h));
		adv(r, h.hsz);
		skip_raw(k, h.kind == SH_PLAIN ? h.len :
		    h.kind == SH_LZF ? h.clen : 0, k->ret);
	}
	if (chunked(r) && r->budget > 0 && k->srem > r->budget)
		return fail(r, "%llu bytes to skip cross the end of the tagged "
		    "chunk (%zu bytes left in it)",
		    (unsigned long long)k->srem, r->budget);
	while (k->srem > 0) {
		n = r->s->len - r->s->pos;
		if (chunked(r) && n > r->budget)
			n = r->budget;
		if (n > k->srem)
			n = k->srem;
		if (n == 0)
			return need(r, 1);
		adv(r, n);
		k->srem -= n;
	}
	k->st = k->ret;
	return S_OK;
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
		return fields(r, "LL", v);
	TRY(read_len(r, v));
	switch (v[0]) {
	case 0:
		k->st = K_END;
		return S_OK;
	case 3:
		skip_raw(k, 4, K_MOD_SKIP);
		return S_OK;
	case 4:
		skip_raw(k, 8, K_MOD_SKIP);
		return S_OK;
	case 5:
		skip_str(k, K_MOD_SKIP);
		return S_OK;
	default:
		return fail(r, "unknown module opcode %llu in module \"%s\"",
		    (unsigned long long)v[0], k->modname);
	}
}

static int
skipped_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t *v = k->v;
	double d;

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
			return fail(r, "ReJSON-RL value starts with module "
			    "opcode %llu, not 5", (unsigned long long)v[0]);
		k->n = 1;
		k->prog = prog_one;
		k->loopst = K_MOD_JEND;
		k->st = K_ELEM;
		return S_OK;
	case K_MOD_JEND:
		TRY(read_len(r, v));
		if (v[0] != 0)
			return fail(r, "ReJSON-RL value ends with module opcode "
			    "%llu, not 0", (unsigned long long)v[0]);
		k->st = K_END;
		return S_OK;
	case K_MOD_SKIP:
		return module_skip(r, k);
	case K_MAUX_HDR:
		TRY(fields(r, "LLL", v));
		module_name(k->modname, v[0]);
		if (v[1] != 2)
			return fail(r, "MODULE_AUX of \"%s\": when-opcode %llu, "
			    "not 2", k->modname, (unsigned long long)v[1]);
		k->st = K_MOD_SKIP;
		return S_OK;
	case K_SBF_HDR:
		TRY(fields(r, "L88LLLL", v));
		memcpy(&d, &v[1], sizeof(d));
		if (v[0] != 0 || !isfinite(d) || d < 1.0)
			return fail(r, "bad bloom filter header");
		k->c[0] = v[6];
		k->st = K_SBF_FLT;
		return S_OK;
	case K_SBF_FLT:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		if (k->type == 33) {
			TRY(read_len(r, v));
			k->c[0]--;
			skip_str(k, K_SBF_FLT);
			return S_OK;
		}
		TRY(fields(r, "LL", v));
		k->c[0]--;
		if (v[1] == 0)
			return fail(r, "bloom filter of 0 bytes");
		k->c[1] = v[1];
		k->st = K_SBF_CHUNK;
		return S_OK;
	case K_SBF_CHUNK:
	case K_CF_CHUNK:
		if (k->c[1] == 0) {
			k->st = k->st == K_SBF_CHUNK ? K_SBF_FLT : K_CF_FLT;
			return S_OK;
		}
		TRY(read_len(r, v));
		if (v[0] == 0 || v[0] > k->c[1])
			return fail(r, "bad filter chunk of %llu bytes (%llu "
			    "left)", (unsigned long long)v[0],
			    (unsigned long long)k->c[1]);
		k->c[1] -= v[0];
		skip_raw(k, v[0], k->st);
		return S_OK;
	case K_CMS_HDR:
		TRY(fields(r, "LLL", v));
		if (v[0] == 0 || v[1] == 0 || v[0] > UINT32_MAX ||
		    v[1] > UINT32_MAX)
			return fail(r, "bad count-min sketch size %llux%llu",
			    (unsigned long long)v[0], (unsigned long long)v[1]);
		if (v[0] > UINT64_MAX / 8 / v[1])
			return fail(r, "count-min sketch too large");
		skip_raw(k, v[0] * v[1] * 8, K_END);
		return S_OK;
	case K_TOPK_HDR:
		TRY(fields(r, "LLLL8L", v));
		memcpy(&d, &v[4], sizeof(d));
		if (v[0] != 0 || v[1] == 0 || v[2] == 0 || v[3] == 0 ||
		    !isfinite(d) || d < 0 || d > 1 || v[5] > v[1])
			return fail(r, "bad top-k header");
		k->c[0] = v[5];
		k->st = K_TOPK_HEAP;
		return S_OK;
	case K_TOPK_HEAP:
		if (k->c[0] == 0) {
			skip_str(k, K_END);
			return S_OK;
		}
		k->c[0]--;
		skip_str(k, K_TOPK_CNT);
		return S_OK;
	case K_TOPK_CNT:
		TRY(read_len(r, v));
		k->st = K_TOPK_HEAP;
		return S_OK;
	case K_CF_HDR:
		TRY(fields(r, "LLLLLLL", v));
		if (v[0] == 0 || v[0] > 255 || v[6] == 0)
			return fail(r, "bad cuckoo filter header");
		k->c[0] = v[6];
		k->st = K_CF_FLT;
		return S_OK;
	case K_CF_FLT:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(read_len(r, v));
		k->c[0]--;
		if (v[0] == 0)
			return fail(r, "cuckoo filter of 0 bytes");
		k->c[1] = v[0];
		k->st = K_CF_CHUNK;
		return S_OK;
	case K_HV_HDR:
		/* the index key string was skipped before this state */
		TRY(fields(r, "LL", v));
		k->c[0] = v[1];
		k->st = K_HV_NODE;
		return S_OK;
	case K_HV_NODE:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(fields(r, "484", v));
		if (v[2] > 64)
			return fail(r, "HNSW node level %llu",
			    (unsigned long long)v[2]);
		k->c[0]--;
		k->c[1] = v[2] + 1;
		k->st = K_HV_LEVEL;
		return S_OK;
	case K_HV_LEVEL:
		if (k->c[1] == 0) {
			k->st = K_HV_NODE;
			return S_OK;
		}
		TRY(fields(r, "4", v));
		k->c[1]--;
		skip_raw(k, v[0] * 4, K_HV_LEVEL);
		return S_OK;
	case K_HD_HDR:
		TRY(read_len(r, v));
		skip_str(k, K_HD_DOC);
		k->c[0] = (uint64_t)-1;
		return S_OK;
	case K_HD_DOC:
		if (k->c[0] == (uint64_t)-1) {
			TRY(read_len(r, v));
			k->c[0] = v[0];
		}
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		k->c[0]--;
		skip_str(k, K_HD_DOCID);
		return S_OK;
	case K_HD_DOCID:
		TRY(read_len(r, v));
		k->st = K_HD_DOC;
		return S_OK;
	}
	return fail(r, "internal: bad state %d", k->st);
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
static int
entry_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
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
				return fail(r, "bad quicklist container %llu",
				    (unsigned long long)v[0]);
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
			int s = stream_step(r, k, ev);

			if (s != S_OK)
				return s;
			break;
		}
		case K_SKIPSTR:
		case K_SKIPRAW:
			TRY(skip_step(r, k));
			break;
		case K_END:
			if (k->what == NK_KEY && k->index == 0 &&
			    !may_be_empty(r, k))
				return fail(r, "empty %s value (type %u): a key "
				    "cannot be empty", rdb_vtype_name(k->vt),
				    k->type);
			k->st = K_DONE;
			if (k->what == NK_HNSW)
				return S_OK;
			if (k->what == NK_MODAUX) {
				ev->type = RDB_EV_MODULE_AUX;
				ev->eid = 0;
				ev->u.module_name.p = k->modname;
				ev->u.module_name.len = strlen(k->modname);
				return S_EV;
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

/* ------------------------------------------------------------ top level */

static struct kctx *
chunk_find(struct rdb *r, uint32_t id, size_t *slot)
{
	size_t i;

	for (i = 0; i < r->nopen; i++)
		if (r->open[i]->eid == id) {
			*slot = i;
			return r->open[i];
		}
	return NULL;
}

static int
chunk_begin(struct rdb *r, uint32_t id, size_t len)
{
	struct kctx *k, **a;
	size_t slot;

	if ((k = chunk_find(r, id, &slot)) == NULL) {
		if (r->nopen == MAX_OPEN_CHUNKS)
			return fail(r, "more than %d tagged chunk streams open",
			    MAX_OPEN_CHUNKS);
		if (r->nspare > 0)
			k = r->spare[--r->nspare];
		else if ((k = calloc(1, sizeof(*k))) == NULL)
			return oom(r);
		if (r->nopen == r->capopen) {
			size_t cap = r->capopen ? r->capopen * 2 : 8;

			if ((a = reallocarray(r->open, cap, sizeof(*a))) ==
			    NULL) {
				kctx_release(k);
				free(k);
				return oom(r);
			}
			r->open = a;
			r->capopen = cap;
		}
		r->open[r->nopen++] = k;
		kctx_reset(k, id, r->db, NK_KEY, K_PREFIX);
	}
	r->chunk = k;
	r->budget = len;
	r->top = T_CHUNK;
	return S_OK;
}

static int
chunk_close(struct rdb *r, struct kctx *k)
{
	struct kctx **a;
	size_t slot;

	if (chunk_find(r, k->eid, &slot) == NULL)
		return S_OK;
	r->open[slot] = r->open[--r->nopen];
	kctx_trim(k);
	if (r->nspare == r->capspare) {
		size_t cap = r->capspare ? r->capspare * 2 : 8;

		if ((a = reallocarray(r->spare, cap, sizeof(*a))) == NULL) {
			kctx_release(k);
			free(k);
			return S_OK;
		}
		r->spare = a;
		r->capspare = cap;
	}
	r->spare[r->nspare++] = k;
	return S_OK;
}

static void
crc_catchup(struct rdb *r)
{
	if (!r->crc_on || r->in.pos <= r->crc_pos)
		return;
	r->crc = crc64(r->crc, r->in.buf + r->crc_pos, r->in.pos - r->crc_pos);
	r->crc_pos = r->in.pos;
}

static int
read_magic(struct rdb *r)
{
	const unsigned char *p;
	int i, v = 0;

	NEED(r, 9);
	p = cur(r);
	if (memcmp(p, "REDIS", 5) != 0)
		return fail(r, "not an RDB stream: no REDIS magic");
	for (i = 5; i < 9; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(r, "bad RDB version \"%.4s\"", p + 5);
		v = v * 10 + (p[i] - '0');
	}
	if (v < (r->mode == RDB_MODE_FLOW ? 5 : 1) || v > 12)
		return fail(r, "RDB version %d is out of range (%d..12)", v,
		    r->mode == RDB_MODE_FLOW ? 5 : 1);
	r->version = v;
	adv(r, 9);
	r->top = T_ITEM;
	return S_OK;
}

static int
decompress_blob(struct rdb *r, int zstd, const unsigned char *src,
    size_t clen)
{
	unsigned long long csize;
	LZ4F_frameInfo_t fi;
	size_t hsz, rc, dsz, ssz, done;

	if (zstd) {
		csize = ZSTD_getFrameContentSize(src, clen);
		if (csize == ZSTD_CONTENTSIZE_ERROR ||
		    csize == ZSTD_CONTENTSIZE_UNKNOWN)
			return fail(r, "zstd blob without a valid frame "
			    "content size");
	} else {
		if (r->lz4 == NULL && LZ4F_isError(
		    LZ4F_createDecompressionContext(&r->lz4, LZ4F_VERSION)))
			return oom(r);
		LZ4F_resetDecompressionContext(r->lz4);
		memset(&fi, 0, sizeof(fi));
		hsz = clen;
		rc = LZ4F_getFrameInfo(r->lz4, &fi, src, &hsz);
		if (LZ4F_isError(rc))
			return fail(r, "bad LZ4 frame: %s",
			    LZ4F_getErrorName(rc));
		if (fi.contentSize == 0)
			return fail(r, "LZ4 blob without a frame content size");
		csize = fi.contentSize;
	}
	if (csize > r->lim.max_blob)
		return fail(r, "compressed blob of %llu bytes exceeds the "
		    "%zu-byte limit", csize, r->lim.max_blob);
	if (csize > r->blob.cap) {
		unsigned char *p = realloc(r->blob.buf, csize);

		if (p == NULL)
			return oom(r);
		r->blob.buf = p;
		r->blob.cap = csize;
	}
	if (zstd) {
		if (r->zstd == NULL && (r->zstd = ZSTD_createDCtx()) == NULL)
			return oom(r);
		rc = ZSTD_decompressDCtx(r->zstd, r->blob.buf, csize, src,
		    clen);
		if (ZSTD_isError(rc) || rc != csize)
			return fail(r, "corrupt zstd blob: %s", ZSTD_isError(rc) ?
			    ZSTD_getErrorName(rc) : "short content");
	} else {
		done = 0;
		src += hsz;
		clen -= hsz;
		for (;;) {
			dsz = csize - done;
			ssz = clen;
			rc = LZ4F_decompress(r->lz4, r->blob.buf + done, &dsz,
			    src, &ssz, NULL);
			if (LZ4F_isError(rc))
				return fail(r, "corrupt LZ4 blob: %s",
				    LZ4F_getErrorName(rc));
			done += dsz;
			src += ssz;
			clen -= ssz;
			if (rc == 0)
				break;
			if (dsz == 0 && ssz == 0)
				return fail(r, "truncated LZ4 blob");
		}
		if (done != csize || clen != 0)
			return fail(r, "LZ4 blob: %zu bytes decoded, %llu "
			    "announced, %zu trailing bytes", done, csize, clen);
	}
	r->blob.pos = 0;
	r->blob.len = csize;
	return S_OK;
}

static int
read_cblob(struct rdb *r, int zstd)
{
	struct strhdr h;

	TRY(peek_strhdr(r, &h));
	if (h.kind != SH_PLAIN)
		return fail(r, "compressed blob is not a plain string");
	if (h.len > r->lim.max_blob)
		return fail(r, "compressed blob of %llu bytes exceeds the "
		    "%zu-byte limit", (unsigned long long)h.len,
		    r->lim.max_blob);
	NEED(r, h.hsz + h.len);
	TRY(decompress_blob(r, zstd, cur(r) + h.hsz, h.len));
	adv(r, h.hsz + h.len);
	r->s = &r->blob;
	r->top = T_ITEM;
	return S_OK;
}

static int
start_k0(struct rdb *r, int what, int st)
{
	kctx_reset(&r->k0, 0, r->db, what, st);
	if (what == NK_KEY)
		kctx_trim(&r->k0);
	r->top = T_ENTRY;
	return S_OK;
}

static int
eof_check(struct rdb *r)
{
	char q[280];
	struct kctx *k;

	if (r->s == &r->blob)
		return fail(r, "EOF opcode inside a compressed blob");
	if (r->nopen == 0)
		return S_OK;
	k = r->open[0];
	quote(q, sizeof(q), k->keyp, k->keylen);
	return fail(r, "EOF while %zu tagged chunk stream(s) are open "
	    "(stream %u, key \"%s\")", r->nopen, k->eid, q);
}

static int
top_item(struct rdb *r, struct rdb_event *ev)
{
	uint64_t v[4];
	uint8_t op;

	if (r->s == &r->blob && r->blob.pos == r->blob.len) {
		r->s = &r->in;
		if (r->blob.cap > SHRINK_ABOVE * 4) {
			free(r->blob.buf);
			r->blob.buf = NULL;
			r->blob.cap = 0;
		}
		return S_OK;
	}
	r->cur = NULL;
	NEED(r, 1);
	op = cur(r)[0];
	switch (op) {
	case 0xfa:
		adv(r, 1);
		r->top = T_AUXNAME;
		return S_OK;
	case 0xfe:
		TRY(fields(r, "1L", v));
		if (v[1] > INT_MAX)
			return fail(r, "SELECTDB %llu is out of range",
			    (unsigned long long)v[1]);
		r->db = (int)v[1];
		ev->type = RDB_EV_DB;
		ev->eid = 0;
		ev->db = r->db;
		return S_EV;
	case 0xfb:
		return fields(r, "1LL", v);
	case 0xf4:
		return fields(r, "1LLL", v);
	case 0xf5:
		adv(r, 1);
		r->top = T_FUNC;
		return S_OK;
	case 0xf6:
		return fail(r, "pre-release FUNCTION opcode 0xf6 is not "
		    "supported");
	case 0xf7:
		adv(r, 1);
		return start_k0(r, NK_MODAUX, K_MAUX_HDR);
	case 0xde:
		adv(r, 1);
		start_k0(r, NK_HNSW, K_SKIPSTR);
		r->k0.ret = K_HV_HDR;
		return S_OK;
	case 0xdf:
		adv(r, 1);
		return start_k0(r, NK_HNSW, K_HD_HDR);
	case 0xff:
		TRY(eof_check(r));
		if (r->mode == RDB_MODE_FLOW) {
			TRY(fields(r, "18", v));
			r->top = T_DONE;
			ev->type = RDB_EV_EOF;
			ev->eid = 0;
			return S_EV;
		}
		adv(r, 1);
		crc_catchup(r);
		r->crc_on = 0;
		if (r->version >= 5) {
			r->top = T_CRC;
			return S_OK;
		}
		r->top = T_DONE;
		ev->type = RDB_EV_EOF;
		ev->eid = 0;
		return S_EV;
	case 0xc8:
		TRY(fields(r, "18", v));
		ev->type = RDB_EV_FULLSYNC_END;
		ev->eid = 0;
		return S_EV;
	case 0xd3:
		TRY(fields(r, "18", v));
		ev->type = RDB_EV_JOURNAL_OFFSET;
		ev->eid = 0;
		ev->u.journal_offset = v[1];
		return S_EV;
	case 0xd2:
		TRY(fields(r, "1L", v));
		r->nrec = v[1];
		r->top = T_JBLOB;
		return S_OK;
	case 0xc9:
	case 0xca:
		if (r->s == &r->blob)
			return fail(r, "compressed blob nested in a compressed "
			    "blob");
		r->blob_off = r->in_base + r->in.pos;
		adv(r, 1);
		r->top = T_CBLOB;
		r->blob_zstd = op == 0xc9;
		return S_OK;
	case 0xe0:
		TRY(fields(r, "144", v));
		if (v[1] == 0 || v[2] == 0)
			return fail(r, "tagged chunk with stream id %llu and "
			    "length %llu", (unsigned long long)v[1],
			    (unsigned long long)v[2]);
		if (r->s == &r->blob && v[2] > r->blob.len - r->blob.pos)
			return fail(r, "tagged chunk of %llu bytes runs past "
			    "the end of the compressed blob",
			    (unsigned long long)v[2]);
		return chunk_begin(r, (uint32_t)v[1], v[2]);
	}
	if (op == 0xfc || op == 0xfd || op == 0xdc || op == 0xf8 ||
	    op == 0xf9 || op < 0x40)
		return start_k0(r, NK_KEY, K_PREFIX);
	return fail(r, "unknown opcode 0x%02x", op);
}

static int
step(struct rdb *r, struct rdb_event *ev)
{
	const char *p;
	size_t len;
	uint64_t v[1];
	int s;

	r->cur = NULL;
	switch (r->top) {
	case T_MAGIC:
		return read_magic(r);
	case T_ITEM:
		return top_item(r, ev);
	case T_ENTRY:
		if (r->k0.st == K_DONE) {
			r->top = T_ITEM;
			return S_OK;
		}
		s = entry_step(r, &r->k0, ev);
		if (s == S_OK && r->k0.st == K_DONE)
			r->top = T_ITEM;
		return s;
	case T_CHUNK:
		if (r->chunk->st == K_DONE) {
			r->cur = r->chunk;
			if (r->budget != 0)
				return fail(r, "the key ended with %zu bytes "
				    "left in its tagged chunk", r->budget);
			chunk_close(r, r->chunk);
			r->chunk = NULL;
			r->top = T_ITEM;
			return S_OK;
		}
		s = entry_step(r, r->chunk, ev);
		if (s == S_SUSP) {
			r->top = T_ITEM;
			return S_OK;
		}
		return s;
	case T_AUXNAME:
		TRY(read_whole(r, r->lim.max_blob, "AUX name", &r->sbuf,
		    r->num, &p, &len));
		if (buf_reserve(&r->aname, len + 1) == -1)
			return oom(r);
		memcpy(r->aname.p, p, len);
		r->aname.len = len;
		r->top = T_AUXVAL;
		return S_OK;
	case T_AUXVAL:
		TRY(read_whole(r, r->lim.max_blob, "AUX value", &r->sbuf,
		    r->num, &p, &len));
		ev->type = RDB_EV_AUX;
		ev->eid = 0;
		ev->u.aux.name.p = r->aname.p;
		ev->u.aux.name.len = r->aname.len;
		ev->u.aux.value.p = p;
		ev->u.aux.value.len = len;
		r->top = T_ITEM;
		return S_EV;
	case T_FUNC:
		TRY(read_whole(r, r->lim.max_blob, "function", &r->sbuf,
		    r->num, &p, &len));
		ev->type = RDB_EV_FUNCTION;
		ev->eid = 0;
		ev->u.func.p = p;
		ev->u.func.len = len;
		r->top = T_ITEM;
		return S_EV;
	case T_JBLOB:
		TRY(read_whole(r, r->lim.max_blob, "journal blob", &r->sbuf,
		    r->num, &p, &len));
		ev->type = RDB_EV_JOURNAL;
		ev->eid = 0;
		ev->u.journal.nrec = r->nrec;
		ev->u.journal.p = p;
		ev->u.journal.len = len;
		r->top = T_ITEM;
		return S_EV;
	case T_CBLOB:
		return read_cblob(r, r->blob_zstd);
	case T_CRC:
		NEED(r, 8);
		v[0] = le64(cur(r));
		if (v[0] != 0 && v[0] != r->crc)
			return fail(r, "CRC64 mismatch: file says %016llx, "
			    "computed %016llx", (unsigned long long)v[0],
			    (unsigned long long)r->crc);
		adv(r, 8);
		r->top = T_DONE;
		ev->type = RDB_EV_EOF;
		ev->eid = 0;
		return S_EV;
	}
	return fail(r, "internal: bad top state %d", r->top);
}

/* ------------------------------------------------------------ API */

struct rdb *
rdb_new(enum rdb_mode mode, const struct rdb_limits *lim)
{
	struct rdb *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->mode = mode;
	r->lim.piece = DEFAULT_PIECE;
	r->lim.max_blob = DEFAULT_MAX_BLOB;
	if (lim != NULL && lim->piece > 0)
		r->lim.piece = lim->piece;
	if (lim != NULL && lim->max_blob > 0)
		r->lim.max_blob = lim->max_blob;
	r->s = &r->in;
	r->top = T_MAGIC;
	r->crc_on = mode == RDB_MODE_FILE;
	return r;
}

void
rdb_free(struct rdb *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nopen; i++) {
		kctx_release(r->open[i]);
		free(r->open[i]);
	}
	for (i = 0; i < r->nspare; i++) {
		kctx_release(r->spare[i]);
		free(r->spare[i]);
	}
	free(r->open);
	free(r->spare);
	kctx_release(&r->k0);
	free(r->in.buf);
	free(r->blob.buf);
	free(r->aname.p);
	free(r->sbuf.p);
	LZ4F_freeDecompressionContext(r->lz4);
	ZSTD_freeDCtx(r->zstd);
	free(r);
}

static inline int
in_input(const struct rdb *r, const char *p)
{
	return p >= (const char *)r->in.buf &&
	    p < (const char *)r->in.buf + r->in.len;
}

/*
 * The input is about to move: copy the key and the container that the
 * entry being decoded keeps in place into its own buffers.
 */
static int
unpin(struct rdb *r)
{
	struct kctx *k = &r->k0;
	const char *old;

	if (r->top != T_ENTRY || k->st == K_DONE)
		return 0;
	if (in_input(r, k->keyp)) {
		if (buf_reserve(&k->key, k->keylen + 1) == -1)
			return -1;
		memcpy(k->key.p, k->keyp, k->keylen);
		k->key.len = k->keylen;
		k->keyp = k->key.p;
	}
	if (in_input(r, k->cp)) {
		if (buf_reserve(&k->cbuf, k->clen + 1) == -1)
			return -1;
		memcpy(k->cbuf.p, k->cp, k->clen);
		k->cbuf.len = k->clen;
		old = k->cp;
		k->cp = k->cbuf.p;
		if (k->hp >= old && k->hp < old + k->clen)
			k->hp = k->cp + (k->hp - old);
		if ((const char *)k->it.buf == old)
			k->it.buf = (const unsigned char *)k->cp;
	}
	return 0;
}

int
rdb_feed(struct rdb *r, const void *data, size_t n)
{
	struct src *in = &r->in;
	unsigned char *p;
	size_t live, cap;

	if (n == 0)
		return 0;
	if (unpin(r) == -1) {
		snprintf(r->err, sizeof(r->err), "out of memory keeping a "
		    "key or container of %zu bytes", r->k0.clen);
		r->failed = 1;
		return -1;
	}
	crc_catchup(r);
	live = in->len - in->pos;
	if (in->pos > 0 && (in->len + n > in->cap || in->pos >= live)) {
		memmove(in->buf, in->buf + in->pos, live);
		r->in_base += in->pos;
		r->crc_pos -= in->pos;
		in->pos = 0;
		in->len = live;
	}
	if (in->cap > SHRINK_ABOVE && live + n < in->cap / 4) {
		cap = live + n > 65536 ? live + n : 65536;
		if ((p = realloc(in->buf, cap)) != NULL) {
			in->buf = p;
			in->cap = cap;
		}
	}
	if (in->len + n > in->cap) {
		cap = in->cap ? in->cap : 4096;
		while (cap < in->len + n)
			cap *= 2;
		if ((p = realloc(in->buf, cap)) == NULL) {
			snprintf(r->err, sizeof(r->err), "out of memory "
			    "buffering %zu input bytes", in->len + n);
			r->failed = 1;
			return -1;
		}
		in->buf = p;
		in->cap = cap;
	}
	memcpy(in->buf + in->len, data, n);
	in->len += n;
	return 0;
}

static int	next_slow(struct rdb *, struct rdb_event *)
		    __attribute__((noinline));

static int
next_slow(struct rdb *r, struct rdb_event *ev)
{
	int s;

	for (;;) {
		if (r->failed)
			return RDB_ERR;
		if (r->top == T_DONE)
			return RDB_DONE;
		s = step(r, ev);
		switch (s) {
		case S_OK:
			continue;
		case S_EV:
			return RDB_OK;
		case S_AGAIN:
			return RDB_AGAIN;
		case S_SUSP:
			/* only a chunk's entry can run out of budget */
			fail(r, "internal: chunk budget outside a chunk");
			return RDB_ERR;
		default:
			return RDB_ERR;
		}
	}
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
	if (s == S_OK && entry_step(r, k, ev) == S_EV)
		return RDB_OK;
	return next_slow(r, ev);
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
			return next_slow(r, ev);
		start_k0(r, NK_KEY, K_PREFIX);
	}
	if (entry_step(r, k, ev) == S_EV)
		return RDB_OK;
	return next_slow(r, ev);
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

	if (r->top != T_ENTRY || r->failed)
		return next_slow(r, ev);
	if (k->st == K_CADV) {
		if (container_adv(k, ev) == S_EV)
			return RDB_OK;
		return next_container(r, ev);
	}
	if (k->st == K_CNEXT)
		return next_container(r, ev);
	return next_entry(r, ev);
}

const char *
rdb_error(const struct rdb *r)
{
	return r->err;
}

uint64_t
rdb_offset(const struct rdb *r)
{
	return r->in_base + r->in.pos;
}

int
rdb_version(const struct rdb *r)
{
	return r->version;
}

void
rdb_leftover(const struct rdb *r, const char **p, size_t *len)
{
	if (r->top != T_DONE) {
		*p = NULL;
		*len = 0;
		return;
	}
	*p = (const char *)r->in.buf + r->in.pos;
	*len = r->in.len - r->in.pos;
}
