/*
 * tmpkeys.c - delete the temporary keys and sequence markers of killed
 * runs, and find a flow's LSN markers on resume (tmpkeys.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "net.h"
#include "tmpkeys.h"

#define SCAN_TIMEOUT_MS	60000	/* a SCAN or UNLINK of a big db */

#define CLEANUP_MATCH	"{*}df2redis:*"

/*
 * The part after "{N}MID" of a name, or NULL: N is the slot tag (digits)
 * every name of ours starts with.
 */
static const char *
after_tag(const char *p, const char *end, const char *mid)
{
	size_t	 n = strlen(mid);

	if (p == end || *p++ != '{' || p == end || !isdigit((unsigned char)*p))
		return NULL;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < n || memcmp(p, mid, n) != 0)
		return NULL;
	return p + n;
}

/* "{N}df2redis:seq:PID.N.XXXXXXXX" exactly, as marker_fmt() writes them. */
static int
is_seq_name(const char *p, size_t len)
{
	const char *end = p + len;
	int i;

	if ((p = after_tag(p, end, "}df2redis:seq:")) == NULL)
		return 0;
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

/* "{N}df2redis:lsn:FLOW" exactly, as lsn_marker_fmt() writes them. */
static int
is_lsn_name(const char *p, size_t len)
{
	const char *end = p + len;

	if ((p = after_tag(p, end, "}df2redis:lsn:")) == NULL || p == end)
		return 0;
	for (; p < end; p++)
		if (!isdigit((unsigned char)*p))
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

/*
 * What a SCAN looks for: every leftover (flow -1) to UNLINK, or the LSN
 * markers of one flow to hand to found().
 */
struct scan {
	int		  flow;
	char		  suffix[32];	/* "}df2redis:lsn:FLOW" */
	tmpkeys_found_cb *found;
	void		 *arg;
	int		  db;
};

static int
scan_wanted(const struct scan *sc, const char *p, size_t len)
{
	size_t n = strlen(sc->suffix);

	if (sc->flow < 0)
		return is_tmp_name(p, len) || is_seq_name(p, len) ||
		    is_lsn_name(p, len);
	return is_lsn_name(p, len) && len > n &&
	    memcmp(p + len - n, sc->suffix, n) == 0;
}

/* UNLINK a leftover, or GET a marker for found(); how many, -1 on error */
static long
scan_take(struct net_conn *c, const struct scan *sc, const redisReply *k,
    struct error *e)
{
	const char	*argv[2] = { sc->flow < 0 ? "UNLINK" : "GET", k->str };
	size_t		 len[2] = { strlen(argv[0]), k->len };
	const char	*errstr = NULL;
	redisReply	*d;
	uint64_t	 lsn;
	char		 num[32];
	long		 n = 0;

	if ((d = net_command_ok(c, 2, argv, len, e)) == NULL)
		return -1;
	if (sc->flow < 0 && d->type == REDIS_REPLY_INTEGER)
		n = d->integer;
	if (sc->flow >= 0 && d->type == REDIS_REPLY_STRING) {
		snprintf(num, sizeof(num), "%.*s", (int)d->len, d->str);
		lsn = strtonum(num, 0, LLONG_MAX, &errstr);
		if (errstr == NULL && sc->found(sc->arg, sc->db, k->str, k->len,
		    lsn) == -1) {
			freeReplyObject(d);
			return err_set(e, ERR_SYS, "out of memory");
		}
		n = errstr == NULL;
	}
	freeReplyObject(d);
	return n;
}

/* SCAN the current db of one master for what sc looks for. */
static long
cleanup_db(struct net_conn *c, const struct scan *sc, struct error *e)
{
	const char	*argv[6] = { "SCAN", NULL, "MATCH", CLEANUP_MATCH,
			    "COUNT", "1000" };
	char		 cursor[32] = "0", match[48];
	redisReply	*r, *keys, *k;
	long		 n = 0, got;
	size_t		 i;

	if (sc->flow >= 0) {
		snprintf(match, sizeof(match), "{*%s", sc->suffix);
		argv[3] = match;
	}
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
			    !scan_wanted(sc, k->str, k->len))
				continue;
			if ((got = scan_take(c, sc, k, e)) == -1) {
				freeReplyObject(r);
				return -1;
			}
			n += got;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

/* Every db of a standalone server that holds keys (INFO keyspace). */
static long
cleanup_dbs(struct net_conn *c, struct scan *sc, struct error *e)
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
		sc->db = db;
		if ((s = net_command_ok(c, 2, sel, NULL, e)) == NULL ||
		    (n = cleanup_db(c, sc, e)) == -1) {
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
    struct scan *sc, struct error *e)
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
		sc->db = 0;
		n = cleanup_db(&c, sc, e);
		net_close(&c);
		total = n == -1 ? -1 : total + n;
	}
	free(ranges);
	return total;
}

static long
scan_target(const struct target_opts *o, struct scan *sc, struct error *e)
{
	struct net_conn	 seed;
	long		 n;
	int		 cluster;

	if (open_node(o, &seed, o->host, o->port, e) == -1)
		return -1;
	if ((cluster = is_cluster(&seed, e)) == -1)
		n = -1;
	else if (cluster)
		n = cleanup_masters(o, &seed, sc, e);
	else
		n = cleanup_dbs(&seed, sc, e);
	net_close(&seed);
	return n;
}

long
tmpkeys_cleanup(const struct target_opts *o, struct error *e)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.flow = -1;
	return scan_target(o, &sc, e);
}

long
tmpkeys_markers(const struct target_opts *o, int flow, tmpkeys_found_cb *cb,
    void *arg, struct error *e)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.flow = flow;
	snprintf(sc.suffix, sizeof(sc.suffix), "}df2redis:lsn:%d", flow);
	sc.found = cb;
	sc.arg = arg;
	return scan_target(o, &sc, e);
}
