/*
 * tmpkeys.c - delete the temporary keys and sequence markers of killed
 * runs (tmpkeys.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "net.h"
#include "tmpkeys.h"

#define SCAN_TIMEOUT_MS	60000	/* a SCAN or UNLINK of a big db */

#define CLEANUP_MATCH	"{*}df2redis:*"

/* "{N}df2redis:seq:PID.N.XXXXXXXX" exactly, as marker_fmt() writes them. */
static int
is_seq_name(const char *p, size_t len)
{
	static const char mid[] = "}df2redis:seq:";
	const char *end = p + len;
	int i;

	if (len == 0 || *p++ != '{' || p == end || !isdigit((unsigned char)*p))
		return 0;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < sizeof(mid) - 1 ||
	    memcmp(p, mid, sizeof(mid) - 1) != 0)
		return 0;
	p += sizeof(mid) - 1;
	for (i = 0; i < 2; i++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (p == end || *p++ != '.')
			return 0;
	}
	if (end - p != 8)
		return 0;
	for (; p < end; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return 0;
	return 1;
}

/* "{N}df2redis:tmp:PID:N" exactly, as tmp_fmt() writes them. */
static int
is_tmp_name(const char *p, size_t len)
{
	static const char mid[] = "}df2redis:tmp:";
	const char *end = p + len;
	int part;

	if (len == 0 || *p++ != '{')
		return 0;
	for (part = 0; part < 3; part++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (part == 0) {
			if ((size_t)(end - p) < sizeof(mid) - 1 ||
			    memcmp(p, mid, sizeof(mid) - 1) != 0)
				return 0;
			p += sizeof(mid) - 1;
		} else if (part == 1) {
			if (p == end || *p++ != ':')
				return 0;
		}
	}
	return p == end;
}

static int
open_node(const struct target_opts *o, struct net_conn *c, const char *host,
    int port, struct error *e)
{
	int	ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
		    TARGET_DEFAULT_CONNECT_MS;

	if (net_connect(c, "target", host, port, ms, o->user, o->password,
	    e) == -1)
		return -1;
	c->timeout_ms = SCAN_TIMEOUT_MS;
	return 0;
}

/* SCAN the current db of one master, UNLINK what is a temporary name. */
static long
cleanup_db(struct net_conn *c, struct error *e)
{
	const char	*argv[6] = { "SCAN", NULL, "MATCH", CLEANUP_MATCH,
			    "COUNT", "1000" };
	const char	*del[2] = { "UNLINK", NULL };
	size_t		 dellen[2] = { 6, 0 };
	char		 cursor[32] = "0";
	redisReply	*r, *d, *keys, *k;
	long		 n = 0;
	size_t		 i;

	do {
		argv[1] = cursor;
		if ((r = net_command_ok(c, 6, argv, NULL, e)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return err_set(e, ERR_PROTO, "%s: SCAN: unexpected "
			    "reply", c->name);
		}
		strlcpy(cursor, r->element[0]->str, sizeof(cursor));
		keys = r->element[1];
		for (i = 0; i < keys->elements; i++) {
			k = keys->element[i];
			if (k->type != REDIS_REPLY_STRING ||
			    (!is_tmp_name(k->str, k->len) &&
			    !is_seq_name(k->str, k->len)))
				continue;
			del[1] = k->str;
			dellen[1] = k->len;
			if ((d = net_command_ok(c, 2, del, dellen, e)) ==
			    NULL) {
				freeReplyObject(r);
				return -1;
			}
			if (d->type == REDIS_REPLY_INTEGER)
				n += d->integer;
			freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

/* Every db of a standalone server that holds keys (INFO keyspace). */
static long
cleanup_dbs(struct net_conn *c, struct error *e)
{
	const char	*argv[2] = { "INFO", "keyspace" };
	const char	*sel[2] = { "SELECT", NULL };
	redisReply	*r, *s;
	long		 n, total = 0;
	char		*p, num[16];
	int		 db;

	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	for (p = r->type == REDIS_REPLY_STRING ? r->str : "";
	    (p = strstr(p, "db")) != NULL; p += 2) {
		if ((p != r->str && p[-1] != '\n') ||
		    sscanf(p, "db%d:", &db) != 1)
			continue;
		snprintf(num, sizeof(num), "%d", db);
		sel[1] = num;
		if ((s = net_command_ok(c, 2, sel, NULL, e)) == NULL ||
		    (n = cleanup_db(c, e)) == -1) {
			if (s != NULL)
				freeReplyObject(s);
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(s);
		total += n;
	}
	freeReplyObject(r);
	return total;
}

/* Whether the seed is a cluster node (INFO cluster); -1 on error. */
static int
is_cluster(struct net_conn *c, struct error *e)
{
	const char	*argv[2] = { "INFO", "cluster" };
	redisReply	*r;
	int		 cluster;

	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	cluster = r->type == REDIS_REPLY_STRING &&
	    strstr(r->str, "cluster_enabled:1") != NULL;
	freeReplyObject(r);
	return cluster;
}

/* Each master of the seed's CLUSTER SLOTS once. */
static long
cleanup_masters(const struct target_opts *o, struct net_conn *seed,
    struct error *e)
{
	const char		*argv[2] = { "CLUSTER", "SLOTS" };
	struct cluster_range	*ranges = NULL;
	struct net_conn		 c;
	redisReply		*r;
	char			 why[256];
	long			 n, total = 0;
	int			 nr, i, j;

	if ((r = net_command_ok(seed, 2, argv, NULL, e)) == NULL)
		return -1;
	nr = cluster_parse_slots(r, o->host, &ranges, why, sizeof(why));
	freeReplyObject(r);
	if (nr == -1)
		return err_set(e, ERR_PROTO, "%s: %s", seed->name, why);
	for (i = 0; i < nr && total != -1; i++) {
		for (j = 0; j < i; j++)
			if (ranges[j].port == ranges[i].port &&
			    strcmp(ranges[j].host, ranges[i].host) == 0)
				break;
		if (j < i)
			continue;
		if (open_node(o, &c, ranges[i].host, ranges[i].port, e) == -1) {
			total = -1;
			break;
		}
		n = cleanup_db(&c, e);
		net_close(&c);
		total = n == -1 ? -1 : total + n;
	}
	free(ranges);
	return total;
}

long
tmpkeys_cleanup(const struct target_opts *o, struct error *e)
{
	struct net_conn	 seed;
	long		 n;
	int		 cluster;

	if (open_node(o, &seed, o->host, o->port, e) == -1)
		return -1;
	if ((cluster = is_cluster(&seed, e)) == -1)
		n = -1;
	else if (cluster)
		n = cleanup_masters(o, &seed, e);
	else
		n = cleanup_dbs(&seed, e);
	net_close(&seed);
	return n;
}
