/*
 * scan.c - every db of every master of a target (scan.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "scan.h"
#include "target.h"

static int
open_node(const struct target_opts *o, struct net_conn *c, const char *host,
    int port, struct error *e)
{
	int	ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
		    TARGET_DEFAULT_CONNECT_MS;

	if (net_connect_tls(c, "target", host, port, ms, o->user,
	    o->password, &o->tls, e) == -1)
		return -1;
	c->timeout_ms = SCAN_TIMEOUT_MS;
	return 0;
}

/* Every db of a standalone server that holds keys (INFO keyspace). */
static long
each_db(struct net_conn *c, scan_db_fn *fn, void *arg, struct error *e)
{
	const char	*argv[2] = { "INFO", "keyspace" };
	const char	*sel[2] = { "SELECT", NULL };
	struct scan_db	 sd;
	redisReply	*r, *s;
	long		 n, total = 0;
	char		*p, num[16];
	int		 db;

	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	memset(&sd, 0, sizeof(sd));
	sd.c = c;
	sd.first = 0;
	sd.last = CLUSTER_NSLOTS - 1;
	for (p = r->type == REDIS_REPLY_STRING ? r->str : "";
	    (p = strstr(p, "db")) != NULL; p += 2) {
		if ((p != r->str && p[-1] != '\n') ||
		    sscanf(p, "db%d:", &db) != 1)
			continue;
		snprintf(num, sizeof(num), "%d", db);
		sel[1] = num;
		sd.db = db;
		if ((s = net_command_ok(c, 2, sel, NULL, e)) == NULL ||
		    (n = fn(arg, &sd, e)) == -1) {
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
each_master(const struct target_opts *o, struct net_conn *seed,
    scan_db_fn *fn, void *arg, struct error *e)
{
	const char		*argv[2] = { "CLUSTER", "SLOTS" };
	struct cluster_range	*ranges = NULL;
	struct net_conn		 c;
	struct scan_db		 sd;
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
		memset(&sd, 0, sizeof(sd));
		sd.c = &c;
		sd.cluster = 1;
		sd.first = ranges[i].first;
		sd.last = ranges[i].last;
		n = fn(arg, &sd, e);
		net_close(&c);
		total = n == -1 ? -1 : total + n;
	}
	free(ranges);
	return total;
}

long
scan_target(const struct target_opts *o, scan_db_fn *fn, void *arg,
    struct error *e)
{
	struct net_conn	 seed;
	long		 n;
	int		 cluster;

	if (open_node(o, &seed, o->host, o->port, e) == -1)
		return -1;
	if ((cluster = is_cluster(&seed, e)) == -1)
		n = -1;
	else if (cluster)
		n = each_master(o, &seed, fn, arg, e);
	else
		n = each_db(&seed, fn, arg, e);
	net_close(&seed);
	return n;
}

long
scan_keys(const struct scan_db *sd, const char *match, scan_keys_fn *fn,
    void *arg, struct error *e)
{
	const char	*argv[6] = { "SCAN", NULL, "COUNT", "10000", "MATCH",
			    match };
	char		 cursor[32] = "0";
	redisReply	*r;
	long		 n, total = 0;

	do {
		argv[1] = cursor;
		if ((r = net_command_ok(sd->c, match != NULL ? 6 : 4, argv,
		    NULL, e)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return err_set(e, ERR_PROTO, "%s: SCAN: unexpected "
			    "reply", sd->c->name);
		}
		strlcpy(cursor, r->element[0]->str, sizeof(cursor));
		n = fn(arg, sd, r->element[1], e);
		freeReplyObject(r);
		if (n == -1)
			return -1;
		total += n;
	} while (strcmp(cursor, "0") != 0);
	return total;
}
