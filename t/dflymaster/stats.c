/*
 * stats.c - counters reported by DFLYMASTER STATS.
 */

#include "stats.h"

static uint64_t	stats[STAT_COUNT];

void
stat_inc(enum stat_id s)
{
	stats[s]++;
}

uint64_t
stat_get(enum stat_id s)
{
	return stats[s];
}

void
stat_add(enum stat_id s, uint64_t n)
{
	stats[s] += n;
}
