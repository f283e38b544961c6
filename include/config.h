/*
 * config.h - settings of `df2redis replicate` / `migrate`, from the command
 * line and from `-f df2redis.conf`.
 *
 * The file holds `key value` lines, `#` starts a comment; every key is the
 * name of a long option (without the dashes), flags take yes|no.  The file
 * is read first and the command line applied over it, so the command line
 * wins; there a flag is --NAME, --NAME=yes|no or --no-NAME.  The filter
 * options (filter.h) take several values: given again they add up, and
 * on the command line they replace the file's values.  Errors
 * (ERR_CONFIG) name the file and line ("df2redis.conf:7: ...") or the
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
#include <stdio.h>

#include "error.h"
#include "filter.h"
#include "tls.h"

/*
 * Source dbs --db-map can name: the writer's WRITER_MAXDB, which the
 * worker checks at compile time.  Kept here so that reading a config file
 * (df2redisctl does) does not depend on the writer.
 */
#define CONFIG_MAXDB	1024

/* Values the target cannot hold: --unsupported. */
enum config_unsupported {
	CONFIG_UNSUPPORTED_FAIL,	/* stop with an error */
	CONFIG_UNSUPPORTED_SKIP,	/* the whole key left out, logged */
	CONFIG_UNSUPPORTED_LOSSY,	/* what Redis holds written, logged */
};

/* config_parse_args() besides 0 and -1; it prints nothing, the caller does. */
#define CONFIG_HELP	1	/* -h, --help: config_usage() on stdout */
#define CONFIG_VERSION	2	/* -V, --version */
#define CONFIG_USAGE	3	/* a malformed command line (the error says
				   how): config_usage() on stderr */

struct config {
	char	 source_host[256];
	int	 source_port;
	char	 source_user[128];
	char	 source_password[512];
	char	 source_password_file[PATH_MAX];
	char	 target_url[1024];
	char	 target_password[512];	/* "" when the URL's applies */
	char	 target_password_file[PATH_MAX];
	/*
	 * TLS: the source's when source_tls.enabled (--source-tls); the
	 * target's files and name, for a rediss:// target (its enabled is
	 * unused: the URL says).
	 */
	struct tls_conf source_tls;
	struct tls_conf target_tls;
	int	 db_map[CONFIG_MAXDB];		/* -1: same db */
	struct filter_spec filter;		/* --db-filter, --key-prefix..
						   (filter.h) */
	enum config_unsupported unsupported;
	size_t	 batch;				/* 0: the writer's default */
	char	 state_dir[PATH_MAX];
	char	 ctl_socket[PATH_MAX];		/* default STATE_DIR/df2redis.sock */
	char	 pidfile[PATH_MAX];		/* default STATE_DIR/df2redis.pid */
	int	 max_retries;			/* full-sync restarts (10) */
	int	 retry_delay_ms;		/* first backoff (250), doubles */
	int	 timeout_ms;			/* source connect/reply timeout */
	int	 checkpoint_ms;			/* LSN commits at most this often */
	uint64_t spool_memory;			/* per flow, in memory (16M) */
	uint64_t spool_max;			/* per flow, on disk (1G) */
	uint64_t spool_max_total;		/* all flows, on disk (8G) */
	int	 full_sync_only;
	int	 flush_on_resync;		/* flush the target on a restart */
	int	 sweep_on_resync;		/* or delete what it did not write */
	int	 foreground;			/* -d */
	int	 verbose;			/* -v, repeatable */
	char	 metrics_listen[128];		/* HOST:PORT, "" off */
	int	 check_only;			/* -n */
	int	 state_dir_optional;		/* set by the caller (check) */
	char	 config_file[PATH_MAX];		/* -f */
};

void	config_init(struct config *);
/* Set one option by its long name; 0 ok, -1 (ERR_CONFIG). */
int	config_set(struct config *, const char *key, const char *value,
	    struct error *);
/* Read a config file; errors say "FILE:LINE: ...". */
int	config_load(struct config *, const char *path, struct error *);
/*
 * Parse argv (getopt_long; argv[0] is the subcommand), reading -f FILE
 * first; then fill in defaults and check that the required options are
 * there.  0 ok, -1 a bad setting (ERR_CONFIG), or CONFIG_HELP,
 * CONFIG_VERSION or CONFIG_USAGE, which leave the printing to the caller.
 * The passwords come next, from config_secrets().
 */
int	config_parse_args(struct config *, int, char **, struct error *);
/*
 * The passwords, from the files, then (target only) the URL, then the
 * environment: url_password says whether the target URL holds one (the
 * caller parsed it; this module does not know URLs).
 */
int	config_secrets(struct config *, int url_password, struct error *);
/*
 * Read the first line of a password file into buf: an empty one is an
 * error, one readable by others a warning on stderr.  Shared with import.
 */
int	config_read_secret(const char *path, char *buf, size_t buflen,
	    struct error *);
/* The usage of `df2redis CMD` (replicate or migrate), every option. */
void	config_usage(FILE *, const char *cmd);
/* Calls fn with the name of every option whose value differs in a and b. */
void	config_changed(const struct config *a, const struct config *b,
	    void (*fn)(void *, const char *), void *arg);
/*
 * metrics-listen: "A.B.C.D:PORT" or "[IPV6]:PORT", address literals only,
 * into host and port.
 */
int	config_split_listen(const char *, char *host, size_t hostlen,
	    int *port, struct error *);
/* Only the options, one per line: for the usage of `df2redis` itself. */
void	config_options(FILE *);

#endif
