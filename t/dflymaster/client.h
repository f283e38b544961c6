/*
 * client.h - one client connection: its buffers, what it is (a plain
 * client, a replication control connection or a flow), its MULTI queue.
 */
#ifndef DFLYMASTER_CLIENT_H
#define DFLYMASTER_CLIENT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "obuf.h"

enum ckind { C_PLAIN, C_CTRL, C_FLOW };

struct session;
struct flow;
struct ssl_st;

struct mcmd {
	size_t		 argc;
	char		**argv;
	size_t		*lens;
};

struct client {
	TAILQ_ENTRY(client) entry;
	int		 fd;
	struct ssl_st	*ssl;		/* the TLS listener's, or NULL */
	uint64_t	 id;
	enum ckind	 kind;
	uint8_t		*in;
	size_t		 inlen;
	size_t		 incap;
	struct obuf	 out;
	uint64_t	 sent;		/* bytes written to the socket */
	int		 db;
	int		 authed;
	int		 limited;	/* AUTH as --user: --user-commands only */
	int		 closing;	/* close once out is flushed */
	int		 dead;
	int		 in_multi;
	int		 multi_err;
	struct mcmd	*mq;
	size_t		 nmq;
	struct session	*sess;		/* control connection's session */
	struct flow	*flow;
	void		*replay;	/* replay.c per-connection state */
};

TAILQ_HEAD(clientq, client);

struct client	*client_new(int, struct ssl_st *);
void		 client_close(struct client *);	/* dead; freed by the loop */
void		 client_free(struct client *);
void		 client_mq_free(struct client *);
void		 client_read(struct client *);
void		 client_write(struct client *);
/* write(2) on the connection, TLS or not. */
ssize_t		 client_send(struct client *, const void *, size_t);

#endif
