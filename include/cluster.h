/*
 * cluster.h - what a Redis Cluster client needs besides a socket: the
 * key's hash slot (CRC16-XMODEM of the key or of its {hash tag}), the
 * CLUSTER SLOTS reply as a list of master ranges, the slot map of the
 * target channel's nodes (node.h), and the MOVED / ASK redirections.
 */
#ifndef DF2REDIS_CLUSTER_H
#define DF2REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "error.h"

#define CLUSTER_NSLOTS		16384
#define CLUSTER_HOSTLEN		256

struct cluster_range {
	unsigned int	 first;
	unsigned int	 last;
	char		 host[CLUSTER_HOSTLEN];
	int		 port;
	int		 nreplicas;	/* replicas listed after the master */
};

enum cluster_redirect {
	REDIRECT_NONE,
	REDIRECT_MOVED,
	REDIRECT_ASK,
};

uint16_t	 cluster_crc16(const char *, size_t);
unsigned int	 cluster_keyslot(const char *, size_t);
/*
 * A short string (digits) that hashes to slot: a name of ours
 * "{<tag>}df2redis:..." then lives in the slot of the key it serves,
 * whatever braces that key contains.
 */
const char	*cluster_slottag(unsigned int slot);
/*
 * The masters of a CLUSTER SLOTS reply, one range each; a master that does
 * not know its own address ("" or "?") is given defhost.  Returns the
 * number of ranges (*rangesp is malloc'd), -1 on a malformed reply.
 */
int		 cluster_parse_slots(const redisReply *, const char *,
		    struct cluster_range **, char *, size_t);
/* "MOVED 3999 127.0.0.1:6381" or "ASK ..."; REDIRECT_NONE otherwise. */
enum cluster_redirect cluster_parse_redirect(const char *, size_t,
		    unsigned int *, char *, size_t, int *);
/* "host:port", "[v6]:port" or "v6:port" (last colon) into host and port. */
int		 cluster_split_addr(const char *, size_t, char *, size_t,
		    int *);

struct net_conn;
struct node;

/*
 * Which node serves each slot.  Every node's nslots is kept equal to the
 * number of slots it serves, and nreplicas to the replicas the last
 * CLUSTER SLOTS listed for it (Redis leaves out those it marked failed);
 * changed is set whenever a slot changes hands, and cleared by the owner
 * once its queued commands followed.
 */
struct cluster_map {
	struct node	*slots[CLUSTER_NSLOTS];
	int		 changed;
	/* the owner's node at host:port, made when new; NULL: no memory */
	struct node	*(*node)(void *, const char *host, int port);
	void		*arg;
};

/*
 * CLUSTER SLOTS on c, as the map from now on; defhost stands for the
 * masters that do not know their address.  -1 with e (the map is kept
 * on a malformed reply).
 */
int		 cluster_map_load(struct cluster_map *, struct net_conn *,
		    const char *defhost, struct error *);
/* The slot is served by nd from now on (a MOVED reply said so). */
void		 cluster_map_set(struct cluster_map *, unsigned int slot,
		    struct node *);

#endif
