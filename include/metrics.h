/*
 * metrics.h - what the supervisor's metrics listener (httpd.h) serves,
 * from what the workers reported (imsg.h) and the flows' history
 * (status.h):
 *
 *	GET /metrics	Prometheus text format 0.0.4: the session, per flow
 *			(label flow="N") its phase, keys, commands and bytes
 *			written, errors by kind, restarts, resyncs, LSN, lag
 *			in records and seconds, spool, snapshot progress and
 *			apply latency histogram, and per target node (label
 *			node="host:port") its commands in flight, reconnects
 *			and redirections; df2redis-grafana.json charts them
 *	GET /		a small self-contained HTML page that refreshes
 *			itself: the session and a table of the flows (one
 *			row each, id flow-N) with phase, progress, lag and
 *			last error
 *
 * Any other path is 404.
 */
#ifndef DF2REDIS_METRICS_H
#define DF2REDIS_METRICS_H

#include <stdio.h>

#include "http.h"

struct sup;

/* An httpd_handler; arg is the struct sup. */
int	metrics_handler(void *, const struct http_request *, FILE *,
	    const char **ctype);
void	metrics_prometheus(const struct sup *, FILE *);
void	metrics_page(const struct sup *, FILE *);

#endif
