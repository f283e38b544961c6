/*
 * buf.h - a growable byte buffer: the writer's element arenas and the
 * DUMP payloads it builds.  Functions return -1 when memory ran out,
 * leaving the buffer as it was.
 */
#ifndef DF2REDIS_BUF_H
#define DF2REDIS_BUF_H

#include <stddef.h>

struct buf {
	char	*p;
	size_t	 len, cap;
};

/* Room for more bytes after len. */
int	buf_reserve(struct buf *, size_t more);
int	buf_add(struct buf *, const void *, size_t);
/* Frees the memory and empties the buffer. */
void	buf_free(struct buf *);

#endif
