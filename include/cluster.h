/*
 * cluster.h - what a Redis Cluster client needs besides a socket: the
 * key's hash slot (CRC16-XMODEM of the key or of its {hash tag}), the
 * CLUSTER SLOTS reply as a list of master ranges, and the MOVED / ASK
 * redirections.
 */
#ifndef DF2REDIS_CLUSTER_H
#define DF2REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLUSTER_NSLOTS		16384
#define CLUSTER_HOSTLEN		256

struct cluster_range {
	unsigned int	 first;
	unsigned int	 last;
	char		 host[CLUSTER_HOSTLEN];
	int		 port;
};

enum cluster_redirect {
	REDIRECT_NONE,
	REDIRECT_MOVED,
	REDIRECT_ASK,
};

uint16_t	 cluster_crc16(const char *, size_t);
unsigned int	 cluster_keyslot(const char *, size_t);
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

#endif
