/*
 * net.c - a blocking RESP connection with a timeout on every step
 * (net.h).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "net.h"
#include "tls.h"

#define READ_SIZE	16384

static int		 send_cmd(struct net_conn *, int, const char **,
			    const size_t *, struct error *);
static redisReply	*read_reply(struct net_conn *, struct error *);

void
net_init(struct net_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
net_format_addr(char *out, size_t outsz, const char *host, int port)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, outsz, "[%s]:%d", host, port);
	else
		snprintf(out, outsz, "%s:%d", host, port);
}

void
net_close(struct net_conn *c)
{
	tls_close(c->tls);
	c->tls = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (c->reader != NULL)
		redisReaderFree(c->reader);
	c->reader = NULL;
}

void
net_drop(struct net_conn *c)
{
	tls_drop(c->tls);
	c->tls = NULL;
	net_close(c);
}

static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = fd;
	pfd.events = events;
	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	return n;
}

static int
connect_one(const struct addrinfo *ai, int timeout_ms)
{
	socklen_t	len;
	int		fd, flags, soerr = 0;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1)
		return -1;
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		if (wait_fd(fd, POLLOUT, timeout_ms) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, flags);
	return fd;
 fail:
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

static void
tune_socket(int fd)
{
	int	one = 1, idle = 300, intvl = 100, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/*
 * Refusals that come back the same on every attempt: a wrong password,
 * or a password given to a server that has none.  Anything else ("max
 * number of clients reached", "LOADING") may pass.
 */
int
net_auth_refused(const char *s)
{
	static const char *const codes[] = { "WRONGPASS", "NOAUTH", "NOPERM" };
	static const char *const texts[] = { "invalid password",
	    "invalid username-password", "without any password configured",
	    "no password is set" };
	size_t	i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncmp(s, codes[i], strlen(codes[i])) == 0)
			return 1;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strstr(s, texts[i]) != NULL)
			return 1;
	return 0;
}

static int
auth(struct net_conn *c, const char *user, const char *password,
    struct error *e)
{
	const char	*argv[3];
	redisReply	*r;
	int		 argc = 0;

	argv[argc++] = "AUTH";
	if (user != NULL && user[0] != '\0')
		argv[argc++] = user;
	argv[argc++] = password;
	if (send_cmd(c, argc, argv, NULL, e) == -1 ||
	    (r = read_reply(c, e)) == NULL)
		return err_prefix(e, "%s: AUTH", c->name);
	if (r->type == REDIS_REPLY_ERROR) {
		err_set(e, net_auth_refused(r->str) ? ERR_AUTH : ERR_TARGET,
		    "%s: authentication failed: %s", c->name, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

int
net_connect(struct net_conn *c, const char *prefix, const char *host,
    int port, int timeout_ms, const char *user, const char *password,
    struct error *e)
{
	return net_connect_tls(c, prefix, host, port, timeout_ms, user,
	    password, NULL, e);
}

/* TLS on the connected socket: non-blocking from here on. */
static int
start_tls(struct net_conn *c, const struct tls_conf *tls, const char *host,
    struct error *e)
{
	int	fl;

	if ((fl = fcntl(c->fd, F_GETFL)) == -1 ||
	    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return err_set(e, ERR_SYS, "%s: fcntl: %s", c->name,
		    strerror(errno));
	if ((c->tls = tls_connect(tls, c->fd, host, c->name, c->timeout_ms,
	    e)) == NULL)
		return -1;
	return 0;
}

int
net_connect_tls(struct net_conn *c, const char *prefix, const char *host,
    int port, int timeout_ms, const char *user, const char *password,
    const struct tls_conf *tls, struct error *e)
{
	struct addrinfo	 hints, *res, *ai;
	char		 portstr[16], addr[NET_NAMELEN];
	int		 rc, saved = 0;

	net_init(c);
	c->timeout_ms = timeout_ms;
	net_format_addr(addr, sizeof(addr), host, port);
	strlcpy(c->name, prefix, sizeof(c->name));
	if (prefix[0] != '\0')
		strlcat(c->name, " ", sizeof(c->name));
	strlcat(c->name, addr, sizeof(c->name));
	snprintf(portstr, sizeof(portstr), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return err_set(e, ERR_IO, "%s: connect: %s", c->name,
		    gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = connect_one(ai, timeout_ms)) != -1)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		return err_set(e, ERR_IO, "%s: connect: %s", c->name,
		    strerror(saved));
	tune_socket(c->fd);
	if (tls != NULL && tls->enabled && start_tls(c, tls, host, e) == -1) {
		net_close(c);
		return -1;
	}
	if ((c->reader = redisReaderCreate()) == NULL) {
		net_close(c);
		return err_set(e, ERR_SYS, "%s: out of memory", c->name);
	}
	if (password != NULL && password[0] != '\0' &&
	    auth(c, user, password, e) == -1) {
		net_close(c);
		return -1;
	}
	return 0;
}

static int
send_all(struct net_conn *c, const char *p, size_t len, struct error *e)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = net_write(c, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait_fd(c->fd,
			    net_events(c, POLLOUT), c->timeout_ms) > 0)
				continue;
			return err_set(e, ERR_IO, "write: %s",
			    net_strerror(c, errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}


/* The I/O steps leave the connection's name out; the callers add it. */
static int
send_cmd(struct net_conn *c, int argc, const char **argv,
    const size_t *argvlen, struct error *e)
{
	char		*cmd;
	long long	 len;
	int		 rc;

	if (c->fd == -1)
		return err_set(e, ERR_IO, "not connected");
	if ((len = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0)
		return err_set(e, ERR_SYS, "out of memory");
	rc = send_all(c, cmd, (size_t)len, e);
	redisFreeCommand(cmd);
	return rc;
}

static int
fill(struct net_conn *c, struct error *e)
{
	char		 buf[READ_SIZE];
	const char	*hint;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if (!net_pending(c) && (r = wait_fd(c->fd,
		    net_events(c, POLLIN), c->timeout_ms)) <= 0) {
			if (r == 0)
				return err_set(e, ERR_IO, "no answer within "
				    "%d ms", c->timeout_ms);
			return err_set(e, ERR_IO, "poll: %s",
			    strerror(errno));
		}
		n = net_recv(c, buf, sizeof(buf));
		if (n != -1 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	/* a TLS server drops a plain client at its first bytes */
	hint = c->tls == NULL && !c->answered ? " (a TLS port?)" : "";
	if (n == -1)
		return err_set(e, ERR_IO, "read: %s%s", net_strerror(c, errno),
		    errno == ECONNRESET ? hint : "");
	if (n == 0)
		return err_set(e, ERR_IO, "connection closed by the peer%s",
		    hint);
	c->answered = 1;
	if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK)
		return err_set(e, ERR_SYS, "out of memory");
	return 0;
}

static redisReply *
read_reply(struct net_conn *c, struct error *e)
{
	void	*r;

	if (c->fd == -1 || c->reader == NULL) {
		err_set(e, ERR_IO, "not connected");
		return NULL;
	}
	for (;;) {
		if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
			err_set(e, ERR_PROTO, "protocol error: %s",
			    c->reader->errstr);
			return NULL;
		}
		if (r != NULL)
			return r;
		if (fill(c, e) == -1)
			return NULL;
	}
}

int
net_send(struct net_conn *c, int argc, const char **argv,
    const size_t *argvlen, struct error *e)
{
	if (send_cmd(c, argc, argv, argvlen, e) == -1)
		return err_prefix(e, "%s", c->name);
	return 0;
}

redisReply *
net_read(struct net_conn *c, struct error *e)
{
	redisReply	*r;

	if ((r = read_reply(c, e)) == NULL)
		err_prefix(e, "%s", c->name);
	return r;
}

redisReply *
net_command(struct net_conn *c, int argc, const char **argv,
    const size_t *argvlen, struct error *e)
{
	redisReply	*r;

	if (send_cmd(c, argc, argv, argvlen, e) == -1 ||
	    (r = read_reply(c, e)) == NULL) {
		err_prefix(e, "%s: %s", c->name, argv[0]);
		return NULL;
	}
	return r;
}

redisReply *
net_command_ok(struct net_conn *c, int argc, const char **argv,
    const size_t *argvlen, struct error *e)
{
	redisReply	*r;

	if ((r = net_command(c, argc, argv, argvlen, e)) == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		err_set(e, ERR_TARGET, "%s: %s: %s", c->name, argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

size_t
net_leftover(struct net_conn *c, const char **p)
{
	size_t	n;

	if (c->reader == NULL) {
		*p = "";
		return 0;
	}
	n = c->reader->len - c->reader->pos;
	*p = c->reader->buf + c->reader->pos;
	c->reader->pos = c->reader->len;
	return n;
}

ssize_t
net_recv(struct net_conn *c, void *buf, size_t len)
{
	ssize_t	n;

	if (c->tls == NULL)
		return read(c->fd, buf, len);
	if ((n = tls_read(c->tls, buf, len, &c->rwant)) != -1 ||
	    errno != EAGAIN)
		c->rwant = 0;
	return n;
}

ssize_t
net_write(struct net_conn *c, const void *buf, size_t len)
{
	ssize_t	n;

	if (c->tls == NULL)
		return send(c->fd, buf, len, MSG_NOSIGNAL);
	if ((n = tls_write(c->tls, buf, len, &c->wwant)) != -1 ||
	    errno != EAGAIN)
		c->wwant = 0;
	return n;
}

const char *
net_strerror(const struct net_conn *c, int errnum)
{
	if (c->tls != NULL && errnum == EPROTO)
		return tls_reason(c->tls);
	return strerror(errnum);
}

int
net_write_all(struct net_conn *c, const void *buf, size_t len,
    struct error *e)
{
	if (c->fd == -1)
		return err_set(e, ERR_IO, "%s: not connected", c->name);
	if (send_all(c, buf, len, e) == -1)
		return err_prefix(e, "%s", c->name);
	return 0;
}

short
net_events(const struct net_conn *c, short want)
{
	short	ev = 0;

	if (want & POLLIN)
		ev |= c->rwant != 0 ? c->rwant : POLLIN;
	if (want & POLLOUT)
		ev |= c->wwant != 0 ? c->wwant : POLLOUT;
	return ev;
}

int
net_ready(const struct net_conn *c, short want, short revents)
{
	if (revents & (POLLHUP | POLLERR))
		return 1;
	if (want == POLLIN && net_pending(c))
		return 1;
	return (revents & net_events(c, want)) != 0;
}

int
net_pending(const struct net_conn *c)
{
	return c->tls != NULL && tls_pending(c->tls);
}

int
net_peek(struct net_conn *c)
{
	char	ch;
	ssize_t	n;

	if (c->tls != NULL)
		return tls_peek(c->tls);
	n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	return n > 0 ? 1 : (int)n;
}
