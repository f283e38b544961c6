/*
 * takeover.c - DFLY TAKEOVER (replication.md 10): block writes, PING every
 * journal, wait for every flow to ACK the LSN reached, then answer OK, drain
 * the control connection and exit; on timeout unblock writes and fail.
 */
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"
#include "text.h"
#include "client.h"
#include "resp.h"
#include "journal.h"
#include "flow.h"
#include "repl.h"
#include "takeover.h"

static int	writes_blocked;	/* LOADING for writes until the takeover ends */

int
takeover_writes_blocked(void)
{
	return writes_blocked;
}

void
takeover_unblock(void)
{
	writes_blocked = 0;
}

/* replication.md 10 */
void
takeover_start(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct session	*s;
	double		 t;
	int		 i;

	if (argc != 4 && !(argc == 5 && arg_is(argv[3], lens[3], "save"))) {
		reply_error(c, "ERR syntax error");
		return;
	}
	if (parse_double(argv[2], lens[2], &t) == -1) {
		reply_error(c, "ERR value is not a valid float");
		return;
	}
	if (t < 0) {
		reply_error(c, "ERR timeout is negative");
		return;
	}
	if ((s = repl_session_arg(c, argv[argc - 1], lens[argc - 1])) == NULL)
		return;
	if (s->state != S_STABLE_SYNC || s->takeover) {
		reply_error(c, "ERR invalid state");
		return;
	}
	writes_blocked = 1;
	for (i = 0; i < s->nflows; i++) {
		journal_ping(i);
		s->takeover_lsn[i] = journal_lsn(i);
	}
	s->takeover = 1;
	s->takeover_deadline = wall_ms() + (int64_t)ceil(t) * 1000;
	log_info("SYNC%d: takeover, waiting for ACKs", s->id);
}

/* Write everything pending on c before exiting (takeover success). */
static void
drain_and_exit(struct client *c)
{
	while (obuf_pending(&c->out) > 0) {
		struct pollfd	 pfd = { c->fd, POLLOUT, 0 };
		ssize_t		 n;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = client_send(c, c->out.p + c->out.off,
		    obuf_pending(&c->out));
		if (n <= 0)
			break;
		c->out.off += (size_t)n;
	}
	log_info("takeover complete, shutting down");
	exit(0);
}

void
takeover_tick(struct session *s)
{
	int	 i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i]->acked < s->takeover_lsn[i])
			break;
	if (i == s->nflows) {
		for (i = 0; i < s->nflows; i++)
			log_info("takeover: shard %d lsn %llu acked %llu", i,
			    (unsigned long long)s->takeover_lsn[i],
			    (unsigned long long)s->flows[i]->acked);
		reply_ok(s->ctl);
		drain_and_exit(s->ctl);
	}
	if (wall_ms() > s->takeover_deadline) {
		s->takeover = 0;
		writes_blocked = 0;
		reply_error(s->ctl, "ERR Takeover failed!");
	}
}
