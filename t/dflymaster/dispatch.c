/*
 * dispatch.c - the command table, arity checks, MULTI/EXEC/DISCARD queues and
 * the LOADING refusal of writes while a takeover is running.
 */
#include <stdlib.h>

#include "log.h"
#include "text.h"
#include "client.h"
#include "resp.h"
#include "takeover.h"
#include "cmd_keys.h"
#include "cmd_string.h"
#include "cmd_server.h"
#include "cmd_hash.h"
#include "cmd_list.h"
#include "cmd_set.h"
#include "cmd_zset.h"
#include "cmd_stream.h"
#include "cmd_json.h"
#include "flow.h"
#include "dispatch.h"

static const struct command commands[] = {
	{ "ping", cmd_ping, -1, 0 },
	{ "echo", cmd_echo, 2, 0 },
	{ "command", cmd_command, -1, 0 },
	{ "client", cmd_ok, -2, 0 },
	{ "config", cmd_config, -2, 0 },
	{ "info", cmd_info, -1, 0 },
	{ "select", cmd_select, 2, 0 },
	{ "dbsize", cmd_dbsize, 1, 0 },
	{ "debug", cmd_debug, -2, CMD_WRITE },
	{ "dflymaster", cmd_dflymaster, -2, CMD_WRITE },
	{ "replconf", cmd_replconf, -1, CMD_ADMIN },
	{ "dfly", cmd_dfly, -2, CMD_ADMIN },
	{ "del", cmd_del, -2, CMD_WRITE },
	{ "unlink", cmd_del, -2, CMD_WRITE },
	{ "exists", cmd_exists, -2, 0 },
	{ "type", cmd_type, 2, 0 },
	{ "expire", cmd_expire, -3, CMD_WRITE },
	{ "pexpire", cmd_expire, -3, CMD_WRITE },
	{ "expireat", cmd_expire, -3, CMD_WRITE },
	{ "pexpireat", cmd_expire, -3, CMD_WRITE },
	{ "persist", cmd_persist, 2, CMD_WRITE },
	{ "ttl", cmd_ttl, 2, 0 },
	{ "pttl", cmd_ttl, 2, 0 },
	{ "expiretime", cmd_ttl, 2, 0 },
	{ "pexpiretime", cmd_ttl, 2, 0 },
	{ "rename", cmd_rename, 3, CMD_WRITE },
	{ "flushdb", cmd_flush, -1, CMD_WRITE },
	{ "flushall", cmd_flush, -1, CMD_WRITE },
	{ "scan", cmd_scan, -2, 0 },
	{ "set", cmd_set, -3, CMD_WRITE },
	{ "setex", cmd_setex, 4, CMD_WRITE },
	{ "psetex", cmd_setex, 4, CMD_WRITE },
	{ "get", cmd_get, 2, 0 },
	{ "mset", cmd_mset, -3, CMD_WRITE },
	{ "incr", cmd_incr, 2, CMD_WRITE },
	{ "decr", cmd_incr, 2, CMD_WRITE },
	{ "incrby", cmd_incr, 3, CMD_WRITE },
	{ "decrby", cmd_incr, 3, CMD_WRITE },
	{ "incrbyfloat", cmd_incrbyfloat, 3, CMD_WRITE },
	{ "append", cmd_append, 3, CMD_WRITE },
	{ "setrange", cmd_setrange, 4, CMD_WRITE },
	{ "getrange", cmd_getrange, 4, 0 },
	{ "mget", cmd_mget, -2, 0 },
	{ "strlen", cmd_strlen, 2, 0 },
	{ "hset", cmd_hset, -4, CMD_WRITE },
	{ "hdel", cmd_hdel, -3, CMD_WRITE },
	{ "hincrby", cmd_hincrby, 4, CMD_WRITE },
	{ "hget", cmd_hget, 3, 0 },
	{ "hmget", cmd_hmget, -3, 0 },
	{ "hscan", cmd_hscan, -3, 0 },
	{ "hgetall", cmd_hgetall, 2, 0 },
	{ "hlen", cmd_hlen, 2, 0 },
	{ "hsetex", cmd_hsetex, -5, CMD_WRITE },
	{ "hexpire", cmd_hexpire, -6, CMD_WRITE },
	{ "fieldexpire", cmd_fieldexpire, -4, CMD_WRITE },
	{ "hpexpiretime", cmd_hpexpiretime, -5, 0 },
	{ "httl", cmd_hpexpiretime, -5, 0 },
	{ "saddex", cmd_saddex, -4, CMD_WRITE },
	{ "lpush", cmd_push, -3, CMD_WRITE },
	{ "rpush", cmd_push, -3, CMD_WRITE },
	{ "lpop", cmd_pop, -2, CMD_WRITE },
	{ "rpop", cmd_pop, -2, CMD_WRITE },
	{ "ltrim", cmd_ltrim, 4, CMD_WRITE },
	{ "lrange", cmd_lrange, 4, 0 },
	{ "llen", cmd_llen, 2, 0 },
	{ "sadd", cmd_sadd, -3, CMD_WRITE },
	{ "srem", cmd_srem, -3, CMD_WRITE },
	{ "spop", cmd_spop, -2, CMD_WRITE },
	{ "smembers", cmd_smembers, 2, 0 },
	{ "scard", cmd_scard, 2, 0 },
	{ "smismember", cmd_smismember, -3, 0 },
	{ "sscan", cmd_sscan, -3, 0 },
	{ "zadd", cmd_zadd, -4, CMD_WRITE },
	{ "zrem", cmd_zrem, -3, CMD_WRITE },
	{ "zincrby", cmd_zincrby, 4, CMD_WRITE },
	{ "zrange", cmd_zrange, -4, 0 },
	{ "zscore", cmd_zscore, 3, 0 },
	{ "zcard", cmd_zcard, 2, 0 },
	{ "zmscore", cmd_zmscore, -3, 0 },
	{ "zscan", cmd_zscan, -3, 0 },
	{ "xadd", cmd_xadd, -5, CMD_WRITE },
	{ "xlen", cmd_xlen, 2, 0 },
	{ "xrange", cmd_xrange, -4, 0 },
	{ "xgroup", cmd_xgroup, -2, CMD_WRITE },
	{ "xreadgroup", cmd_xreadgroup, -7, CMD_WRITE },
	{ "xack", cmd_xack, -4, CMD_WRITE },
	{ "xinfo", cmd_xinfo, -3, 0 },
	{ "xpending", cmd_xpending, -3, 0 },
	{ "json.set", cmd_jsonset, 4, CMD_WRITE },
	{ "json.get", cmd_jsonget, -2, 0 },
};

static const struct command *
lookup(const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (arg_is(name, n, commands[i].name))
			return &commands[i];
	return NULL;
}

static int
check_arity(struct client *c, const struct command *cmd, size_t argc)
{
	if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
		reply_error(c, "ERR wrong number of arguments for '%s' command",
		    cmd->name);
		return -1;
	}
	return 0;
}

static void
run(struct client *c, const struct command *cmd, size_t argc, char **argv,
    size_t *lens)
{
	if (takeover_writes_blocked() && (cmd->flags & CMD_WRITE)) {
		reply_error(c, "LOADING Dragonfly is loading the dataset in "
		    "memory");
		return;
	}
	cmd->fn(c, argc, argv, lens);
}

static void
queue_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct mcmd	*m;
	size_t		 i;

	if ((c->mq = reallocarray(c->mq, c->nmq + 1, sizeof(*c->mq))) == NULL)
		fatal("reallocarray");
	m = &c->mq[c->nmq++];
	m->argc = argc;
	if ((m->argv = calloc(argc, sizeof(*m->argv))) == NULL ||
	    (m->lens = calloc(argc, sizeof(*m->lens))) == NULL)
		fatal("calloc");
	for (i = 0; i < argc; i++) {
		m->argv[i] = str_dup(argv[i], lens[i]).p;
		m->lens[i] = lens[i];
	}
	reply_simple(c, "QUEUED");
}

static void
discard_queue(struct client *c)
{
	client_mq_free(c);
	c->in_multi = 0;
	c->multi_err = 0;
}

/* journal.md 5: inner writes journaled one by one with the EXEC's txid */
static void
exec_queue(struct client *c)
{
	size_t	 i;

	if (c->multi_err) {
		discard_queue(c);
		reply_error(c, "EXECABORT Transaction discarded because of "
		    "previous errors.");
		return;
	}
	c->in_multi = 0;
	tx_exec_begin();
	reply_array(c, (long long)c->nmq);
	for (i = 0; i < c->nmq; i++)
		run(c, lookup(c->mq[i].argv[0], c->mq[i].lens[0]),
		    c->mq[i].argc, c->mq[i].argv, c->mq[i].lens);
	tx_exec_end();
	discard_queue(c);
}

void
cmd_dispatch(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const struct command	*cmd;

	if (c->kind == C_FLOW && !arg_is(argv[0], lens[0], "replconf")) {
		/* replication.md 3: a reply would corrupt the data stream */
		log_info("flow %d: ignoring %.*s on a flow connection",
		    c->flow ? c->flow->shard : -1, (int)lens[0], argv[0]);
		return;
	}
	if (arg_is(argv[0], lens[0], "multi")) {
		if (c->in_multi)
			reply_error(c, "ERR MULTI calls can not be nested");
		else {
			c->in_multi = 1;
			reply_ok(c);
		}
		return;
	}
	if (arg_is(argv[0], lens[0], "exec")) {
		if (!c->in_multi)
			reply_error(c, "ERR EXEC without MULTI");
		else
			exec_queue(c);
		return;
	}
	if (arg_is(argv[0], lens[0], "discard")) {
		if (!c->in_multi)
			reply_error(c, "ERR DISCARD without MULTI");
		else {
			discard_queue(c);
			reply_ok(c);
		}
		return;
	}
	if (arg_is(argv[0], lens[0], "quit")) {
		reply_ok(c);
		c->closing = 1;
		return;
	}
	if ((cmd = lookup(argv[0], lens[0])) == NULL) {
		reply_error(c, "ERR unknown command '%.*s'",
		    (int)(lens[0] > 64 ? 64 : lens[0]), argv[0]);
		return;
	}
	if (check_arity(c, cmd, argc) == -1)
		return;
	if (c->in_multi && !(cmd->flags & CMD_ADMIN)) {
		queue_command(c, argc, argv, lens);
		return;
	}
	run(c, cmd, argc, argv, lens);
}
