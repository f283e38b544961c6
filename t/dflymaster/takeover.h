/*
 * takeover.h - DFLY TAKEOVER (replication.md 10) and the write block it
 * holds while the replica catches up.
 */
#ifndef DFLYMASTER_TAKEOVER_H
#define DFLYMASTER_TAKEOVER_H

#include <stddef.h>

struct client;
struct session;

void	 takeover_start(struct client *, size_t, char **, size_t *);
void	 takeover_tick(struct session *);
int	 takeover_writes_blocked(void);
void	 takeover_unblock(void);

#endif
