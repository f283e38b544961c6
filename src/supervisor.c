/*
 * supervisor.c - the supervisor process of `df2redis replicate` and
 * `df2redis migrate` (supervisor.h): the pid file and the control socket,
 * signals, one worker process forked per FLOW and reaped, the poll loop
 * every other part runs from, and the main loop that runs sessions
 * (session.c) with a backoff between failed ones.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "metrics.h"
#include "resync.h"
#include "supervisor.h"
#include "sweep.h"
#include "target.h"
#include "version.h"

#define STOP_GRACE_MS	30000	/* SIGTERM'd workers get this long */
#define CTL_PAUSE_MS	1000	/* no control clients after EMFILE */
#define MAX_BACKOFF_MS	60000

static int	sig_wfd = -1;

static void
on_signal(int sig)
{
	unsigned char b = sig;
	int saved = errno;

	(void)write(sig_wfd, &b, 1);
	errno = saved;
}

/* ------------------------------------------------------------ workers */

void
sup_reap(struct sup *s, int i)
{
	struct flow *f = &s->flows[i];
	char how[128];
	int status, early;

	if (f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->pid <= 0)
		return;
	while (waitpid(f->pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	/* in stable sync a death ends the session, which resumes */
	if (s->state == SESS_STABLE && !f->killed && !s->failed && !s->stop) {
		f->st.phase = PHASE_FAILED;	/* until its successor reports */
		session_worker_died(s, i, how);
		f->pid = 0;
		return;
	}
	/* once in stable sync, a flow's deaths count against it alone */
	if (s->prev_replid[0] != '\0' && !f->killed && !s->stop &&
	    s->state != SESS_STOPPING &&
	    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0))
		session_flow_death(s, i, how);
	/* in stable sync a worker never ends by itself */
	early = !f->done || s->state == SESS_STABLE;
	if (WIFSIGNALED(status) && f->killed)
		log_debug("flow %d: worker %d stopped by signal %d", i,
		    (int)f->pid, WTERMSIG(status));
	else if (WIFSIGNALED(status) && early && s->state != SESS_STOPPING)
		status_flow_fail(s, i, ERR_SYS, "flow %d: worker %d killed by signal "
		    "%d at byte %" PRIu64 " (%s)", i, (int)f->pid,
		    WTERMSIG(status), f->st.bytes, msg_phase_name(f->st.phase));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && !s->failed)
		status_flow_fail(s, i, ERR_SYS, "flow %d: worker %d exited with "
		    "status %d", i, (int)f->pid, WEXITSTATUS(status));
	else if (early && !f->killed && s->state != SESS_STOPPING &&
	    !s->failed)
		status_flow_fail(s, i, ERR_SYS, "flow %d: worker %d exited early at "
		    "byte %" PRIu64 " (%s)", i, (int)f->pid, f->st.bytes,
		    msg_phase_name(f->st.phase));
	f->pid = 0;
}

static void
read_worker(struct sup *s, int i)
{
	struct error e;
	struct msg msg;
	int n;

	n = msg_recv(s->flows[i].fd, &msg, &e);
	if (n == 1) {
		session_worker_msg(s, i, &msg);
		return;
	}
	if (n == -1 && e.kind == ERR_PROTO)
		session_fail(s, ERR_PROTO, "flow %d: %s from the worker", i,
		    e.msg);
	else if (n == -1)
		session_fail(s, e.kind, "flow %d: message socket: %s", i,
		    e.msg);
	/* a worker we stop hearing from must not keep sup_reap() waiting */
	if (n == -1 && s->flows[i].pid > 0) {
		s->flows[i].killed = 1;
		kill(s->flows[i].pid, SIGKILL);
	}
	sup_reap(s, i);
}

int
sup_all_reaped(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0)
			return 0;
	return 1;
}

static void	close_inherited(struct sup *);

/*
 * Fork a child with a message socket to it: in the child (0 returned) *fd
 * is its end and the supervisor's descriptors are closed; in the
 * supervisor the pid, *fd the other end; -1 and the session failed.
 */
static pid_t
fork_child(struct sup *s, int *fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		session_fail(s, ERR_SYS, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		session_fail(s, ERR_SYS, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		close_inherited(s);
		*fd = sv[1];
		return 0;
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

int
sup_spawn_worker(struct sup *s, int i, uint64_t lsn)
{
	pid_t pid;
	int fd;

	if ((pid = fork_child(s, &fd)) == -1)
		return -1;
	if (pid == 0)
		worker_main(&s->cfg, &s->m, i, fd, s->shm, lsn, s->sweeping);
	status_worker_started(s, i);
	s->flows[i].pid = pid;
	s->flows[i].fd = fd;
	s->flows[i].lsn = lsn;
	s->flows[i].started_ms = mono_ms();
	return 0;
}

/* The children's copy of the supervisor's descriptors goes. */
static void
close_inherited(struct sup *s)
{
	int j;

	for (j = 0; j < s->nflows; j++)
		if (s->flows[j].fd != -1)
			close(s->flows[j].fd);
	if (s->sweep_fd != -1)
		close(s->sweep_fd);
	if (s->ctl_wait_fd != -1)
		close(s->ctl_wait_fd);
	close(s->ctlfd);
	httpd_close(&s->httpd);
	close(s->sigfd[0]);
	close(s->sigfd[1]);
	net_drop(&s->master);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
}

int
sup_spawn_sweeper(struct sup *s)
{
	pid_t pid;
	int fd;

	s->sweep_done = 0;
	memset(&s->swept, 0, sizeof(s->swept));
	if ((pid = fork_child(s, &fd)) == -1)
		return -1;
	if (pid == 0)
		sweep_main(&s->cfg, s->nflows, fd);
	s->sweep_pid = pid;
	s->sweep_fd = fd;
	return 0;
}

static void
reap_sweeper(struct sup *s)
{
	int status;

	if (s->sweep_fd != -1) {
		close(s->sweep_fd);
		s->sweep_fd = -1;
	}
	if (s->sweep_pid <= 0)
		return;
	while (waitpid(s->sweep_pid, &status, 0) == -1 && errno == EINTR)
		;
	s->sweep_pid = 0;
}

void
sup_end_sweeper(struct sup *s)
{
	if (s->sweep_pid > 0)
		kill(s->sweep_pid, SIGKILL);
	reap_sweeper(s);
}

/* The sweeper's one message, or its end without one. */
static void
read_sweeper(struct sup *s)
{
	struct error e;
	struct msg msg;
	int n;

	n = msg_recv(s->sweep_fd, &msg, &e);
	if (n == 1 && msg.hdr.type == MSG_SWEPT)
		s->swept = msg.u.swept;
	else {
		memset(&s->swept, 0, sizeof(s->swept));
		s->swept.kind = ERR_SYS;
		strlcpy(s->swept.text, "the sweeper ended without a result",
		    sizeof(s->swept.text));
		if (n == -1)
			log_warnx("sweeper: %s", e.msg);
	}
	s->sweep_done = 1;
	if (n == 1 && msg.hdr.type != MSG_SWEPT)
		kill(s->sweep_pid, SIGKILL);
	reap_sweeper(s);
}

void
sup_spawn_workers(struct sup *s)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (sup_spawn_worker(s, i, 0) == -1)
			return;
}

/*
 * Every flow read its trailer: the workers may close their flows now
 * (imsg.h) and exit.  One that cannot be told is told by the EOF of its
 * socket in sup_end_workers().
 */
void
sup_release_workers(struct sup *s)
{
	struct error e;
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].fd != -1 &&
		    msg_send(s->flows[i].fd, MSG_ALLDONE, NULL, 0, &e) == -1)
			log_warnx("flow %d: message to the worker: %s", i,
			    e.msg);
}

/*
 * End the session's workers: send sig to those still running (0: none,
 * they are exiting by themselves) and reap them; only SIGKILL is not
 * waited for gracefully.  The master's connection goes with them.
 */
void
sup_end_workers(struct sup *s, int sig)
{
	int i;

	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0 && sig != 0) {
			s->flows[i].killed = 1;
			kill(s->flows[i].pid, sig);
		}
	if (sig != SIGKILL) {
		/* let them finish the write in flight and flush */
		sup_pump(s, sup_all_reaped, STOP_GRACE_MS, 0);
		for (i = 0; i < s->nflows; i++)
			if (s->flows[i].pid > 0) {
				log_warnx("flow %d: worker did not stop in %d "
				    "ms, killing it", i, STOP_GRACE_MS);
				s->flows[i].killed = 1;
				kill(s->flows[i].pid, SIGKILL);
			}
	}
	for (i = 0; i < s->nflows; i++)
		sup_reap(s, i);
	net_close(&s->master);
}

/* ------------------------------------------------------------ poll loop */

static void
not_applied(void *arg, const char *name)
{
	(void)arg;
	if (strcmp(name, "verbose") != 0 && strcmp(name, "metrics-listen") != 0)
		log_warnx("SIGHUP: %s changed: it takes a restart, not "
		    "applied", name);
}

/* metrics-listen, at the start and after a SIGHUP that changed it. */
static int
metrics_listen(struct sup *s, const char *addr)
{
	struct error e;

	if (addr[0] == '\0')
		return 0;
	if (httpd_open(&s->httpd, addr, &e) == -1) {
		log_warnx("%s", e.msg);
		return -1;
	}
	log_info("metrics on http://%s/metrics, status page on http://%s/",
	    addr, addr);
	return 0;
}

/* A new metrics-listen: the old listener goes first (it may hold the port). */
static void
metrics_reload(struct sup *s, const char *addr)
{
	char old[sizeof(s->cfg.metrics_listen)];

	strlcpy(old, s->cfg.metrics_listen, sizeof(old));
	httpd_close(&s->httpd);
	if (addr[0] == '\0')
		log_info("SIGHUP: metrics-listen off, was %s", old);
	if (metrics_listen(s, addr) == -1) {
		log_warnx("SIGHUP: metrics-listen %s not applied, keeping %s",
		    addr, old[0] != '\0' ? old : "none");
		(void)metrics_listen(s, old);
		return;
	}
	strlcpy(s->cfg.metrics_listen, addr, sizeof(s->cfg.metrics_listen));
}

/*
 * SIGHUP: the log is reopened and the command line and configuration
 * file read again; the log level changes at once (every worker is told),
 * any other option only with a restart, which the log says.
 */
static void
reload(struct sup *s)
{
	struct config n;
	struct msg_verbose v;
	struct error e;
	char *av[s->argc + 1];
	int i;

	log_reopen();
	/* getopt_long permutes what it parses */
	memcpy(av, s->argv, sizeof(av));
	config_init(&n);
	if (config_parse_args(&n, s->argc, av, &e) != 0) {
		log_warnx("SIGHUP: %s: nothing reloaded", e.msg);
		goto out;
	}
	if (s->migrate)
		n.full_sync_only = 1;
	config_changed(&s->cfg, &n, not_applied, NULL);
	if (strcmp(n.metrics_listen, s->cfg.metrics_listen) != 0)
		metrics_reload(s, n.metrics_listen);
	if (n.verbose == s->cfg.verbose) {
		log_info("SIGHUP: log reopened, configuration read again");
		goto out;
	}
	log_info("SIGHUP: log level %d, was %d", n.verbose, s->cfg.verbose);
	s->cfg.verbose = n.verbose;
	log_setverbose(n.verbose);
	v.verbose = n.verbose;
	for (i = 0; i < s->nflows; i++)
		if (s->flows[i].pid > 0 && s->flows[i].fd != -1 &&
		    msg_send(s->flows[i].fd, MSG_VERBOSE, &v, sizeof(v),
		    &e) == -1)
			log_warnx("flow %d: %s", i, e.msg);
out:
	explicit_bzero(&n, sizeof(n));
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
			} else if (b[i] == SIGHUP)
				reload(s);
}

static void
serve_ctl(struct sup *s)
{
	struct error e;

	if (ctl_serve(s->ctlfd, ctlcmd_requests, s, &e) == CTL_EAGAIN) {
		/* the pending connection stays queued: don't spin on it */
		log_warnx("control socket: %s: not serving it for %d ms",
		    e.msg, CTL_PAUSE_MS);
		s->ctl_pause_until = mono_ms() + CTL_PAUSE_MS;
	}
}

#define SLOT_SIGNAL	(-1)
#define SLOT_CTL	(-2)
#define SLOT_MASTER	(-3)
#define SLOT_SWEEP	(-4)
#define SLOT_HTTPD	(-5)

/*
 * The poll set: only descriptors that are open and can still say
 * something.  A worker socket at EOF is closed by sup_reap(), the
 * master's by session_master_event(), and the control socket sits out a pause after
 * accept failed for lack of descriptors, so nothing readable stays in the
 * set unread.  Returns the number of entries; *wait_ms is shortened to
 * the end of that pause.
 */
static int
poll_set(struct sup *s, struct pollfd *pfd, int *slot, int *wait_ms)
{
	int64_t left;
	int i, np = 0;

	pfd[np].fd = s->sigfd[0];
	pfd[np].events = POLLIN;
	slot[np++] = SLOT_SIGNAL;
	left = s->ctl_pause_until - mono_ms();
	if (left <= 0) {
		pfd[np].fd = s->ctlfd;
		pfd[np].events = POLLIN;
		slot[np++] = SLOT_CTL;
	} else if (*wait_ms == -1 || left < *wait_ms)
		*wait_ms = left;
	if (s->master.fd != -1) {
		pfd[np].fd = s->master.fd;
		pfd[np].events = net_events(&s->master, POLLIN);
		slot[np++] = SLOT_MASTER;
		if (net_pending(&s->master))	/* TLS: read, no poll says */
			*wait_ms = 0;
	}
	if (s->sweep_fd != -1) {
		pfd[np].fd = s->sweep_fd;
		pfd[np].events = POLLIN;
		slot[np++] = SLOT_SWEEP;
	}
	for (i = 0; i < s->nflows; i++) {
		if (s->flows[i].fd == -1)
			continue;
		pfd[np].fd = s->flows[i].fd;
		pfd[np].events = POLLIN;
		slot[np++] = i;
	}
	/* last: httpd_serve() takes them from *nhttp on */
	for (i = httpd_pollfds(&s->httpd, pfd + np, wait_ms); i > 0; i--)
		slot[np++] = SLOT_HTTPD;
	return np;
}

static void
dispatch(struct sup *s, int slot)
{
	switch (slot) {
	case SLOT_SIGNAL:
		handle_signals(s);
		break;
	case SLOT_CTL:
		serve_ctl(s);
		break;
	case SLOT_MASTER:
		session_master_event(s);
		break;
	case SLOT_SWEEP:
		read_sweeper(s);
		break;
	case SLOT_HTTPD:
		break;		/* httpd_serve(), after the others */
	default:
		read_worker(s, slot);
		break;
	}
}

/* What ps shows: the session's state and size, set when they change. */
static void
sup_title(struct sup *s)
{
	static enum sess_state last = (enum sess_state)-1;
	static int last_n = -1;

	if (s->state == last && s->nflows == last_n)
		return;
	last = s->state;
	last_n = s->nflows;
	setproctitle("supervisor %s %d flows", session_state_name(s->state),
	    s->nflows);
}

int
sup_pump(struct sup *s, int (*cond)(struct sup *), int timeout_ms, int intr)
{
	struct pollfd *pfd;
	int64_t t0, waited;
	int i, n, np, nh, *slot, wait_ms;

	pfd = reallocarray(NULL, s->nflows + 4 + HTTPD_NFDS, sizeof(*pfd));
	slot = reallocarray(NULL, s->nflows + 4 + HTTPD_NFDS, sizeof(*slot));
	if (pfd == NULL || slot == NULL)
		fatal("pump");
	t0 = mono_ms();
	for (;;) {
		if (cond != NULL && cond(s))
			break;
		if (intr && (s->failed || s->stop || s->restart ||
		    s->resume))
			break;
		waited = mono_ms() - t0;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			break;
		wait_ms = timeout_ms >= 0 ? timeout_ms - waited : -1;
		sup_title(s);
		np = poll_set(s, pfd, slot, &wait_ms);
		n = poll(pfd, np, wait_ms);
		if (n == -1 && errno != EINTR)
			fatal("poll");
		for (i = 0; i < np && n >= 0; i++)
			if (pfd[i].revents != 0 || (slot[i] == SLOT_MASTER &&
			    net_pending(&s->master)))
				dispatch(s, slot[i]);
		for (nh = 0; nh < np && slot[np - 1 - nh] == SLOT_HTTPD; nh++)
			;
		if (n == -1)
			for (i = np - nh; i < np; i++)
				pfd[i].revents = 0;
		/* its deadlines too: called after every poll */
		httpd_serve(&s->httpd, pfd + np - nh, nh, metrics_handler, s);
	}
	free(pfd);
	free(slot);
	return cond != NULL && cond(s);
}

/* ------------------------------------------------------------ main */

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
	sup_pump(s, NULL, ms, 1);
	return s->stop ? -1 : 0;
}

static void
setup_signals(struct sup *s)
{
	struct sigaction sa;

	sig_wfd = s->sigfd[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int
setup_process(struct sup *s)
{
	struct error e;
	struct rlimit rl;
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
	if ((s->ctlfd = ctl_listen(s->cfg.ctl_socket, &e)) == -1) {
		log_warnx("%s", e.msg);
		return -1;
	}
	if (metrics_listen(s, s->cfg.metrics_listen) == -1)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe2(s->sigfd, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe");
		return -1;
	}
	setup_signals(s);
	s->shm = mmap(NULL, sizeof(*s->shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->shm == MAP_FAILED) {
		log_warn("mmap");
		return -1;
	}
	return 0;
}

/*
 * The CA files, certificates and keys of both sides, read now: a bad one
 * stops before anything starts, and the workers inherit them loaded.
 */
static int
load_tls(const struct config *cfg, struct error *e)
{
	struct target_opts	topts;
	int			rc = 0;

	if (cfg->source_tls.enabled &&
	    tls_load(&cfg->source_tls, "source", e) == -1)
		return -1;
	if (resync_target_opts(cfg, &topts, e) == -1)
		rc = -1;
	else if (topts.tls.enabled)
		rc = tls_load(&topts.tls, "target", e);
	explicit_bzero(&topts, sizeof(topts));
	return rc;
}

/*
 * The command line, the target URL and the passwords: -1 to go on, else
 * the exit status (0 after --help, --version or -n; EXIT_USAGE for a bad
 * command line or setting).  where gets the target's HOST:PORT for the log.
 */
static int
configure(struct sup *s, int argc, char **argv, int migrate, char *where,
    size_t wherelen)
{
	struct target_opts topts;
	struct error e;
	int rc;

	switch (config_parse_args(&s->cfg, argc, argv, &e)) {
	case 0:
		break;
	case CONFIG_HELP:
		config_usage(stdout, s->cmd);
		return 0;
	case CONFIG_VERSION:
		version_print();
		return 0;
	case CONFIG_USAGE:
		fprintf(stderr, "df2redis %s: %s\n", s->cmd, e.msg);
		config_usage(stderr, s->cmd);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "df2redis %s: %s\n", s->cmd, e.msg);
		return EXIT_USAGE;
	}
	if (migrate)
		s->cfg.full_sync_only = 1;
	memset(&topts, 0, sizeof(topts));
	if (target_parse(s->cfg.target_url, &topts, &e) == -1) {
		fprintf(stderr, "df2redis %s: --target: %s\n", s->cmd, e.msg);
		return 2;
	}
	rc = config_secrets(&s->cfg, topts.password[0] != '\0', &e);
	snprintf(where, wherelen, "%s:%d%s", topts.host, topts.port,
	    s->cfg.full_sync_only ? " (full sync only)" : "");
	explicit_bzero(&topts, sizeof(topts));
	if (rc == 0)
		rc = load_tls(&s->cfg, &e);
	if (rc == -1) {
		fprintf(stderr, "df2redis %s: %s\n", s->cmd, e.msg);
		return 2;
	}
	if (s->cfg.check_only) {
		printf("configuration OK\n");
		return 0;
	}
	return -1;
}

/* Run sessions until one is done, a stop, or retrying cannot help. */
static int
main_loop(struct sup *s)
{
	enum outcome o;

	for (;;) {
		o = session_run(s);
		if (o == OUT_DONE) {
			session_report(s);
			return 0;
		}
		if (o == OUT_STOPPED || s->stop)
			break;
		if (o == OUT_RESTART || o == OUT_RESUME)
			continue;	/* no retry used, no delay */
		session_ctl_answer(s, "error: the session failed\n");
		if (o == OUT_FATAL) {
			log_warnx("giving up: retrying cannot fix this");
			return 1;
		}
		if (++s->attempt > s->cfg.max_retries) {
			log_warnx("giving up after %d retries",
			    s->cfg.max_retries);
			return 1;
		}
		if (backoff(s) == -1)
			break;
	}
	session_ctl_answer(s, "error: the daemon is stopping\n");
	log_info("stopped");
	return 0;
}

/* The copy may hold a password (a target URL): wiped. */
static void
free_argv(struct sup *s)
{
	int i;

	for (i = 0; i < s->argc; i++) {
		explicit_bzero(s->argv[i], strlen(s->argv[i]));
		free(s->argv[i]);
	}
	free(s->argv);
}

static int
run(int argc, char **argv, int migrate)
{
	struct sup s;
	char where[300];
	int rc = 1;

	memset(&s, 0, sizeof(s));
	s.cmd = argv[0];
	s.migrate = migrate;
	if ((s.argv = calloc(argc + 1, sizeof(*s.argv))) == NULL)
		fatal("argv");
	/* setproctitle() reuses the space of the original */
	for (s.argc = 0; s.argc < argc; s.argc++)
		if ((s.argv[s.argc] = strdup(argv[s.argc])) == NULL)
			fatal("argv");
	s.ctlfd = -1;
	s.ctl_wait_fd = -1;
	s.sweep_fd = -1;
	s.broken_flow = -1;
	s.sigfd[0] = s.sigfd[1] = -1;
	httpd_init(&s.httpd);
	net_init(&s.master);
	config_init(&s.cfg);
	if ((rc = configure(&s, argc, argv, migrate, where, sizeof(where))) !=
	    -1) {
		explicit_bzero(&s.cfg, sizeof(s.cfg));
		free_argv(&s);
		return rc;
	}
	rc = 1;
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
	log_info("replicating %s:%d into %s, state in %s", s.cfg.source_host,
	    s.cfg.source_port, where, s.cfg.state_dir);
	s.t0 = mono_ms();
	rc = main_loop(&s);
out:
	httpd_close(&s.httpd);
	ctl_unlink(s.ctlfd, s.cfg.ctl_socket);
	if (s.pfh != NULL)
		pidfile_remove(s.pfh);
	free(s.flows);
	status_free(&s);
	explicit_bzero(&s.cfg, sizeof(s.cfg));
	free_argv(&s);
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
