/*
 * error.h - the one error model of df2redis.
 *
 * As in hiredis: a function that can fail returns -1 (or NULL) and fills a
 * struct error, a kind and a fixed-size message.  One-shot calls (parse,
 * open, connect) take the caller's struct error; long-lived objects (the
 * writer, the target channel, a decoder) keep their first error in one of
 * their own and hand it out with X_error().  The message is for people and
 * names what failed (flow, byte offset or LSN, key, host:port); the kind is
 * for code: callers decide to retry, resync or stop by the kind alone,
 * never by matching the text.
 */
#ifndef DF2REDIS_ERROR_H
#define DF2REDIS_ERROR_H

#include <stddef.h>

enum err_kind {
	ERR_NONE = 0,
	ERR_SYS,	/* a system call failed or memory ran out */
	ERR_IO,		/* a peer's connection failed, closed or timed out */
	ERR_PROTO,	/* a peer broke its protocol (unexpected reply) */
	ERR_AUTH,	/* a peer refused our credentials: retrying cannot help */
	ERR_CONFIG,	/* a setting is wrong (bad URL, unknown option, file) */
	ERR_DATA,	/* the input is corrupt or cannot be written: fails
			   every time (unknown type, truncated file) */
	ERR_TARGET,	/* the target refused a command (OOM, READONLY): may
			   pass later */
	ERR_DIVERGED,	/* a checked command found the target in a state the
			   writer did not leave it in */
	ERR_MAX
};

#define ERR_MSGLEN	1024

struct error {
	enum err_kind	 kind;
	char		 msg[ERR_MSGLEN];
};

/* Set kind and message (printf); returns -1.  A NULL error is ignored. */
int		 err_set(struct error *, enum err_kind, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Put "PREFIX: " in front of the message, keeping the kind; returns -1. */
int		 err_prefix(struct error *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Copy one error into another (the kind and the message); returns -1. */
int		 err_copy(struct error *dst, const struct error *src);
void		 err_clear(struct error *);
/* "io", "auth", ...: for logs, status and the tests. */
const char	*err_kind_name(enum err_kind);
/* Whether doing the same again later may succeed (sys, io, proto, target). */
int		 err_retryable(enum err_kind);

#endif
