/*
 * dflymaster.c - options, the poll() event loop and client I/O of the
 * Dragonfly test master.  Single process, single thread, non-blocking
 * sockets; full syncs are serialized a little per loop turn so plain clients
 * keep writing while a replica syncs.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "dflymaster.h"

struct options	opt;
struct clientq	clients = TAILQ_HEAD_INITIALIZER(clients);
static uint64_t	client_ids;
static int	listen_fd = -1;
static volatile sig_atomic_t quit;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: dflymaster --port PORT --shards N [options]\n"
"A stand-in for a Dragonfly v1.40 master: speaks Dragonfly replication\n"
"(handshake, DFLY FLOW/SYNC/STARTSTABLE/TAKEOVER, full sync, journal) on\n"
"127.0.0.1 and serves plain Redis clients.  Prints \"ready <port>\" when\n"
"listening.  A key lives in shard crc64(key) mod N (Redis's CRC-64/Jones).\n"
"\n"
"  --port PORT               listen port (0: pick one, printed in \"ready\")\n"
"  --shards N                number of shards = flows (1..64, default 4)\n"
"  --requirepass P           require AUTH P (or AUTH USER P)\n"
"  --user U                  user name accepted by AUTH U P (default: default)\n"
"  --chunk-size BYTES        split values bigger than this into tagged chunks\n"
"                            (serialization_max_chunk_size, default 65536;\n"
"                            0 disables splitting)\n"
"  --compression none|lz4|zstd  compress flushed snapshot buffers (default lz4)\n"
"  --backlog-ms MS           partial-sync journal window (default 5000)\n"
"  --backlog-records N       journal records kept per shard (default 100000)\n"
"  --output-limit BYTES      pending bytes on a flow that pause its snapshot and\n"
"                            throttle writers in stable sync (default 1048576)\n"
"  --replication-timeout MS  cancel a session whose flow does not drain for\n"
"                            this long (default 30000)\n"
"  --lsn-interval-ms MS      LSN entries on stable flows at most every MS\n"
"                            (default 3000)\n"
"  --snapshot-delay-us US    sleep between snapshot steps (slow full syncs for\n"
"                            tests that write during a full sync)\n"
"  --master-id HEX40         use this replication id (default: random)\n"
"  --new-master-id           pick a fresh random replication id (the default)\n"
"  --replay DIR              serve a dragonfly-captures/<name>/ recording\n"
"                            byte for byte instead of a keyspace\n"
"Fault switches (I = flow index, K = byte offset in the flow's data stream,\n"
"i.e. the bytes after the DFLY FLOW reply):\n"
"  --fault-close-flow I:K    close flow I after K bytes\n"
"  --fault-stall-flow I:K    stop writing flow I after K bytes, keep it open\n"
"  --fault-flip-byte I:K     flip the low bit of byte K of flow I\n"
"  --refuse-partial          always answer FULL to DFLY FLOW ... <lsn>\n"
"  --fault-startstable-error answer the first DFLY STARTSTABLE with\n"
"                            -ERR invalid state\n"
"  --fault-once              the --fault-* switches hit only the first session\n"
"                            that starts a full sync (DFLY SYNC); partial-sync\n"
"                            sessions and every later session are clean, so a\n"
"                            replica's retry after the fault must end with a\n"
"                            correct copy (--refuse-partial is not a fault and\n"
"                            stays in force).  DFLYMASTER STATS counts the\n"
"                            faults that took effect (faults:N)\n"
"DEBUG POPULATE N [PREFIX [SIZE]] adds PREFIX:i = \"value:i\" padded with 'x' to\n"
"SIZE, skipping existing keys.  Unlike Dragonfly, which does not replicate it,\n"
"every key it adds is journaled as SET k v (txid 0), so keys populated during a\n"
"full or stable sync reach the replica.\n"
"Test hook: DFLY STARTSTABLE before every flow's FULLSYNC_END was written to\n"
"its socket prints \"BARRIER VIOLATION\" on stderr and exits with status 3.\n");
}

static void
parse_fault(struct fault *f, const char *arg)
{
	const char	*errstr;
	char		*colon, buf[64];

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf) ||
	    (colon = strchr(buf, ':')) == NULL)
		errx(1, "fault wants I:K, got %s", arg);
	*colon = '\0';
	f->flow = (int)strtonum(buf, 0, MAX_SHARDS - 1, &errstr);
	if (errstr)
		errx(1, "fault flow %s: %s", buf, errstr);
	f->at = (uint64_t)strtonum(colon + 1, 0, LLONG_MAX, &errstr);
	if (errstr)
		errx(1, "fault offset %s: %s", colon + 1, errstr);
}

static long long
num_arg(const char *name, const char *arg, long long lo, long long hi)
{
	const char	*errstr;
	long long	 v = strtonum(arg, lo, hi, &errstr);

	if (errstr)
		errx(1, "%s %s: %s", name, arg, errstr);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	enum { O_PORT = 256, O_SHARDS, O_PASS, O_USER, O_CHUNK, O_COMP,
	    O_BLMS, O_BLREC, O_OLIM, O_RTO, O_LSNI, O_DELAY, O_MID, O_NEWMID,
	    O_REPLAY, O_FCLOSE, O_FSTALL, O_FFLIP, O_REFUSE, O_FSS, O_FONCE,
	    O_HELP };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, O_PORT },
		{ "shards", required_argument, NULL, O_SHARDS },
		{ "requirepass", required_argument, NULL, O_PASS },
		{ "user", required_argument, NULL, O_USER },
		{ "chunk-size", required_argument, NULL, O_CHUNK },
		{ "compression", required_argument, NULL, O_COMP },
		{ "backlog-ms", required_argument, NULL, O_BLMS },
		{ "backlog-records", required_argument, NULL, O_BLREC },
		{ "output-limit", required_argument, NULL, O_OLIM },
		{ "replication-timeout", required_argument, NULL, O_RTO },
		{ "lsn-interval-ms", required_argument, NULL, O_LSNI },
		{ "snapshot-delay-us", required_argument, NULL, O_DELAY },
		{ "master-id", required_argument, NULL, O_MID },
		{ "new-master-id", no_argument, NULL, O_NEWMID },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "fault-close-flow", required_argument, NULL, O_FCLOSE },
		{ "fault-stall-flow", required_argument, NULL, O_FSTALL },
		{ "fault-flip-byte", required_argument, NULL, O_FFLIP },
		{ "refuse-partial", no_argument, NULL, O_REFUSE },
		{ "fault-startstable-error", no_argument, NULL, O_FSS },
		{ "fault-once", no_argument, NULL, O_FONCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch, i;

	opt.port = -1;
	opt.shards = 4;
	opt.chunk_size = 65536;
	opt.compression = COMP_LZ4;
	opt.backlog_ms = 5000;
	opt.backlog_records = 100000;
	opt.output_limit = 1024 * 1024;
	opt.repl_timeout_ms = 30000;
	opt.lsn_interval_ms = 3000;
	opt.fault_close.flow = opt.fault_stall.flow = opt.fault_flip.flow = -1;
	random_hex(opt.master_id, 40);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_PORT:
			opt.port = (int)num_arg("--port", optarg, 0, 65535);
			break;
		case O_SHARDS:
			opt.shards = (int)num_arg("--shards", optarg, 1,
			    MAX_SHARDS);
			break;
		case O_PASS:
			opt.requirepass = optarg;
			break;
		case O_USER:
			opt.user = optarg;
			break;
		case O_CHUNK:
			opt.chunk_size = (size_t)num_arg("--chunk-size",
			    optarg, 0, 1LL << 30);
			break;
		case O_COMP:
			if (strcmp(optarg, "none") == 0)
				opt.compression = COMP_NONE;
			else if (strcmp(optarg, "lz4") == 0)
				opt.compression = COMP_LZ4;
			else if (strcmp(optarg, "zstd") == 0)
				opt.compression = COMP_ZSTD;
			else
				errx(1, "--compression: none, lz4 or zstd");
			break;
		case O_BLMS:
			opt.backlog_ms = num_arg("--backlog-ms", optarg, 0,
			    LLONG_MAX / 2);
			break;
		case O_BLREC:
			opt.backlog_records = (size_t)num_arg(
			    "--backlog-records", optarg, 0, 1LL << 30);
			break;
		case O_OLIM:
			opt.output_limit = (size_t)num_arg("--output-limit",
			    optarg, 1, 1LL << 40);
			break;
		case O_RTO:
			opt.repl_timeout_ms = num_arg("--replication-timeout",
			    optarg, 1, LLONG_MAX / 2);
			break;
		case O_LSNI:
			opt.lsn_interval_ms = (int)num_arg("--lsn-interval-ms",
			    optarg, 0, INT32_MAX);
			break;
		case O_DELAY:
			opt.snapshot_slow_us = (int)num_arg(
			    "--snapshot-delay-us", optarg, 0, 1000000);
			break;
		case O_MID:
			if (strlen(optarg) != 40)
				errx(1, "--master-id wants 40 hex digits");
			for (i = 0; i < 40; i++)
				if (!strchr("0123456789abcdef", optarg[i]))
					errx(1, "--master-id wants lowercase "
					    "hex");
			strlcpy(opt.master_id, optarg, sizeof(opt.master_id));
			break;
		case O_NEWMID:
			random_hex(opt.master_id, 40);
			break;
		case O_REPLAY:
			opt.replay_dir = optarg;
			break;
		case O_FCLOSE:
			parse_fault(&opt.fault_close, optarg);
			break;
		case O_FSTALL:
			parse_fault(&opt.fault_stall, optarg);
			break;
		case O_FFLIP:
			parse_fault(&opt.fault_flip, optarg);
			break;
		case O_REFUSE:
			opt.refuse_partial = 1;
			break;
		case O_FSS:
			opt.startstable_error = 1;
			break;
		case O_FONCE:
			opt.fault_once = 1;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc || opt.port < 0) {
		usage(stderr);
		exit(1);
	}
}

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
accept_clients(void)
{
	struct client	*c;
	int		 fd, one = 1;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("calloc");
		c->fd = fd;
		c->id = ++client_ids;
		c->authed = opt.requirepass == NULL;
		TAILQ_INSERT_TAIL(&clients, c, entry);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_warn("accept");
}

void
client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (opt.replay_dir != NULL)
		replay_closed(c);
	repl_client_closed(c);
}

static void
client_free(struct client *c)
{
	size_t	 i, j;

	TAILQ_REMOVE(&clients, c, entry);
	close(c->fd);
	free(c->in);
	obuf_free(&c->out);
	for (i = 0; i < c->nmq; i++) {
		for (j = 0; j < c->mq[i].argc; j++)
			free(c->mq[i].argv[j]);
		free(c->mq[i].argv);
		free(c->mq[i].lens);
	}
	free(c->mq);
	free(c);
}

static int
auth_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const char	*user = opt.user ? opt.user : "default";
	size_t		 pi = argc == 3 ? 2 : 1;

	if (argc != 2 && argc != 3) {
		reply_error(c, "ERR wrong number of arguments for 'auth' "
		    "command");
		return 0;
	}
	if (opt.requirepass == NULL) {
		reply_error(c, "ERR AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return 0;
	}
	if ((argc == 3 && !str_eq(&(struct str){ (char *)user, strlen(user) },
	    argv[1], lens[1])) || !str_eq(&(struct str){ (char *)
	    opt.requirepass, strlen(opt.requirepass) }, argv[pi], lens[pi])) {
		reply_error(c, "WRONGPASS invalid username-password pair or "
		    "user is disabled.");
		return 0;
	}
	c->authed = 1;
	reply_ok(c);
	return 1;
}

static void
process_input(struct client *c)
{
	char		**argv;
	size_t		 *lens, argc, used;
	const char	 *err;
	int		  r;

	while (!c->dead && c->inlen > 0) {
		r = resp_parse(c, &used, &argv, &lens, &argc, &err);
		if (r == PARSE_AGAIN)
			break;
		if (r == PARSE_ERR) {
			reply_error(c, "%s", err);
			c->closing = 1;
			c->inlen = 0;
			break;
		}
		if (argc > 0) {
			if (arg_is(argv[0], lens[0], "auth"))
				auth_command(c, argc, argv, lens);
			else if (!c->authed)
				reply_error(c, "NOAUTH Authentication "
				    "required.");
			else if (opt.replay_dir != NULL)
				replay_command(c, argc, argv, lens);
			else
				cmd_dispatch(c, argc, argv, lens);
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
}

static void
client_read(struct client *c)
{
	ssize_t	 n;

	if (c->incap - c->inlen < 16384) {
		size_t	 cap = c->incap ? c->incap * 2 : 32768;

		if ((c->in = realloc(c->in, cap)) == NULL)
			fatal("realloc");
		c->incap = cap;
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (n > 0) {
		c->inlen += (size_t)n;
		process_input(c);
	}
}

static void
client_write(struct client *c)
{
	size_t	 want = obuf_pending(&c->out), lim;
	ssize_t	 n;
	int	 close_at;

	lim = flow_write_limit(c, &close_at);
	if (want > lim)
		want = lim;
	if (want > 0) {
		n = write(c->fd, c->out.p + c->out.off, want);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				client_close(c);
			return;
		}
		c->out.off += (size_t)n;
		c->sent += (uint64_t)n;
		repl_wrote(c);
	}
	lim = flow_write_limit(c, &close_at);
	if (lim == 0 && close_at && obuf_pending(&c->out) > 0) {
		log_info("fault: closing flow %d after %llu stream bytes",
		    c->flow->shard, (unsigned long long)opt.fault_close.at);
		stats.faults++;
		client_close(c);
		return;
	}
	if (lim == 0 && c->flow != NULL && !c->flow->stall_counted &&
	    obuf_pending(&c->out) > 0) {
		log_info("fault: flow %d stalled after %llu stream bytes",
		    c->flow->shard, (unsigned long long)opt.fault_stall.at);
		c->flow->stall_counted = 1;
		stats.faults++;
	}
	if (c->closing && obuf_pending(&c->out) == 0)
		client_close(c);
}

static int
snapshots_step(void)
{
	struct session	*s;
	int		 i, more = 0;

	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->state != S_FULL_SYNC)
			continue;
		for (i = 0; i < s->nflows; i++) {
			struct flow	*f = s->flows[i];

			if (f->snap == NULL || snap_done(f->snap) ||
			    f->c == NULL)
				continue;
			/* throttling: let the socket drain first */
			if (obuf_pending(&f->c->out) > opt.output_limit)
				continue;
			if (snap_step(f->snap))
				more = 1;
		}
	}
	if (more && opt.snapshot_slow_us > 0)
		usleep((useconds_t)opt.snapshot_slow_us);
	return more;
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
		if (n + 1 > cap) {
			cap = (n + 1) * 2;
			if ((pfd = reallocarray(pfd, cap, sizeof(*pfd))) ==
			    NULL || (pc = reallocarray(pc, cap, sizeof(*pc))) ==
			    NULL)
				fatal("reallocarray");
		}
		throttled = repl_throttled();
		pfd[0].fd = listen_fd;
		pfd[0].events = POLLIN;
		n = 1;
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
			accept_clients();
		for (i = 1; i < n; i++) {
			c = pc[i];
			if (c->dead)
				continue;
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(c);
			if (!c->dead && (pfd[i].revents & POLLOUT))
				client_write(c);
		}
		more = snapshots_step();
		if (now_ms() - last_tick >= 20) {
			last_tick = now_ms();
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
			if (c->dead)
				client_free(c);
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
	parse_options(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	/* a clean exit lets LeakSanitizer check the heap */
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	strlcpy(master_id, opt.master_id, sizeof(master_id));
	if (opt.replay_dir != NULL && replay_load(opt.replay_dir) == -1)
		exit(1);
	journal_init();
	listen_fd = listen_on(opt.port);
	if (getsockname(listen_fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	log_info("master id %s, %d shards, listening on 127.0.0.1:%d",
	    master_id, opt.shards, ntohs(sin.sin_port));
	printf("ready %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_loop();
	log_info("terminated by signal");
	return 0;
}
