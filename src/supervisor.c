/*
 * supervisor.c - `df2redis replicate` and `df2redis migrate`.
 *
 * The supervisor owns the control connection to the Dragonfly master: it
 * handshakes, forks one worker per FLOW (worker.c), sends DFLY SYNC once
 * every flow answered FULL, and DFLY STARTSTABLE once every worker passed
 * the full-sync barrier.  Any failure of a worker or of the master ends the
 * session; the full sync then starts again from scratch after a backoff.
 * Between these steps it sleeps in poll(2) on the workers' message
 * sockets, the control socket, the master connection and a signal pipe.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libutil.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "ctl.h"
#include "dfly.h"
#include "imsg.h"
#include "log.h"
#include "target.h"
#include "worker.h"
#include "writer.h"

#define STOP_GRACE_MS	30000	/* SIGTERM'd workers get this long */
#define CTL_PAUSE_MS	1000	/* no control clients after EMFILE */
#define MAX_BACKOFF_MS	60000

enum sess_state {
	SESS_CONNECTING,
	SESS_FULL_SYNC,
	SESS_BARRIER,		/* a flow passed FULLSYNC_END, not all */
	SESS_STABLE_SWITCH,
	SESS_DONE,
	SESS_BACKOFF,
	SESS_STOPPING,
};

/* session outcome; OUT_RESTART: the operator's, no retry counted */
enum outcome { OUT_DONE, OUT_RETRY, OUT_FATAL, OUT_STOPPED, OUT_RESTART };

struct flow {
	pid_t			 pid;
	int			 fd;		/* message socket, -1 closed */
	int			 replied;
	int			 synced;	/* FULLSYNC_DONE received */
	int			 done;
	int			 killed;	/* we signalled it */
	struct msg_stats	 st;
	char			 token[DFLY_ID_LEN + 1];
};

struct sup {
	struct config		 cfg;
	const char		*cmd;
	int			 ctlfd;
	int			 sigfd[2];
	struct pidfh		*pfh;
	struct dfly_conn	 master;
	struct dfly_master	 m;
	struct flow		*flows;
	int			 nflows;
	struct session_shm	*shm;
	enum sess_state		 state;
	int			 attempt;
	int			 sessions;	/* started so far */
	int			 flush_all;	/* before the next session */
	int			 master_flushed; /* why: FLUSHALL/FLUSHDB */
	uint8_t			 flush_db[WRITER_MAXDB]; /* source dbs */
	int			 stop;
	int			 restart;
	int			 startstable_sent;
	int			 startstable_pending; /* +OK not read yet */
	int64_t			 ctl_pause_until; /* ms, after EMFILE */
	enum outcome		 failure;	/* set by fail() */
	int			 failed;
	struct timespec		 t0;
};

static int	sig_wfd = -1;

static void
on_signal(int sig)
{
	unsigned char b = sig;
	int saved = errno;

	(void)write(sig_wfd, &b, 1);
	errno = saved;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
state_name(enum sess_state s)
{
	switch (s) {
	case SESS_CONNECTING:		return "connecting";
	case SESS_FULL_SYNC:		return "full-sync";
	case SESS_BARRIER:		return "barrier";
	case SESS_STABLE_SWITCH:	return "stable-switch";
	case SESS_DONE:			return "done";
	case SESS_BACKOFF:		return "backoff";
	case SESS_STOPPING:		return "stopping";
	}
	return "unknown";
}

static void __attribute__((format(printf, 3, 4)))
fail(struct sup *s, enum outcome o, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	if (!s->failed || o == OUT_FATAL)
		s->failure = o;
	s->failed = 1;
}

/* ------------------------------------------------------------ control */

static void
ctl_status(struct sup *s, int fd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int i;

	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctl_reply(fd, "error: out of memory\n");
		return;
	}
	fprintf(fp, "ok\nsession %s state %s attempt %d flows %d master %s\n",
	    s->m.syncid[0] ? s->m.syncid : "-", state_name(s->state),
	    s->attempt, s->nflows, s->m.replid[0] ? s->m.replid : "-");
	for (i = 0; i < s->nflows; i++) {
		const struct msg_stats *st = &s->flows[i].st;

		fprintf(fp, "flow %d phase %s keys %" PRIu64 " written %"
		    PRIu64 " skipped %" PRIu64 " journal %" PRIu64 " bytes %"
		    PRIu64 " offset %" PRIu64 " lsn %" PRIu64 " pid %d\n", i,
		    msg_phase_name(st->phase), st->keys, st->written,
		    st->skipped, st->journal, st->bytes, st->offset, st->lsn,
		    (int)s->flows[i].pid);
	}
	fclose(fp);
	ctl_reply(fd, buf);
	free(buf);
}

static int
session_running(const struct sup *s)
{
	return !s->failed && !s->stop && (s->state == SESS_CONNECTING ||
	    s->state == SESS_FULL_SYNC || s->state == SESS_BARRIER ||
	    s->state == SESS_STABLE_SWITCH);
}

static void
ctl_serve(struct sup *s)
{
	char req[CTL_MAXREQ], *arg;
	const char *errstr;
	char reply[256];
	int fd, n;

	if ((fd = ctl_accept(s->ctlfd, req, sizeof(req))) == CTL_EAGAIN) {
		/* the pending connection stays queued: don't spin on it */
		log_warnx("control socket: %s: not serving it for %d ms",
		    strerror(errno), CTL_PAUSE_MS);
		s->ctl_pause_until = now_ms() + CTL_PAUSE_MS;
		return;
	}
	if (fd == -1)
		return;
	if ((arg = strchr(req, ' ')) != NULL)
		*arg++ = '\0';
	log_debug("control request \"%s\"", req);
	if (strcmp(req, "status") == 0 && arg == NULL) {
		ctl_status(s, fd);
	} else if (strcmp(req, "stop") == 0 && arg == NULL) {
		log_info("stop requested on the control socket");
		s->stop = 1;
		ctl_reply(fd, "ok stopping\n");
	} else if (strcmp(req, "restart-flow") == 0 && arg != NULL) {
		n = strtonum(arg, 0, DFLY_MAX_FLOWS - 1, &errstr);
		if (errstr != NULL || n >= s->nflows) {
			ctl_reply(fd, "error: no such flow\n");
			return;
		}
		if (!session_running(s)) {
			snprintf(reply, sizeof(reply), "error: no session is "
			    "running (state %s): nothing to restart\n",
			    state_name(s->state));
			ctl_reply(fd, reply);
			return;
		}
		snprintf(reply, sizeof(reply), "ok restarting the session: "
		    "flow %d cannot rejoin a full sync alone, so the whole "
		    "full sync starts again\n", n);
		ctl_reply(fd, reply);
		log_info("flow %d restart requested: restarting the session", n);
		s->restart = 1;
	} else {
		ctl_reply(fd, "error: unknown request\n");
	}
}

/* ------------------------------------------------------------ workers */

static void
handle_msg(struct sup *s, int i, const struct msg *msg)
{
	struct flow *f = &s->flows[i];

	switch (msg->hdr.type) {
	case MSG_FLOW_REPLY:
		f->replied = 1;
		memcpy(f->token, msg->u.reply.token, sizeof(f->token));
		if (msg->u.reply.partial)
			fail(s, OUT_RETRY, "flow %d: master answered PARTIAL "
			    "to a full-sync request", i);
		f->st.phase = PHASE_WAIT_SYNC;
		break;
	case MSG_FULLSYNC_DONE:
		f->synced = 1;
		f->st = msg->u.stats;
		if (s->state == SESS_FULL_SYNC)
			s->state = SESS_BARRIER;
		log_debug("flow %d passed the barrier (%u/%d)", i,
		    atomic_load(&s->shm->barrier), s->nflows);
		break;
	case MSG_STATS:
		f->st = msg->u.stats;
		break;
	case MSG_DONE:
		f->done = 1;
		f->st = msg->u.stats;
		break;
	case MSG_FLUSHED:
		s->master_flushed = 1;
		if (msg->u.flushed.db < 0)
			s->flush_all = 1;
		else if (msg->u.flushed.db < WRITER_MAXDB)
			s->flush_db[msg->u.flushed.db] = 1;
		break;
	case MSG_ERROR:
		f->st.phase = PHASE_FAILED;
		fail(s, msg->u.error.kind == ERR_FATAL ? OUT_FATAL : OUT_RETRY,
		    "%s", msg->u.error.text);
		break;
	default:
		fail(s, OUT_RETRY, "flow %d: unexpected message %u from the "
		    "worker", i, msg->hdr.type);
		break;
	}
}

static void
reap(struct sup *s, int i)
{
	struct flow *f = &s->flows[i];
	int status;

	if (f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->pid <= 0)
		return;
	while (waitpid(f->pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status) && f->killed)
		log_debug("flow %d: worker %d stopped by signal %d", i,
		    (int)f->pid, WTERMSIG(status));
	else if (WIFSIGNALED(status) && !f->done && s->state != SESS_STOPPING)
		fail(s, OUT_RETRY, "flow %d: worker %d killed by signal %d "
		    "at byte %" PRIu64 " (%s)", i, (int)f->pid,
		    WTERMSIG(status), f->st.bytes, msg_phase_name(f->st.phase));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && !s->failed)
		fail(s, OUT_RETRY, "flow %d: worker %d exited with status %d",
		    i, (int)f->pid, WEXITSTATUS(status));
	else if (!f->done && s->state != SESS_STOPPING && !s->failed)
		fail(s, OUT_RETRY, "flow %d: worker %d exited early at byte %"
		    PRIu64, i, (int)f->pid, f->st.bytes);
	f->pid = 0;
}

static void
read_worker(struct sup *s, int i)
{
	struct msg msg;
	int n;

	n = msg_recv(s->flows[i].fd, &msg);
	if (n == 1) {
		handle_msg(s, i, &msg);
		return;
	}
	if (n == -1 && errno == EBADMSG)
		fail(s, OUT_RETRY, "flow %d: malformed message from the worker",
		    i);
	else if (n == -1)
		fail(s, OUT_RETRY, "flow %d: message socket: %s", i,
		    strerror(errno));
	/* a worker we stop hearing from must not keep reap() waiting */
	if (n == -1 && s->flows[i].pid > 0) {
		s->flows[i].killed = 1;
		kill(s->flows[i].pid, SIGKILL);
	}
	reap(s, i);
}

static void
handle_signals(struct sup *s)
{
	unsigned char b[16];
	ssize_t n, i;

	while ((n = read(s->sigfd[0], b, sizeof(b))) > 0)
		for (i = 0; i < n; i++)
			if (b[i] == SIGTERM || b[i] == SIGINT) {
				if (!s->stop)
					log_info("signal %d: stopping", b[i]);
				s->stop = 1;
			}
}

/*
 * The master's control connection is readable: it sends nothing unasked,
 * so this is its end (or an error).  The fd is closed on every path that
 * found something, so it never stays in the poll set at EOF.
 */
static void
master_event(struct sup *s)
{
	char c, err[1024];
	ssize_t n;

	n = recv(s->master.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 1 && s->startstable_pending) {
		s->startstable_pending = 0;
		if (dfly_startstable_reply(&s->master, err, sizeof(err)) == 0) {
			log_debug("DFLY STARTSTABLE: +OK");
			return;
		}
		fail(s, OUT_RETRY, "%s", err);
	} else if (n == 0 && s->startstable_sent && !s->startstable_pending &&
	    !s->failed) {
		/* each worker still reports DONE or its own error */
		log_debug("master ended the session after STARTSTABLE");
	} else if (s->failed) {
		/* the session is failing already; this is a consequence */
		log_debug("master closed the control connection");
	} else if (n == 0)
		fail(s, OUT_RETRY, "master closed the control connection");
	else if (n == 1)
		fail(s, OUT_RETRY, "unexpected data from the master on the "
		    "control connection");
	else
		fail(s, OUT_RETRY, "control connection: %s", strerror(errno));
	dfly_close(&s->master);
}

#define SLOT_SIGNAL	(-1)
#define SLOT_CTL	(-2)
#define SLOT_MASTER	(-3)

/*
 * The poll set: only descriptors that are open and can still say
 * something.  A worker socket at EOF is closed by reap(), the master's by
 * master_event(), and the control socket sits out a pause after accept
 * failed for lack of descriptors, so nothing readable stays in the set
 * unread.  Returns the number of entries; *wait_ms is shortened to the
 * end of that pause.
 */
static int
poll_set(struct sup *s, struct pollfd *pfd, int *slot, int *wait_ms)
{
	int64_t left;
	int i, np = 0;

	pfd[np].fd = s->sigfd[0];
	pfd[np].events = POLLIN;
	slot[np++] = SLOT_SIGNAL;
	left = s->ctl_pause_until - now_ms();
	if (left <= 0) {
		pfd[np].fd = s->ctlfd;
		pfd[np].events = POLLIN;
		slot[np++] = SLOT_CTL;
	} else if (*wait_ms == -1 || left < *wait_ms)
		*wait_ms = left;
	if (s->master.fd != -1) {
		pfd[np].fd = s->master.fd;
		pfd[np].events = POLLIN;
		slot[np++] = SLOT_MASTER;
	}
	for (i = 0; i < s->nflows; i++) {
		if (s->flows[i].fd == -1)
			continue;
		pfd[np].fd = s->flows[i].fd;
		pfd[np].events = POLLIN;
		slot[np++] = i;
	}
	return np;
}

/*
 * Sleep in poll until cond(s) holds, something failed, a stop was asked
 * or timeout_ms (-1: none) passed; with intr == 0 only cond and the
 * timeout end the wait.  Returns 1 when cond holds.
 */
static int
pump(struct sup *s, int (*cond)(struct sup *), int timeout_ms, int intr)
{
	struct pollfd *pfd;
	int64_t t0, waited;
	int i, n, np, *slot, wait_ms;

	pfd = reallocarray(NULL, s->nflows + 3, sizeof(*pfd));
	slot = reallocarray(NULL, s->nflows + 3, sizeof(*slot));
	if (pfd == NULL || slot == NULL)
		fatal("pump");
	t0 = now_ms();
	for (;;) {
		if (cond != NULL && cond(s))
			break;
		if (intr && (s->failed || s->stop || s->restart))
			break;
		waited = now_ms() - t0;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			break;
		wait_ms = timeout_ms >= 0 ? timeout_ms - waited : -1;
		np = poll_set(s, pfd, slot, &wait_ms);
		n = poll(pfd, np, wait_ms);
		if (n == -1 && errno != EINTR)
			fatal("poll");
		for (i = 0; i < np && n > 0; i++) {
			if (pfd[i].revents == 0)
				continue;
			switch (slot[i]) {
			case SLOT_SIGNAL:
				handle_signals(s);
				break;
			case SLOT_CTL:
				ctl_serve(s);
				break;
			case SLOT_MASTER:
				master_event(s);
				break;
			default:
				read_worker(s, slot[i]);
				break;
			}
		}
	}
	free(pfd);
	free(slot);
	return cond != NULL && cond(s);
}

static int
all_replied(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (!s->flows[i].replied)
			return 0;
	return 1;
}

static int
barrier_reached(struct sup *s)
{
	return atomic_load(&s->shm->barrier) == (unsigned)s->nflows;
}

static int
all_done(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (!s->flows[i].done)
			return 0;
	return 1;
}

static int
stable_switched(struct sup *s)
{
	return all_done(s) && !s->startstable_pending;
}

static int
startstable_answered(struct sup *s)
{
	return !s->startstable_pending;
}

static int
all_reaped(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0)
			return 0;
	return 1;
}

static void
spawn_workers(struct sup *s)
{
	int i, j, sv[2];
	pid_t pid;

	for (i = 0; i < s->nflows; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1) {
			fail(s, OUT_RETRY, "socketpair: %s", strerror(errno));
			return;
		}
		if ((pid = fork()) == -1) {
			fail(s, OUT_RETRY, "fork: %s", strerror(errno));
			close(sv[0]);
			close(sv[1]);
			return;
		}
		if (pid == 0) {
			close(sv[0]);
			for (j = 0; j < i; j++)
				close(s->flows[j].fd);
			close(s->ctlfd);
			close(s->sigfd[0]);
			close(s->sigfd[1]);
			dfly_close(&s->master);
			signal(SIGCHLD, SIG_DFL);
			signal(SIGHUP, SIG_IGN);
			worker_main(&s->cfg, &s->m, i, sv[1], s->shm);
		}
		close(sv[1]);
		s->flows[i].pid = pid;
		s->flows[i].fd = sv[0];
	}
}

/*
 * Every flow read its trailer: the workers may close their flows now
 * (imsg.h) and exit.  One that cannot be told is told by the EOF of its
 * socket in end_session().
 */
static void
release_flows(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].fd != -1 &&
		    msg_send(s->flows[i].fd, MSG_ALLDONE, NULL, 0) == -1)
			log_warn("flow %d: message to the worker", i);
}

/*
 * End the session: send sig to the workers still running (0: none, they
 * are exiting by themselves) and reap them; only SIGKILL is not waited
 * for gracefully.
 */
static void
end_session(struct sup *s, int sig)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0 && sig != 0) {
			s->flows[i].killed = 1;
			kill(s->flows[i].pid, sig);
		}
	if (sig != SIGKILL) {
		/* let them finish the write in flight and flush */
		pump(s, all_reaped, STOP_GRACE_MS, 0);
		for (i = 0; i < s->nflows; i++)
			if (s->flows[i].pid > 0) {
				log_warnx("flow %d: worker did not stop in %d "
				    "ms, killing it", i, STOP_GRACE_MS);
				s->flows[i].killed = 1;
				kill(s->flows[i].pid, SIGKILL);
			}
	}
	for (i = 0; i < s->nflows; i++)
		reap(s, i);
	dfly_close(&s->master);
}

static int
start_session(struct sup *s)
{
	struct config *c = &s->cfg;
	char err[1024];
	int rc;

	s->state = SESS_CONNECTING;
	s->failed = 0;
	s->restart = 0;
	s->startstable_sent = 0;
	s->startstable_pending = 0;
	memset(&s->m, 0, sizeof(s->m));
	rc = dfly_connect(&s->master, c->source_host, c->source_port,
	    c->source_user, c->source_password, c->timeout_ms, err,
	    sizeof(err));
	if (rc == 0)
		rc = dfly_handshake(&s->master, &s->m, err, sizeof(err));
	if (rc != 0) {
		fail(s, rc == DFLY_EFATAL ? OUT_FATAL : OUT_RETRY, "%s", err);
		dfly_close(&s->master);
		return -1;
	}
	log_info("master %s session %s: %d flows, protocol version %d",
	    s->m.replid, s->m.syncid, s->m.nflows, s->m.version);
	free(s->flows);
	if ((s->flows = calloc(s->m.nflows, sizeof(*s->flows))) == NULL)
		fatal("calloc");
	s->nflows = s->m.nflows;
	for (rc = 0; rc < s->nflows; rc++)
		s->flows[rc].fd = -1;
	atomic_store(&s->shm->barrier, 0);
	return 0;
}

/*
 * Temporary keys of a worker killed in an earlier session (or run) carry
 * another pid: nothing else would ever delete them.
 */
static int
cleanup_target(struct sup *s)
{
	struct target_opts topts;
	char err[1024];
	long n;

	if (target_parse(s->cfg.target_url, &topts, err, sizeof(err)) == -1) {
		fail(s, OUT_FATAL, "target: %s", err);
		return -1;
	}
	if (s->cfg.target_password[0] != '\0')
		strlcpy(topts.password, s->cfg.target_password,
		    sizeof(topts.password));
	n = writer_cleanup(&topts, err, sizeof(err));
	explicit_bzero(&topts, sizeof(topts));
	if (n == -1) {
		fail(s, strstr(err, "authentication failed") != NULL &&
		    strstr(err, "LOADING") == NULL ? OUT_FATAL : OUT_RETRY,
		    "removing temporary keys: %s", err);
		return -1;
	}
	if (n > 0)
		log_info("deleted %ld temporary keys a killed worker left "
		    "behind", n);
	return 0;
}

/* ------------------------------------------------------------ flushing */

struct flush_ctx {
	char		 err[512];	/* first error reply */
};

static int
flush_reply(void *arg, uint64_t tag, const redisReply *r)
{
	struct flush_ctx *fc = arg;

	(void)tag;
	if (r->type == REDIS_REPLY_ERROR && fc->err[0] == '\0')
		snprintf(fc->err, sizeof(fc->err), "%.*s", (int)r->len, r->str);
	return 0;
}

/* Send one keyless command (argc <= 2) and wait for it; 0 ok, -1 */
static int
flush_command(struct target *t, struct flush_ctx *fc, int all, int argc,
    const char **argv)
{
	size_t len[2];
	int i, rc;

	for (i = 0; i < argc && i < 2; i++)
		len[i] = strlen(argv[i]);
	fc->err[0] = '\0';
	rc = all ? target_send_all(t, argc, argv, len, 0) :
	    target_send(t, argc, argv, len, -1, 0);
	if (rc == -1 || target_flush(t) == -1) {
		strlcpy(fc->err, target_error(t), sizeof(fc->err));
		return -1;
	}
	return fc->err[0] != '\0' ? -1 : 0;
}

/*
 * Empty every target db that receives a source db marked for flushing
 * (all of them with flush_all), mapped as the workers map them: --db-map,
 * else the URL's /DB, else the same number; a cluster has only db 0.
 * FLUSHALL when that covers every db.  dbs past the target's last one
 * (SELECT out of range) hold nothing of ours.
 */
static int
flush_dbs(struct sup *s, struct target *t, int cluster,
    const struct target_opts *topts, struct flush_ctx *fc, char *what,
    size_t whatlen)
{
	static const char *flushall[] = { "FLUSHALL" };
	static const char *flushdb[] = { "FLUSHDB" };
	const char *select[2];
	uint8_t dst[WRITER_MAXDB];
	char num[16];
	int i, d, identity = 1;

	memset(dst, 0, sizeof(dst));
	for (i = 0; i < WRITER_MAXDB; i++) {
		d = s->cfg.db_map[i];
		if (d < 0)
			d = cluster ? 0 : topts->have_db ? topts->db : i;
		if (d != i)
			identity = 0;
		if (s->flush_all || s->flush_db[i])
			dst[d] = 1;
	}
	if (cluster || (identity && s->flush_all)) {
		strlcpy(what, "FLUSHALL", whatlen);
		return flush_command(t, fc, 1, 1, flushall);
	}
	what[0] = '\0';
	select[0] = "SELECT";
	select[1] = num;
	for (d = 0; d < WRITER_MAXDB; d++) {
		if (!dst[d])
			continue;
		snprintf(num, sizeof(num), "%d", d);
		if (flush_command(t, fc, 0, 2, select) == -1) {
			if (strstr(fc->err, "out of range") != NULL)
				break;
			return -1;
		}
		if (flush_command(t, fc, 0, 1, flushdb) == -1)
			return -1;
		snprintf(what + strlen(what), whatlen - strlen(what), "%sdb %d",
		    what[0] != '\0' ? ", " : "FLUSHDB in ", d);
	}
	if (what[0] == '\0')
		strlcpy(what, "nothing to flush", whatlen);
	return 0;
}

/*
 * Before a session that must not find what an earlier one wrote: after
 * a FLUSHALL/FLUSHDB on the master during the full sync, and on every
 * restart with flush-on-resync.  -1 with the session failed.
 */
static int
flush_target(struct sup *s)
{
	struct target_opts topts;
	struct flush_ctx fc;
	struct target *t;
	char err[512], what[256];
	int i, rc, want = s->flush_all;

	for (i = 0; i < WRITER_MAXDB && !want; i++)
		want = s->flush_db[i];
	if (!want)
		return 0;
	if (target_parse(s->cfg.target_url, &topts, err, sizeof(err)) == -1) {
		fail(s, OUT_FATAL, "target: %s", err);
		return -1;
	}
	if (s->cfg.target_password[0] != '\0')
		strlcpy(topts.password, s->cfg.target_password,
		    sizeof(topts.password));
	t = target_open(&topts, err, sizeof(err));
	if (t == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		fail(s, OUT_RETRY, "target: %s: cannot flush it before the new "
		    "full sync", err);
		return -1;
	}
	memset(&fc, 0, sizeof(fc));
	target_set_reply_cb(t, flush_reply, &fc);
	rc = flush_dbs(s, t, target_is_cluster(t), &topts, &fc, what,
	    sizeof(what));
	explicit_bzero(&topts, sizeof(topts));
	target_close(t);
	if (rc == -1) {
		fail(s, OUT_RETRY, "target: %s: cannot flush it before the new "
		    "full sync", fc.err);
		return -1;
	}
	log_info("target: %s before the new full sync (%s)", what,
	    s->master_flushed ? "the master was flushed during the last one" :
	    "flush-on-resync");
	s->flush_all = 0;
	s->master_flushed = 0;
	memset(s->flush_db, 0, sizeof(s->flush_db));
	return 0;
}

/*
 * The master writes every flow's trailer before it answers STARTSTABLE,
 * and a trailer waits for its worker to drain the flow, as long as a slow
 * target makes that: the reply is read by master_event() while the
 * workers are served, and only once every trailer was read is its delay
 * bounded (by timeout_ms).
 */
static void
start_stable(struct sup *s)
{
	char err[1024];

	log_info("every flow passed FULLSYNC_END: DFLY STARTSTABLE");
	s->startstable_sent = 1;
	if (dfly_startstable_send(&s->master, &s->m, err, sizeof(err)) != 0) {
		fail(s, OUT_RETRY, "%s", err);
		return;
	}
	s->startstable_pending = 1;
	s->state = SESS_STABLE_SWITCH;
}

static enum outcome
session(struct sup *s)
{
	const char *extra;
	char err[1024];

	if (s->sessions++ > 0 && s->cfg.flush_on_resync)
		s->flush_all = 1;
	s->state = SESS_CONNECTING;
	s->failed = 0;
	if (flush_target(s) == -1 || cleanup_target(s) == -1 ||
	    start_session(s) == -1)
		return s->failure;
	spawn_workers(s);
	if (!s->failed && !pump(s, all_replied, s->cfg.timeout_ms + 10000, 1) &&
	    !s->failed && !s->stop && !s->restart)
		fail(s, OUT_RETRY, "flows did not register within %d ms",
		    s->cfg.timeout_ms + 10000);
	if (!s->failed && !s->stop && !s->restart) {
		s->state = SESS_FULL_SYNC;
		log_info("all %d flows answered FULL: DFLY SYNC", s->nflows);
		if (dfly_sync(&s->master, &s->m, err, sizeof(err)) != 0)
			fail(s, OUT_RETRY, "%s", err);
		else if (dfly_leftover(&s->master, &extra) > 0)
			/* read with the reply: poll will never see them */
			fail(s, OUT_RETRY, "unexpected data from the master on "
			    "the control connection");
	}
	if (!s->failed && pump(s, barrier_reached, -1, 1))
		start_stable(s);
	if (!s->failed && s->startstable_sent && pump(s, all_done, -1, 1) &&
	    !pump(s, startstable_answered, s->cfg.timeout_ms, 1) && !s->failed &&
	    !s->stop && !s->restart)
		fail(s, OUT_RETRY, "%s: no reply to DFLY STARTSTABLE within %d ms "
		    "of the last trailer", s->master.peer, s->cfg.timeout_ms);
	if (!s->failed && s->startstable_sent && stable_switched(s))
		s->state = SESS_DONE;
	if (s->state == SESS_DONE) {
		release_flows(s);
		end_session(s, 0);
		return OUT_DONE;
	}
	if (s->stop && !s->failed) {
		s->state = SESS_STOPPING;
		end_session(s, SIGTERM);
		return OUT_STOPPED;
	}
	if (s->restart && !s->failed) {
		log_info("session restarted by the operator");
		end_session(s, SIGKILL);
		return OUT_RESTART;
	}
	/* collect the workers' own account of the failure for the log */
	pump(s, all_reaped, 200, 0);
	end_session(s, SIGKILL);
	return s->failure;
}

/* ------------------------------------------------------------ main */

static void
report(struct sup *s)
{
	struct timespec t1;
	uint64_t keys = 0, bytes = 0, written = 0, skipped = 0;
	double secs;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - s->t0.tv_sec) + (t1.tv_nsec - s->t0.tv_nsec) / 1e9;
	for (i = 0; i < s->nflows; i++) {
		const struct msg_stats *st = &s->flows[i].st;

		log_info("flow %d: journal offset %" PRIu64 ", %" PRIu64
		    " keys, %" PRIu64 " bytes", i, st->lsn, st->keys,
		    st->bytes);
		printf("flow %d: journal_offset %" PRIu64 " keys %" PRIu64
		    " written %" PRIu64 " skipped %" PRIu64 " bytes %" PRIu64
		    "\n", i, st->lsn, st->keys, st->written, st->skipped,
		    st->bytes);
		keys += st->keys;
		bytes += st->bytes;
		written += st->written;
		skipped += st->skipped;
	}
	printf("total: %d flows, %" PRIu64 " keys (%" PRIu64 " written, %"
	    PRIu64 " skipped), %" PRIu64 " bytes in %.2f s\n", s->nflows,
	    keys, written, skipped, bytes, secs);
	fflush(stdout);
	log_info("full sync complete: %d flows, %" PRIu64 " keys, %" PRIu64
	    " bytes in %.2f s", s->nflows, keys, bytes, secs);
}

static int
backoff(struct sup *s)
{
	int shift = s->attempt - 1 < 16 ? s->attempt - 1 : 16;
	long long ms = (long long)s->cfg.retry_delay_ms << shift;

	if (ms > MAX_BACKOFF_MS)
		ms = MAX_BACKOFF_MS;
	s->state = SESS_BACKOFF;
	log_info("restarting the full sync in %lld ms (attempt %d of %d)",
	    ms, s->attempt, s->cfg.max_retries);
	s->failed = 0;
	s->restart = 0;
	pump(s, NULL, ms, 1);
	return s->stop ? -1 : 0;
}

static int
setup_process(struct sup *s)
{
	struct sigaction sa;
	struct rlimit rl;
	char err[512];
	pid_t other;

	if (mkdir(s->cfg.state_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", s->cfg.state_dir);
		return -1;
	}
	if ((s->pfh = pidfile_open(s->cfg.pidfile, 0600, &other)) == NULL) {
		if (errno == EEXIST)
			log_warnx("%s: already running as pid %d",
			    s->cfg.pidfile, (int)other);
		else
			log_warn("%s", s->cfg.pidfile);
		return -1;
	}
	if ((s->ctlfd = ctl_listen(s->cfg.ctl_socket, err, sizeof(err))) ==
	    -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe2(s->sigfd, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		return -1;
	}
	sig_wfd = s->sigfd[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	s->shm = mmap(NULL, sizeof(*s->shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->shm == MAP_FAILED) {
		log_warn("mmap");
		return -1;
	}
	return 0;
}

static int
run(int argc, char **argv, int migrate)
{
	struct sup s;
	struct target_opts topts;
	char err[1024], where[300];
	enum outcome o;
	int rc = 1;

	memset(&s, 0, sizeof(s));
	s.cmd = argv[0];
	s.ctlfd = -1;
	s.sigfd[0] = s.sigfd[1] = -1;
	dfly_init(&s.master);
	config_init(&s.cfg);
	if (config_parse_args(&s.cfg, argc, argv, err, sizeof(err)) == -1) {
		if (strcmp(err, "help") == 0)
			return 0;
		fprintf(stderr, "df2redis %s: %s\n", s.cmd, err);
		return 2;
	}
	if (migrate)
		s.cfg.full_sync_only = 1;
	memset(&topts, 0, sizeof(topts));
	if (target_parse(s.cfg.target_url, &topts, err, sizeof(err)) == -1) {
		fprintf(stderr, "df2redis %s: --target: %s\n", s.cmd, err);
		return 2;
	}
	snprintf(where, sizeof(where), "%s:%d%s", topts.host, topts.port,
	    s.cfg.full_sync_only ? " (full sync only)" : "");
	explicit_bzero(&topts, sizeof(topts));
	if (s.cfg.check_only) {
		printf("configuration OK\n");
		return 0;
	}
	log_init("df2redis", s.cfg.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	    s.cfg.verbose);
	log_setprefix("supervisor");
	if (setup_process(&s) == -1)
		goto out;
	if (!s.cfg.foreground && daemon(1, 0) == -1) {
		log_warn("daemon");
		goto out;
	}
	pidfile_write(s.pfh);
	/* retitling also hides the command line (a URL may carry a password) */
	setproctitle("supervisor");
	if (!s.cfg.full_sync_only)
		log_warnx("stable sync (journal replay) is not available in "
		    "this version: replicate stops after the full sync, as "
		    "with --full-sync-only");
	log_info("replicating %s:%d into %s, state in %s", s.cfg.source_host,
	    s.cfg.source_port, where, s.cfg.state_dir);
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	for (;;) {
		o = session(&s);
		if (o == OUT_DONE) {
			report(&s);
			rc = 0;
			break;
		}
		if (o == OUT_STOPPED || s.stop) {
			log_info("stopped");
			rc = 0;
			break;
		}
		if (o == OUT_FATAL) {
			log_warnx("giving up: retrying cannot fix this");
			break;
		}
		if (o == OUT_RESTART)
			continue;	/* asked for: no retry used, no delay */
		if (++s.attempt > s.cfg.max_retries) {
			log_warnx("giving up after %d retries", s.cfg.max_retries);
			break;
		}
		if (backoff(&s) == -1) {
			log_info("stopped");
			rc = 0;
			break;
		}
	}
out:
	ctl_unlink(s.ctlfd, s.cfg.ctl_socket);
	if (s.pfh != NULL)
		pidfile_remove(s.pfh);
	free(s.flows);
	explicit_bzero(&s.cfg, sizeof(s.cfg));
	return rc;
}

int
cmd_replicate(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int
cmd_migrate(int argc, char **argv)
{
	return run(argc, argv, 1);
}
