/*
 * compact.c - iterators over listpack, ziplist, intset and zipmap
 * (snapshot.md section 10).  Every length is checked against the buffer
 * before anything is read; a corrupt container ends the walk with -1 and
 * a message naming the byte offset in it->err.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "compact.h"

#define LP_HDR		6
#define ZL_HDR		10
#define COUNT_UNKNOWN	65535	/* listpack and ziplist element count */
#define IS_HDR		8
#define END_BYTE	0xff

static int
fail(struct compact_it *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct compact_it *it, const char *fmt, ...)
{
	static const char *names[] = { "compact", "listpack", "ziplist",
	    "intset", "zipmap" };
	const char *name = names[0];
	va_list ap;
	int n;

	if (it->kind > 0 && it->kind <= COMPACT_ZIPMAP)
		name = names[it->kind];
	n = snprintf(it->err, sizeof(it->err), "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(it->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(it->err + n, sizeof(it->err) - n, fmt, ap);
	va_end(ap);
	it->done = -1;
	return -1;
}

/* Every field but the scratch buffers, which are written before use. */
static void
start(struct compact_it *it, int kind, const void *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->pos = 0;
	it->count = 0;
	it->index = 0;
	it->isint = 0;
	it->ival = 0;
	it->num[0] = '\0';
	it->kind = kind;
	it->err[0] = '\0';
	it->countknown = 0;
	it->done = 0;
	it->last = 0;
	it->lastlen = 0;
	it->tail = 0;
	it->width = 0;
	it->zmvalue = 0;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

static inline unsigned int
ndigits(uint64_t u)
{
	unsigned int n = 1;

	for (;;) {
		if (u < 10)
			return n;
		if (u < 100)
			return n + 1;
		if (u < 1000)
			return n + 2;
		if (u < 10000)
			return n + 3;
		u /= 10000;
		n += 4;
	}
}

/* The element is an integer: its decimal text becomes the element. */
static inline int
emit_int(struct compact_it *it, int64_t v, const char **p, size_t *len)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	unsigned int neg = v < 0, n = neg + ndigits(u);
	char *d = it->num + n;

	*d = '\0';
	while (u >= 100) {
		d -= 2;
		memcpy(d, digit_pairs + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		d -= 2;
		memcpy(d, digit_pairs + 2 * u, 2);
	} else
		*--d = '0' + u;
	if (neg)
		it->num[0] = '-';
	it->isint = 1;
	it->ival = v;
	it->index++;
	*p = it->num;
	*len = n;
	return 1;
}

static inline int
emit_str(struct compact_it *it, size_t off, size_t n, const char **p,
    size_t *len)
{
	/* every walker checked as much; this keeps a slip in one from
	   handing out bytes beyond the buffer */
	if (off >= it->len || n >= it->len - off)
		return fail(it, "element at offset %zu (%zu bytes) runs past "
		    "the end", it->last, n);
	it->isint = 0;
	it->index++;
	*p = (const char *)it->buf + off;
	*len = n;
	return 1;
}

/* Terminator at pos: it must be the last byte and the count must match. */
static int
finish(struct compact_it *it)
{
	if (it->pos != it->len - 1)
		return fail(it, "end marker at offset %zu, %zu bytes before "
		    "the end of the buffer", it->pos, it->len - 1 - it->pos);
	if (it->countknown && it->index != it->count)
		return fail(it, "header announces %llu elements, found %llu",
		    (unsigned long long)it->count,
		    (unsigned long long)it->index);
	it->done = 1;
	return 0;
}

/* ---------------------------------------------------------- listpack */

/*
 * The header listpacks and ziplists share: the total size (u32 LE) first,
 * the element count (u16 LE, 65535 unknown) at count_at, the end marker
 * last.  Leaves pos after the header.
 */
static int
packed_open(struct compact_it *it, int kind, const void *buf, size_t len,
    size_t hdr, size_t count_at)
{
	uint32_t total, n;

	start(it, kind, buf, len);
	if (len < hdr + 1)
		return fail(it, "%zu bytes, shorter than header and end "
		    "marker", len);
	total = le32(it->buf);
	if (total != len)
		return fail(it, "header says %u bytes, buffer has %zu", total,
		    len);
	if (it->buf[len - 1] != END_BYTE)
		return fail(it, "last byte 0x%02x is not the end marker",
		    it->buf[len - 1]);
	n = le16(it->buf + count_at);
	if (n != COUNT_UNKNOWN) {
		it->count = n;
		it->countknown = 1;
	}
	it->pos = hdr;
	return 0;
}

int
lp_open(struct compact_it *it, const void *buf, size_t len)
{
	return packed_open(it, COMPACT_LISTPACK, buf, len, LP_HDR, 4);
}

/* Bytes of the backlen that follows an element of l bytes (lpEncodeBacklen). */
static size_t
lp_backlen_size(uint64_t l)
{
	if (l <= 127)
		return 1;
	if (l < 16383)
		return 2;
	if (l < 2097151)
		return 3;
	if (l < 268435455)
		return 4;
	return 5;
}

/* The backlen must encode l: highest 7-bit group first, 0x80 on the rest. */
static int
lp_backlen_ok(const unsigned char *p, size_t n, uint64_t l)
{
	size_t i;
	unsigned int want;

	for (i = 0; i < n; i++) {
		want = (l >> (7 * (n - 1 - i))) & 127;
		if (i > 0)
			want |= 128;
		if (p[i] != want)
			return 0;
	}
	return 1;
}

static int
lp_next(struct compact_it *it, const char **p, size_t *len)
{
	const unsigned char *e = it->buf + it->pos;
	size_t avail = it->len - 1 - it->pos;	/* bytes before the end marker */
	size_t hdr = 1, blen;
	uint64_t slen = 0, l;
	int64_t v = 0;
	int isstr = 0;

	if (e[0] == END_BYTE)
		return finish(it);
	if ((e[0] & 0x80) == 0) {
		v = e[0] & 0x7f;
	} else if ((e[0] & 0xc0) == 0x80) {
		isstr = 1;
		slen = e[0] & 0x3f;
	} else if ((e[0] & 0xe0) == 0xc0) {
		hdr = 2;
	} else if (e[0] >= 0xf1 && e[0] <= 0xf4) {
		static const size_t intbytes[] = { 2, 3, 4, 8 };
		hdr = 1 + intbytes[e[0] - 0xf1];
	} else if ((e[0] & 0xf0) == 0xe0) {
		isstr = 1;
		hdr = 2;
	} else if (e[0] == 0xf0) {
		isstr = 1;
		hdr = 5;
	} else
		return fail(it, "invalid encoding byte 0x%02x at offset %zu",
		    e[0], it->pos);
	if (avail < hdr)
		return fail(it, "element header at offset %zu runs past the "
		    "end", it->pos);

	switch (hdr == 1 ? 0 : e[0]) {
	case 0:
		break;
	case 0xf0:
		slen = le32(e + 1);
		break;
	case 0xf1:
		v = (int16_t)le16(e + 1);
		break;
	case 0xf2:
		v = (int32_t)((le16(e + 1) | (uint32_t)e[3] << 16) << 8) >> 8;
		break;
	case 0xf3:
		v = (int32_t)le32(e + 1);
		break;
	case 0xf4:
		v = (int64_t)le64(e + 1);
		break;
	default:
		if ((e[0] & 0xe0) == 0xc0) {
			v = ((e[0] & 0x1f) << 8) | e[1];
			if (v >= 4096)
				v -= 8192;
		} else
			slen = ((e[0] & 0x0f) << 8) | e[1];
		break;
	}

	l = hdr + slen;
	blen = lp_backlen_size(l);
	if (slen > avail || l + blen > avail)
		return fail(it, "element at offset %zu (%llu bytes) runs past "
		    "the end", it->pos, (unsigned long long)(l + blen));
	if (!lp_backlen_ok(e + l, blen, l))
		return fail(it, "element at offset %zu: backlen does not "
		    "encode its length %llu", it->pos, (unsigned long long)l);
	if (it->countknown && it->index >= it->count)
		return fail(it, "more elements than the %llu announced "
		    "(offset %zu)", (unsigned long long)it->count, it->pos);
	it->last = it->pos;
	it->pos += l + blen;
	if (isstr)
		return emit_str(it, it->last + hdr, slen, p, len);
	return emit_int(it, v, p, len);
}

/* ----------------------------------------------------------- ziplist */

int
zl_open(struct compact_it *it, const void *buf, size_t len)
{
	if (packed_open(it, COMPACT_ZIPLIST, buf, len, ZL_HDR, 8) == -1)
		return -1;
	it->tail = le32(it->buf + 4);
	if (it->tail >= len)
		return fail(it, "tail offset %zu outside %zu bytes", it->tail,
		    len);
	it->last = ZL_HDR;
	return 0;
}

static int
zl_next(struct compact_it *it, const char **p, size_t *len)
{
	const unsigned char *e = it->buf + it->pos, *enc;
	size_t avail = it->len - 1 - it->pos;
	size_t plen = 1, hdr = 1, dlen = 0, total;
	uint64_t prev;
	int64_t v = 0;
	int isstr = 0;

	if (e[0] == END_BYTE) {
		if (it->tail != it->last)
			return fail(it, "tail offset %zu, last entry is at %zu",
			    it->tail, it->last);
		return finish(it);
	}
	prev = e[0];
	if (e[0] == 0xfe) {
		plen = 5;
		if (avail < plen)
			return fail(it, "prevlen at offset %zu runs past the "
			    "end", it->pos);
		prev = le32(e + 1);
	}
	if (prev != it->lastlen)
		return fail(it, "entry at offset %zu: prevlen %llu, previous "
		    "entry has %zu bytes", it->pos, (unsigned long long)prev,
		    it->lastlen);
	if (avail < plen + 1)
		return fail(it, "entry at offset %zu runs past the end",
		    it->pos);
	enc = e + plen;
	switch (enc[0] & 0xc0) {
	case 0x00:
		isstr = 1;
		dlen = enc[0] & 0x3f;
		break;
	case 0x40:
		isstr = 1;
		hdr = 2;
		break;
	case 0x80:
		if (enc[0] != 0x80)
			return fail(it, "invalid encoding byte 0x%02x at "
			    "offset %zu", enc[0], it->pos + plen);
		isstr = 1;
		hdr = 5;
		break;
	default:
		switch (enc[0]) {
		case 0xc0:
			dlen = 2;
			break;
		case 0xd0:
			dlen = 4;
			break;
		case 0xe0:
			dlen = 8;
			break;
		case 0xf0:
			dlen = 3;
			break;
		case 0xfe:
			dlen = 1;
			break;
		default:
			if (enc[0] < 0xf1 || enc[0] > 0xfd)
				return fail(it, "invalid encoding byte 0x%02x "
				    "at offset %zu", enc[0], it->pos + plen);
			v = (enc[0] & 0x0f) - 1;
			break;
		}
	}
	if (avail - plen < hdr)
		return fail(it, "entry header at offset %zu runs past the end",
		    it->pos);
	if (hdr == 2)
		dlen = ((size_t)(enc[0] & 0x3f) << 8) | enc[1];
	else if (hdr == 5)
		dlen = be32(enc + 1);
	if (dlen > avail - plen - hdr)
		return fail(it, "entry at offset %zu (%zu data bytes) runs "
		    "past the end", it->pos, dlen);
	total = plen + hdr + dlen;
	if (it->countknown && it->index >= it->count)
		return fail(it, "more entries than the %llu announced "
		    "(offset %zu)", (unsigned long long)it->count, it->pos);
	if (!isstr) {
		const unsigned char *d = enc + 1;

		switch (enc[0]) {
		case 0xc0:
			v = (int16_t)le16(d);
			break;
		case 0xd0:
			v = (int32_t)le32(d);
			break;
		case 0xe0:
			v = (int64_t)le64(d);
			break;
		case 0xf0:
			v = (int32_t)((le16(d) | (uint32_t)d[2] << 16) << 8)
			    >> 8;
			break;
		case 0xfe:
			v = (int8_t)d[0];
			break;
		}
	}
	it->last = it->pos;
	it->lastlen = total;
	it->pos += total;
	if (isstr)
		return emit_str(it, it->last + plen + hdr, dlen, p, len);
	return emit_int(it, v, p, len);
}

/* ------------------------------------------------------------ intset */

int
is_open(struct compact_it *it, const void *buf, size_t len)
{
	uint32_t width, n;

	start(it, COMPACT_INTSET, buf, len);
	if (len < IS_HDR)
		return fail(it, "%zu bytes, shorter than the header", len);
	width = le32(it->buf);
	if (width != 2 && width != 4 && width != 8)
		return fail(it, "invalid encoding %u (not 2, 4 or 8)", width);
	n = le32(it->buf + 4);
	if ((uint64_t)n * width + IS_HDR != len)
		return fail(it, "%u elements of %u bytes do not fill %zu "
		    "bytes", n, width, len);
	it->width = width;
	it->count = n;
	it->countknown = 1;
	it->pos = IS_HDR;
	return 0;
}

static int
is_next(struct compact_it *it, const char **p, size_t *len)
{
	const unsigned char *e = it->buf + it->pos;
	int64_t v;

	if (it->index == it->count) {
		it->done = 1;
		return 0;
	}
	if (it->width == 2)
		v = (int16_t)le16(e);
	else if (it->width == 4)
		v = (int32_t)le32(e);
	else
		v = (int64_t)le64(e);
	if (it->index > 0 && v <= it->ival)
		return fail(it, "element %llu (%lld) at offset %zu not above "
		    "the previous one", (unsigned long long)it->index,
		    (long long)v, it->pos);
	it->pos += it->width;
	return emit_int(it, v, p, len);
}

/* ------------------------------------------------------------ zipmap */

int
zm_open(struct compact_it *it, const void *buf, size_t len)
{
	start(it, COMPACT_ZIPMAP, buf, len);
	if (len < 2)
		return fail(it, "%zu bytes, shorter than header and end "
		    "marker", len);
	if (it->buf[len - 1] != END_BYTE)
		return fail(it, "last byte 0x%02x is not the end marker",
		    it->buf[len - 1]);
	if (it->buf[0] < 254) {
		it->count = 2 * (uint64_t)it->buf[0];
		it->countknown = 1;
	}
	it->pos = 1;
	return 0;
}

/*
 * A zipmap length: 0..253 in one byte, 254 + u32 (little-endian).  It
 * must leave at least the end marker after it, so that pos stays inside
 * the buffer and len - 1 - pos cannot wrap.
 */
static int
zm_len(struct compact_it *it, size_t *n)
{
	const unsigned char *e = it->buf + it->pos;
	size_t avail = it->len - 1 - it->pos;	/* bytes before the end marker */

	if (e[0] == 255)
		return fail(it, "end marker at offset %zu where a value "
		    "length belongs", it->pos);
	if (avail < (e[0] < 254 ? 1 : 5))
		return fail(it, "length at offset %zu runs past the end",
		    it->pos);
	if (e[0] < 254) {
		*n = e[0];
		it->pos++;
		return 0;
	}
	*n = le32(e + 1);
	it->pos += 5;
	return 0;
}

static int
zm_next(struct compact_it *it, const char **p, size_t *len)
{
	size_t at = it->pos, n = 0, off, nfree = 0;

	if (!it->zmvalue && it->buf[it->pos] == END_BYTE)
		return finish(it);
	if (zm_len(it, &n) == -1)
		return -1;
	if (it->zmvalue) {
		if (it->pos >= it->len - 1)
			return fail(it, "free byte of the value at offset %zu "
			    "missing", at);
		nfree = it->buf[it->pos++];
	}
	/* The element and its free bytes must leave room for the end marker. */
	if (n > it->len - 1 - it->pos ||
	    nfree > it->len - 1 - it->pos - n)
		return fail(it, "%s at offset %zu (%zu bytes) runs past the "
		    "end", it->zmvalue ? "value" : "key", at, n);
	if (it->countknown && it->index >= it->count)
		return fail(it, "more pairs than the %llu announced (offset "
		    "%zu)", (unsigned long long)it->count / 2, at);
	off = it->pos;
	it->pos += n + nfree;
	it->zmvalue = !it->zmvalue;
	it->last = at;
	return emit_str(it, off, n, p, len);
}

static int
next_slow(struct compact_it *it, const char **p, size_t *len)
{
	if (it->done == 1)
		return 0;
	if (it->done == -1)
		return -1;
	switch (it->kind) {
	case COMPACT_LISTPACK:
		return lp_next(it, p, len);
	case COMPACT_ZIPLIST:
		return zl_next(it, p, len);
	case COMPACT_INTSET:
		return is_next(it, p, len);
	case COMPACT_ZIPMAP:
		return zm_next(it, p, len);
	}
	return fail(it, "iterator not opened");
}

/*
 * Most elements of most files are listpack entries in one of three forms
 * with a one-byte backlen: a 7-bit unsigned integer, a string of up to 63
 * bytes, a 13-bit signed integer.  They take this short path; anything
 * else, and any entry that fails a check here, goes the long way, which
 * also finds the error.
 */
int
compact_next(struct compact_it *it, const char **p, size_t *len)
{
	const unsigned char *e;
	size_t avail, l;
	int64_t v;

	if (it->kind != COMPACT_LISTPACK || it->done != 0 ||
	    (it->countknown && it->index >= it->count))
		return next_slow(it, p, len);
	e = it->buf + it->pos;
	avail = it->len - 1 - it->pos;	/* bytes before the end marker */
	if (e[0] < 0x80) {
		if (avail >= 2 && e[1] == 1) {
			it->last = it->pos;
			it->pos += 2;
			return emit_int(it, e[0], p, len);
		}
	} else if (e[0] < 0xc0) {
		l = 1 + (e[0] & 0x3f);
		if (l < avail && e[l] == l) {
			it->last = it->pos;
			it->pos += l + 1;
			return emit_str(it, it->last + 1, l - 1, p, len);
		}
	} else if (e[0] < 0xe0) {
		if (avail >= 3 && e[2] == 2) {
			v = ((e[0] & 0x1f) << 8) | e[1];
			if (v >= 4096)
				v -= 8192;
			it->last = it->pos;
			it->pos += 3;
			return emit_int(it, v, p, len);
		}
	}
	return next_slow(it, p, len);
}
