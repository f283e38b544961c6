/*
 * target.c - the pipelined, at-least-once channel to a Redis server or to
 * the masters of a Redis Cluster (see target.h): routing by slot, the
 * redirections and retries, and what is resent where.  One node's
 * connection and its buffer of unacknowledged commands are node.c's; the
 * slot map is cluster.c's; waiting for the replicas (target_durable()) is
 * durable.c's.  What they share is in target_int.h.
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

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "log.h"
#include "net.h"
#include "node.h"
#include "target.h"
#include "target_int.h"

#define WRITE_BATCH		(64 * 1024)	/* write once this much is queued */
#define READ_CHUNK		(256 * 1024)
#define BACKOFF_FIRST_MS	10
#define BACKOFF_MAX_MS		1000
#define RECONNECT_FIRST_MS	50
#define RECONNECT_MAX_MS	2000
#define REFRESH_MIN_MS		100	/* between two CLUSTER SLOTS */
#define MAX_REDIRECTS		16

/* One target_send_all(): its callback runs once, when every master answered. */
struct tgroup {
	LIST_ENTRY(tgroup)	 entry;
	size_t			 remaining;
	int			 delivered;
};

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
int
tfail(struct target *t, enum err_kind kind, const char *fmt, ...)
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

int
target_node_stats(const struct target *t, size_t i,
    struct target_node_stats *ns)
{
	const struct node *nd;

	TAILQ_FOREACH(nd, &t->nodes, entry)
		if (i-- == 0) {
			ns->name = nd->name;
			ns->inflight = nd->live;
			ns->reconnects = nd->reconnects;
			ns->moved = nd->moved;
			ns->ask = nd->ask;
			return 1;
		}
	return 0;
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

/* ---------------------------------------------------------------- nodes */

static int	handle_reply(void *, struct node *, const redisReply *);
static int	lost(void *, struct node *, const char *);

static const struct node_ops node_ops = { handle_reply, lost };

static struct node *
node_get(void *arg, const char *host, int port)
{
	struct target	*t = arg;
	struct node	*nd;

	TAILQ_FOREACH(nd, &t->nodes, entry)
		if (nd->port == port && strcmp(nd->host, host) == 0)
			return nd;
	if ((nd = node_new(host, port, &node_ops, t)) == NULL)
		return NULL;
	TAILQ_INSERT_TAIL(&t->nodes, nd, entry);
	t->nnodes++;
	return nd;
}

/* nd's last error (a command it could not queue or read) fails the target. */
int
tfail_node(struct target *t, const struct node *nd)
{
	return tfail(t, nd->err.kind, "%s", nd->err.msg);
}

static int
node_connect_db(struct target *t, struct node *nd)
{
	return node_connect(nd, &t->opts, !t->cluster &&
	    (t->opts.have_db || nd->db != 0));
}

/* Commands queued and not yet acknowledged, on every node. */
static size_t
pending(const struct target *t)
{
	const struct node	*nd;
	size_t			 n = 0;

	TAILQ_FOREACH(nd, &t->nodes, entry)
		n += nd->live;
	return n;
}

/* ---------------------------------------------------------------- redirects */

enum match { MATCH_ALL, MATCH_SLOT, MATCH_KEY };

/*
 * The head of src goes to dst, and with it every later live command among
 * the first n of src that must stay behind it; those left in src become
 * tombstones.  fresh (a retry) clears the copies' redirection counts:
 * TRYAGAIN after an ASK retries the command on the importing node until
 * the migration ends (retry()); retry_ms bounds that loop, not the
 * redirection limit.
 */
static int
requeue(struct target *t, struct node *src, size_t n, struct node *dst,
    int asking, enum match match, int fresh, int probe)
{
	struct node_cmd	 head = *NODE_CMD(src, 0), *e;
	size_t		 i;

	if (head.flags & CMD_PROBE) {
		/* answered: its copy may become the next probe */
		NODE_CMD(src, 0)->flags &= (uint16_t)~CMD_PROBE;
		src->probe_end = 0;
	}
	if (head.flags & CMD_KEYLESS)
		match = MATCH_ALL;
	for (i = 0; i < n; i++) {
		e = NODE_CMD(src, i);
		if (i > 0) {
			if (e->flags & CMD_TOMB)
				continue;
			if (match != MATCH_ALL && ((e->flags & CMD_KEYLESS) ||
			    e->slot != head.slot))
				continue;
			if (match == MATCH_KEY && (e->keylen != head.keylen ||
			    memcmp(node_cmd_key(src, e), node_cmd_key(src, NODE_CMD(src, 0)),
			    head.keylen) != 0))
				continue;
		}
		if (node_copy(src, i, dst, asking, fresh) == -1)
			return tfail_node(t, dst);
		if (i == 0 && probe && dst->probe_end == 0) {
			e = NODE_CMD(dst, dst->n - 1);
			e->flags |= CMD_PROBE;
			dst->probe_end = e->off + e->len;
		}
		if (i > 0)
			node_tomb(src, i);
	}
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
int
target_remap(struct target *t)
{
	struct node	*nd, *dst;
	struct node_cmd	*c;
	size_t		 i, n;

	t->map.changed = 0;
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		for (i = 0, n = nd->n; i < n; i++) {
			c = NODE_CMD(nd, i);
			if (c->flags & (CMD_TOMB | CMD_KEYLESS | CMD_ASKING))
				continue;
			dst = t->map.slots[c->slot];
			if (dst == NULL || dst == nd)
				continue;
			if (node_copy(nd, i, dst, 0, 0) == -1)
				return tfail_node(t, dst);
			node_tomb(nd, i);
		}
	}
	return 0;
}

/* The slot map as the server at host:port sees it. */
static int
load_slots(struct target *t, const char *host, int port, struct error *e)
{
	struct net_conn	 c;
	int		 rc;

	if (node_dial(&c, &t->opts, host, port, e) == -1)
		return -1;
	rc = cluster_map_load(&t->map, &c, host, e);
	net_close(&c);
	return rc;
}

/* CLUSTER SLOTS from prefer, or any known node, or the seed. */
int
target_refresh(struct target *t, struct node *prefer, int force)
{
	struct node	*nd;
	struct error	 e;
	uint64_t	 now = node_now();

	if (!force && now - t->last_refresh < REFRESH_MIN_MS)
		return 0;
	t->last_refresh = now;
	t->stats.refreshes++;
	err_clear(&e);
	if (prefer != NULL && load_slots(t, prefer->host, prefer->port,
	    &e) == 0)
		return 0;
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd == prefer || nd->conn.fd == -1)
			continue;
		if (load_slots(t, nd->host, nd->port, &e) == 0)
			return 0;
	}
	if (load_slots(t, t->opts.host, t->opts.port, &e) == 0)
		return 0;
	log_warnx("%s (slot map not refreshed)", e.msg);
	return -1;
}

static struct node *
route(struct target *t, unsigned int slot, int keyless)
{
	struct node	*nd;

	if (!t->cluster)
		return TAILQ_FIRST(&t->nodes);
	if (keyless) {
		TAILQ_FOREACH(nd, &t->nodes, entry)
			if (nd->nslots > 0)
				return nd;
		return NULL;
	}
	return t->map.slots[slot];
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
redirect(struct target *t, struct node *nd, const redisReply *r)
{
	struct node_cmd		*c = NODE_CMD(nd, 0);
	enum cluster_redirect	 kind;
	struct node		*dst;
	unsigned int		 slot;
	char			 host[CLUSTER_HOSTLEN], key[300];
	int			 port;

	kind = cluster_parse_redirect(r->str, r->len, &slot, host,
	    sizeof(host), &port);
	if (kind == REDIRECT_NONE)
		return 0;
	if (++c->redirects > MAX_REDIRECTS)
		return tfail(t, ERR_TARGET, "target %s: key \"%s\": more than %d "
		    "redirections, last: %s", nd->name, key_repr(node_cmd_key(nd, c),
		    c->keylen, key, sizeof(key)), MAX_REDIRECTS, r->str);
	if ((dst = node_get(t, host, port)) == NULL)
		return tfail(t, ERR_SYS, "target: out of memory");
	if (kind == REDIRECT_MOVED) {
		t->stats.moved++;
		nd->moved++;
		target_refresh(t, dst, 0);
		cluster_map_set(&t->map, slot, dst);
		if (requeue(t, nd, nd->n, dst, 0, MATCH_SLOT, 0, 0) == -1)
			return -1;
	} else {
		t->stats.ask++;
		nd->ask++;
		if (requeue(t, nd, nd->n, dst, 1, MATCH_KEY, 0, 0) == -1)
			return -1;
	}
	return 1;
}

static int
select_again(struct target *t, struct node *nd)
{
	struct node_cmd	*c;
	const char	*argv[2];
	size_t		 argvlen[2];
	char		 num[16];

	snprintf(num, sizeof(num), "%d", nd->db);
	argv[0] = "SELECT";
	argv[1] = num;
	argvlen[0] = 6;
	argvlen[1] = strlen(num);
	if ((c = node_append(nd, 2, argv, argvlen, -1)) == NULL)
		return tfail_node(t, nd);
	c->flags = CMD_KEYLESS | CMD_SELECT | CMD_INTERNAL;
	c->selectdb = nd->db;
	return 0;
}

static int
retry(struct target *t, struct node *nd, const redisReply *r)
{
	struct node_cmd	*c = NODE_CMD(nd, 0);
	struct node	*dst = nd;
	uint64_t	 now = node_now(), hold;
	size_t		 n;
	int		 asking;
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
		return tfail(t, ERR_TARGET, "target %s: key \"%s\": still \"%s\" after %d ms",
		    nd->name, key_repr(node_cmd_key(nd, c), c->keylen, key,
		    sizeof(key)), r->str, t->opts.retry_ms);
	if (c->tries < UINT8_MAX)
		c->tries++;
	/*
	 * An ASKING copy the importing node answered TRYAGAIN is retried
	 * there, ASKING again, not sent back to the migrating node the map
	 * still names: a later command of its key may already wait on that
	 * node, sent there through the stale map, and its ASK would then
	 * take the retried copy along behind it to the importing node, which
	 * would run the later command first.  Kept here, the copy is a probe
	 * that such a later command, redirected here, queues behind.  Once
	 * the slot is moved the importing node runs it; a migration given
	 * up answers MOVED.
	 */
	asking = (c->flags & CMD_ASKING) != 0;
	if (t->cluster && !(c->flags & CMD_KEYLESS) && !asking) {
		if (strncmp(r->str, "CLUSTERDOWN", 11) == 0)
			target_refresh(t, NULL, 0);
		if (t->map.slots[c->slot] != NULL)
			dst = t->map.slots[c->slot];
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
	return requeue(t, nd, n, dst, asking, t->cluster ? MATCH_SLOT :
	    MATCH_ALL, 1, 1) == -1 ? -1 : 1;
}

static int
deliver(struct target *t, struct node *nd, uint64_t tag, const redisReply *r)
{
	int	rc;

	if (t->cb == NULL) {
		if (r->type == REDIS_REPLY_ERROR)
			return tfail(t, ERR_TARGET, "target %s: %s", nd->name, r->str);
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
handle_reply(void *arg, struct node *nd, const redisReply *r)
{
	struct target	*t = arg;
	struct tgroup	*group;
	struct node_cmd	*c;
	uint64_t	 tag;
	int		 rc;
	char		 key[300];

	if (nd->n == 0 || NODE_CMD(nd, 0)->off >= nd->wpos)
		return tfail(t, ERR_PROTO, "target %s: a reply that matches no command "
		    "sent", nd->name);
	c = NODE_CMD(nd, 0);
	if ((c->flags & (CMD_ASKING | CMD_ASKED)) == CMD_ASKING) {
		c->flags |= CMD_ASKED;
		return 0;
	}
	/* a command ran here: the replicas have yet to acknowledge it */
	if (r->type != REDIS_REPLY_ERROR && !(c->flags & CMD_DURABLE))
		nd->dirty = 1;
	/* even a tombstone's SELECT changed the connection's db */
	if ((c->flags & CMD_SELECT) && r->type != REDIS_REPLY_ERROR)
		nd->db = c->selectdb;
	if (c->flags & CMD_TOMB) {
		if ((c->flags & CMD_NORESEND) && r->type != REDIS_REPLY_ERROR)
			return tfail(t, ERR_TARGET, "target %s: key \"%s\": a command that is "
			    "not safe to run twice ran here after it was "
			    "redirected, and its copy would run it again",
			    nd->name, key_repr(node_cmd_key(nd, c), c->keylen, key,
			    sizeof(key)));
		node_pop(nd);
		return 0;
	}
	if (c->flags & CMD_DURABLE)
		return durable_reply(nd, r);
	if (r->type == REDIS_REPLY_ERROR) {
		rc = t->cluster ? redirect(t, nd, r) : 0;
		if (rc == 0)
			rc = retry(t, nd, r);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			node_done(nd);
			return t->map.changed ? target_remap(t) : 0;
		}
	}
	tag = c->tag;
	if (c->flags & CMD_INTERNAL) {
		node_done(nd);
		if (r->type == REDIS_REPLY_ERROR)
			return tfail(t, ERR_TARGET, "target %s: SELECT: %s", nd->name,
			    r->str);
		return 0;
	}
	group = c->group;
	node_done(nd);
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

/* nd's connection is gone; its commands wait for the next one. */
static int
lost(void *arg, struct node *nd, const char *why)
{
	struct target	*t = arg;
	size_t		 unsafe = node_unsafe(nd);
	uint64_t	 now = node_now();

	if (unsafe > 0)
		tfail(t, ERR_IO, "target: connection to %s lost (%s) with %zu "
		    "unacknowledged commands that are not safe to resend",
		    nd->name, why, unsafe);
	else
		log_warnx("target %s: connection lost (%s); %zu commands to "
		    "resend", nd->name, why, nd->live);
	if (nd->down_since != 0 &&
	    now - nd->down_since >= (uint64_t)t->opts.retry_ms)
		tfail(t, ERR_IO, "target %s: %s; gave up after %d ms with %zu commands "
		    "unacknowledged", nd->name, why, t->opts.retry_ms,
		    nd->live);
	node_reset(nd, why, now);
	return t->failed ? -1 : 0;
}

/*
 * A lost node whose slots went to another master with nothing unsafe
 * behind (no write since its replicas acknowledged): its commands
 * follow their slots.
 */
static int
node_migrate(struct target *t, struct node *nd)
{
	struct node	*dst;
	struct node_cmd	*c;

	while (nd->n > 0) {
		c = NODE_CMD(nd, 0);
		if (c->flags & CMD_TOMB) {
			node_pop(nd);
			continue;
		}
		dst = route(t, c->slot, c->flags & CMD_KEYLESS);
		if (dst == NULL || dst == nd)
			return 0;
		if (node_copy(nd, 0, dst, 0, 0) == -1)
			return tfail_node(t, dst);
		node_done(nd);
	}
	return 0;
}

static int
node_reconnect(struct target *t, struct node *nd, uint64_t now)
{
	int		was_lost = nd->down_since != 0 || nd->attempts > 0;
	uint64_t	wait;

	if (node_connect_db(t, nd) == 0) {
		if (was_lost) {
			t->stats.reconnects++;
			nd->reconnects++;
		}
		log_info("target %s: connected, resending %zu commands",
		    nd->name, nd->live);
		return 0;
	}
	if (!err_retryable(nd->err.kind))
		return tfail_node(t, nd);
	if (nd->down_since == 0)
		nd->down_since = now;
	if (t->cluster && target_refresh(t, NULL, 1) == 0 &&
	    ((t->map.changed && target_remap(t) == -1) ||
	    (nd->nslots == 0 && nd->lost_dirty &&
	    durable_failover(t, nd) == -1) ||
	    (nd->nslots == 0 && node_migrate(t, nd) == -1)))
		return -1;
	if (nd->n == 0) {
		nd->down_since = 0;
		return 0;
	}
	if (now - nd->down_since >= (uint64_t)t->opts.retry_ms)
		return tfail(t, ERR_IO, "%s; gave up after %d ms with %zu "
		    "commands unacknowledged", nd->err.msg, t->opts.retry_ms, nd->live);
	wait = RECONNECT_FIRST_MS << (nd->attempts < 6 ? nd->attempts : 6);
	if (wait > RECONNECT_MAX_MS)
		wait = RECONNECT_MAX_MS;
	nd->attempts++;
	nd->next_try = now + wait;
	return 0;
}


/*
 * One round of I/O on every node: reconnect what is due, write what may be
 * written, read what arrived, waiting up to maxwait ms for any of it.
 */
static int
pump(struct target *t, int maxwait)
{
	struct node	*nd;
	struct pollfd	*pfd;
	size_t		 np = 0, i;
	uint64_t	 now = node_now();
	int		 timeout = 1000, rc;

	if (t->failed)
		return -1;
	if (t->map.changed && target_remap(t) == -1)
		return -1;
	if (t->pfdsz < t->nnodes) {
		free(t->pfd);
		free(t->pnode);
		t->pfd = calloc(t->nnodes, sizeof(*t->pfd));
		t->pnode = calloc(t->nnodes, sizeof(*t->pnode));
		if (t->pfd == NULL || t->pnode == NULL) {
			t->pfdsz = 0;
			return tfail(t, ERR_SYS, "target: out of memory");
		}
		t->pfdsz = t->nnodes;
	}
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd->conn.fd != -1 && nd->wpos > nd->start &&
		    node_check_silence(nd, now, t->opts.reply_timeout_ms,
		    &timeout) == -1)
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
		if (nd->wpos < node_write_limit(nd)) {
			if (now >= nd->hold_until)
				pfd->events |= POLLOUT;
			else if (nd->hold_until - now < (uint64_t)timeout)
				timeout = (int)(nd->hold_until - now);
		}
		if (net_pending(&nd->conn))
			timeout = 0;
		pfd->events = net_events(&nd->conn, pfd->events);
		t->pnode[np++] = nd;
	}
	if (timeout > maxwait)
		timeout = maxwait;
	rc = poll(t->pfd, np, timeout);
	if (rc == -1 && errno != EINTR)
		return tfail(t, ERR_SYS, "target: poll: %s", strerror(errno));
	if (rc == -1)
		return 0;
	/*
	 * Read before writing: a connection the server closed while idle is
	 * seen as lost with nothing in flight, and the commands queued since
	 * go to the new one instead of into a dead socket.
	 */
	for (i = 0; i < np; i++) {
		nd = t->pnode[i];
		if (net_ready(&nd->conn, POLLIN, t->pfd[i].revents) &&
		    node_read(nd, t->rbuf, READ_CHUNK) == -1)
			return tfail_node(t, nd);
		if (nd->conn.fd == -1 || nd->conn.fd != t->pfd[i].fd)
			continue;
		if ((t->pfd[i].events & POLLOUT || nd->conn.wwant != 0) &&
		    net_ready(&nd->conn, POLLOUT, t->pfd[i].revents) &&
		    node_write(nd) == -1)
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

	if (node_dial(&c, o, o->host, o->port, e) == -1)
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
		rc = cluster_map_load(&t->map, &c, o->host, e);
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
	struct node	*nd;
	char		 name[CLUSTER_HOSTLEN + 16];

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->rbuf = malloc(READ_CHUNK)) == NULL) {
		free(t);
		err_set(e, ERR_SYS, "target: out of memory");
		return NULL;
	}
	TAILQ_INIT(&t->nodes);
	LIST_INIT(&t->groups);
	t->map.node = node_get;
	t->map.arg = t;
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
	t->last_refresh = node_now();
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (node_connect_db(t, nd) == -1) {
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
	struct node	*nd;
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
enqueue(struct target *t, struct node *nd, int argc, const char **argv,
    const size_t *argvlen, int keyidx, unsigned int slot, uint64_t tag,
    struct tgroup *group, int flags)
{
	struct node_cmd	*c;

	if ((c = node_append(nd, argc, argv, argvlen, keyidx)) == NULL)
		return tfail_node(t, nd);
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
	struct node	*nd;
	unsigned int	 slot = 0;

	if (t->failed)
		return -1;
	if (argc < 1 || keyidx >= argc || keyidx < -1)
		return tfail(t, ERR_TARGET, "target: bad command (argc %d, key index %d)",
		    argc, keyidx);
	if (keyidx >= 0)
		slot = cluster_keyslot(argv[keyidx], argvlen[keyidx]);
	/*
	 * Routed again after every wait for the window: the slot may have
	 * moved meanwhile, and its older commands with it.
	 */
	for (;;) {
		if ((nd = route(t, slot, keyidx < 0)) == NULL) {
			target_refresh(t, NULL, 1);
			if (t->map.changed && target_remap(t) == -1)
				return -1;
			if ((nd = route(t, slot, keyidx < 0)) == NULL)
				return tfail(t, ERR_TARGET, "target %s:%d: no master serves "
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
	struct node	*nd;
	struct tgroup	*g;
	size_t		 n = 0;

	if (t->failed)
		return -1;
	if (argc < 1)
		return tfail(t, ERR_TARGET, "target: empty command");
	TAILQ_FOREACH(nd, &t->nodes, entry)
		if (!t->cluster || nd->nslots > 0)
			n++;
	if (n == 0)
		return tfail(t, ERR_TARGET, "target %s:%d: no master to send "
		    "to", t->opts.host, t->opts.port);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return tfail(t, ERR_SYS, "target: out of memory");
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
	while (!t->failed && pending(t) > 0)
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
	return pending(t);
}

size_t
target_pending_bytes(const struct target *t)
{
	const struct node	*nd;
	size_t			 n = 0;

	TAILQ_FOREACH(nd, &t->nodes, entry)
		n += nd->end - nd->start;
	return n;
}

int
target_room(const struct target *t)
{
	const struct node	*nd;

	if (t->failed)
		return 1;	/* the next send says why */
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd->conn.fd == -1 && nd->n > 0)
			return 0;
		if (nd->n >= t->opts.window / 2)
			return 0;
	}
	return 1;
}

int
target_pollfds(struct target *t, struct pollfd *pfd, int max, int *timeout)
{
	struct node	*nd;
	uint64_t	 now = node_now();
	int		 n = 0;

	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (nd->n == 0 && nd->conn.fd == -1)
			continue;
		/* reconnects, resends after TRYAGAIN: pump() knows when */
		if ((nd->conn.fd == -1 || nd->hold_until > now) &&
		    *timeout > TARGET_TICK_MS)
			*timeout = TARGET_TICK_MS;
		if (nd->conn.fd == -1 || n == max)
			continue;
		pfd[n].fd = nd->conn.fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		if (nd->wpos < node_write_limit(nd) && now >= nd->hold_until)
			pfd[n].events |= POLLOUT;
		pfd[n].events = net_events(&nd->conn, pfd[n].events);
		if (net_pending(&nd->conn))
			*timeout = 0;
		n++;
	}
	if (n == max && *timeout > TARGET_TICK_MS)
		*timeout = TARGET_TICK_MS;
	return n;
}
