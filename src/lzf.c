/*
 * lzf.c - LZF decompression (liblzf's format, snapshot.md section 3.2).
 *
 * A control byte below 32 starts a literal run of c + 1 bytes; otherwise
 * it is a back-reference of (c >> 5) + 2 bytes (length 7 takes one more
 * length byte) at distance ((c & 0x1f) << 8) + next byte + 1.  Every read
 * and write is checked against its buffer, and the output must come out
 * exactly outlen bytes long with the input fully consumed.
 *
 * Copies are made of fixed-size blocks (single loads and stores once
 * compiled), the last one ending exactly where the run ends, so nothing
 * is read or written outside the run even at the ends of the buffers.
 */
#include <stddef.h>
#include <string.h>

#include "lzf.h"

/* 1 <= len <= 32 bytes, source and destination apart. */
static inline void
copy_short(unsigned char *op, const unsigned char *ip, size_t len)
{
	if (len >= 16) {
		memcpy(op, ip, 16);
		memcpy(op + len - 16, ip + len - 16, 16);
	} else if (len >= 8) {
		memcpy(op, ip, 8);
		memcpy(op + len - 8, ip + len - 8, 8);
	} else if (len >= 4) {
		memcpy(op, ip, 4);
		memcpy(op + len - 4, ip + len - 4, 4);
	} else {
		op[0] = ip[0];
		op[len / 2] = ip[len / 2];
		op[len - 1] = ip[len - 1];
	}
}

/*
 * len > blk bytes from blk or more bytes back, in blocks of blk: each
 * block reads only bytes written before it, the last ends at the run's end.
 */
#define COPY_BLOCKS(op, ref, len, blk) do {				\
	size_t left_ = (len);						\
	do {								\
		memcpy((op), (ref), (blk));				\
		(op) += (blk);						\
		(ref) += (blk);						\
		left_ -= (blk);						\
	} while (left_ > (blk));					\
	memcpy((op) + left_ - (blk), (ref) + left_ - (blk), (blk));	\
} while (0)

static inline void
copy_match(unsigned char *op, const unsigned char *ref, size_t len,
    size_t dist)
{
	if (dist >= len && len <= 32)
		copy_short(op, ref, len);
	else if (dist >= 16)
		COPY_BLOCKS(op, ref, len, 16);
	else if (dist >= 8)
		COPY_BLOCKS(op, ref, len, 8);
	else if (dist == 1)
		memset(op, *ref, len);
	else
		/* a short pattern repeated: byte by byte */
		while (len-- > 0)
			*op++ = *ref++;
}

int
lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen)
{
	const unsigned char *ip = in, *iend = ip + inlen;
	unsigned char *op = out, *oend = op + outlen;
	size_t len, dist;
	unsigned int c;

	while (ip < iend) {
		c = *ip++;
		if (c < 32) {
			len = c + 1;
			if ((size_t)(iend - ip) < len ||
			    (size_t)(oend - op) < len)
				return -1;
			copy_short(op, ip, len);
			op += len;
			ip += len;
			continue;
		}
		len = c >> 5;
		if (len == 7) {
			if (ip >= iend)
				return -1;
			len += *ip++;
		}
		len += 2;
		if (ip >= iend)
			return -1;
		dist = ((size_t)(c & 0x1f) << 8) + *ip++ + 1;
		if ((size_t)(op - (unsigned char *)out) < dist ||
		    (size_t)(oend - op) < len)
			return -1;
		copy_match(op, op - dist, len, dist);
		op += len;
	}
	return op == oend ? 0 : -1;
}
