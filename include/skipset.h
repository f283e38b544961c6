/*
 * skipset.h - the keys --unsupported skip left off the target, so that
 * later journal records do not write part of them back.
 *
 * A key whose value Redis cannot hold (a set with member TTLs, a hash with
 * field TTLs on Redis < 7.4, a module type) is skipped whole, in the
 * snapshot or when a journal record gives it such a value; the records
 * that follow on it are dropped while it is in the set, until the master
 * deletes it (DEL, UNLINK, FLUSHDB, FLUSHALL).  Keys are held as a 128-bit
 * hash of (target db, name), 24 bytes each: memory grows with the skipped
 * keys only.  A hash collision would drop a kept key's records, at odds
 * of about 2^-128 a pair.
 *
 * A set kept in a file (skipset_persist(), STATE_DIR/skipped-FLOW) is
 * there for the worker that resumes the flow: every change is appended
 * (24 bytes), and loading rewrites it compact.  A write that fails is
 * logged, and the file removed: a worker started again then knows no
 * skipped key, as without a file.
 */
#ifndef DF2REDIS_SKIPSET_H
#define DF2REDIS_SKIPSET_H

#include <stddef.h>

struct skipset;

struct skipset	*skipset_new(void);
void		 skipset_free(struct skipset *);
/* 0 ok (already there too), -1 out of memory */
int		 skipset_add(struct skipset *, int db, const char *, size_t);
/* 1 when (db, key) was there and is removed, 0 otherwise */
int		 skipset_del(struct skipset *, int db, const char *, size_t);
int		 skipset_has(const struct skipset *, int db, const char *,
		    size_t);
/* Forget every key of db, or of every db when db is -1. */
void		 skipset_clear(struct skipset *, int db);
size_t		 skipset_count(const struct skipset *);
/*
 * Load path into the set (a missing file is empty) and keep it up to date
 * from now on; 0, or -1 when the file cannot be read or written (errno).
 */
int		 skipset_persist(struct skipset *, const char *path);

#endif
