/*
 * httpd.h - the supervisor's metrics listener (metrics-listen): a small
 * HTTP/1.x server run from the supervisor's poll loop, never blocking
 * it.  Every socket is non-blocking; at most HTTPD_CLIENTS connections
 * are served at once (more are told 503 and closed), each gets one
 * request head of at most HTTP_MAXHEAD bytes (http.h) and HTTPD_TIMEOUT_MS
 * for the whole exchange, and is closed after the answer (once the
 * client closed its side, or after HTTPD_LINGER_MS: closing with unread
 * bytes would reset the connection and could lose the answer).  What a
 * request gets is the handler's business (metrics.h).
 */
#ifndef DF2REDIS_HTTPD_H
#define DF2REDIS_HTTPD_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "http.h"

#define HTTPD_CLIENTS		8
#define HTTPD_TIMEOUT_MS	5000
#define HTTPD_LINGER_MS		1000
#define HTTPD_NFDS		(1 + HTTPD_CLIENTS)

/*
 * Writes the body of the answer to req into fp and sets *ctype; returns
 * the HTTP status (a body for an error status is written by httpd).
 */
typedef int	(*httpd_handler)(void *arg, const struct http_request *,
		    FILE *fp, const char **ctype);

struct httpd_client {
	int			 fd;		/* -1 free */
	int64_t			 deadline;	/* mono ms */
	struct http_parser	*in;		/* NULL once answered */
	char			*out;
	size_t			 outlen, outoff;
	int			 lingering;	/* answered: what the client
						   still sends is read and
						   dropped until it closes */
};

struct httpd {
	int			 fd;		/* the listener, -1 none */
	char			 addr[128];	/* as configured */
	int64_t			 pause_until;	/* mono ms, after EMFILE */
	struct httpd_client	 c[HTTPD_CLIENTS];
};

void	httpd_init(struct httpd *);
/* Listen on HOST:PORT (an IPv4 or [IPv6] literal); -1 with ERR_CONFIG/SYS. */
int	httpd_open(struct httpd *, const char *addr, struct error *);
/* The listener and every client closed. */
void	httpd_close(struct httpd *);
/*
 * The descriptors to poll, at most HTTPD_NFDS, appended at pfd; *wait_ms
 * is lowered to the next client deadline.  The count.
 */
int	httpd_pollfds(struct httpd *, struct pollfd *, int *wait_ms);
/* After the poll: accept, read, answer, write, time out. */
void	httpd_serve(struct httpd *, const struct pollfd *, int n,
	    httpd_handler, void *arg);

#endif
