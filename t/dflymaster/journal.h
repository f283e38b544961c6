/*
 * journal.h - one journal per shard (journal.md 3-4): LSNs, transaction
 * ids, and the backlog kept for partial sync (replication.md 7.1).
 */
#ifndef DFLYMASTER_JOURNAL_H
#define DFLYMASTER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct obuf;

void		 journal_init(void);
uint64_t	 journal_txid(void);		/* a fresh transaction id */
uint64_t	 journal_lsn(int shard);	/* the LSN the next record gets */
void		 journal_cmd(int shard, int db, uint64_t txid, size_t argc,
		     const char *const *argv, const size_t *lens);
void		 journal_ping(int shard);
int		 journal_has(int shard, uint64_t lsn);
void		 journal_replay(int shard, uint64_t from, struct obuf *);
void		 journal_evict(int shard);
void		 journal_drop(int shard);	/* the whole backlog */

#endif
