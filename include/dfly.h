/*
 * dfly.h - client side of Dragonfly's replication protocol
 * (replication.md): connection with AUTH, the handshake on the control
 * connection, FLOW registration, DFLY SYNC and DFLY STARTSTABLE.
 *
 * Blocking sockets with a timeout on every reply.  Replies are read with a
 * small RESP reader of our own because the bytes after a FLOW reply are
 * the beginning of the snapshot stream: dfly_leftover() hands them over.
 */
#ifndef DF2REDIS_DFLY_H
#define DF2REDIS_DFLY_H

#include <stddef.h>
#include <stdint.h>

#define DFLY_ID_LEN		40	/* replid, lineage id and EOF token */
#define DFLY_MAX_FLOWS		1024
/*
 * The DflyVersion we announce (0-based wire value).  We say VER5 (4): a
 * client announcing more than VER5 may receive HNSW vector-index opcodes
 * (222/223) and per-shard search-index AUX fields, which a Redis target
 * has no use for; everything we need (LSN opcodes, partial sync) exists
 * at VER5.
 */
#define DFLY_CLIENT_VERSION	4

/* return values besides 0 */
#define DFLY_ERR	(-1)	/* I/O or protocol error: retry may help */
#define DFLY_EFATAL	(-2)	/* auth refused, not a Dragonfly: retrying won't */

struct dfly_conn {
	int		 fd;
	int		 timeout_ms;
	char		 peer[300];
	char		 buf[16384];
	size_t		 off, len;	/* unread bytes: buf[off..len) */
};

struct dfly_master {
	char		 replid[DFLY_ID_LEN + 1];
	char		 syncid[32];
	int		 nflows;
	int		 version;	/* master DflyVersion, -1 if not sent */
	char		 lineage[DFLY_ID_LEN + 1];	/* "" before v1.40 */
};

struct dfly_flow_reply {
	int		 partial;	/* 1 PARTIAL, 0 FULL */
	char		 token[DFLY_ID_LEN + 1];
};

void	dfly_init(struct dfly_conn *);
/* Connect, enable keepalive, AUTH when a password is given. */
int	dfly_connect(struct dfly_conn *, const char *host, int port,
	    const char *user, const char *password, int timeout_ms,
	    char *err, size_t errlen);
void	dfly_close(struct dfly_conn *);
/* PING, REPLCONF listening-port/capa, capa dragonfly, CLIENT-VERSION. */
int	dfly_handshake(struct dfly_conn *, struct dfly_master *, char *,
	    size_t);
/* DFLY FLOW replid syncid flow [lsn]; lsn 0 asks for a full sync. */
int	dfly_flow(struct dfly_conn *, const struct dfly_master *, int flow,
	    uint64_t lsn, struct dfly_flow_reply *, char *, size_t);
int	dfly_sync(struct dfly_conn *, const struct dfly_master *, char *,
	    size_t);
int	dfly_startstable(struct dfly_conn *, const struct dfly_master *,
	    char *, size_t);
/*
 * The same in two halves, for a caller that keeps serving its flows while
 * the master writes every trailer before it answers (replication.md 4.3):
 * send, then read the reply once the connection is readable.
 */
int	dfly_startstable_send(struct dfly_conn *, const struct dfly_master *,
	    char *, size_t);
int	dfly_startstable_reply(struct dfly_conn *, char *, size_t);
/* Send a command and expect +OK. */
int	dfly_command_ok(struct dfly_conn *, int argc, const char **argv,
	    char *, size_t);
/* Bytes read past the last reply; consumes them. */
size_t	dfly_leftover(struct dfly_conn *, const char **);

#endif
