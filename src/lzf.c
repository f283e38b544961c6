/*
 * lzf.c - LZF decompression (liblzf's format, snapshot.md section 3.2).
 *
 * A control byte below 32 starts a literal run of c + 1 bytes; otherwise
 * it is a back-reference of (c >> 5) + 2 bytes (length 7 takes one more
 * length byte) at distance ((c & 0x1f) << 8) + next byte + 1.  Every read
 * and write is checked against its buffer, and the output must come out
 * exactly outlen bytes long with the input fully consumed.
 */
#include <stddef.h>
#include <string.h>

#include "lzf.h"

int
lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen)
{
	const unsigned char *ip = in, *iend = ip + inlen;
	unsigned char *op = out, *oend = op + outlen;
	const unsigned char *ref;
	size_t len, dist;
	unsigned int c;

	while (ip < iend) {
		c = *ip++;
		if (c < 32) {
			len = c + 1;
			if ((size_t)(iend - ip) < len ||
			    (size_t)(oend - op) < len)
				return -1;
			memcpy(op, ip, len);
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
		ref = op - dist;
		/* Overlapping copies repeat the pattern: byte by byte. */
		if (dist >= len) {
			memcpy(op, ref, len);
			op += len;
		} else {
			while (len-- > 0)
				*op++ = *ref++;
		}
	}
	return op == oend ? 0 : -1;
}
