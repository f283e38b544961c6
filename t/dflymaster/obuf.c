/*
 * obuf.c - output buffers: bytes appended at the end, sent from the front.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "obuf.h"

void
obuf_add(struct obuf *b, const void *p, size_t n)
{
	size_t	 need;

	if (n == 0)
		return;
	if (b->off > 0 && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	need = b->len + n;
	if (need > b->cap) {
		if (b->off > 0 && need - b->off <= b->cap) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		} else {
			size_t	 cap = b->cap ? b->cap : 4096;

			while (cap < need)
				cap *= 2;
			if ((b->p = realloc(b->p, cap)) == NULL)
				fatal("realloc");
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

size_t
obuf_pending(const struct obuf *b)
{
	return b->len - b->off;
}

void
obuf_free(struct obuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
