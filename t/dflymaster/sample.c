/*
 * sample.c - DFLYMASTER LOAD-SAMPLE: a dataset holding every type and
 * encoding the snapshot writer can produce (snapshot.md 6.0), loaded through
 * the ordinary command handlers so that it is journaled like client writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "client.h"
#include "dispatch.h"
#include "sample.h"

static void
sx(struct client *c, const char *cmd, ...)
{
	char	*argv[64];
	size_t	 lens[64], n = 0;
	va_list	 ap;
	char	*a;

	argv[n] = (char *)cmd;
	lens[n++] = strlen(cmd);
	va_start(ap, cmd);
	while ((a = va_arg(ap, char *)) != NULL && n < 64) {
		argv[n] = a;
		lens[n++] = strlen(a);
	}
	va_end(ap);
	cmd_dispatch(c, n, argv, lens);
}

/*
 * Every type and encoding of snapshot.md 6.0 that the master produces:
 * strings (binary, empty, integer-looking, big), lists small and big,
 * intsets, sets, zsets small/big with +-inf, hashes small/big, a stream
 * with a group, PEL and consumers, TTL keys, JSON, keys in db 1.
 */
void
sample_load(void)
{
	struct client	 c;
	char		 k[64], v[256], *big;
	char		*bargv[3] = { "SET", "bin:\x01\x00\xff", "\x00\xff\r\n" };
	size_t		 blens[3] = { 3, 7, 4 };
	int		 i;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.dead = 1;		/* replies go nowhere */
	c.db = 0;
	sx(&c, "SET", "s:plain", "hello world", NULL);
	sx(&c, "SET", "s:int", "12345", NULL);
	sx(&c, "SET", "s:neg", "-7", NULL);
	sx(&c, "SET", "s:bigint", "123456789012345", NULL);
	sx(&c, "SET", "s:lead0", "007", NULL);
	sx(&c, "SET", "s:empty", "", NULL);
	sx(&c, "SET", "12345", "integer-looking key", NULL);
	cmd_dispatch(&c, 3, bargv, blens);
	if ((big = malloc(100001)) == NULL)
		fatal("malloc");
	memset(big, 'v', 100000);
	big[100000] = '\0';
	sx(&c, "SET", "s:big", big, NULL);
	free(big);
	sx(&c, "SET", "ttl:ex", "expires", "EX", "3600", NULL);
	sx(&c, "SET", "ttl:px", "expires", "PX", "7200000", NULL);
	sx(&c, "RPUSH", "l:small", "a", "b", "1", "2", "-3", NULL);
	for (i = 0; i < 3000; i++) {
		snprintf(v, sizeof(v), "element-%d-%s", i,
		    "padding-padding-padding");
		sx(&c, "RPUSH", "l:big", v, NULL);
	}
	sx(&c, "SADD", "set:int", "1", "2", "3", "-100", "70000",
	    "5000000000", NULL);
	sx(&c, "SADD", "set:str", "alpha", "beta", "gamma", NULL);
	for (i = 0; i < 600; i++) {
		snprintf(v, sizeof(v), "member-%d", i);
		sx(&c, "SADD", "set:big", v, NULL);
	}
	sx(&c, "ZADD", "z:small", "-inf", "neg", "1.5", "a", "2", "b", "+inf",
	    "pos", NULL);
	for (i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "%d.25", i);
		snprintf(v, sizeof(v), "zm-%d", i);
		sx(&c, "ZADD", "z:big", k, v, NULL);
	}
	sx(&c, "ZADD", "z:big", "-inf", "bottom", "+inf", "top", NULL);
	sx(&c, "HSET", "h:small", "f1", "v1", "f2", "2", NULL);
	for (i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "field-%d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		sx(&c, "HSET", "h:big", k, v, NULL);
	}
	memset(v, 'x', 100);
	v[100] = '\0';
	sx(&c, "HSET", "h:longval", "f", v, NULL);
	for (i = 0; i < 250; i++) {
		snprintf(k, sizeof(k), "%lld-1", 1700000000000LL + i);
		snprintf(v, sizeof(v), "%d", i);
		if (i % 7 == 0)
			sx(&c, "XADD", "x:s", k, "n", v, "extra", "e", NULL);
		else
			sx(&c, "XADD", "x:s", k, "n", v, NULL);
	}
	sx(&c, "XGROUP", "CREATE", "x:s", "g1", "0", NULL);
	sx(&c, "XGROUP", "CREATE", "x:s", "g2", "$", NULL);
	sx(&c, "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS",
	    "x:s", ">", NULL);
	sx(&c, "XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS",
	    "x:s", ">", NULL);
	sx(&c, "XACK", "x:s", "g1", "1700000000001-1", NULL);
	sx(&c, "JSON.SET", "j:doc", "$", "{\"a\":1,\"b\":[1,2,3],\"c\":\"x\"}",
	    NULL);
	sx(&c, "SELECT", "1", NULL);
	sx(&c, "SET", "db1:s", "in db 1", NULL);
	sx(&c, "HSET", "db1:h", "f", "v", NULL);
	sx(&c, "SADD", "db1:set", "7", "8", NULL);
}
