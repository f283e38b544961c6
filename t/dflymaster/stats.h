/*
 * stats.h - counters reported by DFLYMASTER STATS, which the tests read.
 */
#ifndef DFLYMASTER_STATS_H
#define DFLYMASTER_STATS_H

#include <stdint.h>

enum stat_id {
	STAT_SESSIONS,
	STAT_FULL_SYNCS,
	STAT_PARTIAL_SYNCS,
	STAT_CANCELLED,
	STAT_JOURNAL_RECORDS,
	STAT_FAULTS,		/* fault switches that took effect */
	STAT_JOURNAL_BLOBS,	/* JOURNAL_BLOBs sent during full syncs */
	STAT_BAD_ACKS,		/* REPLCONF ACK not of exactly 3 tokens */
	STAT_ACKS_AHEAD,	/* ACKs past the shard's next LSN */
	STAT_THROTTLES,		/* times writers were throttled */
	STAT_THROTTLED_MS,	/* and for how long, in all */
	STAT_USER_AUTHS,	/* AUTH USER PASSWORD accepted */
	STAT_COUNT
};

void		 stat_inc(enum stat_id);
void		 stat_add(enum stat_id, uint64_t);
uint64_t	 stat_get(enum stat_id);

#endif
