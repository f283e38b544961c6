/*
 * worker.h - one process per FLOW (worker.c), forked by the supervisor.
 *
 * The full-sync barrier is a counter in a shared anonymous mapping made
 * before the fork: a worker increments it once it has consumed
 * FULLSYNC_END and the target acknowledged every write before it, then
 * sends MSG_FULLSYNC_DONE (imsg.h).  The supervisor sends DFLY STARTSTABLE
 * only when the counter equals the number of flows.
 */
#ifndef DF2REDIS_WORKER_H
#define DF2REDIS_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "dfly.h"

/*
 * Shared between the supervisor and every worker of one session.  In
 * stable sync a global command (FLUSHALL, FLUSHDB) comes on every flow
 * and runs once (journal.md 5): each flow counts itself in `arrived` once
 * the target acknowledged everything before it; the last one runs it and
 * bumps `generation`, which releases the others.
 */
struct session_shm {
	atomic_uint	 barrier;	/* flows past FULLSYNC_END, acked */
	atomic_uint	 arrived;	/* flows waiting at a global command */
	atomic_uint	 generation;	/* global commands run so far */
};

/*
 * Run flow `flow` of session `m`, reporting on msgfd (imsg.h), asking for
 * a partial sync from lsn (0: a full sync); with mark, a full resync
 * whose keys are marked and swept (sweep.h); never returns.
 */
void	worker_main(const struct config *, const struct dfly_master *,
	    int flow, int msgfd, struct session_shm *, uint64_t lsn, int mark)
	    __attribute__((noreturn));

#endif
