/*
 * takeover.c - the supervisor's side of DFLY TAKEOVER (takeover.h,
 * replication.md 10): send it on the control connection, read the reply
 * when it comes, answer the waiting control client.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ctl.h"
#include "log.h"
#include "supervisor.h"
#include "takeover.h"

/*
 * Whether DFLY TAKEOVER may go out on the control connection now: it is
 * idle (no STARTSTABLE reply outstanding, no blocking command to come
 * before start_stable() waits for us) and the session runs.  Before
 * stable sync the master itself refuses, and the client hears its words.
 */
static int
can_send(const struct sup *s)
{
	if (!session_running(s) || s->restart || s->master.fd == -1)
		return 0;
	return s->state == SESS_FULL_SYNC || s->state == SESS_BARRIER ||
	    s->state == SESS_STABLE;
}

static void __attribute__((format(printf, 2, 3)))
reply_error(int fd, const char *fmt, ...)
{
	char buf[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctl_reply(fd, buf);
}

void
takeover_request(struct sup *s, int fd, const char *arg)
{
	struct takeover *t = &s->takeover;
	const char *errstr;
	struct error e;
	int secs = TAKEOVER_DEFAULT_S;

	if (arg != NULL) {
		secs = strtonum(arg, 0, TAKEOVER_MAX_S, &errstr);
		if (errstr != NULL) {
			reply_error(fd, "error: takeover timeout %s: %s "
			    "(0..3600 seconds)\n", arg, errstr);
			return;
		}
	}
	if (t->state != TAKEOVER_NONE) {
		ctl_reply(fd, "error: a takeover is under way already\n");
		return;
	}
	if (!can_send(s)) {
		reply_error(fd, "error: takeover: not in stable sync (state "
		    "%s%s): nothing was sent to the master\n",
		    session_state_name(s->state),
		    s->state == SESS_STABLE_SWITCH ? ", STARTSTABLE unanswered"
		    : "");
		return;
	}
	if (dfly_takeover_send(&s->master, &s->m, secs, &e) == -1) {
		reply_error(fd, "error: takeover failed: %s\n", e.msg);
		session_fail(s, e.kind, "%s", e.msg);
		return;
	}
	t->state = TAKEOVER_PENDING;
	t->fd = fd;
	t->timeout_s = secs;
	t->sent_ms = mono_ms();
	log_info("takeover: DFLY TAKEOVER %d %s sent (state %s)", secs,
	    s->m.syncid, session_state_name(s->state));
}

int
takeover_pending(const struct sup *s)
{
	return s->takeover.state == TAKEOVER_PENDING;
}

int
takeover_done(const struct sup *s)
{
	return s->takeover.state == TAKEOVER_DONE;
}

int
takeover_idle(struct sup *s)
{
	return !takeover_pending(s);
}

void
takeover_master_reply(struct sup *s)
{
	struct takeover *t = &s->takeover;
	struct error e;
	double secs = (mono_ms() - t->sent_ms) / 1000.0;

	if (dfly_takeover_reply(&s->master, &e) == 0) {
		t->state = TAKEOVER_DONE;
		log_info("takeover: +OK after %.2f s: every write of the "
		    "master is on the target; stopping", secs);
		s->stop = 1;
		return;
	}
	t->state = TAKEOVER_NONE;
	log_warnx("takeover failed after %.2f s: %s; replication goes on",
	    secs, e.msg);
	reply_error(t->fd, "error: takeover failed: %s\nreplication goes on\n",
	    e.msg);
	t->fd = -1;
	if (e.kind != ERR_PROTO)
		session_fail(s, e.kind, "%s", e.msg);	/* the connection */
}

/* The final LSNs, from each worker's last report. */
static void
reply_done(struct sup *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int i;

	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctl_reply(s->takeover.fd, "error: takeover complete, but out "
		    "of memory for the reply\n");
		return;
	}
	fprintf(fp, "ok takeover complete: every write of the master is on "
	    "the target\n");
	for (i = 0; i < s->nflows; i++)
		fprintf(fp, "flow %d lsn %" PRIu64 " acked %" PRIu64 "\n", i,
		    s->flows[i].st.lsn, s->flows[i].st.acked);
	fclose(fp);
	ctl_reply(s->takeover.fd, buf);
	free(buf);
}

void
takeover_session_end(struct sup *s)
{
	struct takeover *t = &s->takeover;

	if (t->state == TAKEOVER_DONE && t->fd != -1) {
		reply_done(s);
		t->fd = -1;
	} else if (t->state == TAKEOVER_PENDING) {
		reply_error(t->fd, "error: takeover failed: the session ended "
		    "(state %s) before the master answered\n",
		    session_state_name(s->state));
		t->state = TAKEOVER_NONE;
		t->fd = -1;
	}
}
