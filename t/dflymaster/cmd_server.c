/*
 * cmd_server.c - server commands: PING, ECHO, COMMAND, CONFIG, INFO, DEBUG
 * POPULATE, DFLYMASTER (the test hooks) and the replication entry points
 * REPLCONF and DFLY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dflymaster.h"
#include "text.h"
#include "options.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "repl.h"
#include "sample.h"
#include "cmd_server.h"

void
cmd_ping(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc > 1)
		reply_bulk(c, argv[1], lens[1]);
	else
		reply_simple(c, "PONG");
}

void
cmd_echo(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	reply_bulk(c, argv[1], lens[1]);
}

void
cmd_ok(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_ok(c);
}

void
cmd_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_array(c, 0);
}

void
cmd_config(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc == 3 && arg_is(argv[1], lens[1], "get")) {
		if (arg_is(argv[2], lens[2], "databases")) {
			reply_array(c, 2);
			reply_cstr(c, "databases");
			reply_cstr(c, "16");
		} else
			reply_array(c, 0);
		return;
	}
	if (argc >= 2 && arg_is(argv[1], lens[1], "set")) {
		reply_ok(c);
		return;
	}
	reply_syntax(c);
}

void
cmd_info(struct client *c, size_t argc, char **argv, size_t *lens)
{
	char		 buf[2048];
	size_t		 n, keys = 0;
	int		 db, nrep;

	(void)argc;
	(void)argv;
	(void)lens;
	nrep = repl_nsessions();
	n = (size_t)snprintf(buf, sizeof(buf), "# Server\r\n"
	    "redis_version:7.4.0\r\ndragonfly_version:df-v1.40.0-dflymaster\r\n"
	    "redis_mode:standalone\r\nnum_shards:%d\r\n\r\n"
	    "# Replication\r\nrole:master\r\nconnected_slaves:%d\r\n"
	    "master_replid:%s\r\n\r\n# Keyspace\r\n", options()->shards, nrep,
	    options()->master_id);
	for (db = 0; db < NDBS; db++) {
		keys = ks_dbsize(db);
		if (keys > 0 && n < sizeof(buf) - 64)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "db%d:keys=%zu,expires=0,avg_ttl=0\r\n", db, keys);
	}
	reply_bulk(c, buf, n);
}

void
cmd_debug(struct client *c, size_t argc, char **argv, size_t *lens)
{
	long long	 n, size = 0;
	char		 prefix[128] = "key";

	if (argc >= 3 && arg_is(argv[1], lens[1], "populate")) {
		if (parse_ll(argv[2], lens[2], &n) == -1 || n < 0 ||
		    (argc >= 5 && (parse_ll(argv[4], lens[4], &size) == -1 ||
		    size < 0 || size > 64 * 1024 * 1024))) {
			reply_notint(c);
			return;
		}
		if (argc >= 4) {
			if (lens[3] >= sizeof(prefix)) {
				reply_syntax(c);
				return;
			}
			memcpy(prefix, argv[3], lens[3]);
			prefix[lens[3]] = '\0';
		}
		ks_populate(c->db, (uint64_t)n, prefix, (size_t)size,
		    tx_single());
		reply_ok(c);
		return;
	}
	reply_error(c, "ERR DEBUG subcommand not supported");
}

void
cmd_dflymaster(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc == 2 && arg_is(argv[1], lens[1], "stats"))
		repl_stats(c);
	else if (argc == 2 && arg_is(argv[1], lens[1], "flows"))
		repl_flows(c);
	else if (argc == 2 && arg_is(argv[1], lens[1],
	    "evict-next-partial")) {
		repl_evict_next_partial();
		reply_ok(c);
	} else if (argc == 2 && arg_is(argv[1], lens[1], "load-sample")) {
		sample_load();
		reply_ok(c);
	} else
		reply_syntax(c);
}

void
cmd_replconf(struct client *c, size_t argc, char **argv, size_t *lens)
{
	repl_replconf(c, argc, argv, lens);
}

void
cmd_dfly(struct client *c, size_t argc, char **argv, size_t *lens)
{
	repl_dfly(c, argc, argv, lens);
}
