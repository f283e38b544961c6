/*
 * dflymaster.c - main() and the poll() event loop of the Dragonfly test
 * master: the listening socket, the client list, a slice of every running
 * full sync per turn and the periodic expiry and replication checks.
 * Single process, single thread, non-blocking sockets; full syncs are
 * serialized a little per loop turn so plain clients keep writing while a
 * replica syncs.
 */
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "options.h"
#include "client.h"
#include "keyspace.h"
#include "journal.h"
#include "flow.h"
#include "repl.h"
#include "replay.h"
#include "tlssrv.h"

static struct clientq	clients = TAILQ_HEAD_INITIALIZER(clients);

static int	listen_fd = -1;
static int	tls_fd = -1;	/* --tls-port */

static volatile sig_atomic_t quit;

static int
listen_on(int port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		fatal("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("bind 127.0.0.1:%d", port);
	if (listen(fd, 128) == -1)
		fatal("listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	return fd;
}

static void
accept_clients(int lfd)
{
	struct client	*c;
	int		 fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = client_new(fd, lfd == tls_fd ? tlssrv_new(fd) : NULL);
		TAILQ_INSERT_TAIL(&clients, c, entry);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_warn("accept");
}

static void
event_loop(void)
{
	struct pollfd	*pfd = NULL;
	struct client	**pc = NULL, *c, *next;
	size_t		 cap = 0, n, i;
	int64_t		 last_tick = 0;
	int		 more = 0, throttled, close_at;

	while (!quit) {
		n = 0;
		TAILQ_FOREACH(c, &clients, entry)
			n++;
		if (n + 2 > cap) {
			cap = (n + 2) * 2;
			if ((pfd = reallocarray(pfd, cap, sizeof(*pfd))) ==
			    NULL || (pc = reallocarray(pc, cap, sizeof(*pc))) ==
			    NULL)
				fatal("reallocarray");
		}
		throttled = repl_throttled();
		pfd[0].fd = listen_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = tls_fd;	/* -1: ignored */
		pfd[1].events = POLLIN;
		n = 2;
		TAILQ_FOREACH(c, &clients, entry) {
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			if (!(throttled && c->kind == C_PLAIN))
				pfd[n].events |= POLLIN;
			if (obuf_pending(&c->out) > 0 &&
			    flow_write_limit(c, &close_at) > 0)
				pfd[n].events |= POLLOUT;
			pc[n++] = c;
		}
		if (poll(pfd, n, more ? 0 : 20) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & POLLIN)
			accept_clients(listen_fd);
		if (pfd[1].revents & POLLIN)
			accept_clients(tls_fd);
		for (i = 2; i < n; i++) {
			c = pc[i];
			if (c->dead)
				continue;
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(c);
			if (!c->dead && (pfd[i].revents & POLLOUT))
				client_write(c);
		}
		more = repl_snapshots_step();
		if (wall_ms() - last_tick >= 20) {
			last_tick = wall_ms();
			ks_active_expire();
			repl_tick();
		}
		/* flush replies produced by this turn right away */
		TAILQ_FOREACH(c, &clients, entry)
			if (!c->dead && obuf_pending(&c->out) > 0 &&
			    flow_write_limit(c, &close_at) > 0)
				client_write(c);
		for (c = TAILQ_FIRST(&clients); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (c->dead) {
				TAILQ_REMOVE(&clients, c, entry);
				client_free(c);
			}
		}
	}
	free(pfd);
	free(pc);
}

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	log_init("dflymaster", LOG_TO_STDERR, 0);
	options_parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	/* a clean exit lets LeakSanitizer check the heap */
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (options()->replay_dir != NULL &&
	    replay_load(options()->replay_dir) == -1)
		exit(1);
	journal_init();
	listen_fd = listen_on(options()->port);
	if (getsockname(listen_fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	log_info("master id %s, %d shards, listening on 127.0.0.1:%d",
	    options()->master_id, options()->shards, ntohs(sin.sin_port));
	if (options()->tls_port >= 0) {
		tlssrv_init();
		tls_fd = listen_on(options()->tls_port);
		len = sizeof(sin);
		if (getsockname(tls_fd, (struct sockaddr *)&sin, &len) == -1)
			fatal("getsockname");
		log_info("TLS on 127.0.0.1:%d%s", ntohs(sin.sin_port),
		    options()->tls_ca ? ", client certificates required" :
		    "");
		len = sizeof(sin);
		if (getsockname(listen_fd, (struct sockaddr *)&sin, &len) ==
		    -1)
			fatal("getsockname");
	}
	printf("ready %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_loop();
	log_info("terminated by signal");
	return 0;
}
