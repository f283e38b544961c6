/*
 * net.h - one blocking connection to a RESP server (Redis, Dragonfly):
 * connect with a timeout, AUTH, send a command, read its reply.
 *
 * Every read and write waits at most timeout_ms.  Replies are parsed by
 * hiredis's reader, which does no I/O: bytes read past the last reply
 * stay in it, and net_leftover() hands them over (the snapshot stream
 * that follows a DFLY FLOW reply).  The target channel and the workers'
 * FLOWs connect with this and then drive the same connection themselves
 * with net_recv() and net_write(), which do plain or TLS I/O (tls.h)
 * alike: poll for net_events(), and read without polling while
 * net_pending() (TLS holds bytes already decrypted).  A TLS socket is
 * non-blocking from the start; a plain one stays as its owner sets it.
 *
 * Messages start with the connection's name ("target H:P" or "H:P").
 */
#ifndef DF2REDIS_NET_H
#define DF2REDIS_NET_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "error.h"
#include "tls.h"

#define NET_NAMELEN	300

struct net_conn {
	int		 fd;		/* -1 when closed */
	int		 timeout_ms;	/* connect, and every reply */
	char		 name[NET_NAMELEN];
	redisReader	*reader;
	struct tls_sess	*tls;		/* NULL: plain */
	short		 rwant;		/* TLS: what the last read waits for */
	short		 wwant;		/* and the last write */
	int		 answered;	/* a byte came back (net.c's reads) */
};

void		 net_init(struct net_conn *);
/* "host:port", or "[v6]:port" for a host with a colon. */
void		 net_format_addr(char *, size_t, const char *host, int port);
/*
 * Connects (TCP_NODELAY, keepalive) and, with a password, authenticates.
 * The connection's name is prefix (may be "") and the address.  A refused
 * password is ERR_AUTH; any other refusal (LOADING, too many clients)
 * ERR_TARGET; no connection ERR_IO.
 */
int		 net_connect(struct net_conn *, const char *prefix,
		    const char *host, int port, int timeout_ms,
		    const char *user, const char *password, struct error *);
/* The same over TLS when tls is enabled (NULL: plain). */
int		 net_connect_tls(struct net_conn *, const char *prefix,
		    const char *host, int port, int timeout_ms,
		    const char *user, const char *password,
		    const struct tls_conf *tls, struct error *);
void		 net_close(struct net_conn *);
/*
 * Closes a connection inherited across fork(): no TLS close_notify,
 * which would end it for the parent too.
 */
void		 net_drop(struct net_conn *);
/*
 * read(2) and send(2) on the connection, plain or TLS: a count, 0 at the
 * end (net_recv), or -1 with errno; EAGAIN when nothing can move now.
 * net_strerror() says why one failed (TLS gives OpenSSL's reason).
 */
ssize_t		 net_recv(struct net_conn *, void *, size_t);
ssize_t		 net_write(struct net_conn *, const void *, size_t);
const char	*net_strerror(const struct net_conn *, int errnum);
/* All of buf, waiting up to timeout_ms for each step; ERR_IO. */
int		 net_write_all(struct net_conn *, const void *, size_t,
		    struct error *);
/*
 * The poll events for a caller that wants to read (POLLIN) or write
 * (POLLOUT): TLS may need the other direction first.  net_ready() says
 * whether a poll's revents let the wanted direction go on.
 */
short		 net_events(const struct net_conn *, short want);
int		 net_ready(const struct net_conn *, short want, short revents);
/* Bytes that can be read now though no poll says so (TLS). */
int		 net_pending(const struct net_conn *);
/* Without consuming: 1 data, 0 end of stream, -1 errno (EAGAIN: none). */
int		 net_peek(struct net_conn *);
/* argvlen NULL: strlen() of each argument. */
int		 net_send(struct net_conn *, int argc, const char **argv,
		    const size_t *argvlen, struct error *);
/* The next reply (error replies too); NULL on I/O or protocol error. */
redisReply	*net_read(struct net_conn *, struct error *);
/* net_send() then net_read(). */
redisReply	*net_command(struct net_conn *, int argc, const char **argv,
		    const size_t *argvlen, struct error *);
/*
 * net_command() that takes an error reply as a failure: "NAME: ARGV0:
 * REPLY", kind ERR_TARGET.
 */
redisReply	*net_command_ok(struct net_conn *, int argc, const char **argv,
		    const size_t *argvlen, struct error *);
/* Bytes read past the last reply; consumes them. */
size_t		 net_leftover(struct net_conn *, const char **);
/* Whether a refusal of AUTH will come back the same on every attempt. */
int		 net_auth_refused(const char *reply);

#endif
