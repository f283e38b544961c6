/*
 * node.h - one connection of the target channel (target.c): to the Redis
 * server, or to one master of a Redis Cluster.
 *
 * A node connects through net.c (AUTH), selects again the db of its last
 * acknowledged SELECT, then drives its socket without blocking.  It owns
 * a byte buffer of RESP-encoded commands and a ring of command records in
 * the same order.  Bytes are written in large batches; each reply pops
 * the oldest record and releases its bytes, so everything not yet
 * acknowledged is still in the buffer and can be written again after a
 * reconnect.
 *
 * Byte positions are 64-bit sequence numbers that only grow: "base" is
 * the number of buf[0], "start" the first unacknowledged byte, "wpos" the
 * next byte to write and "end" the end of the queued bytes.
 *
 * Which node a command goes to and what a reply means (redirections,
 * retries, resends) is target.c's business: a node hands every reply and
 * every lost connection to its owner through node_ops.
 */
#ifndef DF2REDIS_NODE_H
#define DF2REDIS_NODE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "error.h"
#include "net.h"
#include "url.h"

#define CMD_ASKING	0x01	/* bytes start with ASKING */
#define CMD_ASKED	0x02	/* the ASKING reply was consumed */
#define CMD_TOMB	0x04	/* moved to another node; drop the reply */
#define CMD_KEYLESS	0x08
#define CMD_SELECT	0x10	/* SELECT selectdb: a reconnect re-selects it */
#define CMD_INTERNAL	0x20	/* ours: the reply goes to no callback */
#define CMD_NORESEND	0x40	/* TARGET_NORESEND: never run twice */
#define CMD_PROBE	0x80	/* a retried command: nothing after it is
				   written before its reply */
#define CMD_DURABLE	0x100	/* ours: WAIT, or the write before it
				   (target_durable()); never redirected */

struct tgroup;

struct node_cmd {
	uint64_t	 tag;
	struct tgroup	*group;		/* target_send_all(), or NULL */
	uint64_t	 off;		/* sequence number of the first byte */
	uint64_t	 retry_since;	/* ms of the first retry, 0 none */
	uint32_t	 len;		/* bytes, ASKING included */
	uint32_t	 keyoff;	/* key bytes, from after ASKING */
	uint32_t	 keylen;
	int32_t		 selectdb;
	uint16_t	 slot;
	uint16_t	 flags;
	uint8_t		 tries;
	uint8_t		 redirects;
};

struct node;

/*
 * What the owner does with a reply and with a lost connection; both
 * return -1 once the owner has failed.  lost() must call node_reset().
 */
struct node_ops {
	int	(*reply)(void *, struct node *, const redisReply *);
	int	(*lost)(void *, struct node *, const char *why);
};

struct node {
	TAILQ_ENTRY(node)	 entry;
	char			 host[CLUSTER_HOSTLEN];
	int			 port;
	char			 name[CLUSTER_HOSTLEN + 16];
	const struct node_ops	*ops;
	void			*arg;
	struct net_conn		 conn;		/* fd -1 while not connected */
	char			*buf;
	size_t			 bufsz;
	uint64_t		 base, start, wpos, end;
	struct node_cmd		*ring;
	size_t			 ringsz;	/* a power of two */
	size_t			 head, n;
	size_t			 live;		/* n minus tombstones */
	size_t			 nslots;	/* slots it serves (cluster.c) */
	int			 nreplicas;	/* its replicas (CLUSTER SLOTS) */
	/*
	 * Durability (target_durable()): dirty, a command ran here since
	 * the replicas last acknowledged everything; lost_dirty, the
	 * connection was lost meanwhile, so a WAIT on the next one must
	 * first be given a write of its own to count from.
	 */
	int			 dirty;
	int			 lost_dirty;
	int			 wait_asked;	/* a WAIT is queued */
	int			 wait_need;	/* for this many replicas */
	long long		 wait_acked;	/* its answer, -1 none yet */
	char			 wait_err[160];	/* or its refusal */
	int			 db;		/* as of the last acknowledged SELECT */
	uint64_t		 hold_until;	/* ms: no write before */
	uint64_t		 probe_end;	/* no write past it; 0 none */
	int			 unsent_tombs;	/* tombstones past wpos */
	uint64_t		 down_since;	/* ms: lost, 0 once answered again */
	uint64_t		 wait_since;	/* ms: last reply, or first write
						   with nothing in flight */
	uint64_t		 last_wait_log;
	long long		 client_id;	/* CLIENT ID of the connection */
	char			 laddr[CLUSTER_HOSTLEN + 16]; /* our end */
	uint64_t		 next_try;	/* ms: next reconnect */
	unsigned int		 attempts;
	uint64_t		 last_retry_log;
	struct error		 err;		/* why the last connect, or the
						   last command queued, failed */
	uint64_t		 moved;		/* MOVED replies it gave */
	uint64_t		 ask;		/* ASK replies it gave */
	uint64_t		 reconnects;	/* after a loss */
};

TAILQ_HEAD(nodes, node);

/* Record i, from the oldest unacknowledged one. */
#define NODE_CMD(nd, i)	(&(nd)->ring[((nd)->head + (i)) & ((nd)->ringsz - 1)])

uint64_t	 node_now(void);
struct node	*node_new(const char *host, int port, const struct node_ops *,
		    void *);
void		 node_free(struct node *);
/* A blocking connection with the target's credentials and timeout. */
int		 node_dial(struct net_conn *, const struct target_opts *,
		    const char *host, int port, struct error *);
/*
 * Connects, SELECTs the node's db when select is set, and closes the
 * node's previous connection on the server.  -1 with nd->err.
 */
int		 node_connect(struct node *, const struct target_opts *,
		    int select);

/* Queues one command's RESP bytes; NULL with nd->err. */
struct node_cmd	*node_append(struct node *, int argc, const char **argv,
		    const size_t *argvlen, int keyidx);
/*
 * Copies record i of src to the tail of dst, with or without an ASKING
 * prefix; fresh clears its redirection count.  src and dst may be the
 * same node.  -1 with dst->err.
 */
int		 node_copy(struct node *src, size_t i, struct node *dst,
		    int asking, int fresh);
/* Record i was copied elsewhere: its reply, if any, is dropped. */
void		 node_tomb(struct node *, size_t i);
/* Drops the oldest record (a tombstone, or counted out of live already). */
void		 node_pop(struct node *);
/* Drops the oldest record, a live one. */
void		 node_done(struct node *);
const char	*node_cmd_key(const struct node *, const struct node_cmd *);
/* The first byte not to write yet: the end, or the end of the probe. */
uint64_t	 node_write_limit(struct node *);

/* Non-blocking I/O; a lost connection goes to ops->lost. */
int		 node_write(struct node *);
/* Reads and hands every whole reply to ops->reply; buf is scratch. */
int		 node_read(struct node *, char *buf, size_t bufsz);
/*
 * Commands on the wire and no reply for a while: warned about every few
 * seconds, lost after reply_timeout_ms (0: never).  *timeout is cut to
 * wake up for the next of these.
 */
int		 node_check_silence(struct node *, uint64_t now,
		    int reply_timeout_ms, int *timeout);
/* Commands not safe to resend that may have run: wholly written. */
size_t		 node_unsafe(const struct node *);
/* After a lost connection: closed, everything unacknowledged to write. */
void		 node_reset(struct node *, const char *why, uint64_t now);

#endif
