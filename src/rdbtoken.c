/*
 * rdbtoken.c - the byte tokenizer of the RDB decoder (rdb_int.h): the
 * length encoding, groups of fixed fields, string headers, whole strings
 * (plain, integer or LZF), raw skips, number parsing, and the error
 * message that names the byte offset and the key being decoded.
 *
 * A token is read atomically: it is consumed only once all of its bytes
 * are readable (rdb_need_slow()), so a step that runs short is run again
 * from the same byte.  The hot cases are inline in rdb_int.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "lzf.h"
#include "rdb_int.h"

/* ------------------------------------------------------------ helpers */

/* Copy len bytes into b, NUL-terminated. */
int
rdb_bufset(struct buf *b, const char *p, size_t len)
{
	b->len = 0;
	if (buf_reserve(b, len + 1) == -1)
		return -1;
	memcpy(b->p, p, len);
	b->p[len] = '\0';
	b->len = len;
	return 0;
}

void
rdb_shrink(struct buf *b)
{
	if (b->cap > SHRINK_ABOVE)
		buf_free(b);
}

size_t
rdb_fmt_int(char *dst, int64_t v)
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
size_t
rdb_len_size(unsigned char b)
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

int
rdb_parse_double(const char *p, size_t len, double *d)
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

int
rdb_parse_int(const char *p, size_t len, int64_t *v)
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

void
rdb_quote(char *dst, size_t cap, const char *p, size_t len)
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

/*
 * Keep the first error: "byte N: what" and, when an entry is being
 * decoded, its key and tagged chunk stream.
 */
static int
report(struct rdb *r, enum err_kind kind, const char *msg)
{
	char where[96], key[400];
	struct kctx *k = r->cur;

	if (r->err.kind != ERR_NONE)
		return S_ERR;
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

		rdb_quote(q, sizeof(q), k->keyp, k->keylen);
		if (k->eid)
			snprintf(key, sizeof(key), " while decoding key \"%s\" "
			    "(tagged chunk stream %u)", q, k->eid);
		else
			snprintf(key, sizeof(key), " while decoding key \"%s\"",
			    q);
	} else if (k != NULL && k->eid)
		snprintf(key, sizeof(key), " (tagged chunk stream %u)", k->eid);
	err_set(&r->err, kind, "%s: %s%s", where, msg, key);
	return S_ERR;
}

/* Corrupt or unsupported input, or a limit crossed: ERR_DATA. */
int
rdb_fail(struct rdb *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (r->err.kind != ERR_NONE)
		return S_ERR;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return report(r, ERR_DATA, msg);
}

int
rdb_oom(struct rdb *r)
{
	return report(r, ERR_SYS, "out of memory");
}

/* ------------------------------------------------------------ tokens */

int
rdb_need_slow(struct rdb *r, size_t n)
{
	if (n == 0)
		return S_OK;
	if (chunked(r)) {
		if (r->budget == 0)
			return S_SUSP;
		if (n > r->budget)
			return rdb_fail(r, "a read of %zu bytes crosses the "
			    "end of the tagged chunk (%zu bytes left in it)", n,
			    r->budget);
	}
	if (r->s->len - r->s->pos >= n)
		return S_OK;
	if (r->s == &r->blob)
		return rdb_fail(r, "the compressed blob ends inside an item "
		    "(%zu more bytes needed)", n - (r->s->len - r->s->pos));
	if (n > r->lim.max_blob + 64)
		return rdb_fail(r, "an item of %zu bytes exceeds the %zu-byte "
		    "limit", n, r->lim.max_blob);
	return S_AGAIN;
}

int
rdb_peek_len_slow(struct rdb *r, size_t off, uint64_t *v, size_t *sz)
{
	const unsigned char *p;

	NEED(r, off + 1);
	p = cur(r) + off;
	if ((*sz = rdb_len_size(p[0])) == 0) {
		r->s->pos += off;
		rdb_fail(r, "bad length encoding 0x%02x", p[0]);
		r->s->pos -= off;
		return S_ERR;
	}
	NEED(r, off + *sz);
	*v = len_value(cur(r) + off);
	return S_OK;
}


/*
 * Read a group of fixed fields atomically: L length, 1 byte, 4 u32 LE,
 * 8 u64 LE, I a 16-byte big-endian stream id (two values).
 */
int
rdb_fields(struct rdb *r, const char *fmt, uint64_t *v)
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

/* Parse an RDB string header without consuming it. */
int
rdb_peek_strhdr(struct rdb *r, struct strhdr *h)
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
			return rdb_fail(r, "LZF string with compressed length "
			    "%llu and length %llu", (unsigned long long)h->clen,
			    (unsigned long long)h->len);
		if (h->len > r->lim.max_blob || h->clen > r->lim.max_blob)
			return rdb_fail(r, "LZF string of %llu bytes exceeds "
			    "the %zu-byte limit", (unsigned long long)h->len,
			    r->lim.max_blob);
		return S_OK;
	default:
		return rdb_fail(r, "unknown string encoding 0x%02x", p[0]);
	}
}

/*
 * Read a whole RDB string of at most cap bytes.  The result points into
 * the input, into num (integers) or into b (LZF); it is valid until the
 * input moves, so callers that keep it across returns copy it.
 */
/* The LZF string whose header is h, decompressed into b. */
int
rdb_read_lzf(struct rdb *r, const struct strhdr *h, struct buf *b)
{
	NEED(r, h->hsz + h->clen);
	b->len = 0;
	if (buf_reserve(b, h->len) == -1)
		return rdb_oom(r);
	if (lzf_decompress(cur(r) + h->hsz, h->clen, b->p, h->len) == -1)
		return rdb_fail(r, "corrupt LZF string (%llu bytes "
		    "compressed, %llu expected)", (unsigned long long)h->clen,
		    (unsigned long long)h->len);
	b->len = h->len;
	adv(r, h->hsz + h->clen);
	return S_OK;
}

int
rdb_read_whole_slow(struct rdb *r, size_t cap, const char *what, struct buf *b,
    char *num, const char **pp, size_t *lenp)
{
	struct strhdr h;

	TRY(rdb_peek_strhdr(r, &h));
	if (h.kind == SH_INT) {
		adv(r, h.hsz);
		*lenp = rdb_fmt_int(num, h.ival);
		*pp = num;
		return S_OK;
	}
	if (h.len > cap)
		return rdb_fail(r, "%s of %llu bytes exceeds the %zu-byte "
		    "limit", what, (unsigned long long)h.len, cap);
	*lenp = h.len;
	if (h.kind == SH_LZF) {
		TRY(rdb_read_lzf(r, &h, b));
		*pp = b->p;
		return S_OK;
	}
	NEED(r, h.hsz + h.len);
	*pp = (const char *)cur(r) + h.hsz;
	adv(r, h.hsz + h.len);
	return S_OK;
}

/* Read a whole string and keep a copy in dst. */
int
rdb_read_copy(struct rdb *r, struct kctx *k, size_t cap, const char *what,
    struct buf *dst)
{
	const char *p;
	size_t len;

	TRY(read_whole(r, cap, what, &k->sbuf, k->num, &p, &len));
	if (rdb_bufset(dst, p, len) == -1)
		return rdb_oom(r);
	return S_OK;
}

/* ------------------------------------------------------------ skips */

void
rdb_skip_raw(struct kctx *k, uint64_t n, int ret)
{
	k->srem = n;
	k->ret = ret;
	k->st = K_SKIPRAW;
}

void
rdb_skip_str(struct kctx *k, int ret)
{
	k->ret = ret;
	k->st = K_SKIPSTR;
}

int
rdb_skip_step(struct rdb *r, struct kctx *k)
{
	struct strhdr h;
	size_t n;

	if (k->st == K_SKIPSTR) {
		TRY(rdb_peek_strhdr(r, &h));
		adv(r, h.hsz);
		rdb_skip_raw(k, h.kind == SH_PLAIN ? h.len :
		    h.kind == SH_LZF ? h.clen : 0, k->ret);
	}
	if (chunked(r) && r->budget > 0 && k->srem > r->budget)
		return rdb_fail(r, "%llu bytes to skip cross the end of the "
		    "tagged chunk (%zu bytes left in it)",
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

