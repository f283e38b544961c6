/*
 * rdbenc.c - byte encoders for Dragonfly's FLOW stream and journal
 * records.  Every encoding is written from snapshot.md and journal.md;
 * nothing here shares code with the decoder in src/.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "rdbenc.h"

void
enc_init(struct enc *e)
{
	e->p = NULL;
	e->len = e->cap = 0;
}

void
enc_free(struct enc *e)
{
	free(e->p);
	enc_init(e);
}

void
enc_reset(struct enc *e)
{
	e->len = 0;
}

void
enc_reserve(struct enc *e, size_t n)
{
	size_t	 cap;
	uint8_t	*p;

	if (n <= e->cap - e->len)
		return;
	if (n > SIZE_MAX / 2 - e->len)
		errx(1, "rdbenc: buffer size overflow");
	cap = e->cap ? e->cap : 256;
	while (cap - e->len < n)
		cap *= 2;
	if ((p = realloc(e->p, cap)) == NULL)
		err(1, "rdbenc: realloc %zu", cap);
	e->p = p;
	e->cap = cap;
}

void
enc_bytes(struct enc *e, const void *p, size_t n)
{
	if (n == 0)
		return;
	enc_reserve(e, n);
	memcpy(e->p + e->len, p, n);
	e->len += n;
}

void
enc_u8(struct enc *e, uint8_t v)
{
	enc_bytes(e, &v, 1);
}

void
enc_le(struct enc *e, uint64_t v, int n)
{
	uint8_t	 b[8];
	int	 i;

	for (i = 0; i < n; i++)
		b[i] = v >> (8 * i);
	enc_bytes(e, b, n);
}

void
enc_be(struct enc *e, uint64_t v, int n)
{
	uint8_t	 b[8];
	int	 i;

	for (i = 0; i < n; i++)
		b[i] = v >> (8 * (n - 1 - i));
	enc_bytes(e, b, n);
}

void
enc_u16le(struct enc *e, uint16_t v)
{
	enc_le(e, v, 2);
}

void
enc_u32le(struct enc *e, uint32_t v)
{
	enc_le(e, v, 4);
}

void
enc_u64le(struct enc *e, uint64_t v)
{
	enc_le(e, v, 8);
}

void
enc_u64be(struct enc *e, uint64_t v)
{
	enc_be(e, v, 8);
}

void
enc_len_width(struct enc *e, uint64_t v, int width)
{
	switch (width) {
	case 1:
		if (v >= 64)
			errx(1, "rdbenc: %" PRIu64 " does not fit a 1-byte length", v);
		enc_u8(e, v);
		break;
	case 2:
		if (v >= 16384)
			errx(1, "rdbenc: %" PRIu64 " does not fit a 2-byte length", v);
		enc_u8(e, 0x40 | (v >> 8));
		enc_u8(e, v & 0xff);
		break;
	case 5:
		if (v > UINT32_MAX)
			errx(1, "rdbenc: %" PRIu64 " does not fit a 5-byte length", v);
		enc_u8(e, 0x80);
		enc_be(e, v, 4);
		break;
	case 9:
		enc_u8(e, 0x81);
		enc_be(e, v, 8);
		break;
	default:
		errx(1, "rdbenc: bad length width %d", width);
	}
}

void
enc_len(struct enc *e, uint64_t v)
{
	if (v < 64)
		enc_len_width(e, v, 1);
	else if (v < 16384)
		enc_len_width(e, v, 2);
	else if (v <= UINT32_MAX)
		enc_len_width(e, v, 5);
	else
		enc_len_width(e, v, 9);
}

/* strict decimal: what formatting the parsed value gives back exactly */
int
enc_parse_canonical(const void *p, size_t len, size_t maxlen, long long *v)
{
	char	 buf[32], back[32];
	char	*end;

	if (len == 0 || len > maxlen || len >= sizeof(buf))
		return 0;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL)
		return 0;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	snprintf(back, sizeof(back), "%lld", *v);
	return strcmp(buf, back) == 0;
}

int
enc_str_intform(const void *p, size_t len, long long *v)
{
	if (!enc_parse_canonical(p, len, 11, v))
		return 0;
	return *v >= INT32_MIN && *v <= INT32_MAX;
}

void
enc_str_plain(struct enc *e, const void *p, size_t len)
{
	enc_len(e, len);
	enc_bytes(e, p, len);
}

void
enc_str(struct enc *e, const void *p, size_t len)
{
	long long	 v;

	if (!enc_str_intform(p, len, &v)) {
		enc_str_plain(e, p, len);
		return;
	}
	if (v >= INT8_MIN && v <= INT8_MAX) {
		enc_u8(e, 0xC0);
		enc_le(e, (uint64_t)v, 1);
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		enc_u8(e, 0xC1);
		enc_le(e, (uint64_t)v, 2);
	} else {
		enc_u8(e, 0xC2);
		enc_le(e, (uint64_t)v, 4);
	}
}

void
enc_str_ll(struct enc *e, long long v)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%lld", v);
	enc_str(e, buf, n);
}

/*
 * LZF: literal runs of up to 32 bytes (control c < 32: c + 1 bytes follow)
 * and back-references of 3..264 bytes up to 8192 bytes back.
 */
#define LZF_HBITS	14

#define LZF_MAXOFF	8192

#define LZF_MAXREF	264

static size_t
lzf_flush_lit(const uint8_t *lit, size_t nlit, uint8_t *out, size_t o,
    size_t outcap)
{
	while (nlit > 0) {
		size_t	 n = nlit > 32 ? 32 : nlit;

		if (o + 1 + n > outcap)
			return SIZE_MAX;
		out[o++] = n - 1;
		memcpy(out + o, lit, n);
		o += n;
		lit += n;
		nlit -= n;
	}
	return o;
}

size_t
enc_lzf_compress(const void *inp, size_t inlen, void *outp, size_t outcap)
{
	const uint8_t	*in = inp;
	uint8_t		*out = outp;
	size_t		*htab, i = 0, lit = 0, o = 0;

	if ((htab = calloc(1 << LZF_HBITS, sizeof(*htab))) == NULL)
		err(1, "rdbenc: lzf table");
	while (i + 2 < inlen) {
		uint32_t h = ((in[i] << 16) | (in[i + 1] << 8) | in[i + 2]);
		size_t	 ref, mlen, off;

		h = (h * 2654435761u) >> (32 - LZF_HBITS);
		ref = htab[h];
		htab[h] = i + 1;
		if (ref == 0 || i - (ref - 1) > LZF_MAXOFF ||
		    memcmp(in + ref - 1, in + i, 3) != 0) {
			i++;
			continue;
		}
		ref--;
		mlen = 3;
		while (mlen < LZF_MAXREF && i + mlen < inlen &&
		    in[ref + mlen] == in[i + mlen])
			mlen++;
		if ((o = lzf_flush_lit(in + lit, i - lit, out, o, outcap)) ==
		    SIZE_MAX)
			goto toobig;
		off = i - ref - 1;
		if (o + 3 > outcap)
			goto toobig;
		if (mlen - 2 < 7)
			out[o++] = ((mlen - 2) << 5) | (off >> 8);
		else {
			out[o++] = (7 << 5) | (off >> 8);
			out[o++] = mlen - 2 - 7;
		}
		out[o++] = off & 0xff;
		i += mlen;
		lit = i;
	}
	if ((o = lzf_flush_lit(in + lit, inlen - lit, out, o, outcap)) ==
	    SIZE_MAX)
		goto toobig;
	free(htab);
	return o;
toobig:
	free(htab);
	return 0;
}

int
enc_str_lzf(struct enc *e, const void *p, size_t len)
{
	uint8_t	*tmp;
	size_t	 clen;

	if (len < 2)
		return -1;
	if ((tmp = malloc(len - 1)) == NULL)
		err(1, "rdbenc: lzf buffer");
	if ((clen = enc_lzf_compress(p, len, tmp, len - 1)) == 0) {
		free(tmp);
		return -1;
	}
	enc_u8(e, 0xC3);
	enc_len(e, clen);
	enc_len(e, len);
	enc_bytes(e, tmp, clen);
	free(tmp);
	return 0;
}

void
enc_str_single_entry(struct enc *e, const void *p, size_t len)
{
	uint8_t	*tmp;
	size_t	 clen;

	if (len <= 20) {
		enc_str(e, p, len);
		return;
	}
	if ((tmp = malloc(len)) == NULL)
		err(1, "rdbenc: lzf buffer");
	clen = enc_lzf_compress(p, len, tmp, len);
	if (clen == 0 || clen >= len - 8 || clen * 100 >= len * 85) {
		free(tmp);
		enc_str(e, p, len);
		return;
	}
	enc_u8(e, 0xC3);
	enc_len(e, clen);
	enc_len(e, len);
	enc_bytes(e, tmp, clen);
	free(tmp);
}

void
enc_double(struct enc *e, double d)
{
	uint64_t	 bits;

	memcpy(&bits, &d, sizeof(bits));
	enc_le(e, bits, 8);
}

void
enc_header(struct enc *e, int version)
{
	char	 buf[16];

	snprintf(buf, sizeof(buf), "REDIS%04d", version);
	enc_bytes(e, buf, 9);
}

void
enc_aux_bin(struct enc *e, const void *name, size_t nlen, const void *value,
    size_t vlen)
{
	enc_u8(e, ENC_OP_AUX);
	enc_str(e, name, nlen);
	enc_str(e, value, vlen);
}

void
enc_aux(struct enc *e, const char *name, const char *value)
{
	enc_aux_bin(e, name, strlen(name), value, strlen(value));
}

void
enc_selectdb(struct enc *e, uint64_t db)
{
	enc_u8(e, ENC_OP_SELECTDB);
	enc_len(e, db);
}

void
enc_expire_ms(struct enc *e, int64_t ms)
{
	enc_u8(e, ENC_OP_EXPIRETIME_MS);
	enc_le(e, (uint64_t)ms, 8);
}

void
enc_df_mask(struct enc *e, uint32_t flags, uint32_t mc_flags)
{
	enc_u8(e, ENC_OP_DF_MASK);
	enc_u32le(e, flags);
	if (flags & ENC_DF_MASK_MC_FLAGS)
		enc_u32le(e, mc_flags);
}

void
enc_key(struct enc *e, uint8_t type, const void *key, size_t len)
{
	enc_u8(e, type);
	enc_str(e, key, len);
}

void
enc_count(struct enc *e, uint64_t n)
{
	enc_len(e, n);
}

void
enc_set_member(struct enc *e, const void *p, size_t len)
{
	enc_str(e, p, len);
}

void
enc_set_member_ttl(struct enc *e, const void *p, size_t len, long long expiry)
{
	enc_str(e, p, len);
	enc_str_ll(e, expiry);
}

void
enc_hash_field(struct enc *e, const void *f, size_t flen, const void *v,
    size_t vlen)
{
	enc_str(e, f, flen);
	enc_str(e, v, vlen);
}

void
enc_hash_field_ttl(struct enc *e, const void *f, size_t flen, const void *v,
    size_t vlen, long long expiry)
{
	enc_str(e, f, flen);
	enc_str(e, v, vlen);
	enc_str_ll(e, expiry);
}

void
enc_zset_member(struct enc *e, const void *p, size_t len, double score)
{
	enc_str(e, p, len);
	enc_double(e, score);
}

void
enc_ql_node(struct enc *e, int container, const void *p, size_t len, int lzf)
{
	enc_len(e, container);
	if (lzf && enc_str_lzf(e, p, len) == 0)
		return;
	enc_str_plain(e, p, len);
}

/* --- framing --- */

int
enc_blob(struct enc *e, enum enc_blob kind, const void *p, size_t len,
    int level)
{
	LZ4F_preferences_t	 prefs;
	size_t			 cap, clen;
	uint8_t			*tmp;

	if (kind == ENC_BLOB_LZ4) {
		memset(&prefs, 0, sizeof(prefs));
		prefs.frameInfo.contentSize = len;
		prefs.compressionLevel = level;
		cap = LZ4F_compressFrameBound(len, &prefs);
	} else
		cap = ZSTD_compressBound(len);
	if ((tmp = malloc(cap)) == NULL)
		err(1, "rdbenc: blob buffer");
	if (kind == ENC_BLOB_LZ4) {
		clen = LZ4F_compressFrame(tmp, cap, p, len, &prefs);
		if (LZ4F_isError(clen)) {
			free(tmp);
			return -1;
		}
	} else {
		clen = ZSTD_compress(tmp, cap, p, len, level);
		if (ZSTD_isError(clen)) {
			free(tmp);
			return -1;
		}
	}
	if (clen * 100 > len * 95) {
		free(tmp);
		return 0;
	}
	enc_u8(e, kind == ENC_BLOB_LZ4 ? ENC_OP_LZ4_BLOB : ENC_OP_ZSTD_BLOB);
	enc_str_plain(e, tmp, clen);
	free(tmp);
	return 1;
}

void
enc_tagged_chunk(struct enc *e, uint32_t id, const void *p, size_t len)
{
	if (len > UINT32_MAX)
		errx(1, "rdbenc: tagged chunk of %zu bytes", len);
	enc_u8(e, ENC_OP_TAGGED_CHUNK);
	enc_u32le(e, id);
	enc_u32le(e, len);
	enc_bytes(e, p, len);
}

void
enc_journal_blob(struct enc *e, uint64_t nrec, const void *p, size_t len,
    int lzf)
{
	enc_u8(e, ENC_OP_JOURNAL_BLOB);
	enc_len(e, nrec);
	if (lzf && enc_str_lzf(e, p, len) == 0)
		return;
	enc_str_plain(e, p, len);
}

void
enc_fullsync_end(struct enc *e)
{
	enc_u8(e, ENC_OP_FULLSYNC_END);
	enc_u64le(e, 0);
}

void
enc_journal_offset(struct enc *e, uint64_t lsn)
{
	enc_u8(e, ENC_OP_JOURNAL_OFFSET);
	enc_u64le(e, lsn);
}

void
enc_eof(struct enc *e)
{
	enc_u8(e, ENC_OP_EOF);
	enc_u64le(e, 0);
}

/* --- journal (journal.md) --- */

void
enc_pstr(struct enc *e, const void *p, size_t len)
{
	enc_len(e, len);
	enc_bytes(e, p, len);
}

void
enc_jr_command(struct enc *e, uint64_t db, uint64_t txid, size_t argc,
    const char *const *argv, const size_t *lens)
{
	uint64_t	 total = 0;
	size_t		 i;

	for (i = 0; i < argc; i++)
		total += lens[i];
	enc_u8(e, 0x06);
	enc_len(e, db);
	enc_u8(e, 0x0A);
	enc_len(e, txid);
	enc_len(e, 1);
	enc_len(e, argc);
	enc_len(e, total);
	for (i = 0; i < argc; i++)
		enc_pstr(e, argv[i], lens[i]);
}

void
enc_jr_ping(struct enc *e)
{
	enc_u8(e, 0x0D);
}

void
enc_jr_lsn(struct enc *e, uint64_t lsn)
{
	enc_u8(e, 0x0F);
	enc_len(e, lsn);
}
