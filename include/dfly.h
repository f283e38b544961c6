/*
 * dfly.h - client side of Dragonfly's replication protocol
 * (replication.md): connection with AUTH, the handshake on the control
 * connection, FLOW registration, DFLY SYNC, DFLY STARTSTABLE and
 * DFLY TAKEOVER.
 *
 * Blocking, with a timeout on every reply, on net.h's connection.  The
 * bytes read past a FLOW reply are the beginning of the snapshot stream:
 * net_leftover() hands them over.  A refused password is ERR_AUTH, a peer
 * that is no Dragonfly master ERR_CONFIG, a lost connection ERR_IO, any
 * other unexpected or error reply ERR_PROTO.
 */
#ifndef DF2REDIS_DFLY_H
#define DF2REDIS_DFLY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "net.h"

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

/* net_connect() named by the address alone, as the logs name the master. */
int	dfly_connect(struct net_conn *, const char *host, int port,
	    const char *user, const char *password, int timeout_ms,
	    struct error *);
/*
 * The same for the source of cfg: its user, password, timeout and TLS
 * (source-tls).  A connection that fails says "source H:P".
 */
int	dfly_open(struct net_conn *, const struct config *, struct error *);
/* PING, REPLCONF listening-port/capa, capa dragonfly, CLIENT-VERSION. */
int	dfly_handshake(struct net_conn *, struct dfly_master *,
	    struct error *);
/* DFLY FLOW replid syncid flow [lsn]; lsn 0 asks for a full sync. */
/* The keys of every database (INFO keyspace), for progress. */
int	dfly_keys(struct net_conn *, uint64_t *keys, struct error *);
int	dfly_flow(struct net_conn *, const struct dfly_master *, int flow,
	    uint64_t lsn, struct dfly_flow_reply *, struct error *);
int	dfly_sync(struct net_conn *, const struct dfly_master *,
	    struct error *);
int	dfly_startstable(struct net_conn *, const struct dfly_master *,
	    struct error *);
/*
 * The same in two halves, for a caller that keeps serving its flows while
 * the master writes every trailer before it answers (replication.md 4.3):
 * send, then read the reply once the connection is readable.
 */
int	dfly_startstable_send(struct net_conn *, const struct dfly_master *,
	    struct error *);
int	dfly_startstable_reply(struct net_conn *, struct error *);
/*
 * DFLY TAKEOVER <timeout_s> SYNC<n> (replication.md 10), in two halves
 * too: the master answers once every flow acknowledged its PING, or
 * after the timeout.  The reply is 0 for +OK; an error reply (-ERR
 * invalid state, -ERR Takeover failed!) is ERR_PROTO quoting it.
 */
int	dfly_takeover_send(struct net_conn *, const struct dfly_master *,
	    int timeout_s, struct error *);
int	dfly_takeover_reply(struct net_conn *, struct error *);

#endif
