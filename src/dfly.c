/*
 * dfly.c - replication protocol client: handshake, FLOW, DFLY SYNC,
 * DFLY STARTSTABLE (replication.md sections 2-4), DFLY TAKEOVER (section
 * 10), on net.h's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

#include "dfly.h"

int
dfly_connect(struct net_conn *c, const char *host, int port,
    const char *user, const char *password, int timeout_ms, struct error *e)
{
	return net_connect(c, "", host, port, timeout_ms, user, password, e);
}

int
dfly_open(struct net_conn *c, const struct config *cfg, struct error *e)
{
	if (net_connect_tls(c, "source", cfg->source_host, cfg->source_port,
	    cfg->timeout_ms, cfg->source_user, cfg->source_password,
	    &cfg->source_tls, e) == -1)
		return -1;
	/* connected, the logs name the master by its address */
	net_format_addr(c->name, sizeof(c->name), cfg->source_host,
	    cfg->source_port);
	return 0;
}

/*
 * One command and its reply.  An error reply fails it, naming the
 * command and its first argument (never AUTH's): a refusal of our
 * credentials is ERR_AUTH, anything else ERR_PROTO.
 */
static redisReply *
command(struct net_conn *c, int argc, const char **argv, struct error *e)
{
	redisReply	*r;
	int		 sub;

	if ((r = net_command(c, argc, argv, NULL, e)) == NULL)
		return NULL;
	if (r->type != REDIS_REPLY_ERROR)
		return r;
	sub = argc > 1 && strcasecmp(argv[0], "AUTH") != 0;
	err_set(e, net_auth_refused(r->str) ? ERR_AUTH : ERR_PROTO,
	    "%s: %s%s%s: -%s", c->name, argv[0], sub ? " " : "",
	    sub ? argv[1] : "", r->str);
	freeReplyObject(r);
	return NULL;
}

static int
is_status(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0;
}

static int
command_ok(struct net_conn *c, int argc, const char **argv, struct error *e)
{
	redisReply	*r;
	int		 ok;

	if ((r = command(c, argc, argv, e)) == NULL)
		return -1;
	ok = is_status(r, "OK");
	freeReplyObject(r);
	if (!ok)
		return err_set(e, ERR_PROTO, "%s: %s %s: expected +OK",
		    c->name, argv[0], argc > 1 ? argv[1] : "");
	return 0;
}

static int
is_text(const redisReply *r)
{
	return r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING;
}

static int
copy_id(char *dst, const redisReply *r, const char *what, const char *peer,
    struct error *e)
{
	if (!is_text(r) || r->len != DFLY_ID_LEN)
		return err_set(e, ERR_PROTO, "%s: bad %s in the capa reply",
		    peer, what);
	memcpy(dst, r->str, DFLY_ID_LEN + 1);
	return 0;
}

/* The reply to REPLCONF capa dragonfly: [replid, syncid, flows, ver, id]. */
static int
parse_capa(struct net_conn *c, const redisReply *r, struct dfly_master *m,
    struct error *e)
{
	redisReply * const *el = r->element;

	if (copy_id(m->replid, el[0], "master id", c->name, e) == -1)
		return -1;
	if (!is_text(el[1]) || strncmp(el[1]->str, "SYNC", 4) != 0 ||
	    strlcpy(m->syncid, el[1]->str, sizeof(m->syncid)) >=
	    sizeof(m->syncid))
		return err_set(e, ERR_PROTO, "%s: bad sync id in the capa "
		    "reply", c->name);
	if (el[2]->type != REDIS_REPLY_INTEGER || el[2]->integer <= 0 ||
	    el[2]->integer > DFLY_MAX_FLOWS)
		return err_set(e, ERR_PROTO, "%s: flow count %lld out of range "
		    "1..%d", c->name, el[2]->type == REDIS_REPLY_INTEGER ?
		    el[2]->integer : 0, DFLY_MAX_FLOWS);
	m->nflows = (int)el[2]->integer;
	m->version = -1;
	if (r->elements >= 4) {
		if (el[3]->type != REDIS_REPLY_INTEGER)
			return err_set(e, ERR_PROTO, "%s: bad version in the "
			    "capa reply", c->name);
		m->version = (int)el[3]->integer;
	}
	if (r->elements >= 5 && copy_id(m->lineage, el[4], "lineage id",
	    c->name, e) == -1)
		return -1;
	return 0;
}

int
dfly_handshake(struct net_conn *c, struct dfly_master *m, struct error *e)
{
	static const char *ping[] = { "PING" };
	static const char *port[] = { "REPLCONF", "listening-port", "0" };
	static const char *capa[] = { "REPLCONF", "capa", "eof", "capa",
	    "psync2" };
	static const char *dfly[] = { "REPLCONF", "capa", "dragonfly" };
	const char	*ver[] = { "REPLCONF", "CLIENT-VERSION", NULL };
	char		 verstr[16];
	redisReply	*r;
	int		 ok;

	memset(m, 0, sizeof(*m));
	if ((r = command(c, 1, ping, e)) == NULL)
		return -1;
	ok = is_status(r, "PONG");
	freeReplyObject(r);
	if (!ok)
		return err_set(e, ERR_PROTO, "%s: PING: expected +PONG",
		    c->name);
	if (command_ok(c, 3, port, e) == -1 || command_ok(c, 5, capa, e) == -1)
		return -1;
	if ((r = command(c, 3, dfly, e)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
		err_set(e, ERR_CONFIG, "%s: not a Dragonfly master "
		    "(REPLCONF capa dragonfly answered %s)", c->name,
		    r->type == REDIS_REPLY_STATUS ? r->str : "something else");
		freeReplyObject(r);
		return -1;
	}
	ok = parse_capa(c, r, m, e);
	freeReplyObject(r);
	if (ok == -1)
		return -1;
	if (m->version < 0)
		return 0;	/* pre-1.4 masters know no CLIENT-VERSION */
	snprintf(verstr, sizeof(verstr), "%d", DFLY_CLIENT_VERSION);
	ver[2] = verstr;
	return command_ok(c, 3, ver, e);
}

int
dfly_keys(struct net_conn *c, uint64_t *keys, struct error *e)
{
	static const char *info[] = { "INFO", "keyspace" };
	redisReply	*r;
	const char	*p;
	unsigned long long n;

	*keys = 0;
	if ((r = command(c, 2, info, e)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return err_set(e, ERR_PROTO, "%s: INFO keyspace: not a bulk "
		    "string", c->name);
	}
	/* "db0:keys=N,expires=E,avg_ttl=T" per database */
	for (p = r->str; (p = strstr(p, ":keys=")) != NULL; p += 6)
		if (sscanf(p + 6, "%llu", &n) == 1)
			*keys += n;
	freeReplyObject(r);
	return 0;
}

static int
parse_flow(struct net_conn *c, const redisReply *r, int flow,
    struct dfly_flow_reply *fr, struct error *e)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STATUS ||
	    r->element[1]->type != REDIS_REPLY_STATUS)
		return err_set(e, ERR_PROTO, "%s: DFLY FLOW %d: malformed "
		    "reply", c->name, flow);
	if (strcmp(r->element[0]->str, "FULL") == 0)
		fr->partial = 0;
	else if (strcmp(r->element[0]->str, "PARTIAL") == 0)
		fr->partial = 1;
	else
		return err_set(e, ERR_PROTO, "%s: DFLY FLOW %d: unknown sync "
		    "type \"%.64s\"", c->name, flow, r->element[0]->str);
	if (r->element[1]->len != DFLY_ID_LEN)
		return err_set(e, ERR_PROTO, "%s: DFLY FLOW %d: token is not "
		    "%d bytes", c->name, flow, DFLY_ID_LEN);
	memcpy(fr->token, r->element[1]->str, DFLY_ID_LEN + 1);
	return 0;
}

int
dfly_flow(struct net_conn *c, const struct dfly_master *m, int flow,
    uint64_t lsn, struct dfly_flow_reply *fr, struct error *e)
{
	const char	*argv[6];
	char		 flowstr[16], lsnstr[32];
	redisReply	*r;
	int		 argc = 5, rc;

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
	if ((r = command(c, argc, argv, e)) == NULL)
		return -1;
	rc = parse_flow(c, r, flow, fr, e);
	freeReplyObject(r);
	return rc;
}

int
dfly_sync(struct net_conn *c, const struct dfly_master *m, struct error *e)
{
	const char	*argv[] = { "DFLY", "SYNC", m->syncid };

	return command_ok(c, 3, argv, e);
}

int
dfly_startstable(struct net_conn *c, const struct dfly_master *m,
    struct error *e)
{
	const char	*argv[] = { "DFLY", "STARTSTABLE", m->syncid };

	return command_ok(c, 3, argv, e);
}

int
dfly_startstable_send(struct net_conn *c, const struct dfly_master *m,
    struct error *e)
{
	const char	*argv[] = { "DFLY", "STARTSTABLE", m->syncid };

	return net_send(c, 3, argv, NULL, e);
}

/* The +OK of a command sent with net_send(), named by what. */
static int
read_ok(struct net_conn *c, const char *what, struct error *e)
{
	redisReply	*r;
	int		 rc = 0;

	if ((r = net_read(c, e)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		rc = err_set(e, ERR_PROTO, "%s: %s: -%s", c->name, what,
		    r->str);
	else if (!is_status(r, "OK"))
		rc = err_set(e, ERR_PROTO, "%s: %s: expected +OK", c->name,
		    what);
	freeReplyObject(r);
	return rc;
}

int
dfly_startstable_reply(struct net_conn *c, struct error *e)
{
	return read_ok(c, "DFLY STARTSTABLE", e);
}

int
dfly_takeover_send(struct net_conn *c, const struct dfly_master *m,
    int timeout_s, struct error *e)
{
	const char	*argv[] = { "DFLY", "TAKEOVER", NULL, m->syncid };
	char		 t[16];

	snprintf(t, sizeof(t), "%d", timeout_s);
	argv[2] = t;
	return net_send(c, 4, argv, NULL, e);
}

int
dfly_takeover_reply(struct net_conn *c, struct error *e)
{
	return read_ok(c, "DFLY TAKEOVER", e);
}
