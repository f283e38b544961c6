/*
 * ctlcmd.c - what the supervisor answers on its control socket: the
 * requests of ctl.h, one function each, and the table ctl_serve() reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "supervisor.h"

/* "status" as text lines, "status json" as one JSON object. */
static void
answer_status(void *arg, int fd, const char *reqarg)
{
	const struct sup *s = arg;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (reqarg != NULL && strcmp(reqarg, "json") != 0) {
		ctl_reply(fd, "error: status wants no argument or \"json\"\n");
		return;
	}
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctl_reply(fd, "error: out of memory\n");
		return;
	}
	fputs("ok\n", fp);
	if (reqarg != NULL)
		status_json(s, fp);
	else
		status_text(s, fp);
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

/* Answered when the master answers DFLY TAKEOVER (takeover.h). */
static void
answer_takeover(void *arg, int fd, const char *reqarg)
{
	takeover_request(arg, fd, reqarg);
}

const struct ctl_request ctlcmd_requests[] = {
	{ "status",		0, answer_status },
	{ "status",		1, answer_status },
	{ "takeover",		0, answer_takeover },
	{ "takeover",		1, answer_takeover },
	{ "stop",		0, answer_stop },
	{ "restart-flow",	1, answer_restart_flow },
	{ NULL,			0, NULL },
};
