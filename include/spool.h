/*
 * spool.h - a flow worker's queue of stream bytes read from the master and
 * not yet applied to the target: the journal waits here, first in memory,
 * then in a file in the state directory, whenever the target is slower
 * than the master or away.  The worker thereby reads its FLOW socket
 * whatever the target does, and Dragonfly never throttles its writers or
 * cancels the session because of the target (replication.md 9).
 *
 * Bytes come out in the order they went in.  The memory part holds the
 * oldest bytes; once it is full, every byte goes to the file, in records
 * of up to SPOOL_RECORD bytes, each with its length and CRC-64, until the
 * file is read to its end, when it is emptied and memory takes over again.
 * A record that reads back with another checksum is an ERR_DATA error
 * naming the file and its offset: bytes are never skipped.
 *
 * The spool is scratch, not a checkpoint: the LSN store holds what the
 * target acknowledged, and a worker that starts again resumes from it by
 * partial sync.  spool_open() therefore empties any file a dead worker
 * left, and nothing is fsynced.
 */
#ifndef DF2REDIS_SPOOL_H
#define DF2REDIS_SPOOL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SPOOL_RECORD	(256 * 1024)	/* bytes of one file record, at most */

struct spool_opts {
	const char	*path;		/* the file, created on first use */
	size_t		 mem_max;	/* bytes held in memory */
	uint64_t	 file_max;	/* bytes of the file, records included;
					   0: memory only */
};

struct spool;

struct spool	*spool_open(const struct spool_opts *, struct error *);
/* Frees the memory and removes the file. */
void		 spool_close(struct spool *);
/*
 * Append n bytes: 0, or SPOOL_FULL when they do not fit (nothing is
 * appended), or -1 (ERR_SYS) when the file cannot be written.
 */
#define SPOOL_FULL	1
int		 spool_put(struct spool *, const void *, size_t, struct error *);
/*
 * Up to max of the oldest bytes into buf, removing them: the count, 0 when
 * the spool is empty, -1 (ERR_DATA for a corrupt record, ERR_SYS) on
 * failure.
 */
ssize_t		 spool_get(struct spool *, void *buf, size_t max,
		    struct error *);
/* Drops everything; the file is emptied. */
int		 spool_clear(struct spool *, struct error *);
/* Bytes waiting, in all. */
uint64_t	 spool_bytes(const struct spool *);
/* Bytes waiting in the file (records not yet read back). */
uint64_t	 spool_file_bytes(const struct spool *);

#endif
