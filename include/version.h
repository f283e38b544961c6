/*
 * version.h - what every command prints for -V/--version ("df2redis
 * VERSION", on stdout) and the exit status of a usage error.
 *
 * The command-line rule of df2redis and df2redisctl: -h/--help prints the
 * usage on stdout and exits 0, -V/--version the version on stdout and
 * exits 0; a malformed command line prints what is wrong and the usage on
 * stderr and exits EXIT_USAGE.
 */
#ifndef DF2REDIS_VERSION_H
#define DF2REDIS_VERSION_H

#ifndef DF2REDIS_VERSION
#define DF2REDIS_VERSION	"0.1"
#endif

#define EXIT_USAGE		2

#include <stdio.h>

/* Print "df2redis VERSION" on stdout. */
void	version_print(void);
/*
 * The end of a getopt loop: 'h' prints usage on stdout and gives 0, 'V'
 * the version and 0, anything else usage on stderr and EXIT_USAGE.
 */
int	usage_done(int ch, void (*usage)(FILE *));

#endif
