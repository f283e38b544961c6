/*
 * checkside.c - the two sides of `df2redis check` (check.h): a server, or
 * every master of a cluster with keys routed by their slot, on the
 * project's blocking connections (dfly.h for the source, node.h's dial
 * for the target, so both take the credentials and transport the daemon
 * uses); pipelined commands, MOVED and ASK followed by reloading the
 * slot map, every command counted against --max-ops.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dfly.h"
#include "node.h"

static int
side_dial(struct side *s, struct net_conn *c, const char *host, int port,
    struct error *e)
{
	const struct target_opts *o = s->opts;
	char			 addr[NET_NAMELEN - 8];

	if (s->is_source) {
		if (net_connect_tls(c, "", host, port, s->timeout_ms,
		    o->user, o->password, &o->tls, e) == -1)
			return err_prefix(e, "source");
		/* dfly.c names it by the address alone, as the daemon's log */
		net_format_addr(addr, sizeof(addr), host, port);
		snprintf(c->name, sizeof(c->name), "source %s", addr);
	} else if (node_dial(c, o, host, port, e) == -1)
		return -1;
	c->timeout_ms = s->timeout_ms;
	return 0;
}

void
side_close(struct side *s)
{
	int	 i;

	for (i = 0; i < s->nconns; i++)
		net_close(&s->conns[i]);
	free(s->conns);
	s->conns = NULL;
	s->nconns = 0;
}

/* The masters of CLUSTER SLOTS on seed, one connection each. */
static int
side_load_slots(struct side *s, struct net_conn *seed, struct error *e)
{
	const char		*argv[2] = { "CLUSTER", "SLOTS" };
	struct cluster_range	*ranges = NULL;
	struct net_conn		*conns = NULL;
	redisReply		*r;
	char			 why[256];
	int			*idx = NULL, nr, i, j, n = 0, rc = 0;
	unsigned int		 slot;

	check_ops(s->ck, 1);
	if ((r = net_command_ok(seed, 2, argv, NULL, e)) == NULL)
		return -1;
	nr = cluster_parse_slots(r, s->opts->host, &ranges, why, sizeof(why));
	freeReplyObject(r);
	if (nr <= 0)
		return err_set(e, ERR_PROTO, "%s: CLUSTER SLOTS: %s",
		    seed->name, nr == 0 ? "no masters" : why);
	if ((conns = calloc(nr, sizeof(*conns))) == NULL ||
	    (idx = calloc(nr, sizeof(*idx))) == NULL) {
		free(conns);
		free(ranges);
		return err_set(e, ERR_SYS, "out of memory");
	}
	for (i = 0; i < nr && rc == 0; i++) {
		for (j = 0; j < i; j++)
			if (ranges[j].port == ranges[i].port &&
			    strcmp(ranges[j].host, ranges[i].host) == 0)
				break;
		if (j < i)
			idx[i] = idx[j];
		else if (side_dial(s, &conns[n], ranges[i].host,
		    ranges[i].port, e) == -1)
			rc = -1;
		else
			idx[i] = n++;
	}
	for (i = 0; rc == 0 && i < nr; i++)
		for (slot = ranges[i].first; slot <= ranges[i].last &&
		    slot < CLUSTER_NSLOTS; slot++)
			s->slot_conn[slot] = idx[i];
	free(ranges);
	free(idx);
	if (rc == -1) {
		for (i = 0; i < n; i++)
			net_close(&conns[i]);
		free(conns);
		return -1;
	}
	side_close(s);
	s->conns = conns;
	s->nconns = n;
	return 0;
}

/* Connects, and on a cluster (INFO cluster) to every master. */
int
side_open(struct side *s, struct error *e)
{
	const char	*argv[2] = { "INFO", "cluster" };
	struct net_conn	 seed;
	redisReply	*r;
	int		 rc;

	if (side_dial(s, &seed, s->opts->host, s->opts->port, e) == -1)
		return -1;
	if ((r = net_command_ok(&seed, 2, argv, NULL, e)) == NULL) {
		net_close(&seed);
		return -1;
	}
	s->cluster = r->type == REDIS_REPLY_STRING &&
	    strstr(r->str, "cluster_enabled:1") != NULL;
	freeReplyObject(r);
	if (s->cluster) {
		rc = side_load_slots(s, &seed, e);
		net_close(&seed);
		return rc;
	}
	if ((s->conns = calloc(1, sizeof(*s->conns))) == NULL) {
		net_close(&seed);
		return err_set(e, ERR_SYS, "out of memory");
	}
	s->conns[0] = seed;
	s->nconns = 1;
	s->db = 0;
	return 0;
}

static struct net_conn *
side_conn(struct side *s, const char *key, size_t klen)
{
	if (!s->cluster || key == NULL)
		return &s->conns[0];
	return &s->conns[s->slot_conn[cluster_keyslot(key, klen)]];
}

int
side_select(struct side *s, int db, struct error *e)
{
	const char	*argv[2] = { "SELECT", NULL };
	char		 num[16];
	redisReply	*r;

	if (s->cluster || s->db == db)
		return 0;
	snprintf(num, sizeof(num), "%d", db);
	argv[1] = num;
	check_ops(s->ck, 1);
	if ((r = net_command_ok(&s->conns[0], 2, argv, NULL, e)) == NULL)
		return err_prefix(e, "db %d", db);
	freeReplyObject(r);
	s->db = db;
	return 0;
}

static int
is_redirect(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	    (strncmp(r->str, "MOVED ", 6) == 0 ||
	    strncmp(r->str, "ASK ", 4) == 0 ||
	    strncmp(r->str, "TRYAGAIN", 8) == 0);
}

/* A redirected command again, once the slot map was reloaded. */
static redisReply *
side_retry(struct side *s, struct side_cmd *c, struct error *e)
{
	struct net_conn	*conn;
	redisReply	*r;
	int		 tries;

	for (tries = 0; tries < 50; tries++) {
		usleep(100000);
		if (side_load_slots(s, &s->conns[0], e) == -1)
			return NULL;
		conn = c->keyidx < 0 ? &s->conns[0] : side_conn(s,
		    c->argv[c->keyidx], c->lens[c->keyidx]);
		check_ops(s->ck, 1);
		if ((r = net_command(conn, c->argc, c->argv, c->lens, e)) ==
		    NULL)
			return NULL;
		if (!is_redirect(r))
			return r;
		freeReplyObject(r);
	}
	err_set(e, ERR_TARGET, "%s: %s: still redirected after 5 s",
	    s->label, c->argv[0]);
	return NULL;
}

int
side_pipe(struct side *s, struct side_cmd *cmds, size_t n, redisReply **r,
    struct error *e)
{
	struct net_conn	*conn;
	size_t		 i, j;

	check_ops(s->ck, n);
	for (i = 0; i < n; i++) {
		conn = cmds[i].keyidx < 0 ? &s->conns[0] : side_conn(s,
		    cmds[i].argv[cmds[i].keyidx], cmds[i].lens[cmds[i].keyidx]);
		if (net_send(conn, cmds[i].argc, cmds[i].argv, cmds[i].lens,
		    e) == -1)
			return -1;
	}
	for (i = 0; i < n; i++) {
		conn = cmds[i].keyidx < 0 ? &s->conns[0] : side_conn(s,
		    cmds[i].argv[cmds[i].keyidx], cmds[i].lens[cmds[i].keyidx]);
		if ((r[i] = net_read(conn, e)) == NULL)
			break;
	}
	for (j = 0; i == n && j < n; j++) {
		if (!s->cluster || !is_redirect(r[j]))
			continue;
		freeReplyObject(r[j]);
		if ((r[j] = side_retry(s, &cmds[j], e)) == NULL) {
			/* the replies after it are read: drop them too */
			while (++j < n)
				freeReplyObject(r[j]);
			for (j = 0; r[j] != NULL; j++)
				freeReplyObject(r[j]);
			return -1;
		}
	}
	if (i < n) {
		for (j = 0; j < i; j++)
			freeReplyObject(r[j]);
		return -1;
	}
	return 0;
}

redisReply *
side_command(struct side *s, int argc, const char **argv, const size_t *lens,
    int keyidx, struct error *e)
{
	struct net_conn	*conn;
	struct side_cmd	 c;
	redisReply	*r;

	conn = keyidx < 0 ? &s->conns[0] :
	    side_conn(s, argv[keyidx], lens[keyidx]);
	check_ops(s->ck, 1);
	if ((r = net_command(conn, argc, argv, lens, e)) == NULL)
		return NULL;
	if (!s->cluster || !is_redirect(r) || argc > 8)
		return r;
	freeReplyObject(r);
	memset(&c, 0, sizeof(c));
	c.argc = argc;
	memcpy(c.argv, argv, argc * sizeof(*argv));
	memcpy(c.lens, lens, argc * sizeof(*lens));
	c.keyidx = keyidx;
	return side_retry(s, &c, e);
}

int
both_command(struct side *src, struct side *dst, int argc, const char **argv,
    const size_t *lens, int keyidx, redisReply **rs, redisReply **rt,
    struct error *e)
{
	struct net_conn	*cs, *ct;

	if (src->cluster || dst->cluster || argc > 8) {
		if ((*rs = side_command(src, argc, argv, lens, keyidx, e)) ==
		    NULL)
			return -1;
		if ((*rt = side_command(dst, argc, argv, lens, keyidx, e)) ==
		    NULL) {
			freeReplyObject(*rs);
			return -1;
		}
		return 0;
	}
	cs = side_conn(src, argv[keyidx], lens[keyidx]);
	ct = side_conn(dst, argv[keyidx], lens[keyidx]);
	check_ops(src->ck, 2);
	if (net_send(cs, argc, argv, lens, e) == -1)
		return -1;
	if (net_send(ct, argc, argv, lens, e) == -1)
		return -1;
	if ((*rs = net_read(cs, e)) == NULL)
		return -1;
	if ((*rt = net_read(ct, e)) == NULL) {
		freeReplyObject(*rs);
		return -1;
	}
	return 0;
}
