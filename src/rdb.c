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
 *
 * This file holds the top level: the header, the opcodes between keys
 * that Redis writes, the trailer and its CRC64, input buffering and the
 * API but rdb_next() (rdbvalue.c); rdb_int.h says where the rest lives.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc64.h"
#include "rdb_int.h"

#define DEFAULT_PIECE		(64 * 1024)
#define DEFAULT_MAX_BLOB	(256 * 1024 * 1024)


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
		return rdb_fail(r, "not an RDB stream: no REDIS magic");
	for (i = 5; i < 9; i++) {
		if (p[i] < '0' || p[i] > '9')
			return rdb_fail(r, "bad RDB version \"%.4s\"", p + 5);
		v = v * 10 + (p[i] - '0');
	}
	if (v < (r->mode == RDB_MODE_FLOW ? 5 : 1) || v > 12)
		return rdb_fail(r, "RDB version %d is out of range (%d..12)", v,
		    r->mode == RDB_MODE_FLOW ? 5 : 1);
	r->version = v;
	adv(r, 9);
	r->top = T_ITEM;
	return S_OK;
}

static int
eof_check(struct rdb *r)
{
	char q[280];
	struct kctx *k;

	if (r->s == &r->blob)
		return rdb_fail(r, "EOF opcode inside a compressed blob");
	if (r->nopen == 0)
		return S_OK;
	k = r->open[0];
	rdb_quote(q, sizeof(q), k->keyp, k->keylen);
	return rdb_fail(r, "EOF while %zu tagged chunk stream(s) are open "
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
		TRY(rdb_fields(r, "1L", v));
		if (v[1] > INT_MAX)
			return rdb_fail(r, "SELECTDB %llu is out of range",
			    (unsigned long long)v[1]);
		r->db = (int)v[1];
		ev->db = r->db;
		return top_ev(ev, RDB_EV_DB);
	case 0xfb:
		return rdb_fields(r, "1LL", v);
	case 0xf4:
		return rdb_fields(r, "1LLL", v);
	case 0xf5:
		adv(r, 1);
		r->top = T_FUNC;
		return S_OK;
	case 0xf6:
		return rdb_fail(r, "pre-release FUNCTION opcode 0xf6 is not "
		    "supported");
	case 0xf7:
		adv(r, 1);
		return rdb_start_k0(r, NK_MODAUX, K_MAUX_HDR);
	case 0xff:
		TRY(eof_check(r));
		if (r->mode == RDB_MODE_FLOW) {
			TRY(rdb_fields(r, "18", v));
			r->top = T_DONE;
			return top_ev(ev, RDB_EV_EOF);
		}
		adv(r, 1);
		crc_catchup(r);
		r->crc_on = 0;
		if (r->version >= 5) {
			r->top = T_CRC;
			return S_OK;
		}
		r->top = T_DONE;
		return top_ev(ev, RDB_EV_EOF);
	case 0xc8:
	case 0xc9:
	case 0xca:
	case 0xd2:
	case 0xd3:
	case 0xde:
	case 0xdf:
	case 0xe0:
		return rdb_df_opcode(r, op, ev);
	}
	if (op == 0xfc || op == 0xfd || op == 0xdc || op == 0xf8 ||
	    op == 0xf9 || op < 0x40)
		return rdb_start_k0(r, NK_KEY, K_PREFIX);
	return rdb_fail(r, "unknown opcode 0x%02x", op);
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
		s = rdb_entry_step(r, &r->k0, ev);
		if (s == S_OK && r->k0.st == K_DONE)
			r->top = T_ITEM;
		return s;
	case T_CHUNK:
	case T_JBLOB:
	case T_CBLOB:
		return rdb_df_step(r, ev);
	case T_AUXNAME:
		TRY(read_top(r, "AUX name", &p, &len));
		if (rdb_bufset(&r->aname, p, len) == -1)
			return rdb_oom(r);
		r->top = T_AUXVAL;
		return S_OK;
	case T_AUXVAL:
		TRY(read_top(r, "AUX value", &p, &len));
		ev->u.aux.name.p = r->aname.p;
		ev->u.aux.name.len = r->aname.len;
		ev->u.aux.value.p = p;
		ev->u.aux.value.len = len;
		r->top = T_ITEM;
		return top_ev(ev, RDB_EV_AUX);
	case T_FUNC:
		TRY(read_top(r, "function", &p, &len));
		ev->u.func.p = p;
		ev->u.func.len = len;
		r->top = T_ITEM;
		return top_ev(ev, RDB_EV_FUNCTION);
	case T_CRC:
		NEED(r, 8);
		v[0] = le64(cur(r));
		if (v[0] != 0 && v[0] != r->crc)
			return rdb_fail(r, "CRC64 mismatch: file says %016llx, "
			    "computed %016llx", (unsigned long long)v[0],
			    (unsigned long long)r->crc);
		adv(r, 8);
		r->top = T_DONE;
		return top_ev(ev, RDB_EV_EOF);
	}
	return rdb_fail(r, "internal: bad top state %d", r->top);
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
	if (r == NULL)
		return;
	rdb_df_free(r);
	rdb_kctx_release(&r->k0);
	free(r->in.buf);
	buf_free(&r->aname);
	buf_free(&r->sbuf);
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
		if (rdb_bufset(&k->key, k->keyp, k->keylen) == -1)
			return -1;
		k->keyp = k->key.p;
	}
	if (in_input(r, k->cp)) {
		if (rdb_bufset(&k->cbuf, k->cp, k->clen) == -1)
			return -1;
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
		if (r->err.kind == ERR_NONE)
			err_set(&r->err, ERR_SYS, "out of memory keeping a "
			    "key or container of %zu bytes", r->k0.clen);
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
			if (r->err.kind == ERR_NONE)
				err_set(&r->err, ERR_SYS, "out of memory "
				    "buffering %zu input bytes", in->len + n);
			return -1;
		}
		in->buf = p;
		in->cap = cap;
	}
	memcpy(in->buf + in->len, data, n);
	in->len += n;
	return 0;
}

/* Run the top-level states until an event, the end, an error or a
   short input (the general path of rdb_next(), in rdbvalue.c). */
int
rdb_next_slow(struct rdb *r, struct rdb_event *ev)
{
	int s;

	for (;;) {
		if (r->err.kind != ERR_NONE)
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
			rdb_fail(r, "internal: chunk budget outside a chunk");
			return RDB_ERR;
		default:
			return RDB_ERR;
		}
	}
}

const char *
rdb_error(const struct rdb *r)
{
	return r->err.msg;
}

const struct error *
rdb_err(const struct rdb *r)
{
	return &r->err;
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

