/*
 * tmpkeys.h - the cleanup of what killed runs left on the target: the
 * writer's temporary keys ("{N}df2redis:tmp:PID:N") and sequence markers
 * ("{N}df2redis:seq:PID.N.XXXXXXXX"), which nothing else would ever
 * delete.
 */
#ifndef DF2REDIS_TMPKEYS_H
#define DF2REDIS_TMPKEYS_H

#include "error.h"
#include "url.h"

/*
 * SCAN every master (standalone: every db holding keys) on connections of
 * its own and UNLINK those names, before any writer runs.  Returns how
 * many were deleted, -1 on error (a refused password is ERR_AUTH).
 */
long	tmpkeys_cleanup(const struct target_opts *, struct error *);

#endif
