/*
 * takeover.h - `df2redisctl takeover`: the supervisor's side of a
 * zero-loss cut-over by DFLY TAKEOVER (replication.md 10).
 *
 * The request is sent on the control connection and its control client
 * waits while the supervisor goes on serving its workers: the master
 * blocks writes, records a PING on every shard and answers +OK once each
 * flow acknowledged its PING, which a worker does only after the target
 * acknowledged every record before it (stable.c).  So +OK means every
 * write made on the master is on the target.  The master then shuts
 * itself down, the session ends as if stopped, the client hears each
 * flow's final LSN and the daemon exits 0.  An error reply (not in
 * stable sync, "Takeover failed!" on timeout) goes to the client and
 * replication goes on.
 */
#ifndef DF2REDIS_TAKEOVER_H
#define DF2REDIS_TAKEOVER_H

#include <stdint.h>

struct sup;

enum takeover_state {
	TAKEOVER_NONE,
	TAKEOVER_PENDING,	/* DFLY TAKEOVER sent, no reply yet */
	TAKEOVER_DONE,		/* +OK: the session ends, the daemon stops */
};

struct takeover {
	enum takeover_state	 state;
	int			 fd;		/* the waiting control client */
	int			 timeout_s;
	int64_t			 sent_ms;	/* mono */
};

#define TAKEOVER_DEFAULT_S	10
#define TAKEOVER_MAX_S		3600

/* The control request "takeover [SECONDS]": answered now or later. */
void	takeover_request(struct sup *, int fd, const char *arg);
/* The next reply on the master's control connection is ours. */
int	takeover_pending(const struct sup *);
/* Its connection is readable: read the reply, act on it. */
void	takeover_master_reply(struct sup *);
/* +OK came: what fails from now on is the master going away. */
int	takeover_done(const struct sup *);
/* sup_pump() condition: no reply of ours outstanding. */
int	takeover_idle(struct sup *);
/*
 * The session ended (its workers reaped): the client of a takeover that
 * succeeded hears the final LSNs, one still pending that it failed.
 */
void	takeover_session_end(struct sup *);

#endif
