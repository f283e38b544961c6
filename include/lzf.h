/* lzf.h - LZF decompression (liblzf format, snapshot.md section 3.2). */
#ifndef DF2REDIS_LZF_H
#define DF2REDIS_LZF_H

#include <stddef.h>

/* Decompress exactly outlen bytes; 0 on success, -1 on corrupt input. */
int	lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen);

#endif
