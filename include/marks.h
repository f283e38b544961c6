/*
 * marks.h - the keys a full resync wrote, so that what it did not write
 * can be swept from the target afterwards (sweep.h).
 *
 * Each worker of a resync appends a 128-bit hash of (target db, name) to
 * STATE_DIR/marks-FLOW for every snapshot key it writes and for every
 * argument of every journal command it applies: knowing which arguments
 * are keys would take a table of every command, and a value marked as a
 * key can only keep a stale key, never delete a live one.  A hash
 * collision does the same.  The sweeper sorts the files into
 * STATE_DIR/marks.sorted, a run at a time in bounded memory, and looks
 * each target key up there.
 *
 * The files are scratch, but their presence is a promise: a sweep is
 * owed, and until it has run nothing the journal wrote since may be
 * trusted to the LSN store (a resume would skip the sweep), so the next
 * session is a full resync.  marks_remove() ends the promise.
 *
 * Errors follow error.h; a mark that could not be written is ERR_SYS,
 * kept by the writer handle until marks_flush() reports it: a sweep with
 * marks missing would delete live keys.
 */
#ifndef DF2REDIS_MARKS_H
#define DF2REDIS_MARKS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct marks;		/* one worker's file, being written */
struct markset;		/* every flow's, sorted, for lookups */

/* A new, empty STATE_DIR/marks-FLOW (one left over is replaced). */
struct marks	*marks_create(const char *dir, int flow, struct error *);
/* Buffered; a write error is kept for marks_flush(). */
void		 marks_add(struct marks *, int db, const char *, size_t);
/* Everything added is in the file (not synced: scratch); -1 error. */
int		 marks_flush(struct marks *, struct error *);
uint64_t	 marks_count(const struct marks *);
void		 marks_close(struct marks *);

/* Sort and merge marks-0 .. marks-(nflows-1); NULL with e set. */
struct markset	*markset_build(const char *dir, int nflows, size_t mem,
		    struct error *);
int		 markset_has(const struct markset *, int db, const char *,
		    size_t);
uint64_t	 markset_count(const struct markset *);
void		 markset_close(struct markset *);

/* 1: some marks file is in dir (a sweep is owed), 0 none, -1 error. */
int		 marks_pending(const char *dir, struct error *);
/* Remove every marks file of dir, durably; -1 error. */
int		 marks_remove(const char *dir, struct error *);

#endif
