/*
 * target.c - the pipelined, at-least-once channel to a Redis server or to
 * the masters of a Redis Cluster (see target.h).
 *
 * Every node (the server, or one cluster master) owns one connection, a
 * byte buffer of RESP-encoded commands and a ring of command records in
 * the same order.  Bytes are written in large batches; each reply pops the
 * oldest record and releases its bytes, so everything not yet acknowledged
 * is still in the buffer and can be written again after a reconnect.
 *
 * Byte positions are 64-bit sequence numbers that only grow: "base" is
 * the number of buf[0], "start" the first unacknowledged byte, "wpos" the
 * next byte to write and "end" the end of the queued bytes.
 *
 * A command redirected elsewhere (MOVED, ASK) or retried (TRYAGAIN,
 * CLUSTERDOWN, LOADING) goes to the tail of its new node together with
 * every later command of the old node for the same slot (the same key for
 * ASK), so a later command never overtakes an earlier one.  The copies
 * left behind are tombstones: their replies are dropped, and those not
 * yet written are dropped from the buffer and never sent.  A retried
 * command is a probe: its node writes nothing queued after it until it
 * was answered, so the commands behind it are not executed once per
 * retry round.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "log.h"
#include "net.h"
#include "target.h"

#define WAIT_LOG_MS		5000	/* between two "no reply" warnings,
					   or half the reply timeout */
#define WRITE_BATCH		(64 * 1024)	/* write once this much is queued */
#define READ_CHUNK		(256 * 1024)
#define MIN_BUF			(64 * 1024)
#define KEEP_BUF		(4 * 1024 * 1024)
#define BACKOFF_FIRST_MS	10
#define BACKOFF_MAX_MS		1000
#define RECONNECT_FIRST_MS	50
#define RECONNECT_MAX_MS	2000
#define REFRESH_MIN_MS		100	/* between two CLUSTER SLOTS */
#define MAX_REDIRECTS		16
#define MAX_MODULES		64

#define CMD_ASKING	0x01	/* bytes start with ASKING */
#define CMD_ASKED	0x02	/* the ASKING reply was consumed */
#define CMD_TOMB	0x04	/* moved to another node; drop the reply */
#define CMD_KEYLESS	0x08
#define CMD_SELECT	0x10	/* SELECT selectdb: a reconnect re-selects it */
#define CMD_INTERNAL	0x20	/* ours: the reply goes to no callback */
#define CMD_NORESEND	0x40	/* TARGET_NORESEND: never run twice */
#define CMD_PROBE	0x80	/* a retried command: nothing after it is
				   written before its reply */

static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
#define ASKING_LEN	(sizeof(asking_cmd) - 1)

/* One target_send_all(): its callback runs once, when every master answered. */
struct tgroup {
	LIST_ENTRY(tgroup)	 entry;
	size_t			 remaining;
	int			 delivered;
};

struct tcmd {
	uint64_t	 tag;
	struct tgroup	*group;		/* target_send_all(), or NULL */
	uint64_t	 off;		/* sequence number of the first byte */
	uint64_t	 retry_since;	/* ms of the first retry, 0 none */
	uint32_t	 len;		/* bytes, ASKING included */
	uint32_t	 keyoff;	/* key bytes, from after ASKING */
	uint32_t	 keylen;
	int32_t		 selectdb;
	uint16_t	 slot;
	uint8_t		 flags;
	uint8_t		 tries;
	uint8_t		 redirects;
};

struct tnode {
	TAILQ_ENTRY(tnode)	 entry;
	char			 host[CLUSTER_HOSTLEN];
	int			 port;
	char			 name[CLUSTER_HOSTLEN + 16];
	struct net_conn		 conn;		/* fd -1 while not connected */
	char			*buf;
	size_t			 bufsz;
	uint64_t		 base, start, wpos, end;
	struct tcmd		*ring;
	size_t			 ringsz;	/* a power of two */
	size_t			 head, n;
	size_t			 live;		/* n minus tombstones */
	size_t			 nslots;	/* slots it serves (cluster) */
	int			 db;		/* as of the last acknowledged SELECT */
	uint64_t		 hold_until;	/* ms: no write before */
	uint64_t		 probe_end;	/* no write past it; 0 none */
	int			 unsent_tombs;	/* tombstones past wpos */
	uint64_t		 down_since;	/* ms: lost, 0 once answered again */
	uint64_t		 wait_since;	/* ms: last reply, or first write
						   with nothing in flight */
	uint64_t		 last_wait_log;
	long long		 client_id;	/* CLIENT ID of the connection */
	char			 laddr[CLUSTER_HOSTLEN + 16]; /* our end */
	uint64_t		 next_try;	/* ms: next reconnect */
	unsigned int		 attempts;
	uint64_t		 last_retry_log;
	struct error		 err;		/* why the last connect failed */
};

TAILQ_HEAD(tnodes, tnode);

struct target {
	struct target_opts	 opts;
	int			 cluster;
	int			 version;
	char			*modules[MAX_MODULES];
	size_t			 nmodules;
	target_reply_fn		 cb;
	void			*cbarg;
	struct tnodes		 nodes;
	LIST_HEAD(, tgroup)	 groups;
	size_t			 nnodes;
	struct tnode		*slots[CLUSTER_NSLOTS];
	struct pollfd		*pfd;
	struct tnode		**pnode;
	size_t			 pfdsz;
	char			*rbuf;
	size_t			 pending;
	uint64_t		 last_refresh;
	int			 failed;
	int			 in_cb;
	int			 remap;		/* the slot map changed */
	struct target_stats	 stats;
	struct error		 err;
};

static void	node_lost(struct target *, struct tnode *, const char *);

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
target_seterr(struct target *t, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(t->err.msg, sizeof(t->err.msg), fmt, ap);
	va_end(ap);
	t->err.kind = ERR_TARGET;
}

const char *
target_error(const struct target *t)
{
	return t->err.msg[0] != '\0' ? t->err.msg : "target: no error";
}

enum err_kind
target_error_kind(const struct target *t)
{
	return t->err.kind;
}

/* The first failure sticks: later ones are its consequences. */
static int
fail(struct target *t, enum err_kind kind, const char *fmt, ...)
{
	va_list	ap;

	if (t->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(t->err.msg, sizeof(t->err.msg), fmt, ap);
	va_end(ap);
	t->err.kind = kind;
	t->failed = 1;
	return -1;
}

const struct target_stats *
target_stats(const struct target *t)
{
	return &t->stats;
}

unsigned int
target_slot(const char *key, size_t len)
{
	return cluster_keyslot(key, len);
}

/* A key for a message: printable, escaped, cut at 64 bytes. */
static const char *
key_repr(const char *key, size_t len, char *out, size_t outsz)
{
	size_t	i, o = 0;

	for (i = 0; i < len && i < 64 && o + 5 < outsz; i++) {
		unsigned char ch = (unsigned char)key[i];
		if (isprint(ch) && ch != '\\' && ch != '"')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", ch);
	}
	if (i < len && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------- connections */

static int
connect_to(struct target *t, struct net_conn *c, const char *host, int port,
    struct error *e)
{
	return net_connect(c, "target", host, port, t->opts.connect_timeout_ms,
	    t->opts.user, t->opts.password, e);
}

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
identify(struct tnode *nd, struct net_conn *c)
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
select_db(struct tnode *nd, struct net_conn *c)
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

/* Connected, nd's socket is driven by pump(), non-blocking. */
static int
node_connect(struct target *t, struct tnode *nd)
{
	struct net_conn	 c;
	int		 fl;

	if (connect_to(t, &c, nd->host, nd->port, &nd->err) == -1)
		return -1;
	if ((!t->cluster && (t->opts.have_db || nd->db != 0) &&
	    select_db(nd, &c) == -1) || identify(nd, &c) == -1) {
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
	nd->wait_since = now_ms();
	nd->attempts = 0;
	return 0;
}

static struct tnode *
node_get(struct target *t, const char *host, int port)
{
	struct tnode	*nd;

	TAILQ_FOREACH(nd, &t->nodes, entry)
		if (nd->port == port && strcmp(nd->host, host) == 0)
			return nd;
	if ((nd = calloc(1, sizeof(*nd))) == NULL)
		return NULL;
	strlcpy(nd->host, host, sizeof(nd->host));
	nd->port = port;
	net_format_addr(nd->name, sizeof(nd->name), host, port);
	net_init(&nd->conn);
	nd->ringsz = 64;
	if ((nd->ring = calloc(nd->ringsz, sizeof(*nd->ring))) == NULL) {
		free(nd);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&t->nodes, nd, entry);
	t->nnodes++;
	return nd;
}

static void
node_free(struct tnode *nd)
{
	net_close(&nd->conn);
	free(nd->buf);
	free(nd->ring);
	free(nd);
}

/* ---------------------------------------------------------------- buffers */

#define CMD(nd, i)	(&(nd)->ring[((nd)->head + (i)) & ((nd)->ringsz - 1)])

static char *
node_bytes(struct tnode *nd, uint64_t seq)
{
	return nd->buf + (seq - nd->base);
}

/* Room for need more bytes at the end; existing bytes may move. */
static int
node_reserve(struct tnode *nd, size_t need)
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

static struct tcmd *
node_push(struct tnode *nd)
{
	struct tcmd	*nr;
	size_t		 i;

	if (nd->n == nd->ringsz) {
		if ((nr = reallocarray(NULL, nd->ringsz * 2,
		    sizeof(*nr))) == NULL)
			return NULL;
		for (i = 0; i < nd->n; i++)
			nr[i] = *CMD(nd, i);
		free(nd->ring);
		nd->ring = nr;
		nd->ringsz *= 2;
		nd->head = 0;
	}
	nr = CMD(nd, nd->n);
	nd->n++;
	memset(nr, 0, sizeof(*nr));
	return nr;
}

static void
node_pop(struct tnode *nd)
{
	struct tcmd	*c = CMD(nd, 0);

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

/* Queues one command's RESP bytes on nd; the record is returned. */
static struct tcmd *
node_append(struct target *t, struct tnode *nd, int argc, const char **argv,
    const size_t *argvlen, int keyidx)
{
	struct tcmd	*c;
	size_t		 total, i;
	char		*p, *begin;

	total = 1 + digits((size_t)argc) + 2;
	for (i = 0; i < (size_t)argc; i++)
		total += 1 + digits(argvlen[i]) + 2 + argvlen[i] + 2;
	if (total > UINT32_MAX) {
		fail(t, ERR_TARGET, "target %s: a command of %zu bytes is too large",
		    nd->name, total);
		return NULL;
	}
	if (node_reserve(nd, total) == -1 || (c = node_push(nd)) == NULL) {
		fail(t, ERR_SYS, "target %s: out of memory", nd->name);
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
	t->pending++;
	return c;
}

/*
 * Copies record i of src to the tail of dst, with or without an ASKING
 * prefix.  src and dst may be the same node.
 */
static int
node_copy(struct target *t, struct tnode *src, size_t i, struct tnode *dst,
    int asking, int fresh)
{
	struct tcmd	 old = *CMD(src, i), *c;
	size_t		 pre = (old.flags & CMD_ASKING) ? ASKING_LEN : 0;
	size_t		 body = old.len - pre;
	size_t		 total = body + (asking ? ASKING_LEN : 0);
	char		*p;

	if (node_reserve(dst, total) == -1 || (c = node_push(dst)) == NULL)
		return fail(t, ERR_SYS, "target %s: out of memory", dst->name);
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
	c->flags = (uint8_t)((old.flags & (CMD_KEYLESS | CMD_SELECT |
	    CMD_INTERNAL | CMD_NORESEND)) |
	    (asking ? CMD_ASKING : 0));
	dst->end += total;
	dst->live++;
	t->pending++;
	return 0;
}

static const char *
cmd_key(struct tnode *nd, const struct tcmd *c)
{
	return node_bytes(nd, c->off) + ((c->flags & CMD_ASKING) ?
	    ASKING_LEN : 0) + c->keyoff;
}

enum match { MATCH_ALL, MATCH_SLOT, MATCH_KEY };

/* Record i of nd was copied elsewhere: its reply, if any, is dropped. */
static void
node_tomb(struct target *t, struct tnode *nd, size_t i)
{
	struct tcmd	*c = CMD(nd, i);

	c->flags |= CMD_TOMB;
	nd->live--;
	t->pending--;
	if (c->off >= nd->wpos)
		nd->unsent_tombs = 1;
}

/*
 * The head of src goes to dst, and with it every later live command among
 * the first n of src that must stay behind it; those left in src become
 * tombstones.  fresh (a retry) clears the copies' redirection counts:
 * TRYAGAIN after an ASK sends the command back to the migrating node,
 * which answers ASK again until the migration ends; retry_ms bounds that
 * loop, not the redirection limit.
 */
static int
requeue(struct target *t, struct tnode *src, size_t n, struct tnode *dst,
    int asking, enum match match, int fresh, int probe)
{
	struct tcmd	 head = *CMD(src, 0), *e;
	size_t		 i;

	if (head.flags & CMD_PROBE) {
		/* answered: its copy may become the next probe */
		CMD(src, 0)->flags &= (uint8_t)~CMD_PROBE;
		src->probe_end = 0;
	}
	if (head.flags & CMD_KEYLESS)
		match = MATCH_ALL;
	for (i = 0; i < n; i++) {
		e = CMD(src, i);
		if (i > 0) {
			if (e->flags & CMD_TOMB)
				continue;
			if (match != MATCH_ALL && ((e->flags & CMD_KEYLESS) ||
			    e->slot != head.slot))
				continue;
			if (match == MATCH_KEY && (e->keylen != head.keylen ||
			    memcmp(cmd_key(src, e), cmd_key(src, CMD(src, 0)),
			    head.keylen) != 0))
				continue;
		}
		if (node_copy(t, src, i, dst, asking, fresh) == -1)
			return -1;
		if (i == 0 && probe && dst->probe_end == 0) {
			e = CMD(dst, dst->n - 1);
			e->flags |= CMD_PROBE;
			dst->probe_end = e->off + e->len;
		}
		if (i > 0)
			node_tomb(t, src, i);
	}
	return 0;
}

/*
 * Drops the tombstones nothing was written of; the commands after them
 * move down.  Records are contiguous in the buffer, so the first one not
 * written starts at or after wpos.
 */
static void
node_drop_tombs(struct tnode *nd)
{
	struct tcmd	*c;
	size_t		 i, k;
	uint64_t	 to;

	nd->unsent_tombs = 0;
	for (i = 0; i < nd->n && CMD(nd, i)->off < nd->wpos; i++)
		;
	if (i == nd->n)
		return;
	to = CMD(nd, i)->off;
	for (k = i; i < nd->n; i++) {
		c = CMD(nd, i);
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
			*CMD(nd, k) = *c;
		to += c->len;
		k++;
	}
	nd->n = k;
	nd->end = to;
}

/* The first byte not to write yet: the end, or the end of the probe. */
static uint64_t
write_limit(struct tnode *nd)
{
	if (nd->unsent_tombs)
		node_drop_tombs(nd);
	if (nd->probe_end != 0 && nd->probe_end < nd->end)
		return nd->probe_end;
	return nd->end;
}

/* ---------------------------------------------------------------- cluster map */

static int
apply_slots(struct target *t, const redisReply *r, const char *defhost,
    struct error *e)
{
	struct cluster_range	*ranges;
	struct tnode		*nd, **old;
	int			 n, i;
	unsigned int		 s;
	char			 why[256];

	if ((n = cluster_parse_slots(r, defhost, &ranges, why,
	    sizeof(why))) == -1)
		return err_set(e, ERR_PROTO, "target %s: %s", defhost, why);
	if ((old = malloc(sizeof(t->slots))) == NULL) {
		free(ranges);
		return err_set(e, ERR_SYS, "target: out of memory");
	}
	memcpy(old, t->slots, sizeof(t->slots));
	memset(t->slots, 0, sizeof(t->slots));
	TAILQ_FOREACH(nd, &t->nodes, entry)
		nd->nslots = 0;
	for (i = 0; i < n; i++) {
		if ((nd = node_get(t, ranges[i].host, ranges[i].port)) ==
		    NULL) {
			free(ranges);
			free(old);
			return err_set(e, ERR_SYS, "target: out of memory");
		}
		for (s = ranges[i].first; s <= ranges[i].last; s++)
			t->slots[s] = nd;
		nd->nslots += ranges[i].last - ranges[i].first + 1;
	}
	free(ranges);
	if (memcmp(old, t->slots, sizeof(t->slots)) != 0)
		t->remap = 1;
	free(old);
	return 0;
}

/*
 * After the slot map changed, every live keyed command waiting on a node
 * that no longer serves its slot goes to the tail of the node that does,
 * in order, before anything newer is routed there: a later write to the
 * same key sent straight to the new owner must not run before it.  The
 * copies left behind are tombstones.  ASK copies stay where they are:
 * the importing node is where they belong until the slot has moved, and
 * after that too.  Called where no reply is being handled, so no node's
 * head is half-processed.
 */
static int
remap(struct target *t)
{
	struct tnode	*nd, *dst;
	struct tcmd	*c;
	size_t		 i, n;

	t->remap = 0;
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		for (i = 0, n = nd->n; i < n; i++) {
			c = CMD(nd, i);
			if (c->flags & (CMD_TOMB | CMD_KEYLESS | CMD_ASKING))
				continue;
			dst = t->slots[c->slot];
			if (dst == NULL || dst == nd)
				continue;
			if (node_copy(t, nd, i, dst, 0, 0) == -1)
				return -1;
			node_tomb(t, nd, i);
		}
	}
	return 0;
}

/* The slot map as the server at host:port (or c, when open) sees it. */
static int
load_slots(struct target *t, struct net_conn *c, const char *host, int port,
    struct error *e)
{
	const char	*argv[2] = { "CLUSTER", "SLOTS" };
	struct net_conn	 own;
	redisReply	*r;
	int		 rc;

	if (c == NULL) {
		if (connect_to(t, &own, host, port, e) == -1)
			return -1;
		c = &own;
	}
	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		rc = -1;
	else {
		rc = apply_slots(t, r, host, e);
		freeReplyObject(r);
	}
	if (c == &own)
		net_close(&own);
	return rc;
}

/* CLUSTER SLOTS from prefer, or any known node, or the seed. */
static int
cluster_refresh(struct target *t, struct tnode *prefer, int force)
{
	struct tnode	*nd;
	struct error	 e;
	uint64_t	 now = now_ms();

	if (!force && now - t->last_refresh < REFRESH_MIN_MS)
		return 0;
	t->last_refresh = now;
	t->stats.refreshes++;
	err_clear(&e);
	if (prefer != NULL && load_slots(t, NULL, prefer->host, prefer->port,
	    &e) == 0)
		return 0;
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd == prefer || nd->conn.fd == -1)
			continue;
		if (load_slots(t, NULL, nd->host, nd->port, &e) == 0)
			return 0;
	}
	if (load_slots(t, NULL, t->opts.host, t->opts.port, &e) == 0)
		return 0;
	log_warnx("%s (slot map not refreshed)", e.msg);
	return -1;
}

static struct tnode *
route(struct target *t, unsigned int slot, int keyless)
{
	struct tnode	*nd;

	if (!t->cluster)
		return TAILQ_FIRST(&t->nodes);
	if (keyless) {
		TAILQ_FOREACH(nd, &t->nodes, entry)
			if (nd->nslots > 0)
				return nd;
		return NULL;
	}
	return t->slots[slot];
}

/* ---------------------------------------------------------------- replies */

static int
is_retryable(const redisReply *r)
{
	return strncmp(r->str, "TRYAGAIN", 8) == 0 ||
	    strncmp(r->str, "CLUSTERDOWN", 11) == 0 ||
	    strncmp(r->str, "LOADING", 7) == 0 ||
	    strncmp(r->str, "MASTERDOWN", 10) == 0;
}

static uint64_t
backoff_ms(unsigned int tries)
{
	uint64_t	ms = BACKOFF_FIRST_MS;

	while (tries-- > 1 && ms < BACKOFF_MAX_MS)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static int
redirect(struct target *t, struct tnode *nd, const redisReply *r)
{
	struct tcmd		*c = CMD(nd, 0);
	enum cluster_redirect	 kind;
	struct tnode		*dst;
	unsigned int		 slot;
	char			 host[CLUSTER_HOSTLEN], key[300];
	int			 port;

	kind = cluster_parse_redirect(r->str, r->len, &slot, host,
	    sizeof(host), &port);
	if (kind == REDIRECT_NONE)
		return 0;
	if (++c->redirects > MAX_REDIRECTS)
		return fail(t, ERR_TARGET, "target %s: key \"%s\": more than %d "
		    "redirections, last: %s", nd->name, key_repr(cmd_key(nd, c),
		    c->keylen, key, sizeof(key)), MAX_REDIRECTS, r->str);
	if ((dst = node_get(t, host, port)) == NULL)
		return fail(t, ERR_SYS, "target: out of memory");
	if (kind == REDIRECT_MOVED) {
		t->stats.moved++;
		cluster_refresh(t, dst, 0);
		if (t->slots[slot] != dst) {
			if (t->slots[slot] != NULL)
				t->slots[slot]->nslots--;
			t->slots[slot] = dst;
			dst->nslots++;
			t->remap = 1;
		}
		if (requeue(t, nd, nd->n, dst, 0, MATCH_SLOT, 0, 0) == -1)
			return -1;
	} else {
		t->stats.ask++;
		if (requeue(t, nd, nd->n, dst, 1, MATCH_KEY, 0, 0) == -1)
			return -1;
	}
	return 1;
}

static int
select_again(struct target *t, struct tnode *nd)
{
	struct tcmd	*c;
	const char	*argv[2];
	size_t		 argvlen[2];
	char		 num[16];

	snprintf(num, sizeof(num), "%d", nd->db);
	argv[0] = "SELECT";
	argv[1] = num;
	argvlen[0] = 6;
	argvlen[1] = strlen(num);
	if ((c = node_append(t, nd, 2, argv, argvlen, -1)) == NULL)
		return -1;
	c->flags = CMD_KEYLESS | CMD_SELECT | CMD_INTERNAL;
	c->selectdb = nd->db;
	return 0;
}

static int
retry(struct target *t, struct tnode *nd, const redisReply *r)
{
	struct tcmd	*c = CMD(nd, 0);
	struct tnode	*dst = nd;
	uint64_t	 now = now_ms(), hold;
	size_t		 n;
	char		 key[300];

	if (!is_retryable(r))
		return 0;
	t->stats.retries++;
	if (now - nd->last_retry_log >= 1000) {
		nd->last_retry_log = now;
		log_warnx("target %s: \"%s\", retrying (%llu retries so far)",
		    nd->name, r->str, (unsigned long long)t->stats.retries);
	}
	if (c->retry_since == 0)
		c->retry_since = now;
	else if (now - c->retry_since > (uint64_t)t->opts.retry_ms)
		return fail(t, ERR_TARGET, "target %s: key \"%s\": still \"%s\" after %d ms",
		    nd->name, key_repr(cmd_key(nd, c), c->keylen, key,
		    sizeof(key)), r->str, t->opts.retry_ms);
	if (c->tries < UINT8_MAX)
		c->tries++;
	if (t->cluster && !(c->flags & CMD_KEYLESS)) {
		if (strncmp(r->str, "CLUSTERDOWN", 11) == 0)
			cluster_refresh(t, NULL, 0);
		if (t->slots[c->slot] != NULL)
			dst = t->slots[c->slot];
	}
	hold = now + backoff_ms(c->tries);
	if (dst->hold_until < hold)
		dst->hold_until = hold;
	/*
	 * Standalone: later commands, a SELECT among them, may run before
	 * the copies do, so the copies start with the db they were sent in.
	 */
	n = nd->n;
	if (!t->cluster && select_again(t, nd) == -1)
		return -1;
	return requeue(t, nd, n, dst, 0, t->cluster ? MATCH_SLOT : MATCH_ALL,
	    1, 1) == -1 ? -1 : 1;
}

static int
deliver(struct target *t, struct tnode *nd, uint64_t tag, const redisReply *r)
{
	int	rc;

	if (t->cb == NULL) {
		if (r->type == REDIS_REPLY_ERROR)
			return fail(t, ERR_TARGET, "target %s: %s", nd->name, r->str);
		return 0;
	}
	t->in_cb = 1;
	rc = t->cb(t->cbarg, tag, r);
	t->in_cb = 0;
	if (rc == -1) {
		if (!t->failed && t->err.msg[0] == '\0')
			target_seterr(t, "target %s: stopped by the reply "
			    "handler", nd->name);
		t->failed = 1;
		return -1;
	}
	return 0;
}

static int
handle_reply(struct target *t, struct tnode *nd, const redisReply *r)
{
	struct tgroup	*group;
	struct tcmd	*c;
	uint64_t	 tag;
	int		 rc;
	char		 key[300];

	if (nd->n == 0 || CMD(nd, 0)->off >= nd->wpos)
		return fail(t, ERR_PROTO, "target %s: a reply that matches no command "
		    "sent", nd->name);
	c = CMD(nd, 0);
	if ((c->flags & (CMD_ASKING | CMD_ASKED)) == CMD_ASKING) {
		c->flags |= CMD_ASKED;
		return 0;
	}
	/* even a tombstone's SELECT changed the connection's db */
	if ((c->flags & CMD_SELECT) && r->type != REDIS_REPLY_ERROR)
		nd->db = c->selectdb;
	if (c->flags & CMD_TOMB) {
		if ((c->flags & CMD_NORESEND) && r->type != REDIS_REPLY_ERROR)
			return fail(t, ERR_TARGET, "target %s: key \"%s\": a command that is "
			    "not safe to run twice ran here after it was "
			    "redirected, and its copy would run it again",
			    nd->name, key_repr(cmd_key(nd, c), c->keylen, key,
			    sizeof(key)));
		node_pop(nd);
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = t->cluster ? redirect(t, nd, r) : 0;
		if (rc == 0)
			rc = retry(t, nd, r);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			node_pop(nd);
			nd->live--;
			t->pending--;
			return t->remap ? remap(t) : 0;
		}
	}
	tag = c->tag;
	if (c->flags & CMD_INTERNAL) {
		node_pop(nd);
		nd->live--;
		t->pending--;
		if (r->type == REDIS_REPLY_ERROR)
			return fail(t, ERR_TARGET, "target %s: SELECT: %s", nd->name,
			    r->str);
		return 0;
	}
	group = c->group;
	node_pop(nd);
	nd->live--;
	t->pending--;
	if (group == NULL)
		return deliver(t, nd, tag, r);
	group->remaining--;
	rc = 0;
	if (!group->delivered && (group->remaining == 0 ||
	    r->type == REDIS_REPLY_ERROR)) {
		group->delivered = 1;
		rc = deliver(t, nd, tag, r);
	}
	if (group->remaining == 0) {
		LIST_REMOVE(group, entry);
		free(group);
	}
	return rc;
}

/* ---------------------------------------------------------------- I/O */

static int
node_write(struct target *t, struct tnode *nd)
{
	ssize_t		w;
	uint64_t	limit = write_limit(nd);
	char		why[128];

	if (nd->wpos == nd->start && nd->wpos < limit)
		nd->wait_since = now_ms();
	while (nd->wpos < limit) {
		w = send(nd->conn.fd, node_bytes(nd, nd->wpos), limit - nd->wpos,
		    MSG_NOSIGNAL);
		if (w > 0) {
			nd->wpos += (uint64_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		snprintf(why, sizeof(why), "write: %s", strerror(errno));
		node_lost(t, nd, why);
		return 0;
	}
	return 0;
}

static int
node_read(struct target *t, struct tnode *nd)
{
	ssize_t	 n;
	void	*r;
	char	 why[300];

	for (;;) {
		n = read(nd->conn.fd, t->rbuf, READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			snprintf(why, sizeof(why), "%s", n == 0 ?
			    "connection closed by the server" :
			    strerror(errno));
			node_lost(t, nd, why);
			return 0;
		}
		nd->wait_since = now_ms();
		if (redisReaderFeed(nd->conn.reader, t->rbuf, (size_t)n) !=
		    REDIS_OK)
			return fail(t, ERR_SYS, "target %s: out of memory", nd->name);
		for (;;) {
			if (redisReaderGetReply(nd->conn.reader, &r) != REDIS_OK) {
				snprintf(why, sizeof(why), "protocol error: %s",
				    nd->conn.reader->errstr);
				node_lost(t, nd, why);
				return t->failed ? -1 : 0;
			}
			if (r == NULL)
				break;
			if (handle_reply(t, nd, r) == -1) {
				freeReplyObject(r);
				return -1;
			}
			freeReplyObject(r);
			nd->down_since = 0;
			if (nd->conn.fd == -1)
				return 0;
		}
		if (n < READ_CHUNK)
			return 0;
	}
}

static void
node_lost(struct target *t, struct tnode *nd, const char *why)
{
	size_t		i, unsafe = 0;
	uint64_t	now = now_ms();

	for (i = 0; i < nd->n; i++) {
		struct tcmd *c = CMD(nd, i);
		/* a command not wholly written cannot have run */
		if ((c->flags & CMD_NORESEND) && c->off + c->len <= nd->wpos)
			unsafe++;
	}
	if (unsafe > 0)
		fail(t, ERR_IO, "target: connection to %s lost (%s) with %zu "
		    "unacknowledged commands that are not safe to resend",
		    nd->name, why, unsafe);
	else
		log_warnx("target %s: connection lost (%s); %zu commands to "
		    "resend", nd->name, why, nd->live);
	err_set(&nd->err, ERR_IO, "target %s: %s", nd->name, why);
	net_close(&nd->conn);
	nd->wpos = nd->start;
	for (i = 0; i < nd->n; i++)
		CMD(nd, i)->flags &= (uint8_t)~CMD_ASKED;
	if (nd->down_since == 0)
		nd->down_since = now;
	else if (now - nd->down_since >= (uint64_t)t->opts.retry_ms)
		fail(t, ERR_IO, "target %s: %s; gave up after %d ms with %zu commands "
		    "unacknowledged", nd->name, why, t->opts.retry_ms,
		    nd->live);
	nd->next_try = now;
	nd->attempts = 0;
	node_drop_tombs(nd);
}

/*
 * A lost node whose slots went to another master (failover): its
 * commands follow their slots.
 */
static int
node_migrate(struct target *t, struct tnode *nd)
{
	struct tnode	*dst;

	while (nd->n > 0) {
		struct tcmd *c = CMD(nd, 0);
		if (!(c->flags & CMD_TOMB)) {
			dst = route(t, c->slot, c->flags & CMD_KEYLESS);
			if (dst == NULL || dst == nd)
				return 0;
			if (node_copy(t, nd, 0, dst, 0, 0) == -1)
				return -1;
			nd->live--;
			t->pending--;
		}
		node_pop(nd);
	}
	return 0;
}

static int
node_reconnect(struct target *t, struct tnode *nd, uint64_t now)
{
	int		was_lost = nd->down_since != 0 || nd->attempts > 0;
	uint64_t	wait;

	if (node_connect(t, nd) == 0) {
		if (was_lost)
			t->stats.reconnects++;
		log_info("target %s: connected, resending %zu commands",
		    nd->name, nd->live);
		return 0;
	}
	if (!err_retryable(nd->err.kind))
		return fail(t, nd->err.kind, "%s", nd->err.msg);
	if (nd->down_since == 0)
		nd->down_since = now;
	if (t->cluster && cluster_refresh(t, NULL, 1) == 0 &&
	    ((t->remap && remap(t) == -1) ||
	    (nd->nslots == 0 && node_migrate(t, nd) == -1)))
		return -1;
	if (nd->n == 0) {
		nd->down_since = 0;
		return 0;
	}
	if (now - nd->down_since >= (uint64_t)t->opts.retry_ms)
		return fail(t, ERR_IO, "%s; gave up after %d ms with %zu "
		    "commands unacknowledged", nd->err.msg, t->opts.retry_ms, nd->live);
	wait = RECONNECT_FIRST_MS << (nd->attempts < 6 ? nd->attempts : 6);
	if (wait > RECONNECT_MAX_MS)
		wait = RECONNECT_MAX_MS;
	nd->attempts++;
	nd->next_try = now + wait;
	return 0;
}

/*
 * A node with commands on the wire and no reply for a while: warned about
 * every WAIT_LOG_MS, and given up as lost after reply_timeout_ms (a
 * stopped server, a proxy that holds the socket open).  *timeout is cut
 * to wake up for the next of these.
 */
static int
check_silence(struct target *t, struct tnode *nd, uint64_t now, int *timeout)
{
	uint64_t	quiet = now - nd->wait_since, limit, every = WAIT_LOG_MS;
	char		why[128];

	limit = (uint64_t)t->opts.reply_timeout_ms;
	if (limit > 0 && limit / 2 < every)
		every = limit / 2;
	if (limit > 0 && quiet >= limit) {
		snprintf(why, sizeof(why), "no reply for %llu ms",
		    (unsigned long long)quiet);
		node_lost(t, nd, why);
		return t->failed ? -1 : 0;
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

/*
 * One round of I/O on every node: reconnect what is due, write what may be
 * written, read what arrived, waiting up to maxwait ms for any of it.
 */
static int
pump(struct target *t, int maxwait)
{
	struct tnode	*nd;
	struct pollfd	*pfd;
	size_t		 np = 0, i;
	uint64_t	 now = now_ms();
	int		 timeout = 1000, rc;

	if (t->failed)
		return -1;
	if (t->remap && remap(t) == -1)
		return -1;
	if (t->pfdsz < t->nnodes) {
		free(t->pfd);
		free(t->pnode);
		t->pfd = calloc(t->nnodes, sizeof(*t->pfd));
		t->pnode = calloc(t->nnodes, sizeof(*t->pnode));
		if (t->pfd == NULL || t->pnode == NULL) {
			t->pfdsz = 0;
			return fail(t, ERR_SYS, "target: out of memory");
		}
		t->pfdsz = t->nnodes;
	}
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd->conn.fd != -1 && nd->wpos > nd->start &&
		    check_silence(t, nd, now, &timeout) == -1)
			return -1;
		if (nd->conn.fd == -1) {
			if (nd->n == 0)
				continue;
			if (now >= nd->next_try &&
			    node_reconnect(t, nd, now) == -1)
				return -1;
			if (nd->conn.fd == -1) {
				if (nd->n > 0 && nd->next_try - now <
				    (uint64_t)timeout)
					timeout = (int)(nd->next_try - now);
				continue;
			}
		}
		pfd = &t->pfd[np];
		pfd->fd = nd->conn.fd;
		pfd->events = POLLIN;
		pfd->revents = 0;
		if (nd->wpos < write_limit(nd)) {
			if (now >= nd->hold_until)
				pfd->events |= POLLOUT;
			else if (nd->hold_until - now < (uint64_t)timeout)
				timeout = (int)(nd->hold_until - now);
		}
		t->pnode[np++] = nd;
	}
	if (timeout > maxwait)
		timeout = maxwait;
	rc = poll(t->pfd, np, timeout);
	if (rc == -1 && errno != EINTR)
		return fail(t, ERR_SYS, "target: poll: %s", strerror(errno));
	if (rc <= 0)
		return 0;
	for (i = 0; i < np; i++) {
		nd = t->pnode[i];
		if (t->pfd[i].revents & POLLOUT && node_write(t, nd) == -1)
			return -1;
		if (nd->conn.fd != -1 && t->pfd[i].revents &
		    (POLLIN | POLLHUP | POLLERR) && node_read(t, nd) == -1)
			return -1;
	}
	return t->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- API */

static int
info_field(const char *info, const char *field, char *out, size_t outsz)
{
	const char	*p = info;
	size_t		 flen = strlen(field), n;

	while ((p = strstr(p, field)) != NULL) {
		if ((p == info || p[-1] == '\n') && p[flen] == ':') {
			p += flen + 1;
			n = strcspn(p, "\r\n");
			if (n >= outsz)
				n = outsz - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p += flen;
	}
	return -1;
}

static int
load_info(struct target *t, struct net_conn *c, struct error *e)
{
	const char	*argv[2] = { "INFO", "server" };
	redisReply	*r;
	char		 val[64];
	unsigned int	 maj = 0, min = 0, pat = 0;

	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING &&
	    info_field(r->str, "redis_version", val, sizeof(val)) == 0 &&
	    sscanf(val, "%u.%u.%u", &maj, &min, &pat) >= 2 && min < 100 &&
	    pat < 100)
		t->version = (int)(maj * 10000 + min * 100 + pat);
	freeReplyObject(r);
	argv[1] = "cluster";
	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING &&
	    info_field(r->str, "cluster_enabled", val, sizeof(val)) == 0)
		t->cluster = strcmp(val, "1") == 0;
	freeReplyObject(r);
	return 0;
}

/* MODULE LIST; a server without modules (or the command) has none. */
static void
load_modules(struct target *t, struct net_conn *c)
{
	const char	*argv[2] = { "MODULE", "LIST" };
	redisReply	*r, *m;
	size_t		 i, j;
	struct error	 e;

	if ((r = net_command_ok(c, 2, argv, NULL, &e)) == NULL)
		return;
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		m = r->element[i];
		if (m->type != REDIS_REPLY_ARRAY)
			continue;
		for (j = 0; j + 1 < m->elements; j += 2) {
			if (m->element[j]->type != REDIS_REPLY_STRING ||
			    strcmp(m->element[j]->str, "name") != 0 ||
			    m->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (t->nmodules < MAX_MODULES && (t->modules[
			    t->nmodules] = strdup(m->element[j + 1]->str)) !=
			    NULL)
				t->nmodules++;
		}
	}
	freeReplyObject(r);
}

/* What the seed says: version, modules, cluster or not, the slot map. */
static int
probe(struct target *t, struct error *e)
{
	const struct target_opts	*o = &t->opts;
	struct net_conn			 c;
	int				 rc;

	if (connect_to(t, &c, o->host, o->port, e) == -1)
		return -1;
	if (load_info(t, &c, e) == -1) {
		net_close(&c);
		return -1;
	}
	load_modules(t, &c);
	if (!t->cluster)
		rc = 0;
	else if (o->have_db && o->db != 0)
		rc = err_set(e, ERR_CONFIG, "%s: a Redis Cluster has only "
		    "db 0, the URL asks for db %d", c.name, o->db);
	else
		rc = load_slots(t, &c, o->host, o->port, e);
	net_close(&c);
	return rc;
}

static void
set_defaults(struct target_opts *o)
{
	if (o->window == 0)
		o->window = TARGET_DEFAULT_WINDOW;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = TARGET_DEFAULT_CONNECT_MS;
	if (o->retry_ms <= 0)
		o->retry_ms = TARGET_DEFAULT_RETRY_MS;
	if (o->reply_timeout_ms < 0)
		o->reply_timeout_ms = 0;
}

struct target *
target_open(const struct target_opts *opts, struct error *e)
{
	struct target	*t;
	struct tnode	*nd;
	char		 name[CLUSTER_HOSTLEN + 16];

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->rbuf = malloc(READ_CHUNK)) == NULL) {
		free(t);
		err_set(e, ERR_SYS, "target: out of memory");
		return NULL;
	}
	TAILQ_INIT(&t->nodes);
	LIST_INIT(&t->groups);
	t->opts = *opts;
	set_defaults(&t->opts);
	net_format_addr(name, sizeof(name), opts->host, opts->port);
	if (opts->user[0] != '\0' && opts->password[0] == '\0') {
		err_set(e, ERR_CONFIG, "target %s: user \"%s\" given without "
		    "a password", name, opts->user);
		goto bad;
	}
	if (probe(t, e) == -1)
		goto bad;
	if (!t->cluster) {
		if ((nd = node_get(t, opts->host, opts->port)) == NULL) {
			err_set(e, ERR_SYS, "target: out of memory");
			goto bad;
		}
		nd->db = opts->have_db ? opts->db : 0;
	}
	t->last_refresh = now_ms();
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (node_connect(t, nd) == -1) {
			err_copy(e, &nd->err);
			goto bad;
		}
	}
	return t;
 bad:
	target_close(t);
	return NULL;
}

void
target_close(struct target *t)
{
	struct tnode	*nd;
	struct tgroup	*g;
	size_t		 i;

	if (t == NULL)
		return;

	while ((nd = TAILQ_FIRST(&t->nodes)) != NULL) {
		TAILQ_REMOVE(&t->nodes, nd, entry);
		node_free(nd);
	}
	while ((g = LIST_FIRST(&t->groups)) != NULL) {
		LIST_REMOVE(g, entry);
		free(g);
	}
	for (i = 0; i < t->nmodules; i++)
		free(t->modules[i]);
	explicit_bzero(&t->opts, sizeof(t->opts));
	free(t->pfd);
	free(t->pnode);
	free(t->rbuf);
	free(t);
}

int
target_is_cluster(const struct target *t)
{
	return t->cluster;
}

int
target_version(const struct target *t)
{
	return t->version;
}

int
target_has_module(const struct target *t, const char *name)
{
	size_t	i;

	for (i = 0; i < t->nmodules; i++)
		if (strcasecmp(t->modules[i], name) == 0)
			return 1;
	return 0;
}

void
target_set_reply_cb(struct target *t, target_reply_fn fn, void *arg)
{
	t->cb = fn;
	t->cbarg = arg;
}

/*
 * The db a connection uses is part of what must be restored after a
 * reconnect: the caller may have switched it with SELECT.
 */
static int
is_select(int argc, const char **argv, const size_t *argvlen, int32_t *db)
{
	char		 num[16];
	const char	*errstr;

	if (argc != 2 || argvlen[0] != 6 || strncasecmp(argv[0], "SELECT",
	    6) != 0 || argvlen[1] == 0 || argvlen[1] >= sizeof(num))
		return 0;
	memcpy(num, argv[1], argvlen[1]);
	num[argvlen[1]] = '\0';
	*db = (int32_t)strtonum(num, 0, INT32_MAX, &errstr);
	return errstr == NULL;
}

static int
enqueue(struct target *t, struct tnode *nd, int argc, const char **argv,
    const size_t *argvlen, int keyidx, unsigned int slot, uint64_t tag,
    struct tgroup *group, int flags)
{
	struct tcmd	*c;

	if ((c = node_append(t, nd, argc, argv, argvlen, keyidx)) == NULL)
		return -1;
	c->tag = tag;
	c->group = group;
	c->slot = (uint16_t)slot;
	if (keyidx < 0)
		c->flags |= CMD_KEYLESS;
	if (flags & TARGET_NORESEND)
		c->flags |= CMD_NORESEND;
	if (keyidx < 0 && is_select(argc, argv, argvlen, &c->selectdb))
		c->flags |= CMD_SELECT;
	if (!t->in_cb && nd->end - nd->wpos >= WRITE_BATCH)
		return pump(t, 0);
	return 0;
}

int
target_send(struct target *t, int argc, const char **argv,
    const size_t *argvlen, int keyidx, uint64_t tag)
{
	return target_send_flags(t, argc, argv, argvlen, keyidx, tag, 0);
}

int
target_send_flags(struct target *t, int argc, const char **argv,
    const size_t *argvlen, int keyidx, uint64_t tag, int flags)
{
	struct tnode	*nd;
	unsigned int	 slot = 0;

	if (t->failed)
		return -1;
	if (argc < 1 || keyidx >= argc || keyidx < -1)
		return fail(t, ERR_TARGET, "target: bad command (argc %d, key index %d)",
		    argc, keyidx);
	if (keyidx >= 0)
		slot = cluster_keyslot(argv[keyidx], argvlen[keyidx]);
	/*
	 * Routed again after every wait for the window: the slot may have
	 * moved meanwhile, and its older commands with it.
	 */
	for (;;) {
		if ((nd = route(t, slot, keyidx < 0)) == NULL) {
			cluster_refresh(t, NULL, 1);
			if (t->remap && remap(t) == -1)
				return -1;
			if ((nd = route(t, slot, keyidx < 0)) == NULL)
				return fail(t, ERR_TARGET, "target %s:%d: no master serves "
				    "slot %u", t->opts.host, t->opts.port, slot);
		}
		/* a reply handler may queue more, but not wait */
		if (t->in_cb || nd->n < t->opts.window)
			break;
		if (pump(t, 1000) == -1)
			return -1;
	}
	return enqueue(t, nd, argc, argv, argvlen, keyidx, slot, tag, NULL,
	    flags);
}

int
target_send_all(struct target *t, int argc, const char **argv,
    const size_t *argvlen, uint64_t tag)
{
	struct tnode	*nd;
	struct tgroup	*g;
	size_t		 n = 0;

	if (t->failed)
		return -1;
	if (argc < 1)
		return fail(t, ERR_TARGET, "target: empty command");
	TAILQ_FOREACH(nd, &t->nodes, entry)
		if (!t->cluster || nd->nslots > 0)
			n++;
	if (n == 0)
		return fail(t, ERR_TARGET, "target %s:%d: no master to send to",
		    t->opts.host, t->opts.port);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return fail(t, ERR_SYS, "target: out of memory");
	g->remaining = n;
	LIST_INSERT_HEAD(&t->groups, g, entry);
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (t->cluster && nd->nslots == 0)
			continue;
		while (!t->in_cb && nd->n >= t->opts.window)
			if (pump(t, 1000) == -1)
				return -1;
		if (enqueue(t, nd, argc, argv, argvlen, -1, 0, tag, g, 0) ==
		    -1)
			return -1;
	}
	return 0;
}

int
target_flush(struct target *t)
{
	while (!t->failed && t->pending > 0)
		if (pump(t, 1000) == -1)
			return -1;
	return t->failed ? -1 : 0;
}

int
target_poll(struct target *t, int timeout_ms)
{
	return pump(t, timeout_ms < 0 ? 0 : timeout_ms);
}

size_t
target_pending(const struct target *t)
{
	return t->pending;
}
