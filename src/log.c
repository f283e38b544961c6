/*
 * log.c - stderr or syslog logging in the style of OpenBSD's daemons.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_dest = LOG_TO_STDERR;
static int	 log_verbose;
static char	 log_ident[32] = "df2redis";
static char	 log_prefix[96];

void
log_init(const char *ident, int dest, int verbose)
{
	strlcpy(log_ident, ident, sizeof(log_ident));
	log_dest = dest;
	log_verbose = verbose;
	if (dest == LOG_TO_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

void
log_reopen(void)
{
	if (log_dest != LOG_TO_SYSLOG)
		return;
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setprefix(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_prefix, sizeof(log_prefix), fmt, ap);
	va_end(ap);
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *errstr)
{
	char msg[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", errstr);
	if (log_dest == LOG_TO_SYSLOG) {
		if (log_prefix[0] != '\0')
			syslog(pri, "%s: %s", log_prefix, msg);
		else
			syslog(pri, "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* one write(2) per line keeps lines from several processes whole */
	if (log_prefix[0] != '\0')
		dprintf(STDERR_FILENO, "%s.%03ldZ %s[%d] %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_ident, (int)getpid(), log_prefix,
		    msg);
	else
		dprintf(STDERR_FILENO, "%s.%03ldZ %s[%d] %s\n", stamp,
		    ts.tv_nsec / 1000000, log_ident, (int)getpid(), msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
