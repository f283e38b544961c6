/*
 * node.c - one connection of the target channel: connect, SELECT, the
 * command buffer and ring, non-blocking writes and reads (see node.h).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "node.h"

#define WAIT_LOG_MS		5000	/* between two "no reply" warnings,
					   or half the reply timeout */
#define MIN_BUF			(64 * 1024)
#define KEEP_BUF		(4 * 1024 * 1024)

static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
#define ASKING_LEN	(sizeof(asking_cmd) - 1)

uint64_t
node_now(void)
{
	return (uint64_t)mono_ms();
}

/* ---------------------------------------------------------------- connections */

static int
sockaddr_text(const struct sockaddr_storage *ss, char *host, size_t hostsz,
    int *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, host,
		    (socklen_t)hostsz) == NULL ? -1 : 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;
		*port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, host,
		    (socklen_t)hostsz) == NULL ? -1 : 0;
	}
	return -1;
}

/*
 * The previous connection of nd may still hold commands the server has
 * not read (it was stopped, or the replies were lost on the way): they
 * would run after the ones resent now.  It is killed first, by its id and
 * our address, so a server restarted meanwhile kills nobody else.  Then
 * the new connection's id and address are kept.  A server that refuses
 * CLIENT (an ACL) is used without this.  -1 when the server did not
 * answer (a connection lost).
 */
static int
identify(struct node *nd, struct net_conn *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	redisReply		*r;
	const char		*kill[] = { "CLIENT", "KILL", "ID", NULL,
				    "ADDR", nd->laddr };
	const char		*id[] = { "CLIENT", "ID" };
	char			 num[32], host[CLUSTER_HOSTLEN];
	int			 port;

	if (nd->client_id > 0 && nd->laddr[0] != '\0') {
		snprintf(num, sizeof(num), "%lld", nd->client_id);
		kill[3] = num;
		if ((r = net_command(c, 6, kill, NULL, &nd->err)) == NULL)
			return -1;
		if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
			log_info("target %s: closed the previous connection "
			    "(id %s) on the server", nd->name, num);
		freeReplyObject(r);
	}
	nd->client_id = 0;
	nd->laddr[0] = '\0';
	if ((r = net_command(c, 2, id, NULL, &nd->err)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		nd->client_id = r->integer;
	freeReplyObject(r);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    sockaddr_text(&ss, host, sizeof(host), &port) == 0)
		net_format_addr(nd->laddr, sizeof(nd->laddr), host, port);
	return 0;
}

/*
 * SELECT the db of nd's last acknowledged SELECT.  A refusal (a db past
 * the server's last) is a setting that fails every time; LOADING passes.
 */
static int
select_db(struct node *nd, struct net_conn *c)
{
	const char	*argv[2] = { "SELECT", NULL };
	char		 db[16];
	redisReply	*r;
	int		 rc = 0;

	snprintf(db, sizeof(db), "%d", nd->db);
	argv[1] = db;
	if ((r = net_command(c, 2, argv, NULL, &nd->err)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		rc = err_set(&nd->err, strncmp(r->str, "LOADING", 7) == 0 ?
		    ERR_TARGET : ERR_CONFIG, "target %s: SELECT: %s",
		    nd->name, r->str);
	freeReplyObject(r);
	return rc;
}

int
node_dial(struct net_conn *c, const struct target_opts *o, const char *host,
    int port, struct error *e)
{
	return net_connect_tls(c, "target", host, port, o->connect_timeout_ms,
	    o->user, o->password, &o->tls, e);
}

/* Connected, nd's socket is driven by the owner, non-blocking. */
int
node_connect(struct node *nd, const struct target_opts *o, int select)
{
	struct net_conn	 c;
	int		 fl;

	if (node_dial(&c, o, nd->host, nd->port, &nd->err) == -1)
		return -1;
	if ((select && select_db(nd, &c) == -1) || identify(nd, &c) == -1) {
		net_close(&c);
		return -1;
	}
	if ((fl = fcntl(c.fd, F_GETFL)) == -1 ||
	    fcntl(c.fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		err_set(&nd->err, ERR_SYS, "target %s: fcntl: %s", nd->name,
		    strerror(errno));
		net_close(&c);
		return -1;
	}
	nd->conn = c;
	nd->wait_since = node_now();
	nd->attempts = 0;
	return 0;
}

struct node *
node_new(const char *host, int port, const struct node_ops *ops, void *arg)
{
	struct node	*nd;

	if ((nd = calloc(1, sizeof(*nd))) == NULL)
		return NULL;
	strlcpy(nd->host, host, sizeof(nd->host));
	nd->port = port;
	nd->ops = ops;
	nd->arg = arg;
	net_format_addr(nd->name, sizeof(nd->name), host, port);
	net_init(&nd->conn);
	nd->ringsz = 64;
	if ((nd->ring = calloc(nd->ringsz, sizeof(*nd->ring))) == NULL) {
		free(nd);
		return NULL;
	}
	return nd;
}

void
node_free(struct node *nd)
{
	net_close(&nd->conn);
	free(nd->buf);
	free(nd->ring);
	free(nd);
}

/* ---------------------------------------------------------------- buffers */

static char *
node_bytes(const struct node *nd, uint64_t seq)
{
	return nd->buf + (seq - nd->base);
}

/* Room for need more bytes at the end; existing bytes may move. */
static int
node_reserve(struct node *nd, size_t need)
{
	size_t	 used, newsz;
	char	*nb;

	if (nd->end - nd->base + need <= nd->bufsz)
		return 0;
	used = nd->end - nd->start;
	if (nd->start > nd->base && (used + need) * 2 <= nd->bufsz) {
		memmove(nd->buf, node_bytes(nd, nd->start), used);
		nd->base = nd->start;
		return 0;
	}
	newsz = nd->bufsz < MIN_BUF ? MIN_BUF : nd->bufsz;
	while (newsz < (used + need) * 2)
		newsz *= 2;
	if ((nb = malloc(newsz)) == NULL)
		return -1;
	if (used > 0)
		memcpy(nb, node_bytes(nd, nd->start), used);
	free(nd->buf);
	nd->buf = nb;
	nd->bufsz = newsz;
	nd->base = nd->start;
	return 0;
}

static struct node_cmd *
node_push(struct node *nd)
{
	struct node_cmd	*nr;
	size_t		 i;

	if (nd->n == nd->ringsz) {
		if ((nr = reallocarray(NULL, nd->ringsz * 2,
		    sizeof(*nr))) == NULL)
			return NULL;
		for (i = 0; i < nd->n; i++)
			nr[i] = *NODE_CMD(nd, i);
		free(nd->ring);
		nd->ring = nr;
		nd->ringsz *= 2;
		nd->head = 0;
	}
	nr = NODE_CMD(nd, nd->n);
	nd->n++;
	memset(nr, 0, sizeof(*nr));
	return nr;
}

void
node_pop(struct node *nd)
{
	struct node_cmd	*c = NODE_CMD(nd, 0);

	if (c->flags & CMD_PROBE)
		nd->probe_end = 0;
	nd->start += c->len;
	nd->head = (nd->head + 1) & (nd->ringsz - 1);
	nd->n--;
	if (nd->wpos < nd->start)
		nd->wpos = nd->start;	/* popped while disconnected */
	if (nd->n == 0) {
		/* everything acknowledged: start the buffer over */
		nd->base = nd->start = nd->wpos = nd->end;
		if (nd->bufsz > KEEP_BUF) {
			/* a huge command is gone; do not keep its room */
			free(nd->buf);
			nd->buf = NULL;
			nd->bufsz = 0;
		}
	}
}

void
node_done(struct node *nd)
{
	node_pop(nd);
	nd->live--;
}

static size_t
digits(size_t v)
{
	size_t	n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static char *
put_len(char *p, char type, size_t v)
{
	size_t	n = digits(v), i;

	*p++ = type;
	for (i = n; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	p += n;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

struct node_cmd *
node_append(struct node *nd, int argc, const char **argv,
    const size_t *argvlen, int keyidx)
{
	struct node_cmd	*c;
	size_t		 total, i;
	char		*p, *begin;

	total = 1 + digits((size_t)argc) + 2;
	for (i = 0; i < (size_t)argc; i++)
		total += 1 + digits(argvlen[i]) + 2 + argvlen[i] + 2;
	if (total > UINT32_MAX) {
		err_set(&nd->err, ERR_TARGET, "target %s: a command of %zu "
		    "bytes is too large", nd->name, total);
		return NULL;
	}
	if (node_reserve(nd, total) == -1 || (c = node_push(nd)) == NULL) {
		err_set(&nd->err, ERR_SYS, "target %s: out of memory",
		    nd->name);
		return NULL;
	}
	begin = p = node_bytes(nd, nd->end);
	p = put_len(p, '*', (size_t)argc);
	for (i = 0; i < (size_t)argc; i++) {
		p = put_len(p, '$', argvlen[i]);
		if ((int)i == keyidx) {
			c->keyoff = (uint32_t)(p - begin);
			c->keylen = (uint32_t)argvlen[i];
		}
		memcpy(p, argv[i], argvlen[i]);
		p += argvlen[i];
		*p++ = '\r';
		*p++ = '\n';
	}
	c->off = nd->end;
	c->len = (uint32_t)total;
	nd->end += total;
	nd->live++;
	return c;
}

int
node_copy(struct node *src, size_t i, struct node *dst,
    int asking, int fresh)
{
	struct node_cmd	 old = *NODE_CMD(src, i), *c;
	size_t		 pre = (old.flags & CMD_ASKING) ? ASKING_LEN : 0;
	size_t		 body = old.len - pre;
	size_t		 total = body + (asking ? ASKING_LEN : 0);
	char		*p;

	if (node_reserve(dst, total) == -1 || (c = node_push(dst)) == NULL)
		return err_set(&dst->err, ERR_SYS, "target %s: out of memory",
		    dst->name);
	/* src's bytes may have moved in node_reserve */
	p = node_bytes(dst, dst->end);
	if (asking) {
		memcpy(p, asking_cmd, ASKING_LEN);
		p += ASKING_LEN;
	}
	memmove(p, node_bytes(src, old.off) + pre, body);
	*c = old;
	c->off = dst->end;
	c->len = (uint32_t)total;
	if (fresh)
		c->redirects = 0;
	c->flags = (uint16_t)((old.flags & (CMD_KEYLESS | CMD_SELECT |
	    CMD_INTERNAL | CMD_NORESEND | CMD_DURABLE)) |
	    (asking ? CMD_ASKING : 0));
	dst->end += total;
	dst->live++;
	return 0;
}

const char *
node_cmd_key(const struct node *nd, const struct node_cmd *c)
{
	return node_bytes(nd, c->off) + ((c->flags & CMD_ASKING) ?
	    ASKING_LEN : 0) + c->keyoff;
}

void
node_tomb(struct node *nd, size_t i)
{
	struct node_cmd	*c = NODE_CMD(nd, i);

	c->flags |= CMD_TOMB;
	nd->live--;
	if (c->off >= nd->wpos)
		nd->unsent_tombs = 1;
}

/*
 * Drops the tombstones nothing was written of; the commands after them
 * move down.  Records are contiguous in the buffer, so the first one not
 * written starts at or after wpos.
 */
static void
node_drop_tombs(struct node *nd)
{
	struct node_cmd	*c;
	size_t		 i, k;
	uint64_t	 to;

	nd->unsent_tombs = 0;
	for (i = 0; i < nd->n && NODE_CMD(nd, i)->off < nd->wpos; i++)
		;
	if (i == nd->n)
		return;
	to = NODE_CMD(nd, i)->off;
	for (k = i; i < nd->n; i++) {
		c = NODE_CMD(nd, i);
		if (c->flags & CMD_TOMB) {
			if (c->flags & CMD_PROBE)
				nd->probe_end = 0;
			continue;
		}
		if (c->off != to)
			memmove(node_bytes(nd, to), node_bytes(nd, c->off),
			    c->len);
		c->off = to;
		if (c->flags & CMD_PROBE)
			nd->probe_end = to + c->len;
		if (k != i)
			*NODE_CMD(nd, k) = *c;
		to += c->len;
		k++;
	}
	nd->n = k;
	nd->end = to;
}

uint64_t
node_write_limit(struct node *nd)
{
	if (nd->unsent_tombs)
		node_drop_tombs(nd);
	if (nd->probe_end != 0 && nd->probe_end < nd->end)
		return nd->probe_end;
	return nd->end;
}

/* ---------------------------------------------------------------- I/O */

int
node_write(struct node *nd)
{
	ssize_t		w;
	uint64_t	limit = node_write_limit(nd);
	char		why[128];

	if (nd->wpos == nd->start && nd->wpos < limit)
		nd->wait_since = node_now();
	while (nd->wpos < limit) {
		w = net_write(&nd->conn, node_bytes(nd, nd->wpos),
		    limit - nd->wpos);
		if (w > 0) {
			nd->wpos += (uint64_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		snprintf(why, sizeof(why), "write: %s",
		    net_strerror(&nd->conn, errno));
		nd->ops->lost(nd->arg, nd, why);
		return 0;
	}
	return 0;
}

int
node_read(struct node *nd, char *buf, size_t bufsz)
{
	ssize_t	 n;
	void	*r;
	char	 why[300];

	for (;;) {
		n = net_recv(&nd->conn, buf, bufsz);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			snprintf(why, sizeof(why), "%s", n == 0 ?
			    "connection closed by the server" :
			    net_strerror(&nd->conn, errno));
			nd->ops->lost(nd->arg, nd, why);
			return 0;
		}
		nd->wait_since = node_now();
		if (redisReaderFeed(nd->conn.reader, buf, (size_t)n) !=
		    REDIS_OK)
			return err_set(&nd->err, ERR_SYS, "target %s: out of "
			    "memory", nd->name);
		for (;;) {
			if (redisReaderGetReply(nd->conn.reader, &r) != REDIS_OK) {
				snprintf(why, sizeof(why), "protocol error: %s",
				    nd->conn.reader->errstr);
				return nd->ops->lost(nd->arg, nd, why);
			}
			if (r == NULL)
				break;
			if (nd->ops->reply(nd->arg, nd, r) == -1) {
				freeReplyObject(r);
				return -1;
			}
			freeReplyObject(r);
			nd->down_since = 0;
			if (nd->conn.fd == -1)
				return 0;
		}
		if ((size_t)n < bufsz)
			return 0;
	}
}

size_t
node_unsafe(const struct node *nd)
{
	const struct node_cmd	*c;
	size_t			 i, unsafe = 0;

	for (i = 0; i < nd->n; i++) {
		c = NODE_CMD(nd, i);
		/* a command not wholly written cannot have run */
		if ((c->flags & CMD_NORESEND) && c->off + c->len <= nd->wpos)
			unsafe++;
	}
	return unsafe;
}

void
node_reset(struct node *nd, const char *why, uint64_t now)
{
	size_t	i;

	err_set(&nd->err, ERR_IO, "target %s: %s", nd->name, why);
	net_close(&nd->conn);
	/* what ran here may not have reached the replicas yet */
	if (nd->dirty)
		nd->lost_dirty = 1;
	nd->wpos = nd->start;
	for (i = 0; i < nd->n; i++)
		NODE_CMD(nd, i)->flags &= (uint16_t)~CMD_ASKED;
	if (nd->down_since == 0)
		nd->down_since = now;
	nd->next_try = now;
	nd->attempts = 0;
	node_drop_tombs(nd);
}

/* Lost after reply_timeout_ms: a stopped server, a proxy holding the socket. */
int
node_check_silence(struct node *nd, uint64_t now, int reply_timeout_ms,
    int *timeout)
{
	uint64_t	quiet = now - nd->wait_since, limit, every = WAIT_LOG_MS;
	char		why[128];

	limit = (uint64_t)reply_timeout_ms;
	if (limit > 0 && limit / 2 < every)
		every = limit / 2;
	if (limit > 0 && quiet >= limit) {
		snprintf(why, sizeof(why), "no reply for %llu ms",
		    (unsigned long long)quiet);
		return nd->ops->lost(nd->arg, nd, why);
	}
	if (quiet >= every && now - nd->last_wait_log >= every) {
		nd->last_wait_log = now;
		log_warnx("target %s: no reply for %.1f s, %zu commands "
		    "unacknowledged", nd->name, (double)quiet / 1000, nd->live);
	}
	if (quiet < every && every - quiet < (uint64_t)*timeout)
		*timeout = (int)(every - quiet);
	else if (limit > 0 && limit - quiet < (uint64_t)*timeout)
		*timeout = (int)(limit - quiet);
	return 0;
}
