/*
 * url.h - the target's address: HOST:PORT or
 * redis[s]://[USER[:PASSWORD]@]HOST:PORT[/DB], and the channel's settings
 * that go with it (target.h).  rediss:// is Redis over TLS.
 */
#ifndef DF2REDIS_URL_H
#define DF2REDIS_URL_H

#include <stddef.h>

#include "error.h"
#include "tls.h"

struct target_opts {
	char	 host[256];
	int	 port;
	char	 user[128];
	char	 password[512];
	int	 db;			/* standalone: SELECT this db */
	int	 have_db;		/* db was given in the URL */
	size_t	 window;		/* commands in flight per node (default 1024) */
	int	 connect_timeout_ms;	/* default 5000 */
	int	 retry_ms;		/* give up on a dead node after (60000) */
	/*
	 * A connection with commands in flight and nothing read for this
	 * long is given up as lost: reconnected, and the commands resent
	 * (60000 from target_parse(); 0 waits for ever).
	 */
	int	 reply_timeout_ms;
	/*
	 * enabled by rediss://, verify on; the files and name come from
	 * the target-tls-* options (resync_target_opts(), import).
	 */
	struct tls_conf tls;
};

#define TARGET_DEFAULT_WINDOW		1024
#define TARGET_DEFAULT_CONNECT_MS	5000
#define TARGET_DEFAULT_RETRY_MS		60000
#define TARGET_DEFAULT_REPLY_MS		60000

/*
 * Fills every field: the URL's, and the defaults for the rest.  -1 with
 * ERR_CONFIG on a malformed address (percent escapes are decoded in the
 * user and password; URL options are refused).
 */
int	target_parse(const char *, struct target_opts *, struct error *);

#endif
