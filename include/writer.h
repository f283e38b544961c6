/*
 * writer.h - turns decoded keys (rdb.h events) and journal commands
 * (journal.h records) into writes on a target (target.h).
 *
 * A key written with several commands becomes visible complete: it is
 * built under a hash-tagged temporary name in the key's slot and renamed
 * into place.  Absolute expiries become PEXPIREAT / PXAT; keys already
 * expired are counted and not written.  Everything is at-least-once and
 * idempotent, so the target may resend after a reconnect: journal commands
 * that are not (INCR, RPUSH, ...) run once per sequence number kept in a
 * marker key of their slot while they are unacknowledged.  In stable
 * sync that number is the record's LSN and the marker is kept until the
 * checkpoint covers it, so a resumed flow skips what the target applied.
 *
 * Errors: a writer keeps its first error (error.h) and writer_error()
 * hands it out.  Its kind says what to do: ERR_DATA, the input cannot be
 * written (unsupported type, corrupt element) and fails every time;
 * ERR_TARGET (or ERR_SYS, ERR_PROTO), the target failed or refused, or
 * memory ran out: may pass later; ERR_DIVERGED, a checked command found
 * the target in a state the writer did not leave it in.
 *
 * The implementation is in writer.c, keybuild.c, keystream.c and jcmd.c
 * (writer_int.h).
 */
#ifndef DF2REDIS_WRITER_H
#define DF2REDIS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "journal.h"
#include "filter.h"
#include "rdb.h"
#include "target.h"

enum writer_conflict {
	CONFLICT_OVERWRITE,	/* replace an existing key whole */
	CONFLICT_SKIP,		/* leave existing keys alone */
	CONFLICT_PANIC,		/* stop at the first existing key */
};

enum writer_unsupported {
	UNSUPPORTED_FAIL,	/* a value the target cannot store: error */
	UNSUPPORTED_SKIP,	/* the whole key left off the target,
				   counted and logged by name (skipset.h) */
	UNSUPPORTED_LOSSY,	/* what Redis can hold written: member or
				   field TTLs dropped, counted and logged */
};

#define WRITER_MAXDB	1024

struct writer_opts {
	enum writer_conflict	 conflict;
	enum writer_unsupported	 unsupported;
	size_t			 batch;		/* members per command (default 512) */
	int			 db_map[WRITER_MAXDB];	/* -1: default */
	const char		*label;		/* "flow 3", for messages */
	int			 target_db;	/* db the target's connections
						   are SELECTed to (target_opts
						   .db); -1 unknown */
	int			 flow;		/* stable sync: the flow whose
						   LSNs mark guarded commands;
						   -1 none */
	/*
	 * A full resync's marks (marks.h): called with the target db and
	 * name of every snapshot key written.  NULL: none.
	 */
	void			(*mark)(void *, int db, const char *, size_t);
	void			*mark_arg;
	/* Keys to copy (filter.h), by source db; NULL: every key. */
	const struct filter	*filter;
	/*
	 * UNSUPPORTED_SKIP: the file that keeps the skipped keys for the
	 * next writer of the flow (skipset.h), loaded now; NULL: none.
	 */
	const char		*skip_file;
};

enum writer_count {
	WC_STRING, WC_LIST, WC_SET, WC_ZSET, WC_HASH, WC_STREAM, WC_JSON,
	WC_WRITTEN,		/* keys written, all types */
	WC_EXPIRED,		/* already expired, not written */
	WC_SKIPPED_EXISTING,	/* CONFLICT_SKIP */
	WC_SKIPPED_UNSUPPORTED,	/* keys (records) skipped: unsupported */
	WC_JOURNAL,		/* journal commands applied */
	WC_COMMANDS,		/* commands sent */
	WC_BYTES,		/* payload bytes sent */
	WC_LOSSY,		/* written without their member TTLs */
	WC_APPLIED,		/* journal records skipped on resume: the
				   target had applied them */
	WC_FILTERED,		/* snapshot keys and journal records left
				   out (or cut) by opts.filter */
	WC_MAX
};

struct writer;

void		 writer_opts_init(struct writer_opts *);
struct writer	*writer_open(struct target *, const struct writer_opts *,
		    struct error *);
void		 writer_close(struct writer *);
/* Feed every decoder event in order; 0 ok, -1 error (writer_error()). */
int		 writer_event(struct writer *, const struct rdb_event *);
/* Apply one journal record (COMMAND) in order; PING/LSN are ignored. */
int		 writer_journal(struct writer *, const struct journal_rec *);
/*
 * Stable sync: apply the record at LSN lsn of opts.flow.  A guarded
 * command stores lsn in its slot's LSN marker, atomically with itself;
 * a record at or below the applied LSN loaded for its slot is skipped
 * (counted in WC_APPLIED).
 */
int		 writer_journal_lsn(struct writer *, const struct journal_rec *,
		    uint64_t lsn);
/*
 * An LSN marker of opts.flow found on the target on resume ("{N}df2redis:
 * lsn:FLOW" in target db db, value lsn): records of its slot up to lsn
 * were applied (standalone: every record up to it, the target applies in
 * order).  0 ok, -1 error.
 */
int		 writer_marker_loaded(struct writer *, int db, const char *name,
		    size_t len, uint64_t lsn);
/*
 * The target matches no stored LSN any more (a full sync): forget them,
 * and the keys --unsupported skip left out.
 */
void		 writer_markers_forget(struct writer *);
/*
 * Every record below next_lsn is stored in the checkpoint: markers at
 * lower LSNs are deleted (sent; writer_sync() waits for them).
 */
int		 writer_markers_trim(struct writer *, uint64_t next_lsn);
/*
 * A FLUSHALL or FLUSHDB record every flow reached, run by one of them
 * (stable sync's barrier): the keys --unsupported skip left out of what
 * it empties are forgotten by this writer too.
 */
void		 writer_flushed(struct writer *, const struct journal_rec *);
/* Block until everything fed so far is acknowledged by the target. */
int		 writer_sync(struct writer *);
/*
 * Whether the next record can be fed without waiting for the target
 * (target_room(), and the bytes in flight under half the writer's bound).
 */
int		 writer_room(const struct writer *);
/* Everything fed so far is acknowledged: writer_sync() would not wait. */
int		 writer_idle(const struct writer *);
/*
 * The target refused a journal command with an error reply while the
 * commands pipelined behind it ran: what the target holds is no longer a
 * prefix of the journal, so no LSN (nor its markers) says what it lacks.
 */
int		 writer_refused(const struct writer *);
/* The first error (kind ERR_NONE while there is none). */
const struct error *writer_error(const struct writer *);
const uint64_t	*writer_counts(const struct writer *);

/*
 * The input stopped in the middle (corrupt or truncated file, lost flow)
 * or the writer failed: keys not yet complete are abandoned and their
 * temporary names deleted, every complete key is waited for.  0 when all
 * of that was acknowledged, -1 otherwise (writer_error()).
 *
 * fresh, when not NULL, is a new connection to use from now on instead of
 * the writer's own, which failed with commands unacknowledged: then every
 * temporary name not known to be renamed is deleted too, so a key whose
 * build or rename was lost is absent rather than left under its temporary
 * name.  The writer's first error and its kind are kept, and -1 returned
 * if there was one.
 */
int		 writer_abort(struct writer *, struct target *fresh);

#endif
