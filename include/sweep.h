/*
 * sweep.h - the end of a full resync: every key of the written target dbs
 * that no flow wrote (marks.h) is deleted, so that what the master
 * deleted while no journal reached the target does not stay for ever,
 * and the target served every other key all along.
 *
 * The sweeper is a process of its own, forked by the supervisor once
 * every worker has its full-sync writes acknowledged, its marks flushed
 * and its journal held (PHASE_SWEEP): nothing writes to the target while
 * it runs, and the master never waits, the workers spool.  It sorts the
 * marks, SCANs each db the workers write to (each master of a cluster),
 * and UNLINKs every key without a mark, except df2redis's own
 * ("{N}df2redis:...") and those the key filter leaves out (filter.h): they
 * are not df2redis's; dbs no copied source db maps to are never touched.  Its
 * result is one MSG_SWEPT (imsg.h); then it exits.
 */
#ifndef DF2REDIS_SWEEP_H
#define DF2REDIS_SWEEP_H

#include "config.h"

#define SWEEP_SORT_MEM	(64 << 20)	/* bytes of marks sorted at once */

/* Sweep after a resync of nflows flows, reporting on fd; never returns. */
void	sweep_main(const struct config *, int nflows, int fd)
	    __attribute__((noreturn));

#endif
