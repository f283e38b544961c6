/*
 * ctlcmd.c - what the supervisor answers on its control socket: the
 * requests of ctl.h, one function each, and the table ctl_serve() reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "log.h"
#include "supervisor.h"

static void
answer_status(void *arg, int fd, const char *reqarg)
{
	const struct sup *s = arg;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int i;

	(void)reqarg;
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctl_reply(fd, "error: out of memory\n");
		return;
	}
	fprintf(fp, "ok\nsession %s state %s attempt %d flows %d master %s\n",
	    s->m.syncid[0] ? s->m.syncid : "-", session_state_name(s->state),
	    s->attempt, s->nflows, s->m.replid[0] ? s->m.replid : "-");
	for (i = 0; i < s->nflows; i++) {
		const struct msg_stats *st = &s->flows[i].st;

		fprintf(fp, "flow %d phase %s keys %" PRIu64 " written %"
		    PRIu64 " skipped %" PRIu64 " journal %" PRIu64 " bytes %"
		    PRIu64 " offset %" PRIu64 " lsn %" PRIu64 " acked %" PRIu64
		    " pid %d\n", i, msg_phase_name(st->phase), st->keys,
		    st->written, st->skipped, st->journal, st->bytes,
		    st->offset, st->lsn, st->acked, (int)s->flows[i].pid);
	}
	fclose(fp);
	ctl_reply(fd, buf);
	free(buf);
}

static void
answer_stop(void *arg, int fd, const char *reqarg)
{
	struct sup *s = arg;

	(void)reqarg;
	log_info("stop requested on the control socket");
	s->stop = 1;
	ctl_reply(fd, "ok stopping\n");
}

/*
 * In stable sync only flow n's worker is restarted and every flow resumes
 * by partial sync; the reply waits for that.  A flow cannot rejoin a full
 * sync alone (the master cancels the whole sync when one of its
 * connections closes): before stable sync, the session restarts.
 */
static void
answer_restart_flow(void *arg, int fd, const char *reqarg)
{
	struct sup *s = arg;
	const char *errstr;
	char reply[256];
	int n;

	n = strtonum(reqarg, 0, DFLY_MAX_FLOWS - 1, &errstr);
	if (errstr != NULL || n >= s->nflows) {
		ctl_reply(fd, "error: no such flow\n");
		return;
	}
	if (!session_running(s)) {
		snprintf(reply, sizeof(reply), "error: no session is running "
		    "(state %s): nothing to restart\n",
		    session_state_name(s->state));
		ctl_reply(fd, reply);
		return;
	}
	if (s->state == SESS_STABLE && !s->resume) {
		session_restart_flow(s, n, fd);
		return;
	}
	snprintf(reply, sizeof(reply), "ok restarting the session: flow %d "
	    "cannot rejoin a full sync alone, so the whole full sync starts "
	    "again\n", n);
	ctl_reply(fd, reply);
	log_info("flow %d restart requested: restarting the session", n);
	s->restart = 1;
}

const struct ctl_request ctlcmd_requests[] = {
	{ "status",		0, answer_status },
	{ "stop",		0, answer_stop },
	{ "restart-flow",	1, answer_restart_flow },
	{ NULL,			0, NULL },
};
