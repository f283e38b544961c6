/*
 * rdb_int.h - internals shared by the files of the RDB decoder (rdb.h);
 * nothing outside rdb.c, rdbtoken.c, rdbvalue.c, rdbstream.c and
 * dflyrdb.c includes it.
 *
 *	rdb.c		the top-level state machine (opcodes between keys,
 *			header, trailer, CRC64) and the API of rdb.h
 *	rdbtoken.c	the byte tokenizer: lengths, fixed fields, string
 *			headers, whole strings (LZF), skips, error messages
 *	rdbvalue.c	one key entry: prefix, type, value header, the
 *			elements of every value type but streams; and
 *			rdb_next(), whose fast path stays next to the
 *			entry decoder so that the compiler inlines it
 *	rdbstream.c	stream values: node listpacks, groups, consumers
 *	dflyrdb.c	the Dragonfly dialect: tagged chunks, compressed
 *			blobs, journal blobs, sync markers, skipped types
 *
 * Every step returns one of the S_* results below.  A step either emits
 * an event without reading, or reads one whole token once all of its
 * bytes are there (NEED); otherwise it returns S_AGAIN (or S_SUSP at the
 * end of a tagged chunk's budget) and is run again later in the same
 * state.  Errors go through rdb_fail() / rdb_oom(), which keep the first.
 */
#ifndef DF2REDIS_RDB_INT_H
#define DF2REDIS_RDB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "compact.h"
#include "error.h"
#include "rdb.h"

/* buffers above this are given back between keys */
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

/* what a kctx that is not a key decodes */
enum { NK_KEY, NK_MODAUX, NK_HNSW };

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
	struct LZ4F_dctx_s *lz4;	/* LZ4F_dctx, made on first use */
	struct ZSTD_DCtx_s *zstd;	/* ZSTD_DCtx, likewise */
	struct error	 err;		/* the first error */
};

enum { SH_PLAIN, SH_INT, SH_LZF };

struct strhdr {
	int		 kind;
	size_t		 hsz;
	uint64_t	 len;		/* plain length, LZF ulen */
	uint64_t	 clen;
	int64_t		 ival;
};

/* rdbtoken.c */
void	 rdb_shrink(struct buf *);
int	 rdb_bufset(struct buf *, const char *, size_t);
size_t	 rdb_fmt_int(char *, int64_t);
size_t	 rdb_len_size(unsigned char);
int	 rdb_parse_double(const char *, size_t, double *);
int	 rdb_parse_int(const char *, size_t, int64_t *);
void	 rdb_quote(char *, size_t, const char *, size_t);
int	 rdb_fail(struct rdb *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 rdb_oom(struct rdb *);
int	 rdb_need_slow(struct rdb *, size_t);
int	 rdb_peek_len_slow(struct rdb *, size_t, uint64_t *, size_t *);
int	 rdb_fields(struct rdb *, const char *, uint64_t *);
int	 rdb_peek_strhdr(struct rdb *, struct strhdr *);
int	 rdb_read_lzf(struct rdb *, const struct strhdr *, struct buf *);
int	 rdb_read_whole_slow(struct rdb *, size_t, const char *, struct buf *,
	    char *, const char **, size_t *);
int	 rdb_read_copy(struct rdb *, struct kctx *, size_t, const char *,
	    struct buf *);
void	 rdb_skip_raw(struct kctx *, uint64_t, int);
void	 rdb_skip_str(struct kctx *, int);
int	 rdb_skip_step(struct rdb *, struct kctx *);

/* rdbvalue.c */
void	 rdb_kctx_reset(struct kctx *, uint32_t, int, int, int);
void	 rdb_kctx_release(struct kctx *);
void	 rdb_kctx_trim(struct kctx *);
int	 rdb_entry_step(struct rdb *, struct kctx *, struct rdb_event *);
int	 rdb_start_k0(struct rdb *, int, int);

/* rdbstream.c */
int	 rdb_stream_step(struct rdb *, struct kctx *, struct rdb_event *);

/* dflyrdb.c */
int	 rdb_df_opcode(struct rdb *, uint8_t, struct rdb_event *);
int	 rdb_df_step(struct rdb *, struct rdb_event *);
int	 rdb_df_skip_step(struct rdb *, struct kctx *);
void	 rdb_df_free(struct rdb *);

/* rdb.c */
int	 rdb_next_slow(struct rdb *, struct rdb_event *);

/* ------------------------------------------------------------ inline */

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

/* Are n bytes readable now?  S_OK, S_AGAIN, S_SUSP or S_ERR. */
static inline int
need(struct rdb *r, size_t n)
{
	if (r->top != T_CHUNK && r->s->len - r->s->pos >= n)
		return S_OK;
	return rdb_need_slow(r, n);
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

static inline int
peek_len(struct rdb *r, size_t off, uint64_t *v, size_t *sz)
{
	if (r->top != T_CHUNK && r->s->len - r->s->pos > off &&
	    (cur(r)[off] & 0xc0) == 0) {
		*v = cur(r)[off];
		*sz = 1;
		return S_OK;
	}
	return rdb_peek_len_slow(r, off, v, sz);
}

static inline int
read_len(struct rdb *r, uint64_t *v)
{
	size_t sz;

	TRY(peek_len(r, 0, v, &sz));
	adv(r, sz);
	return S_OK;
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
	return rdb_read_whole_slow(r, cap, what, b, num, pp, lenp);
}

/* A whole string between keys: AUX fields, functions, journal blobs. */
static inline int
read_top(struct rdb *r, const char *what, const char **pp, size_t *lenp)
{
	return read_whole(r, r->lim.max_blob, what, &r->sbuf, r->num, pp,
	    lenp);
}

/* An event that belongs to no key. */
static inline int
top_ev(struct rdb_event *ev, enum rdb_ev_type type)
{
	ev->type = type;
	ev->eid = 0;
	return S_EV;
}

static inline void
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

static inline int
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

/* K_CADV: the next element of a group, or the group's item. */
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


#endif
