/*
 * obuf.h - output buffers: bytes appended at the end, sent from the front.
 */
#ifndef DFLYMASTER_OBUF_H
#define DFLYMASTER_OBUF_H

#include <stddef.h>
#include <stdint.h>

struct obuf {
	uint8_t	*p;
	size_t	 off;		/* first unsent byte */
	size_t	 len;
	size_t	 cap;
};

void	 obuf_add(struct obuf *, const void *, size_t);
size_t	 obuf_pending(const struct obuf *);
void	 obuf_free(struct obuf *);

#endif
