/*
 * ctl.h - the control protocol: the supervisor's control socket
 * (STATE_DIR/df2redis.sock, or --ctl-socket PATH), used by df2redisctl.
 *
 * Protocol: a client connects, sends ONE request line terminated by "\n"
 * (at most CTL_MAXREQ bytes, "\r\n" accepted), reads reply lines until a
 * line holding a single "." and the server closes the connection.  A reply
 * line never is a lone "."; the first reply line starts with "ok" or
 * "error: ".  Requests:
 *
 *	status
 *		ok
 *		session <syncid|-> state <connecting|full-sync|barrier|
 *		    stable-switch|done|backoff|stopping> attempt <n>
 *		    (barrier: some flows passed FULLSYNC_END, not all)
 *		    flows <N> master <replid|-> sessions <n>
 *		    takeover <none|pending|done>
 *		flow <i> phase <phase> keys <n> written <n> skipped <n>
 *		    journal <n> bytes <n> offset <n> lsn <n> acked <n>
 *		    pid <pid> lag_ms <n|-> restarts <n> resyncs_partial <n>
 *		    resyncs_full <n> spool_bytes <n> spool_drain_ms <n|->
 *		    spool_full <n> lag_records <n|->
 *		    (one line per flow; phase as in imsg.h msg_phase_name())
 *		last_error <i> <text>	(flows that failed, status.h)
 *		.
 *	status json
 *		ok
 *		<the same as one JSON object on one line (status.h)>
 *		.
 *	takeover [<seconds>]
 *		ok takeover complete: every write of the master is on the
 *		    target
 *		flow <i> lsn <n> acked <n>	(one line per flow)
 *		.	(answered once the master answered DFLY TAKEOVER and,
 *			after +OK, the workers stopped; then the daemon exits)
 *		or "error: takeover failed: <the master's error>" and
 *		"replication goes on"
 *	restart-flow <i>
 *		in stable sync, once every flow is back (the answer waits):
 *		ok flow <i> back in stable sync in <ms> ms: partial sync from
 *		    LSN <n>, pid <pid>
 *		before: ok restarting the session: flow <i> cannot rejoin a
 *		    full sync alone, so the whole full sync starts again
 *		.
 *		(at once: no retry is counted, no backoff; when no session
 *		runs, in backoff or done: "error: no session is running
 *		(state <state>): nothing to restart")
 *	stop
 *		ok stopping
 *		.	(then the daemon stops as on SIGTERM)
 *
 * Anything else: "error: unknown request" / "error: <why>" then ".".
 *
 * This module serves the socket and parses requests; what a request does
 * is the daemon's, given as a table of struct ctl_request (the
 * supervisor's is in ctlcmd.c).
 */
#ifndef DF2REDIS_CTL_H
#define DF2REDIS_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CTL_MAXREQ	256
/* a request, and a reply, each take at most this long or are dropped */
#define CTL_TIMEOUT_MS	1000

/* One request a daemon answers; a table of them ends with a NULL name. */
struct ctl_request {
	const char	*name;
	int		 has_arg;	/* "NAME ARG" (1) or "NAME" alone (0) */
	/*
	 * Answer on fd with exactly one ctl_reply(), now or later (the
	 * answer then owns fd until it replies).
	 */
	void		(*answer)(void *arg, int fd, const char *reqarg);
};

/* Bind and listen; refuses when another daemon answers on the path. */
int	ctl_listen(const char *path, struct error *);
/*
 * Accept one client, read its request line and answer it through the
 * table (or "error: unknown request").  Returns 0, also when there was
 * nothing to serve or a bad client was answered and closed, or
 * CTL_EAGAIN when accept(2) failed for lack of descriptors or memory
 * (e says which): the connection stays queued and the listener stays
 * readable, so the caller must stop polling it for a while.
 */
#define CTL_EAGAIN	(-2)
int	ctl_serve(int listenfd, const struct ctl_request *, void *arg,
	    struct error *);
/* Write the reply (lines, each ending in "\n"), the final ".", close. */
void	ctl_reply(int fd, const char *text);
void	ctl_unlink(int listenfd, const char *path);

#endif
