/*
 * repl.h - replication sessions (replication.md 2-9): a control connection
 * and one flow per shard, through PREPARATION, FULL_SYNC and STABLE_SYNC.
 */
#ifndef DFLYMASTER_REPL_H
#define DFLYMASTER_REPL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "dflymaster.h"

struct client;
struct flow;

enum sstate { S_PREPARATION, S_FULL_SYNC, S_STABLE_SYNC, S_CANCELLED };

struct session {
	TAILQ_ENTRY(session) entry;
	int		 id;
	enum sstate	 state;
	int		 nflows;
	struct client	*ctl;
	struct flow	*flows[MAX_SHARDS];
	int		 client_version;
	int		 faulty;	/* the fault switches act on it */
	/* DFLY TAKEOVER */
	int		 takeover;
	int64_t		 takeover_deadline;
	uint64_t	 takeover_lsn[MAX_SHARDS];
};

void		 repl_replconf(struct client *, size_t, char **, size_t *);
void		 repl_dfly(struct client *, size_t, char **, size_t *);
struct session	*repl_session_arg(struct client *, const char *, size_t);
void		 repl_cancel(struct session *, const char *);
void		 repl_client_closed(struct client *);
void		 repl_journal(int, uint64_t, const uint8_t *, size_t);
int		 repl_snapshots_step(void);	/* 1: more work */
void		 repl_tick(void);
void		 repl_wrote(struct client *);
int		 repl_throttled(void);
int		 repl_nsessions(void);
void		 repl_stats(struct client *);
void		 repl_flows(struct client *);
/*
 * The next partial STARTSTABLE finds the backlog evicted, as a master
 * under heavy writes may between DFLY FLOW and the replay (7.2 step 5).
 */
void		 repl_evict_next_partial(void);

#endif
