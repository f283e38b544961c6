/*
 * config.h - settings of `df2redis replicate` / `migrate`, from the command
 * line and from `-f df2redis.conf`.
 *
 * The file holds `key value` lines, `#` starts a comment; every key is the
 * name of a long option (without the dashes), flags take yes|no.  The file
 * is read first and the command line applied over it, so the command line
 * wins; there a flag is --NAME, --NAME=yes|no or --no-NAME.  Errors name the file and line ("df2redis.conf:7: ...") or the
 * option.  Secrets (passwords) come only from files, the target URL or
 * the environment, in that order, as for `df2redis import`: the source's
 * from --source-password-file, else DF2REDIS_SOURCE_PASSWORD; the
 * target's from --target-password-file, else the URL, else
 * DF2REDIS_TARGET_PASSWORD.  They are never logged.  A /DB in the target
 * URL is where every database --db-map does not name goes.
 */
#ifndef DF2REDIS_CONFIG_H
#define DF2REDIS_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "writer.h"

struct config {
	char	 source_host[256];
	int	 source_port;
	char	 source_user[128];
	char	 source_password[512];
	char	 source_password_file[PATH_MAX];
	char	 target_url[1024];
	char	 target_password[512];	/* "" when the URL's applies */
	char	 target_password_file[PATH_MAX];
	int	 db_map[WRITER_MAXDB];		/* -1: same db */
	enum writer_unsupported unsupported;
	size_t	 batch;				/* 0: the writer's default */
	char	 state_dir[PATH_MAX];
	char	 ctl_socket[PATH_MAX];		/* default STATE_DIR/df2redis.sock */
	char	 pidfile[PATH_MAX];		/* default STATE_DIR/df2redis.pid */
	int	 max_retries;			/* full-sync restarts (10) */
	int	 retry_delay_ms;		/* first backoff (250), doubles */
	int	 timeout_ms;			/* source connect/reply timeout */
	int	 full_sync_only;
	int	 flush_on_resync;		/* flush the target on a restart */
	int	 foreground;			/* -d */
	int	 verbose;			/* -v, repeatable */
	int	 check_only;			/* -n */
	char	 config_file[PATH_MAX];		/* -f */
};

void	config_init(struct config *);
/* Set one option by its long name; 0 ok, -1 with a message in err. */
int	config_set(struct config *, const char *key, const char *value,
	    char *err, size_t errlen);
/* Read a config file; errors say "FILE:LINE: ...". */
int	config_load(struct config *, const char *path, char *err, size_t);
/*
 * Parse argv (getopt_long; argv[0] is the subcommand), reading -f FILE
 * first; then fill in defaults, passwords from files and the environment,
 * and check that the required options are there.  0 ok, -1 error in err.
 */
int	config_parse_args(struct config *, int, char **, char *, size_t);
/* Read the first line of a password file into buf. */
int	config_read_secret(const char *path, char *buf, size_t buflen,
	    char *err, size_t errlen);
void	config_usage(const char *cmd);

#endif
