/*
 * journal.c - sans-I/O decoder of Dragonfly's journal (journal.md).
 *
 * Bytes are appended to one buffer; journal_next() parses a whole record
 * from the unconsumed part or consumes nothing.  A SELECT prefix and the
 * entry after it are parsed together, so a record is either complete or
 * still pending as a whole.
 *
 * The verdict depends only on the bytes fed, never on how they were cut:
 * an incomplete parse records exactly how many bytes the read it stopped
 * at needs (need), and nothing is parsed again before they are there.  A
 * command's argument walk resumes where it stopped, so feeding one byte
 * at a time stays linear even for records with millions of arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "journal.h"

enum {
	OP_SELECT = 6,
	OP_EXPIRED = 9,
	OP_COMMAND = 10,
	OP_MULTI_COMMAND = 11,
	OP_EXEC = 12,
	OP_PING = 13,
	OP_LSN = 15,
};

#define BUF_MIN		65536
#define BUF_SHRINK	(4UL << 20)	/* give back buffers above this */

struct journal {
	struct journal_limits	 lim;
	unsigned char		*buf;
	size_t			 cap;
	size_t			 rpos;	/* first unconsumed byte */
	size_t			 wpos;	/* end of the fed bytes */
	uint64_t		 base;	/* stream offset of buf[0] */
	size_t			 need;	/* bytes from rpos a record needs */
	uint32_t		 db;
	const char		**argv;
	size_t			*argvlen;
	size_t			*argoff;	/* argument i at rpos + argoff[i] */
	size_t			 argcap;
	/* a command whose arguments are still arriving */
	int			 walking;
	struct journal_rec	 prec;		/* its header fields */
	uint64_t		 nargs;
	uint64_t		 total;
	size_t			 total_at;	/* offset of total_len */
	uint64_t		 argi;		/* arguments walked */
	uint64_t		 sum;		/* their bytes */
	size_t			 argpos;	/* next argument, from rpos */
	struct error		 err;		/* the first error */
};

/* Parser cursor over buf[rpos, wpos). */
struct cursor {
	struct journal		*j;
	size_t			 pos;
};

#define PARSE_OK	0
#define PARSE_AGAIN	1
#define PARSE_ERR	(-1)

/* Keep the first error: "byte N: what", N the stream offset of pos. */
static int
fail(struct journal *j, enum err_kind kind, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct journal *j, enum err_kind kind, size_t pos, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	if (j->err.kind != ERR_NONE)
		return PARSE_ERR;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(&j->err, kind, "byte %" PRIu64 ": %s", j->base + pos, msg);
	return PARSE_ERR;
}

/* The record needs at least `more` bytes beyond the cursor. */
static int
again(struct cursor *c, uint64_t more)
{
	c->j->need = c->pos - c->j->rpos + more;
	return PARSE_AGAIN;
}

/*
 * Packed uint (journal.md section 1): 00vvvvvv, 01vvvvvv wwwwwwww, 0x80 +
 * u32 BE, 0x81 + u64 BE, any form for any value.  Dragonfly's reader
 * takes 11vvvvvv as a 6-bit value, but its writer never emits it and in
 * the RDB framing around the journal that prefix means a special string
 * encoding: seeing it here means we lost sync with the stream, and
 * decoding on would replay garbage commands into the target.
 */
static int
read_pu(struct cursor *c, const char *what, uint64_t *v)
{
	const unsigned char *p = c->j->buf + c->pos;
	size_t avail = c->j->wpos - c->pos, n, i;

	if (avail < 1)
		return again(c, 1);
	switch (p[0] & 0xc0) {
	case 0x00:
		*v = p[0];
		c->pos++;
		return PARSE_OK;
	case 0x40:
		if (avail < 2)
			return again(c, 2);
		*v = (uint64_t)(p[0] & 0x3f) << 8 | p[1];
		c->pos += 2;
		return PARSE_OK;
	case 0x80:
		if (p[0] == 0x80)
			n = 4;
		else if (p[0] == 0x81)
			n = 8;
		else
			return fail(c->j, ERR_DATA, c->pos, "invalid packed "
			    "uint prefix 0x%02x in %s", p[0], what);
		break;
	default:
		return fail(c->j, ERR_DATA, c->pos, "invalid packed uint "
		    "prefix 0x%02x in %s (11xxxxxx is an RDB string encoding, "
		    "never a journal integer)", p[0], what);
	}
	if (avail < 1 + n)
		return again(c, 1 + n);
	*v = 0;
	for (i = 1; i <= n; i++)
		*v = *v << 8 | p[i];
	c->pos += 1 + n;
	return PARSE_OK;
}

static int
read_pu_max(struct cursor *c, const char *what, uint64_t max, uint64_t *v)
{
	size_t at = c->pos;
	int r;

	if ((r = read_pu(c, what, v)) != PARSE_OK)
		return r;
	if (*v > max)
		return fail(c->j, ERR_DATA, at, "%s %" PRIu64 " above %" PRIu64,
		    what, *v, max);
	return PARSE_OK;
}

static int
reserve_args(struct journal *j, size_t n)
{
	const char **argv;
	size_t *argvlen, *argoff, cap;

	if (n <= j->argcap)
		return 0;
	cap = n < 16 ? 16 : n;
	if ((argv = reallocarray(j->argv, cap, sizeof(*argv))) == NULL)
		return -1;
	j->argv = argv;
	if ((argvlen = reallocarray(j->argvlen, cap, sizeof(*argvlen))) ==
	    NULL)
		return -1;
	j->argvlen = argvlen;
	if ((argoff = reallocarray(j->argoff, cap, sizeof(*argoff))) == NULL)
		return -1;
	j->argoff = argoff;
	j->argcap = cap;
	return 0;
}

/* COMMAND / EXPIRED / MULTI_COMMAND: nargs and total_len. */
static int
parse_counts(struct cursor *c)
{
	struct journal *j = c->j;
	uint64_t nargs, total;
	size_t at, total_at;
	int r;

	at = c->pos;
	if ((r = read_pu(c, "argument count", &nargs)) != PARSE_OK)
		return r;
	if (nargs == 0)
		return fail(j, ERR_DATA, at, "command with no arguments");
	if (nargs > j->lim.max_args)
		return fail(j, ERR_DATA, at, "%" PRIu64 " arguments, limit %zu",
		    nargs, j->lim.max_args);
	total_at = c->pos;
	if ((r = read_pu(c, "total_len", &total)) != PARSE_OK)
		return r;
	if (total > j->lim.max_record)
		return fail(j, ERR_DATA, total_at, "record of %" PRIu64
		    " bytes, limit %zu", total, j->lim.max_record);
	/*
	 * Every argument has at least a one-byte length, so the record is
	 * at least this long: wait for that before allocating, which bounds
	 * the argument arrays by the bytes actually buffered.
	 */
	if (j->wpos - c->pos < total + nargs)
		return again(c, total + nargs);
	if (reserve_args(j, nargs) == -1)
		return fail(j, ERR_SYS, at, "out of memory for %" PRIu64
		    " arguments", nargs);
	j->nargs = nargs;
	j->total = total;
	j->total_at = total_at;
	j->argi = 0;
	j->sum = 0;
	j->argpos = c->pos - j->rpos;
	j->walking = 1;
	return PARSE_OK;
}

/* The arguments, resuming at j->argi. */
static int
walk_args(struct cursor *c, struct journal_rec *rec)
{
	struct journal *j = c->j;
	uint64_t len, i;
	size_t at;
	int r;

	c->pos = j->rpos + j->argpos;
	while (j->argi < j->nargs) {
		at = c->pos;
		if ((r = read_pu(c, "argument length", &len)) != PARSE_OK)
			return r;
		if (len > j->total - j->sum)
			return fail(j, ERR_DATA, at, "argument %" PRIu64 " of "
			    "%" PRIu64 " bytes overruns total_len %" PRIu64,
			    j->argi, len, j->total);
		if (j->wpos - c->pos < len)
			return again(c, len);
		j->argoff[j->argi] = c->pos - j->rpos;
		j->argvlen[j->argi] = len;
		c->pos += len;
		j->sum += len;
		j->argi++;
		j->argpos = c->pos - j->rpos;
	}
	if (j->sum != j->total)
		return fail(j, ERR_DATA, j->total_at, "total_len %" PRIu64
		    " but the arguments sum to %" PRIu64 " bytes", j->total,
		    j->sum);
	*rec = j->prec;
	rec->argc = j->nargs;
	for (i = 0; i < j->nargs; i++)
		j->argv[i] = (const char *)j->buf + j->rpos + j->argoff[i];
	rec->argv = j->argv;
	rec->argvlen = j->argvlen;
	j->walking = 0;
	return PARSE_OK;
}

static int
parse(struct journal *j, struct journal_rec *rec)
{
	struct cursor c = { j, j->rpos };
	struct journal_rec *h = &j->prec;
	uint64_t op, v;
	size_t at;
	int r;

	if (j->walking)
		goto args;
	memset(h, 0, sizeof(*h));
	h->offset = j->base + j->rpos;
	h->db = j->db;
	for (;;) {
		at = c.pos;
		if ((r = read_pu(&c, "opcode", &op)) != PARSE_OK)
			return r;
		if (op != OP_SELECT)
			break;
		if ((r = read_pu_max(&c, "SELECT db", UINT16_MAX, &v)) !=
		    PARSE_OK)
			return r;
		h->db = v;
	}
	h->wire_op = op;
	switch (op) {
	case OP_PING:
		h->op = JOURNAL_PING;
		break;
	case OP_LSN:
		h->op = JOURNAL_LSN;
		if ((r = read_pu(&c, "LSN", &h->lsn)) != PARSE_OK)
			return r;
		break;
	case OP_EXEC:
	case OP_EXPIRED:
	case OP_COMMAND:
	case OP_MULTI_COMMAND:
		h->op = op == OP_EXEC ? JOURNAL_EXEC : JOURNAL_COMMAND;
		if ((r = read_pu(&c, "txid", &h->txid)) != PARSE_OK)
			return r;
		if ((r = read_pu_max(&c, "shard_cnt", UINT32_MAX, &v)) !=
		    PARSE_OK)
			return r;
		h->shard_cnt = v;
		if (op == OP_EXEC)
			break;
		if ((r = parse_counts(&c)) != PARSE_OK)
			return r;
args:
		if ((r = walk_args(&c, rec)) != PARSE_OK)
			return r;
		goto done;
	default:
		return fail(j, ERR_DATA, at, "unknown journal opcode 0x%02"
		    PRIx64, op);
	}
	*rec = *h;
done:
	j->db = rec->db;
	j->rpos = c.pos;
	j->need = 1;
	return PARSE_OK;
}

struct journal *
journal_new(const struct journal_limits *lim)
{
	struct journal *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->lim.max_record = JOURNAL_MAX_RECORD;
	j->lim.max_args = JOURNAL_MAX_ARGS;
	if (lim != NULL && lim->max_record != 0)
		j->lim.max_record = lim->max_record;
	if (lim != NULL && lim->max_args != 0)
		j->lim.max_args = lim->max_args;
	j->need = 1;
	return j;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	free(j->buf);
	free(j->argv);
	free(j->argvlen);
	free(j->argoff);
	free(j);
}

/* Drop the consumed bytes; resize so that `more` bytes fit. */
static int
make_room(struct journal *j, size_t more)
{
	size_t pending = j->wpos - j->rpos, want, cap;
	unsigned char *buf;

	if (j->rpos > 0) {
		memmove(j->buf, j->buf + j->rpos, pending);
		j->base += j->rpos;
		j->rpos = 0;
		j->wpos = pending;
	}
	if (more > SIZE_MAX - pending)
		return -1;
	want = pending + more;
	cap = j->cap;
	if (cap < want) {
		if (cap < BUF_MIN)
			cap = BUF_MIN;
		while (cap < want)
			cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	} else if (cap > BUF_SHRINK && want < cap / 4) {
		/* one huge record passed: do not keep its buffer */
		cap = want * 2 < BUF_MIN ? BUF_MIN : want * 2;
	}
	if (cap == j->cap)
		return 0;
	if ((buf = realloc(j->buf, cap)) == NULL)
		return -1;
	j->buf = buf;
	j->cap = cap;
	return 0;
}

int
journal_feed(struct journal *j, const void *data, size_t len)
{
	if (j->err.kind != ERR_NONE)
		return JOURNAL_ERR;
	if (len == 0)
		return JOURNAL_OK;
	if (j->cap - j->wpos < len || j->rpos == j->wpos ||
	    j->cap > BUF_SHRINK) {
		if (make_room(j, len) == -1) {
			fail(j, ERR_SYS, j->wpos, "out of memory buffering %zu "
			    "bytes", j->wpos - j->rpos + len);
			return JOURNAL_ERR;
		}
	}
	memcpy(j->buf + j->wpos, data, len);
	j->wpos += len;
	return JOURNAL_OK;
}

int
journal_next(struct journal *j, struct journal_rec *rec)
{
	int r;

	if (j->err.kind != ERR_NONE)
		return JOURNAL_ERR;
	if (j->wpos - j->rpos < j->need)
		return JOURNAL_AGAIN;
	r = parse(j, rec);
	if (r == PARSE_ERR)
		return JOURNAL_ERR;
	if (r == PARSE_AGAIN)
		return JOURNAL_AGAIN;
	return JOURNAL_OK;
}

const char *
journal_error(const struct journal *j)
{
	return j->err.kind != ERR_NONE ? j->err.msg : NULL;
}

const struct error *
journal_err(const struct journal *j)
{
	return &j->err;
}

uint64_t
journal_offset(const struct journal *j)
{
	return j->base + j->rpos;
}

size_t
journal_pending(const struct journal *j)
{
	return j->wpos - j->rpos;
}

int
journal_set_offset(struct journal *j, uint64_t offset)
{
	if (j->wpos != j->rpos)
		return -1;
	j->base = offset - j->rpos;
	return 0;
}
