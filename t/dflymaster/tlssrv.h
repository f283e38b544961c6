/*
 * tlssrv.h - the test master's TLS listener (--tls-port), as Dragonfly's
 * --tls: one server context, one session per accepted client, and reads
 * and writes with read(2)/write(2)'s results on non-blocking sockets.
 */
#ifndef DFLYMASTER_TLSSRV_H
#define DFLYMASTER_TLSSRV_H

#include <sys/types.h>

#include <stddef.h>

struct ssl_st;

/* The context, from options(); exits on a bad certificate or key. */
void		 tlssrv_init(void);
/* A server session on the accepted fd; the handshake runs on I/O. */
struct ssl_st	*tlssrv_new(int fd);
void		 tlssrv_free(struct ssl_st *);
/*
 * Handshake first, then data: a count, 0 at the end, -1 with errno
 * (EAGAIN: later).
 */
ssize_t		 tlssrv_read(struct ssl_st *, void *, size_t);
ssize_t		 tlssrv_write(struct ssl_st *, const void *, size_t);

#endif
