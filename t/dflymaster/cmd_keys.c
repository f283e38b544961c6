/*
 * cmd_keys.c - generic key commands: DEL, EXISTS, TYPE, EXPIRE and friends,
 * TTL, RENAME, SELECT, FLUSHDB/FLUSHALL, DBSIZE, SCAN, and the cursor walk
 * of a container's members that HSCAN, SSCAN and ZSCAN share.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "dflymaster.h"
#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "options.h"
#include "journal.h"
#include "snapshot.h"
#include "cmd_keys.h"

void
cmd_del(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const char	**kv;
	size_t		 *kl, i, n, deleted = 0;
	int		  sh, *done;
	uint64_t	  txid = argc > 2 ? tx_multi() : tx_single();

	if ((kv = calloc(argc, sizeof(*kv))) == NULL ||
	    (kl = calloc(argc, sizeof(*kl))) == NULL ||
	    (done = calloc(argc, sizeof(*done))) == NULL)
		fatal("calloc");
	for (i = 1; i < argc; i++)
		if (ks_lookup_write(c->db, argv[i], lens[i]) != NULL) {
			ks_delete(c->db, argv[i], lens[i]);
			done[i] = 1;
			deleted++;
		}
	/* journal.md 7: DEL with the keys actually deleted, per shard */
	for (sh = 0; sh < options()->shards; sh++) {
		kv[0] = "DEL";
		kl[0] = 3;
		for (i = 1, n = 1; i < argc; i++)
			if (done[i] && key_shard(argv[i], lens[i]) == sh) {
				kv[n] = argv[i];
				kl[n++] = lens[i];
			}
		if (n > 1)
			journal_cmd(sh, c->db, txid, n, kv, kl);
	}
	free(kv);
	free(kl);
	free(done);
	reply_int(c, (long long)deleted);
}

void
cmd_exists(struct client *c, size_t argc, char **argv, size_t *lens)
{
	size_t	 i, n = 0;

	for (i = 1; i < argc; i++)
		n += ks_lookup(c->db, argv[i], lens[i]) != NULL;
	reply_int(c, (long long)n);
}

static const char *
type_name(enum otype t)
{
	static const char *const names[] = { "string", "list", "set", "zset",
	    "hash", "stream", "ReJSON-RL" };

	return names[t];
}

void
cmd_type(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e = ks_lookup(c->db, argv[1], lens[1]);

	(void)argc;
	reply_simple(c, e ? type_name(((struct obj *)e->val)->type) : "none");
}

void
cmd_expire(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e;
	struct obj	*o;
	long long	 t;
	int64_t		 at, cur;
	size_t		 i;
	struct cond	 cd = { 0, 0, 0, 0 };

	if (parse_ll(argv[2], lens[2], &t) == -1) {
		reply_notint(c);
		return;
	}
	for (i = 3; i < argc; i++) {
		if (!cond_arg(argv[i], lens[i], &cd)) {
			reply_error(c, "ERR Unsupported option %.*s",
			    (int)lens[i], argv[i]);
			return;
		}
	}
	if (arg_is(argv[0], lens[0], "expire"))
		at = wall_ms() + t * 1000;
	else if (arg_is(argv[0], lens[0], "pexpire"))
		at = wall_ms() + t;
	else if (arg_is(argv[0], lens[0], "expireat"))
		at = t * 1000;
	else
		at = t;
	if ((e = ks_lookup_write(c->db, argv[1], lens[1])) == NULL) {
		reply_int(c, 0);
		return;
	}
	o = e->val;
	cur = o->expire_ms;
	if ((cd.nx && cur >= 0) || (cd.xx && cur < 0) ||
	    (cd.gt && (cur < 0 || at <= cur)) ||
	    (cd.lt && cur >= 0 && at >= cur)) {
		reply_int(c, 0);
		return;
	}
	set_expiry(c, argv[1], lens[1], o, at);
	reply_int(c, 1);
}

void
cmd_persist(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e = ks_lookup_write(c->db, argv[1], lens[1]);
	struct obj	*o;

	if (e == NULL || (o = e->val)->expire_ms < 0) {
		reply_int(c, 0);
		return;
	}
	o->expire_ms = -1;
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, 1);
}

void
cmd_ttl(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e = ks_lookup(c->db, argv[1], lens[1]);
	int64_t		 at;

	(void)argc;
	if (e == NULL) {
		reply_int(c, -2);
		return;
	}
	if ((at = ((struct obj *)e->val)->expire_ms) < 0) {
		reply_int(c, -1);
		return;
	}
	if (arg_is(argv[0], lens[0], "pexpiretime"))
		reply_int(c, at);
	else if (arg_is(argv[0], lens[0], "expiretime"))
		reply_int(c, (at + 999) / 1000);
	else if (arg_is(argv[0], lens[0], "pttl"))
		reply_int(c, at - wall_ms());
	else
		reply_int(c, (at - wall_ms() + 500) / 1000);
}

void
cmd_rename(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e;
	struct obj	*o;
	int		 ss = key_shard(argv[1], lens[1]);
	int		 ds = key_shard(argv[2], lens[2]);
	uint64_t	 txid;

	if ((e = ks_lookup_write(c->db, argv[1], lens[1])) == NULL) {
		reply_error(c, "ERR no such key");
		return;
	}
	txid = tx_multi();
	if (lens[1] == lens[2] && memcmp(argv[1], argv[2], lens[1]) == 0) {
		reply_ok(c);
		return;
	}
	ks_lookup_write(c->db, argv[2], lens[2]);
	o = e->val;
	e->val = NULL;
	ks_delete(c->db, argv[1], lens[1]);
	ks_create(c->db, argv[2], lens[2], o);
	if (ss == ds)
		journal_cmd(ss, c->db, txid, argc, (const char *const *)argv,
		    lens);
	else {
		/* journal.md 7: DEL src + RESTORE dst ... REPLACE ABSTTL */
		const char	*dv[2] = { "DEL", argv[1] };
		size_t		 dl[2] = { 3, lens[1] };
		struct obuf	 dump;
		char		 num[32];
		const char	*rv[6] = { "RESTORE", argv[2], num, NULL,
		    "REPLACE", "ABSTTL" };
		size_t		 rl[6] = { 7, lens[2], 0, 0, 7, 6 };

		memset(&dump, 0, sizeof(dump));
		snap_dump(o, &dump);
		rl[2] = (size_t)snprintf(num, sizeof(num), "%lld",
		    (long long)(o->expire_ms < 0 ? 0 : o->expire_ms));
		rv[3] = (const char *)dump.p;
		rl[3] = dump.len;
		journal_cmd(ss, c->db, txid, 2, dv, dl);
		journal_cmd(ds, c->db, txid, 6, rv, rl);
		obuf_free(&dump);
	}
	reply_ok(c);
}

void
cmd_select(struct client *c, size_t argc, char **argv, size_t *lens)
{
	long long	 db;

	(void)argc;
	if (parse_ll(argv[1], lens[1], &db) == -1) {
		reply_notint(c);
		return;
	}
	if (db < 0 || db >= NDBS) {
		reply_error(c, "ERR DB index is out of range");
		return;
	}
	c->db = (int)db;
	reply_ok(c);
}

/* journal.md 5: global commands, on every shard with one txid */
void
cmd_flush(struct client *c, size_t argc, char **argv, size_t *lens)
{
	uint64_t	 txid = tx_multi();
	const char	*name = arg_is(argv[0], lens[0], "flushall") ?
	    "FLUSHALL" : "FLUSHDB";
	size_t		 nl = strlen(name);
	int		 db, sh;

	(void)argc;
	if (name[5] == 'A')
		for (db = 0; db < NDBS; db++)
			ks_flushdb(db);
	else
		ks_flushdb(c->db);
	for (sh = 0; sh < options()->shards; sh++)
		journal_cmd(sh, c->db, txid, 1, &name, &nl);
	reply_ok(c);
}

void
cmd_dbsize(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_int(c, (long long)ks_dbsize(c->db));
}

/*
 * SCAN's options from argv[first] on, in Redis's order: [MATCH pattern]
 * [COUNT n] and, where type is not NULL, [TYPE name].  0, or -1 with the
 * error replied.
 */
static int
scan_options(struct client *c, size_t first, size_t argc, char **argv,
    size_t *lens, char *pat, size_t patlen, const char **match,
    long long *count, const char **type)
{
	size_t	 i;

	for (i = first; i < argc; i += 2) {
		if (i + 1 == argc) {
			reply_syntax(c);
			return -1;
		}
		if (arg_is(argv[i], lens[i], "match")) {
			if (lens[i + 1] >= patlen) {
				reply_syntax(c);
				return -1;
			}
			memcpy(pat, argv[i + 1], lens[i + 1]);
			pat[lens[i + 1]] = '\0';
			*match = pat;
		} else if (arg_is(argv[i], lens[i], "count")) {
			if (parse_ll(argv[i + 1], lens[i + 1], count) == -1 ||
			    *count < 1) {
				reply_notint(c);
				return -1;
			}
		} else if (type != NULL && arg_is(argv[i], lens[i], "type"))
			*type = argv[i + 1];
		else {
			reply_syntax(c);
			return -1;
		}
	}
	return 0;
}

/* cursor = bucket << 6 | shard; the tables only grow, so nothing is missed */
void
cmd_scan(struct client *c, size_t argc, char **argv, size_t *lens)
{
	long long	 cur, count = 10;
	const char	*match = NULL, *type = NULL;
	char		 pat[512];
	size_t		 i, bucket, found = 0, cap = 64, n = 0;
	int		 sh;
	struct dent	**keys;

	if (parse_ll(argv[1], lens[1], &cur) == -1 || cur < 0) {
		reply_error(c, "ERR invalid cursor");
		return;
	}
	if (scan_options(c, 2, argc, argv, lens, pat, sizeof(pat), &match,
	    &count, &type) == -1)
		return;
	if ((keys = calloc(cap, sizeof(*keys))) == NULL)
		fatal("calloc");
	sh = (int)(cur & 63);
	bucket = (size_t)(cur >> 6);
	for (; sh < options()->shards && (long long)found < count;
	    sh++, bucket = 0) {
		struct dict	*d = ks_shard(sh)->db[c->db];

		for (; d != NULL && bucket <= d->mask &&
		    (long long)found < count; bucket++) {
			struct dent	*e, *next;

			for (e = d->b[bucket]; e != NULL; e = next) {
				struct obj	*o = e->val;

				next = e->next;
				found++;
				if (o->expire_ms >= 0 &&
				    o->expire_ms <= wall_ms())
					continue;
				if (match && fnmatch(match, e->key, 0) != 0)
					continue;
				if (type && strncasecmp(type,
				    type_name(o->type), strlen(type_name(
				    o->type))) != 0)
					continue;
				if (n == cap) {
					cap *= 2;
					if ((keys = reallocarray(keys, cap,
					    sizeof(*keys))) == NULL)
						fatal("reallocarray");
				}
				keys[n++] = e;
			}
		}
		if ((long long)found >= count && d != NULL &&
		    bucket <= d->mask)
			break;
	}
	reply_array(c, 2);
	if (sh >= options()->shards)
		reply_cstr(c, "0");
	else {
		char	 num[32];

		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)((bucket << 6) | (size_t)sh));
		reply_cstr(c, num);
	}
	reply_array(c, (long long)n);
	for (i = 0; i < n; i++)
		reply_bulk(c, keys[i]->key, keys[i]->klen);
	free(keys);
}

/*
 * HSCAN/SSCAN/ZSCAN key cursor [MATCH pattern] [COUNT n] over the members
 * of d (NULL: no such key, an empty walk).  As SCAN: the cursor is the
 * next bucket, buckets only grow, so a walk sees every member that
 * existed when it began, some maybe twice; COUNT is the buckets' entries
 * looked at, MATCH filters after.  A hash replies field and value, a
 * zset member and score, a set the member alone.
 */
void
scan_members(struct client *c, size_t argc, char **argv, size_t *lens,
    struct dict *d, enum otype t)
{
	long long	 cur, count = 10;
	char		 pat[512], num[32];
	const char	*match = NULL;
	size_t		 i, bucket, found = 0, n = 0, cap = 64;
	struct dent	**m, *e;

	if (parse_ll(argv[2], lens[2], &cur) == -1 || cur < 0) {
		reply_error(c, "ERR invalid cursor");
		return;
	}
	if (scan_options(c, 3, argc, argv, lens, pat, sizeof(pat), &match,
	    &count, NULL) == -1)
		return;
	if ((m = calloc(cap, sizeof(*m))) == NULL)
		fatal("calloc");
	bucket = (size_t)cur;
	for (; d != NULL && bucket <= d->mask && (long long)found < count;
	    bucket++)
		for (e = d->b[bucket]; e != NULL; e = e->next) {
			found++;
			if (match && fnmatch(match, e->key, 0) != 0)
				continue;
			if (n == cap) {
				cap *= 2;
				if ((m = reallocarray(m, cap, sizeof(*m))) ==
				    NULL)
					fatal("reallocarray");
			}
			m[n++] = e;
		}
	reply_array(c, 2);
	if (d == NULL || bucket > d->mask)
		reply_cstr(c, "0");
	else {
		snprintf(num, sizeof(num), "%zu", bucket);
		reply_cstr(c, num);
	}
	reply_array(c, (long long)(t == OBJ_SET ? n : 2 * n));
	for (i = 0; i < n; i++) {
		reply_bulk(c, m[i]->key, m[i]->klen);
		if (t == OBJ_HASH)
			reply_bulk(c, ((struct str *)m[i]->val)->p,
			    ((struct str *)m[i]->val)->len);
		else if (t == OBJ_ZSET)
			reply_double(c, m[i]->score);
	}
	free(m);
}
