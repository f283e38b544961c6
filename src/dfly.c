/*
 * dfly.c - replication protocol client: connect, AUTH, handshake, FLOW,
 * DFLY SYNC, DFLY STARTSTABLE (replication.md sections 2-4).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "dfly.h"

#define RESP_MAXELEM	8
#define RESP_MAXSTR	256
#define RESP_MAXLINE	1024

enum resp_type { R_STATUS = '+', R_ERROR = '-', R_INT = ':', R_BULK = '$',
    R_ARRAY = '*', R_NIL = 0 };

struct resp_elem {
	enum resp_type	 type;
	long long	 ival;
	char		 str[RESP_MAXSTR];
};

struct resp {
	struct resp_elem top;			/* type, ival = count for arrays */
	struct resp_elem elem[RESP_MAXELEM];
	int		 nelem;
};

void
dfly_init(struct dfly_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
dfly_close(struct dfly_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}

static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd;
	int n;

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
	socklen_t len;
	int fd, flags, soerr = 0;

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
	int one = 1, idle = 300, intvl = 100, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int
send_all(struct dfly_conn *c, const char *p, size_t len, char *err,
    size_t errlen)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(c->fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN &&
			    wait_fd(c->fd, POLLOUT, c->timeout_ms) > 0)
				continue;
			return seterr(err, errlen, "%s: write: %s", c->peer,
			    strerror(errno));
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Send one command as a RESP array. */
static int
send_cmd(struct dfly_conn *c, int argc, const char **argv, char *err,
    size_t errlen)
{
	char head[32];
	int i, n;

	n = snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (send_all(c, head, n, err, errlen) != 0)
		return DFLY_ERR;
	for (i = 0; i < argc; i++) {
		n = snprintf(head, sizeof(head), "$%zu\r\n", strlen(argv[i]));
		if (send_all(c, head, n, err, errlen) != 0 ||
		    send_all(c, argv[i], strlen(argv[i]), err, errlen) != 0 ||
		    send_all(c, "\r\n", 2, err, errlen) != 0)
			return DFLY_ERR;
	}
	return 0;
}

static int
fill(struct dfly_conn *c, char *err, size_t errlen)
{
	ssize_t n;
	int r;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return seterr(err, errlen, "%s: reply too long", c->peer);
	if ((r = wait_fd(c->fd, POLLIN, c->timeout_ms)) == 0)
		return seterr(err, errlen, "%s: no reply within %d ms",
		    c->peer, c->timeout_ms);
	if (r == -1)
		return seterr(err, errlen, "%s: poll: %s", c->peer,
		    strerror(errno));
	do {
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return seterr(err, errlen, "%s: read: %s", c->peer,
		    strerror(errno));
	if (n == 0)
		return seterr(err, errlen, "%s: connection closed by the master",
		    c->peer);
	c->len += n;
	return 0;
}

/* One CRLF-terminated line into line (without CRLF). */
static int
read_line(struct dfly_conn *c, char *line, size_t linelen, char *err,
    size_t errlen)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (nl != NULL)
			break;
		if (c->len - c->off > RESP_MAXLINE)
			return seterr(err, errlen, "%s: reply line too long",
			    c->peer);
		if (fill(c, err, errlen) != 0)
			return DFLY_ERR;
	}
	n = nl - (c->buf + c->off);
	if (n == 0 || nl[-1] != '\r')
		return seterr(err, errlen, "%s: malformed reply line", c->peer);
	n--;
	if (n >= linelen)
		n = linelen - 1;
	memcpy(line, c->buf + c->off, n);
	line[n] = '\0';
	c->off = nl - c->buf + 1;
	return 0;
}

static int
read_elem(struct dfly_conn *c, struct resp_elem *e, int toplevel, char *err,
    size_t errlen)
{
	char line[RESP_MAXLINE + 1];
	const char *errstr;
	long long n;

	if (read_line(c, line, sizeof(line), err, errlen) != 0)
		return DFLY_ERR;
	memset(e, 0, sizeof(*e));
	e->type = line[0];
	switch (line[0]) {
	case '+':
	case '-':
		strlcpy(e->str, line + 1, sizeof(e->str));
		return 0;
	case ':':
		e->ival = strtonum(line + 1, -(1LL << 62), 1LL << 62, &errstr);
		if (errstr != NULL)
			return seterr(err, errlen, "%s: bad integer reply \"%s\"",
			    c->peer, line);
		return 0;
	case '$':
		n = strtonum(line + 1, -1, RESP_MAXSTR - 1, &errstr);
		if (errstr != NULL)
			return seterr(err, errlen, "%s: bad bulk length \"%s\"",
			    c->peer, line);
		if (n == -1) {
			e->type = R_NIL;
			return 0;
		}
		while (c->len - c->off < (size_t)n + 2)
			if (fill(c, err, errlen) != 0)
				return DFLY_ERR;
		memcpy(e->str, c->buf + c->off, n);
		e->str[n] = '\0';
		c->off += n + 2;
		return 0;
	case '*':
		if (!toplevel)
			break;
		e->ival = strtonum(line + 1, -1, RESP_MAXELEM, &errstr);
		if (errstr != NULL)
			return seterr(err, errlen, "%s: unexpected array \"%s\"",
			    c->peer, line);
		return 0;
	}
	return seterr(err, errlen, "%s: unexpected reply \"%.40s\"", c->peer,
	    line);
}

static int
read_reply(struct dfly_conn *c, struct resp *r, char *err, size_t errlen)
{
	int i;

	r->nelem = 0;
	if (read_elem(c, &r->top, 1, err, errlen) != 0)
		return DFLY_ERR;
	if (r->top.type != R_ARRAY)
		return 0;
	for (i = 0; i < r->top.ival; i++)
		if (read_elem(c, &r->elem[i], 0, err, errlen) != 0)
			return DFLY_ERR;
	r->nelem = r->top.ival > 0 ? r->top.ival : 0;
	return 0;
}

/*
 * Errors that come back the same on every attempt: a refused password, or
 * a password given to a server that has none.  Anything else ("max number
 * of clients reached", "LOADING") may pass, so it is retried.
 */
static int
is_auth_error(const char *s)
{
	return strncmp(s, "WRONGPASS", 9) == 0 || strncmp(s, "NOAUTH", 6) == 0 ||
	    strncmp(s, "NOPERM", 6) == 0 ||
	    strstr(s, "invalid password") != NULL ||
	    strstr(s, "invalid username-password") != NULL ||
	    strstr(s, "without any password configured") != NULL ||
	    strstr(s, "no password is set") != NULL;
}

static int
command(struct dfly_conn *c, int argc, const char **argv, struct resp *r,
    char *err, size_t errlen)
{
	if (send_cmd(c, argc, argv, err, errlen) != 0 ||
	    read_reply(c, r, err, errlen) != 0)
		return DFLY_ERR;
	if (r->top.type == R_ERROR) {
		/* name the command, never AUTH's arguments */
		seterr(err, errlen, "%s: %s%s%s: -%s", c->peer, argv[0],
		    argc > 1 && strcasecmp(argv[0], "AUTH") != 0 ? " " : "",
		    argc > 1 && strcasecmp(argv[0], "AUTH") != 0 ? argv[1] : "",
		    r->top.str);
		return is_auth_error(r->top.str) ? DFLY_EFATAL : DFLY_ERR;
	}
	return 0;
}

int
dfly_command_ok(struct dfly_conn *c, int argc, const char **argv, char *err,
    size_t errlen)
{
	struct resp r;
	int rc;

	if ((rc = command(c, argc, argv, &r, err, errlen)) != 0)
		return rc;
	if (r.top.type != R_STATUS || strcmp(r.top.str, "OK") != 0)
		return seterr(err, errlen, "%s: %s %s: expected +OK", c->peer,
		    argv[0], argc > 1 ? argv[1] : "");
	return 0;
}

int
dfly_connect(struct dfly_conn *c, const char *host, int port,
    const char *user, const char *password, int timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	const char *argv[3];
	char portstr[16];
	int rc, saved = 0;

	dfly_init(c);
	c->timeout_ms = timeout_ms;
	snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	snprintf(portstr, sizeof(portstr), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return seterr(err, errlen, "%s: %s", c->peer, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = connect_one(ai, timeout_ms)) != -1)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		return seterr(err, errlen, "%s: connect: %s", c->peer,
		    strerror(saved));
	tune_socket(c->fd);
	if (password == NULL || *password == '\0')
		return 0;
	argv[0] = "AUTH";
	if (user != NULL && *user != '\0') {
		argv[1] = user;
		argv[2] = password;
		rc = dfly_command_ok(c, 3, argv, err, errlen);
	} else {
		argv[1] = password;
		rc = dfly_command_ok(c, 2, argv, err, errlen);
	}
	if (rc != 0)
		dfly_close(c);
	return rc;
}

static int
copy_id(char *dst, const struct resp_elem *e, const char *what,
    const char *peer, char *err, size_t errlen)
{
	if ((e->type != R_STATUS && e->type != R_BULK) ||
	    strlen(e->str) != DFLY_ID_LEN)
		return seterr(err, errlen, "%s: bad %s in the capa reply",
		    peer, what);
	memcpy(dst, e->str, DFLY_ID_LEN + 1);
	return 0;
}

int
dfly_handshake(struct dfly_conn *c, struct dfly_master *m, char *err,
    size_t errlen)
{
	static const char *ping[] = { "PING" };
	static const char *port[] = { "REPLCONF", "listening-port", "0" };
	static const char *capa[] = { "REPLCONF", "capa", "eof", "capa",
	    "psync2" };
	static const char *dfly[] = { "REPLCONF", "capa", "dragonfly" };
	const char *ver[] = { "REPLCONF", "CLIENT-VERSION", NULL };
	char verstr[16];
	struct resp r;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = command(c, 1, ping, &r, err, errlen)) != 0)
		return rc;
	if (r.top.type != R_STATUS || strcmp(r.top.str, "PONG") != 0)
		return seterr(err, errlen, "%s: PING: expected +PONG", c->peer);
	if ((rc = dfly_command_ok(c, 3, port, err, errlen)) != 0 ||
	    (rc = dfly_command_ok(c, 5, capa, err, errlen)) != 0)
		return rc;
	if ((rc = command(c, 3, dfly, &r, err, errlen)) != 0)
		return rc;
	if (r.top.type != R_ARRAY || r.nelem < 3) {
		seterr(err, errlen, "%s: not a Dragonfly master "
		    "(REPLCONF capa dragonfly answered %s)", c->peer,
		    r.top.type == R_STATUS ? r.top.str : "something else");
		return DFLY_EFATAL;
	}
	if (copy_id(m->replid, &r.elem[0], "master id", c->peer, err,
	    errlen) != 0)
		return DFLY_ERR;
	if ((r.elem[1].type != R_STATUS && r.elem[1].type != R_BULK) ||
	    strncmp(r.elem[1].str, "SYNC", 4) != 0 ||
	    strlcpy(m->syncid, r.elem[1].str, sizeof(m->syncid)) >=
	    sizeof(m->syncid))
		return seterr(err, errlen, "%s: bad sync id in the capa reply",
		    c->peer);
	if (r.elem[2].type != R_INT || r.elem[2].ival <= 0 ||
	    r.elem[2].ival > DFLY_MAX_FLOWS)
		return seterr(err, errlen, "%s: flow count %lld out of range "
		    "1..%d", c->peer, r.elem[2].ival, DFLY_MAX_FLOWS);
	m->nflows = r.elem[2].ival;
	m->version = -1;
	if (r.nelem >= 4) {
		if (r.elem[3].type != R_INT)
			return seterr(err, errlen, "%s: bad version in the capa "
			    "reply", c->peer);
		m->version = r.elem[3].ival;
	}
	if (r.nelem >= 5 && copy_id(m->lineage, &r.elem[4], "lineage id",
	    c->peer, err, errlen) != 0)
		return DFLY_ERR;
	if (m->version < 0)
		return 0;	/* pre-1.4 masters know no CLIENT-VERSION */
	snprintf(verstr, sizeof(verstr), "%d", DFLY_CLIENT_VERSION);
	ver[2] = verstr;
	return dfly_command_ok(c, 3, ver, err, errlen);
}

int
dfly_flow(struct dfly_conn *c, const struct dfly_master *m, int flow,
    uint64_t lsn, struct dfly_flow_reply *fr, char *err, size_t errlen)
{
	const char *argv[6];
	char flowstr[16], lsnstr[32];
	struct resp r;
	int rc, argc = 5;

	snprintf(flowstr, sizeof(flowstr), "%d", flow);
	argv[0] = "DFLY";
	argv[1] = "FLOW";
	argv[2] = m->replid;
	argv[3] = m->syncid;
	argv[4] = flowstr;
	if (lsn > 0) {
		snprintf(lsnstr, sizeof(lsnstr), "%llu",
		    (unsigned long long)lsn);
		argv[argc++] = lsnstr;
	}
	if ((rc = command(c, argc, argv, &r, err, errlen)) != 0)
		return rc;
	if (r.top.type != R_ARRAY || r.nelem != 2 ||
	    r.elem[0].type != R_STATUS || r.elem[1].type != R_STATUS)
		return seterr(err, errlen, "%s: DFLY FLOW %d: malformed reply",
		    c->peer, flow);
	if (strcmp(r.elem[0].str, "FULL") == 0)
		fr->partial = 0;
	else if (strcmp(r.elem[0].str, "PARTIAL") == 0)
		fr->partial = 1;
	else
		return seterr(err, errlen, "%s: DFLY FLOW %d: unknown sync "
		    "type \"%s\"", c->peer, flow, r.elem[0].str);
	if (strlen(r.elem[1].str) != DFLY_ID_LEN)
		return seterr(err, errlen, "%s: DFLY FLOW %d: token is not %d "
		    "bytes", c->peer, flow, DFLY_ID_LEN);
	memcpy(fr->token, r.elem[1].str, DFLY_ID_LEN + 1);
	return 0;
}

int
dfly_sync(struct dfly_conn *c, const struct dfly_master *m, char *err,
    size_t errlen)
{
	const char *argv[] = { "DFLY", "SYNC", m->syncid };

	return dfly_command_ok(c, 3, argv, err, errlen);
}

int
dfly_startstable(struct dfly_conn *c, const struct dfly_master *m,
    char *err, size_t errlen)
{
	const char *argv[] = { "DFLY", "STARTSTABLE", m->syncid };

	return dfly_command_ok(c, 3, argv, err, errlen);
}

int
dfly_startstable_send(struct dfly_conn *c, const struct dfly_master *m,
    char *err, size_t errlen)
{
	const char *argv[] = { "DFLY", "STARTSTABLE", m->syncid };

	return send_cmd(c, 3, argv, err, errlen);
}

int
dfly_startstable_reply(struct dfly_conn *c, char *err, size_t errlen)
{
	struct resp r;

	if (read_reply(c, &r, err, errlen) != 0)
		return DFLY_ERR;
	if (r.top.type == R_ERROR)
		return seterr(err, errlen, "%s: DFLY STARTSTABLE: -%s", c->peer,
		    r.top.str);
	if (r.top.type != R_STATUS || strcmp(r.top.str, "OK") != 0)
		return seterr(err, errlen, "%s: DFLY STARTSTABLE: expected +OK",
		    c->peer);
	return 0;
}

size_t
dfly_leftover(struct dfly_conn *c, const char **p)
{
	size_t n = c->len - c->off;

	*p = c->buf + c->off;
	c->off = c->len = 0;
	return n;
}
