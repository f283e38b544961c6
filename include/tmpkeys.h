/*
 * tmpkeys.h - the cleanup of what killed runs left on the target: the
 * writer's temporary keys ("{N}df2redis:tmp:PID:N") and sequence markers
 * ("{N}df2redis:seq:PID.N.XXXXXXXX"), which nothing else would ever
 * delete, and the LSN markers of stable sync ("{N}df2redis:lsn:FLOW"),
 * which a full sync makes meaningless; and, on resume, the reading of
 * one flow's LSN markers.
 */
#ifndef DF2REDIS_TMPKEYS_H
#define DF2REDIS_TMPKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "url.h"

/*
 * SCAN every master (standalone: every db holding keys) on connections of
 * its own and UNLINK those names, before any writer runs.  Returns how
 * many were deleted, -1 on error (a refused password is ERR_AUTH).
 */
long	tmpkeys_cleanup(const struct target_opts *, struct error *);

/*
 * Whether a target key is one of df2redis's own names (temporary key,
 * sequence or LSN marker), which no source holds.
 */
int	tmpkeys_is_ours(const char *, size_t);

/* The LSN marker of flow for slot: "{<slot tag>}df2redis:lsn:FLOW". */
size_t	tmpkeys_lsn_name(char *, size_t, unsigned int slot, int flow);

/* One LSN marker found: its target db, name and value; -1 stops (ERR_SYS). */
typedef int tmpkeys_found_cb(void *, int db, const char *name, size_t len,
    uint64_t lsn);
/*
 * Read the LSN markers of flow by name, on every master (standalone: in
 * every db holding keys), and hand each to cb.  Returns how many, -1 on
 * error (a marker that holds no LSN is ERR_DATA).
 */
long	tmpkeys_markers(const struct target_opts *, int flow,
	    tmpkeys_found_cb *, void *, struct error *);

#endif
