/*
 * log.h - one line per event, to stderr in the foreground or to syslog.
 *
 * Every line carries the process role and phase set with log_setprefix(),
 * e.g. "flow 2 full-sync: ...", so a reader can follow one flow in the log.
 */
#ifndef DF2REDIS_LOG_H
#define DF2REDIS_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_TO_STDERR	0
#define LOG_TO_SYSLOG	1

void	log_init(const char *ident, int dest, int verbose);
void	log_setprefix(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_setverbose(int verbose);
/* SIGHUP: a new connection to syslog (stderr needs none). */
void	log_reopen(void);
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
