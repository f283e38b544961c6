/*
 * net.h - one blocking connection to a RESP server (Redis, Dragonfly):
 * connect with a timeout, AUTH, send a command, read its reply.
 *
 * Every read and write waits at most timeout_ms.  Replies are parsed by
 * hiredis's reader, which does no I/O: bytes read past the last reply
 * stay in it, and net_leftover() hands them over (the snapshot stream
 * that follows a DFLY FLOW reply).  The target channel connects its
 * nodes with this and then drives the same socket and reader itself,
 * non-blocking.
 *
 * Messages start with the connection's name ("target H:P" or "H:P").
 */
#ifndef DF2REDIS_NET_H
#define DF2REDIS_NET_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "error.h"

#define NET_NAMELEN	300

struct net_conn {
	int		 fd;		/* -1 when closed */
	int		 timeout_ms;	/* connect, and every reply */
	char		 name[NET_NAMELEN];
	redisReader	*reader;
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
void		 net_close(struct net_conn *);
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
