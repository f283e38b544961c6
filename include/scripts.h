/*
 * scripts.h - the Lua scripts the writer runs on the target with EVAL.
 *
 * Every command the writer sends may be resent after a reconnect, so a
 * command that is not idempotent runs inside a script that first checks
 * whether its work is still to do.  The checked scripts of the key
 * builder answer an integer when they wrote, else a table
 * { status, found, expected } (enum check); scripts.c says, beside each
 * script, what it takes in KEYS and ARGV.
 */
#ifndef DF2REDIS_SCRIPTS_H
#define DF2REDIS_SCRIPTS_H

/*
 * The status of a checked script that did not write.  Finding its work
 * done is no error, but finding anything else is.  A temporary key that
 * is gone half-way was renamed by an earlier send of the finish script,
 * or deleted by someone else: the finish script tells which.  found and
 * expected count elements, bytes, entries, members or fields.
 */
enum check {
	CK_DIVERGED,	/* the target holds what the writer did not write */
	CK_APPLIED,	/* an earlier send of this command did it */
	CK_GONE,	/* tmp is gone: the finish script judges */
	CK_EXPIRED,	/* finish: tmp expired before the rename */
};

/* snapshot keys built under a temporary name (keybuild.c, keystream.c) */
extern const char lua_rpush[];		/* checked RPUSH */
extern const char lua_append[];		/* checked APPEND */
extern const char lua_xadd[];		/* checked XADD of a batch */
extern const char lua_finish[];		/* tmp renamed into place */
extern const char lua_ontmp[];		/* XSETID, XGROUP, XCLAIM on tmp */
extern const char lua_empty[];		/* an empty stream, no history */
extern const char lua_json[];		/* JSON.SET of a whole value */

/* journal commands (jcmd.c) */
extern const char lua_seq[];		/* run once per sequence number */
extern const char lua_seqdel[];		/* delete a sequence marker */
extern const char lua_fieldexpire[];	/* Dragonfly's FIELDEXPIRE */
extern const char lua_fielddel[];	/* FIELDEXPIRE 0 */
extern const char lua_hsetex[];		/* Dragonfly's HSETEX */
extern const char lua_delex[];		/* DELEX IFEQ / IFNE */

#endif
