/*
 * httpd.c - the supervisor's metrics listener (httpd.h).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "httpd.h"
#include "log.h"

#define PAUSE_MS	1000	/* no accept after EMFILE */
#define ACCEPT_BURST	16

void
httpd_init(struct httpd *h)
{
	int i;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	for (i = 0; i < HTTPD_CLIENTS; i++)
		h->c[i].fd = -1;
}

int
httpd_open(struct httpd *h, const char *addr, struct error *e)
{
	struct addrinfo hints, *ai;
	char host[64], port[8];
	int fd, p, on = 1, rc;

	if (config_split_listen(addr, host, sizeof(host), &p, e) == -1)
		return -1;
	snprintf(port, sizeof(port), "%d", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		return err_set(e, ERR_CONFIG, "metrics-listen %s: %s", addr,
		    gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		freeaddrinfo(ai);
		return err_set(e, ERR_SYS, "metrics-listen %s: socket: %s",
		    addr, strerror(errno));
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, HTTPD_CLIENTS) == -1) {
		rc = errno;
		freeaddrinfo(ai);
		close(fd);
		return err_set(e, ERR_SYS, "metrics-listen %s: %s", addr,
		    strerror(rc));
	}
	freeaddrinfo(ai);
	httpd_close(h);
	h->fd = fd;
	strlcpy(h->addr, addr, sizeof(h->addr));
	return fd;
}

static void
client_close(struct httpd_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
httpd_close(struct httpd *h)
{
	int i;

	for (i = 0; i < HTTPD_CLIENTS; i++)
		client_close(&h->c[i]);
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	h->addr[0] = '\0';
}

int
httpd_pollfds(struct httpd *h, struct pollfd *pfd, int *wait_ms)
{
	int64_t now = mono_ms(), left;
	int i, n = 0;

	if (h->fd == -1)
		return 0;
	left = h->pause_until - now;
	if (left <= 0) {
		pfd[n].fd = h->fd;
		pfd[n++].events = POLLIN;
	} else if (*wait_ms == -1 || left < *wait_ms)
		*wait_ms = left;
	for (i = 0; i < HTTPD_CLIENTS; i++) {
		if (h->c[i].fd == -1)
			continue;
		pfd[n].fd = h->c[i].fd;
		pfd[n++].events = h->c[i].in != NULL || h->c[i].lingering ?
		    POLLIN : POLLOUT;
		left = h->c[i].deadline - now;
		if (left < 0)
			left = 0;
		if (*wait_ms == -1 || left < *wait_ms)
			*wait_ms = left;
	}
	return n;
}

/* The whole answer, head and body, for the client to write. */
static void
respond(struct httpd_client *c, int status, const char *ctype,
    const char *body, size_t len, int head_only)
{
	FILE *fp;
	size_t n;

	free(c->in);
	c->in = NULL;
	if ((fp = open_memstream(&c->out, &n)) == NULL)
		fatal("metrics");
	fprintf(fp, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
	    "%zu\r\nCache-Control: no-store\r\nConnection: close\r\n", status,
	    http_reason(status), ctype, len);
	if (status == 405)
		fputs("Allow: GET, HEAD\r\n", fp);
	fputs("\r\n", fp);
	if (!head_only)
		fwrite(body, 1, len, fp);
	if (fclose(fp) != 0)
		fatal("metrics");
	c->outlen = n;
	c->outoff = 0;
}

static void
respond_error(struct httpd_client *c, int status, int head_only)
{
	char body[64];
	int len;

	len = snprintf(body, sizeof(body), "%d %s\n", status,
	    http_reason(status));
	respond(c, status, "text/plain; charset=utf-8", body, len, head_only);
}

static void
answer(struct httpd_client *c, const struct http_request *r,
    httpd_handler fn, void *arg)
{
	const char *ctype = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t len = 0;
	FILE *fp;
	int status, head = strcmp(r->method, "HEAD") == 0;

	if (strcmp(r->method, "GET") != 0 && !head) {
		respond_error(c, 405, 0);
		return;
	}
	if ((fp = open_memstream(&body, &len)) == NULL)
		fatal("metrics");
	status = fn(arg, r, fp, &ctype);
	if (fclose(fp) != 0)
		fatal("metrics");
	if (status != 200)
		respond_error(c, status, head);
	else
		respond(c, status, ctype, body, len, head);
	free(body);
}

/* Write what the socket takes; closed once all is written. */
static void
client_write(struct httpd_client *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			client_close(c);
			return;
		}
		c->outoff += n;
	}
	free(c->out);
	c->out = NULL;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		client_close(c);
		return;
	}
	c->lingering = 1;
	if (c->deadline > mono_ms() + HTTPD_LINGER_MS)
		c->deadline = mono_ms() + HTTPD_LINGER_MS;
}

/* Answered: drop what comes until the client closes. */
static void
client_drain(struct httpd_client *c)
{
	char buf[4096];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	if (n <= 0)
		client_close(c);
}

static void
client_read(struct httpd_client *c, httpd_handler fn, void *arg)
{
	struct http_request r;
	char buf[1024];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	switch (http_feed(c->in, buf, n, &r)) {
	case HTTP_AGAIN:
		return;
	case HTTP_REQUEST:
		answer(c, &r, fn, arg);
		break;
	case HTTP_BAD:
		respond_error(c, 400, 0);
		break;
	case HTTP_TOOBIG:
		respond_error(c, 431, 0);
		break;
	}
	client_write(c);
}

/* Every slot taken: say so at once, without waiting for the request. */
static void
refuse(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	char buf[HTTP_MAXHEAD];

	/* what came already, read: closing over it would reset the answer */
	(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)shutdown(fd, SHUT_WR);
	close(fd);
}

static void
accept_clients(struct httpd *h)
{
	struct httpd_client *c;
	int fd, i, k;

	for (k = 0; k < ACCEPT_BURST; k++) {
		fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && errno == EINTR)
			continue;
		if (fd == -1 && (errno == EMFILE || errno == ENFILE ||
		    errno == ENOBUFS || errno == ENOMEM)) {
			log_warn("metrics-listen %s: accept: not accepting "
			    "for %d ms", h->addr, PAUSE_MS);
			h->pause_until = mono_ms() + PAUSE_MS;
			return;
		}
		if (fd == -1)
			return;
		for (i = 0; i < HTTPD_CLIENTS && h->c[i].fd != -1; i++)
			;
		if (i == HTTPD_CLIENTS) {
			refuse(fd);
			continue;
		}
		c = &h->c[i];
		if ((c->in = malloc(sizeof(*c->in))) == NULL) {
			close(fd);
			continue;
		}
		http_init(c->in);
		c->fd = fd;
		c->deadline = mono_ms() + HTTPD_TIMEOUT_MS;
	}
}

void
httpd_serve(struct httpd *h, const struct pollfd *pfd, int n,
    httpd_handler fn, void *arg)
{
	int64_t now;
	int i, j;

	for (j = 0; j < n; j++) {
		if (pfd[j].revents == 0 || pfd[j].fd == -1)
			continue;
		if (pfd[j].fd == h->fd) {
			accept_clients(h);
			continue;
		}
		/* a descriptor closed since the poll matches no client */
		for (i = 0; i < HTTPD_CLIENTS; i++)
			if (h->c[i].fd == pfd[j].fd)
				break;
		if (i == HTTPD_CLIENTS)
			continue;
		if (h->c[i].in != NULL)
			client_read(&h->c[i], fn, arg);
		else if (h->c[i].lingering)
			client_drain(&h->c[i]);
		else
			client_write(&h->c[i]);
	}
	now = mono_ms();
	for (i = 0; i < HTTPD_CLIENTS; i++)
		if (h->c[i].fd != -1 && now >= h->c[i].deadline) {
			log_debug("metrics-listen %s: a client timed out",
			    h->addr);
			client_close(&h->c[i]);
		}
}
