/*
 * rdbenc_pack.c - encoders for the packed values inside Dragonfly's FLOW
 * stream: listpacks, ziplists, intsets (snapshot.md 10), stream nodes and
 * metadata (6.11) and the probabilistic types (6.13, 6.15-6.17).  Written
 * from snapshot.md; nothing here shares code with the decoder in src/.
 */
#include <err.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "rdbenc_pack.h"

/* --- listpack (10.1) --- */

#define LP_HDR	6

void
enc_lp_init(struct enc_lp *lp)
{
	enc_init(&lp->b);
	lp->count = 0;
	enc_reserve(&lp->b, LP_HDR);
	memset(lp->b.p, 0, LP_HDR);
	lp->b.len = LP_HDR;
}

void
enc_lp_free(struct enc_lp *lp)
{
	enc_free(&lp->b);
}

size_t
enc_lp_backlen_size(size_t l)
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

static void
lp_backlen(struct enc_lp *lp, size_t l)
{
	size_t	 n = enc_lp_backlen_size(l), i;
	uint8_t	 b[5];

	for (i = 0; i < n; i++) {
		size_t shift = 7 * (n - 1 - i);

		b[i] = (l >> shift) & 0x7f;
		if (i > 0)
			b[i] |= 0x80;
	}
	enc_bytes(&lp->b, b, n);
	lp->count++;
}

void
enc_lp_int_form(struct enc_lp *lp, int64_t v, int bits)
{
	uint64_t	 u = (uint64_t)v;

	switch (bits) {
	case 7:
		enc_u8(&lp->b, u & 0x7f);
		lp_backlen(lp, 1);
		break;
	case 13:
		u &= 0x1fff;
		enc_u8(&lp->b, 0xC0 | (u >> 8));
		enc_u8(&lp->b, u & 0xff);
		lp_backlen(lp, 2);
		break;
	case 16:
		enc_u8(&lp->b, 0xF1);
		enc_le(&lp->b, u, 2);
		lp_backlen(lp, 3);
		break;
	case 24:
		enc_u8(&lp->b, 0xF2);
		enc_le(&lp->b, u, 3);
		lp_backlen(lp, 4);
		break;
	case 32:
		enc_u8(&lp->b, 0xF3);
		enc_le(&lp->b, u, 4);
		lp_backlen(lp, 5);
		break;
	case 64:
		enc_u8(&lp->b, 0xF4);
		enc_le(&lp->b, u, 8);
		lp_backlen(lp, 9);
		break;
	default:
		errx(1, "rdbenc: bad listpack int width %d", bits);
	}
}

void
enc_lp_int(struct enc_lp *lp, int64_t v)
{
	if (v >= 0 && v <= 127)
		enc_lp_int_form(lp, v, 7);
	else if (v >= -4096 && v <= 4095)
		enc_lp_int_form(lp, v, 13);
	else if (v >= INT16_MIN && v <= INT16_MAX)
		enc_lp_int_form(lp, v, 16);
	else if (v >= -(1 << 23) && v < (1 << 23))
		enc_lp_int_form(lp, v, 24);
	else if (v >= INT32_MIN && v <= INT32_MAX)
		enc_lp_int_form(lp, v, 32);
	else
		enc_lp_int_form(lp, v, 64);
}

void
enc_lp_str_form(struct enc_lp *lp, const void *p, size_t len, int bits)
{
	size_t	 hdr;

	switch (bits) {
	case 6:
		if (len >= 64)
			errx(1, "rdbenc: %zu bytes in a 6-bit listpack string", len);
		enc_u8(&lp->b, 0x80 | len);
		hdr = 1;
		break;
	case 12:
		if (len >= 4096)
			errx(1, "rdbenc: %zu bytes in a 12-bit listpack string", len);
		enc_u8(&lp->b, 0xE0 | (len >> 8));
		enc_u8(&lp->b, len & 0xff);
		hdr = 2;
		break;
	case 32:
		if (len > UINT32_MAX)
			errx(1, "rdbenc: %zu bytes in a listpack string", len);
		enc_u8(&lp->b, 0xF0);
		enc_le(&lp->b, len, 4);
		hdr = 5;
		break;
	default:
		errx(1, "rdbenc: bad listpack string width %d", bits);
	}
	enc_bytes(&lp->b, p, len);
	lp_backlen(lp, hdr + len);
}

void
enc_lp_rawstr(struct enc_lp *lp, const void *p, size_t len)
{
	if (len < 64)
		enc_lp_str_form(lp, p, len, 6);
	else if (len < 4096)
		enc_lp_str_form(lp, p, len, 12);
	else
		enc_lp_str_form(lp, p, len, 32);
}

void
enc_lp_str(struct enc_lp *lp, const void *p, size_t len)
{
	long long	 v;

	if (enc_parse_canonical(p, len, 20, &v))
		enc_lp_int(lp, v);
	else
		enc_lp_rawstr(lp, p, len);
}

const uint8_t *
enc_lp_finish(struct enc_lp *lp, size_t *len)
{
	uint8_t	*h;
	size_t	 total;

	enc_u8(&lp->b, 0xFF);
	total = lp->b.len;
	if (total > UINT32_MAX)
		errx(1, "rdbenc: listpack of %zu bytes", total);
	h = lp->b.p;
	h[0] = total;
	h[1] = total >> 8;
	h[2] = total >> 16;
	h[3] = total >> 24;
	h[4] = lp->count < 65535 ? lp->count : 65535;
	h[5] = (lp->count < 65535 ? lp->count : 65535) >> 8;
	*len = total;
	return lp->b.p;
}

/* --- ziplist (10.4) --- */

#define ZL_HDR	10

void
enc_zl_init(struct enc_zl *zl)
{
	enc_init(&zl->b);
	enc_reserve(&zl->b, ZL_HDR);
	memset(zl->b.p, 0, ZL_HDR);
	zl->b.len = ZL_HDR;
	zl->count = 0;
	zl->tail = ZL_HDR;
	zl->prevlen = 0;
}

void
enc_zl_free(struct enc_zl *zl)
{
	enc_free(&zl->b);
}

static void
zl_begin(struct enc_zl *zl)
{
	zl->tail = zl->b.len;
	if (zl->prevlen < 254)
		enc_u8(&zl->b, zl->prevlen);
	else {
		enc_u8(&zl->b, 0xFE);
		enc_le(&zl->b, zl->prevlen, 4);
	}
}

static void
zl_end(struct enc_zl *zl)
{
	zl->prevlen = zl->b.len - zl->tail;
	zl->count++;
}

void
enc_zl_int(struct enc_zl *zl, int64_t v)
{
	zl_begin(zl);
	if (v >= 0 && v <= 12)
		enc_u8(&zl->b, 0xF1 + v);
	else if (v >= INT8_MIN && v <= INT8_MAX) {
		enc_u8(&zl->b, 0xFE);
		enc_le(&zl->b, (uint64_t)v, 1);
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		enc_u8(&zl->b, 0xC0);
		enc_le(&zl->b, (uint64_t)v, 2);
	} else if (v >= -(1 << 23) && v < (1 << 23)) {
		enc_u8(&zl->b, 0xF0);
		enc_le(&zl->b, (uint64_t)v, 3);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		enc_u8(&zl->b, 0xD0);
		enc_le(&zl->b, (uint64_t)v, 4);
	} else {
		enc_u8(&zl->b, 0xE0);
		enc_le(&zl->b, (uint64_t)v, 8);
	}
	zl_end(zl);
}

void
enc_zl_str(struct enc_zl *zl, const void *p, size_t len)
{
	long long	 v;

	if (enc_parse_canonical(p, len, 31, &v)) {
		enc_zl_int(zl, v);
		return;
	}
	zl_begin(zl);
	if (len < 64)
		enc_u8(&zl->b, len);
	else if (len < 16384) {
		enc_u8(&zl->b, 0x40 | (len >> 8));
		enc_u8(&zl->b, len & 0xff);
	} else {
		enc_u8(&zl->b, 0x80);
		enc_be(&zl->b, len, 4);
	}
	enc_bytes(&zl->b, p, len);
	zl_end(zl);
}

const uint8_t *
enc_zl_finish(struct enc_zl *zl, size_t *len)
{
	uint8_t	*h;
	size_t	 total;
	uint32_t n = zl->count < 65535 ? zl->count : 65535;
	int	 i;

	enc_u8(&zl->b, 0xFF);
	total = zl->b.len;
	h = zl->b.p;
	for (i = 0; i < 4; i++) {
		h[i] = total >> (8 * i);
		h[4 + i] = zl->tail >> (8 * i);
	}
	h[8] = n;
	h[9] = n >> 8;
	*len = total;
	return zl->b.p;
}

/* --- intset (10.3) --- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
enc_intset(struct enc *e, const int64_t *v, size_t n)
{
	int64_t	*s;
	size_t	 i;
	int	 w = 2;

	if ((s = reallocarray(NULL, n ? n : 1, sizeof(*s))) == NULL)
		err(1, "rdbenc: intset");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_i64);
	for (i = 0; i < n; i++) {
		if (s[i] < INT32_MIN || s[i] > INT32_MAX)
			w = 8;
		else if ((s[i] < INT16_MIN || s[i] > INT16_MAX) && w < 4)
			w = 4;
	}
	enc_u32le(e, w);
	enc_u32le(e, n);
	for (i = 0; i < n; i++)
		enc_le(e, (uint64_t)s[i], w);
	free(s);
}

/* --- streams (6.11, 10.2) --- */

void
enc_stream_lp_begin(struct enc_lp *lp, uint64_t count, uint64_t deleted,
    const char *const *fields, const size_t *flens, size_t nfields)
{
	size_t	 i;

	enc_lp_int(lp, count);
	enc_lp_int(lp, deleted);
	enc_lp_int(lp, nfields);
	for (i = 0; i < nfields; i++)
		enc_lp_str(lp, fields[i], flens[i]);
	enc_lp_int(lp, 0);
}

void
enc_stream_lp_entry(struct enc_lp *lp, int flags, int64_t ms_delta,
    int64_t seq_delta, const char *const *s, const size_t *slens, size_t n)
{
	size_t	 i;

	enc_lp_int(lp, flags);
	enc_lp_int(lp, ms_delta);
	enc_lp_int(lp, seq_delta);
	if (!(flags & ENC_STREAM_SAMEFIELDS))
		enc_lp_int(lp, n / 2);
	for (i = 0; i < n; i++)
		enc_lp_str(lp, s[i], slens[i]);
	if (flags & ENC_STREAM_SAMEFIELDS)
		enc_lp_int(lp, 3 + n);
	else
		enc_lp_int(lp, 3 + 1 + n);
}

void
enc_stream_rawid(struct enc *e, struct enc_id id)
{
	enc_be(e, id.ms, 8);
	enc_be(e, id.seq, 8);
}

void
enc_stream_node(struct enc *e, struct enc_id key, const void *lp, size_t len)
{
	enc_len(e, 16);
	enc_stream_rawid(e, key);
	enc_str_plain(e, lp, len);
}

void
enc_stream_meta(struct enc *e, int type, uint64_t length, struct enc_id last,
    struct enc_id first, struct enc_id maxdel, uint64_t added, uint64_t ngroups)
{
	enc_len(e, length);
	enc_len(e, last.ms);
	enc_len(e, last.seq);
	if (type != ENC_T_STREAM_LISTPACKS) {
		enc_len(e, first.ms);
		enc_len(e, first.seq);
		enc_len(e, maxdel.ms);
		enc_len(e, maxdel.seq);
		enc_len(e, added);
	}
	enc_len(e, ngroups);
}

void
enc_stream_group(struct enc *e, int type, const void *name, size_t nlen,
    struct enc_id last, uint64_t entries_read, uint64_t npel)
{
	enc_str(e, name, nlen);
	enc_len(e, last.ms);
	enc_len(e, last.seq);
	if (type != ENC_T_STREAM_LISTPACKS)
		enc_len(e, entries_read);
	enc_len(e, npel);
}

void
enc_stream_pel(struct enc *e, struct enc_id id, int64_t delivery_ms,
    uint64_t count)
{
	enc_stream_rawid(e, id);
	enc_le(e, (uint64_t)delivery_ms, 8);
	enc_len(e, count);
}

void
enc_stream_consumer(struct enc *e, int type, const void *name, size_t nlen,
    int64_t seen_ms, int64_t active_ms, uint64_t npel)
{
	enc_str(e, name, nlen);
	enc_le(e, (uint64_t)seen_ms, 8);
	if (type == ENC_T_STREAM_LISTPACKS_3)
		enc_le(e, (uint64_t)active_ms, 8);
	enc_len(e, npel);
}

/* --- Dragonfly probabilistic types --- */

void
enc_sbf_begin(struct enc *e, double grow, double fp, uint64_t prev,
    uint64_t cur, uint64_t max, uint64_t nfilters)
{
	enc_len(e, 0);
	enc_double(e, grow);
	enc_double(e, fp);
	enc_len(e, prev);
	enc_len(e, cur);
	enc_len(e, max);
	enc_len(e, nfilters);
}

static void
enc_chunked(struct enc *e, const void *p, size_t len, size_t chunk)
{
	const uint8_t	*b = p;

	if (chunk == 0)
		chunk = len;
	enc_len(e, len);
	while (len > 0) {
		size_t	 n = len < chunk ? len : chunk;

		enc_len(e, n);
		enc_bytes(e, b, n);
		b += n;
		len -= n;
	}
}

void
enc_sbf_filter(struct enc *e, int type, uint64_t hash_count, const void *bits,
    size_t len, size_t chunk)
{
	enc_len(e, hash_count);
	if (type == ENC_T_SBF)
		enc_str(e, bits, len);
	else
		enc_chunked(e, bits, len, chunk);
}

void
enc_cms(struct enc *e, uint64_t width, uint64_t depth, uint64_t total,
    const int64_t *counters)
{
	uint64_t	 i;

	enc_len(e, width);
	enc_len(e, depth);
	enc_len(e, total);
	for (i = 0; i < width * depth; i++)
		enc_le(e, (uint64_t)counters[i], 8);
}

void
enc_topk_begin(struct enc *e, uint64_t k, uint64_t width, uint64_t depth,
    double decay, uint64_t heap_count)
{
	enc_len(e, 0);
	enc_len(e, k);
	enc_len(e, width);
	enc_len(e, depth);
	enc_double(e, decay);
	enc_len(e, heap_count);
}

void
enc_topk_heap(struct enc *e, const void *item, size_t len, uint64_t count)
{
	enc_str(e, item, len);
	enc_len(e, count);
}

void
enc_topk_counters(struct enc *e, const uint32_t *c, size_t n)
{
	size_t	 i;

	enc_len(e, n * 4);
	for (i = 0; i < n; i++)
		enc_u32le(e, c[i]);
}

void
enc_cuckoo_begin(struct enc *e, uint64_t spb, uint64_t maxit,
    uint64_t expansion, uint64_t nbuckets, uint64_t nitems, uint64_t ndeletes,
    uint64_t nfilters)
{
	enc_len(e, spb);
	enc_len(e, maxit);
	enc_len(e, expansion);
	enc_len(e, nbuckets);
	enc_len(e, nitems);
	enc_len(e, ndeletes);
	enc_len(e, nfilters);
}

void
enc_cuckoo_filter(struct enc *e, const void *p, size_t len, size_t chunk)
{
	enc_chunked(e, p, len, chunk);
}
