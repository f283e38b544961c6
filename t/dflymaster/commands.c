/*
 * commands.c - the command table, MULTI/EXEC, generic key commands and
 * strings.  Every successful write is journaled to the key's shard the way
 * Dragonfly journals it (journal.md 3, the 7 rewrite table, 5 for
 * multi-key and global commands).  Single-key commands carry txid 0 as in
 * the captures; multi-key, global and MULTI/EXEC writes share a fresh txid.
 */
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dflymaster.h"
#include "commands.h"

int		writes_blocked;
static uint64_t	exec_txid;	/* txid of the running EXEC, 0 outside */

uint64_t
tx_single(void)
{
	return exec_txid;
}

uint64_t
tx_multi(void)
{
	return exec_txid ? exec_txid : next_txid++;
}

void
jr(struct client *c, uint64_t txid, const char *key, size_t klen,
    size_t argc, const char *const *argv, const size_t *lens)
{
	journal_cmd(key_shard(key, klen), c->db, txid, argc, argv, lens);
}

/* The command as received, journaled verbatim to the shard of argv[1]. */
void
jr_verbatim(struct client *c, size_t argc, char **argv, size_t *lens)
{
	jr(c, tx_single(), argv[1], lens[1], argc, (const char *const *)argv,
	    lens);
}

void
reply_wrongtype(struct client *c)
{
	reply_error(c, "WRONGTYPE Operation against a key holding the wrong "
	    "kind of value");
}

void
reply_notint(struct client *c)
{
	reply_error(c, "ERR value is not an integer or out of range");
}

void
reply_syntax(struct client *c)
{
	reply_error(c, "ERR syntax error");
}

/* Key of the given type for a write; NULL + reply on a type clash. */
struct obj *
get_typed(struct client *c, const char *k, size_t n, enum otype t,
    int write, int *wrongtype)
{
	struct dent	*e;

	*wrongtype = 0;
	e = write ? ks_lookup_write(c->db, k, n) : ks_lookup(c->db, k, n);
	if (e == NULL)
		return NULL;
	if (((struct obj *)e->val)->type != t) {
		*wrongtype = 1;
		reply_wrongtype(c);
		return NULL;
	}
	return e->val;
}

struct obj *
get_or_create(struct client *c, const char *k, size_t n, enum otype t)
{
	int		 wt;
	struct obj	*o = get_typed(c, k, n, t, 1, &wt);

	if (wt)
		return NULL;
	if (o == NULL) {
		o = obj_new(t);
		ks_create(c->db, k, n, o);
	}
	return o;
}

/* Delete a container that became empty. */
void
drop_if_empty(struct client *c, const char *k, size_t n, struct obj *o)
{
	size_t	 cnt = 0;

	switch (o->type) {
	case OBJ_LIST:
		cnt = o->l.n;
		break;
	case OBJ_SET:
	case OBJ_HASH:
	case OBJ_ZSET:
		cnt = o->d->count;
		break;
	default:
		return;
	}
	if (cnt == 0)
		ks_delete(c->db, k, n);
}

/* ---------------------------------------------------------------- keys */

static void
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
	for (sh = 0; sh < opt.shards; sh++) {
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

static void
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

static void
cmd_type(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e = ks_lookup(c->db, argv[1], lens[1]);

	(void)argc;
	reply_simple(c, e ? type_name(((struct obj *)e->val)->type) : "none");
}

/* journal.md 7: every expiry form becomes PEXPIREAT, or DEL when past */
void
set_expiry(struct client *c, const char *k, size_t n, struct obj *o,
    int64_t at)
{
	char		 num[32];
	const char	*argv[3] = { "PEXPIREAT", k, num };
	size_t		 lens[3] = { 9, n, 0 };

	if (at <= now_ms()) {
		const char	*dv[2] = { "DEL", k };
		size_t		 dl[2] = { 3, n };

		ks_delete(c->db, k, n);
		jr(c, tx_single(), k, n, 2, dv, dl);
		return;
	}
	o->expire_ms = at;
	lens[2] = (size_t)snprintf(num, sizeof(num), "%lld", (long long)at);
	jr(c, tx_single(), k, n, 3, argv, lens);
}

static void
cmd_expire(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e;
	struct obj	*o;
	long long	 t;
	int64_t		 at, cur;
	size_t		 i;
	int		 nx = 0, xx = 0, gt = 0, lt = 0;

	if (parse_ll(argv[2], lens[2], &t) == -1) {
		reply_notint(c);
		return;
	}
	for (i = 3; i < argc; i++) {
		if (arg_is(argv[i], lens[i], "nx"))
			nx = 1;
		else if (arg_is(argv[i], lens[i], "xx"))
			xx = 1;
		else if (arg_is(argv[i], lens[i], "gt"))
			gt = 1;
		else if (arg_is(argv[i], lens[i], "lt"))
			lt = 1;
		else {
			reply_error(c, "ERR Unsupported option %.*s",
			    (int)lens[i], argv[i]);
			return;
		}
	}
	if (arg_is(argv[0], lens[0], "expire"))
		at = now_ms() + t * 1000;
	else if (arg_is(argv[0], lens[0], "pexpire"))
		at = now_ms() + t;
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
	if ((nx && cur >= 0) || (xx && cur < 0) ||
	    (gt && (cur < 0 || at <= cur)) || (lt && cur >= 0 && at >= cur)) {
		reply_int(c, 0);
		return;
	}
	set_expiry(c, argv[1], lens[1], o, at);
	reply_int(c, 1);
}

static void
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

static void
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
		reply_int(c, at - now_ms());
	else
		reply_int(c, (at - now_ms() + 500) / 1000);
}

static void
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

static void
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
static void
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
	for (sh = 0; sh < opt.shards; sh++)
		journal_cmd(sh, c->db, txid, 1, &name, &nl);
	reply_ok(c);
}

static void
cmd_dbsize(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_int(c, (long long)ks_dbsize(c->db));
}

/* cursor = bucket << 6 | shard; the tables only grow, so nothing is missed */
static void
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
	for (i = 2; i + 1 < argc; i += 2) {
		if (arg_is(argv[i], lens[i], "match")) {
			if (lens[i + 1] >= sizeof(pat)) {
				reply_syntax(c);
				return;
			}
			memcpy(pat, argv[i + 1], lens[i + 1]);
			pat[lens[i + 1]] = '\0';
			match = pat;
		} else if (arg_is(argv[i], lens[i], "count")) {
			if (parse_ll(argv[i + 1], lens[i + 1], &count) == -1 ||
			    count < 1) {
				reply_notint(c);
				return;
			}
		} else if (arg_is(argv[i], lens[i], "type"))
			type = argv[i + 1];
		else {
			reply_syntax(c);
			return;
		}
	}
	if ((argc - 2) % 2 != 0) {
		reply_syntax(c);
		return;
	}
	if ((keys = calloc(cap, sizeof(*keys))) == NULL)
		fatal("calloc");
	sh = (int)(cur & 63);
	bucket = (size_t)(cur >> 6);
	for (; sh < opt.shards && (long long)found < count; sh++, bucket = 0) {
		struct dict	*d = shards[sh].db[c->db];

		for (; d != NULL && bucket <= d->mask &&
		    (long long)found < count; bucket++) {
			struct dent	*e, *next;

			for (e = d->b[bucket]; e != NULL; e = next) {
				struct obj	*o = e->val;

				next = e->next;
				found++;
				if (o->expire_ms >= 0 &&
				    o->expire_ms <= now_ms())
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
	if (sh >= opt.shards)
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

/* ---------------------------------------------------------------- strings */

static struct obj *
new_string(const void *p, size_t n)
{
	struct obj	*o = obj_new(OBJ_STRING);

	o->s = str_dup(p, n);
	return o;
}

static void
jr_set_pxat(struct client *c, const char *k, size_t kn, const char *v,
    size_t vn, int64_t at, int keepttl)
{
	char		 num[32];
	const char	*argv[5] = { "SET", k, v, keepttl ? "KEEPTTL" : "PXAT",
	    num };
	size_t		 lens[5] = { 3, kn, vn, keepttl ? 7 : 4, 0 };
	size_t		 argc = 3;

	if (keepttl)
		argc = 4;
	else if (at >= 0) {
		lens[4] = (size_t)snprintf(num, sizeof(num), "%lld",
		    (long long)at);
		argc = 5;
	}
	jr(c, tx_single(), k, kn, argc, argv, lens);
}

static void
cmd_set(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e;
	struct obj	*o, *old;
	int64_t		 at = -1;
	long long	 t;
	size_t		 i;
	int		 nx = 0, xx = 0, get = 0, keep = 0, unit = 0;

	for (i = 3; i < argc; i++) {
		const char	*a = argv[i];
		size_t		 l = lens[i];

		if (arg_is(a, l, "nx"))
			nx = 1;
		else if (arg_is(a, l, "xx"))
			xx = 1;
		else if (arg_is(a, l, "get"))
			get = 1;
		else if (arg_is(a, l, "keepttl"))
			keep = 1;
		else if ((arg_is(a, l, "ex") && (unit = 1)) ||
		    (arg_is(a, l, "px") && (unit = 2)) ||
		    (arg_is(a, l, "exat") && (unit = 3)) ||
		    (arg_is(a, l, "pxat") && (unit = 4))) {
			if (at != -1 || i + 1 == argc) {
				reply_syntax(c);
				return;
			}
			if (parse_ll(argv[i + 1], lens[i + 1], &t) == -1) {
				reply_notint(c);
				return;
			}
			if (t <= 0) {
				reply_error(c, "ERR invalid expire time in "
				    "'set' command");
				return;
			}
			at = unit == 1 ? now_ms() + t * 1000 : unit == 2 ?
			    now_ms() + t : unit == 3 ? t * 1000 : t;
			i++;
		} else {
			reply_syntax(c);
			return;
		}
	}
	if ((nx && xx) || (keep && at != -1)) {
		reply_syntax(c);
		return;
	}
	e = ks_lookup_write(c->db, argv[1], lens[1]);
	old = e ? e->val : NULL;
	if (get && old != NULL && old->type != OBJ_STRING) {
		reply_wrongtype(c);
		return;
	}
	if ((nx && old) || (xx && !old)) {
		if (get && old)
			reply_bulk(c, old->s.p, old->s.len);
		else
			reply_null(c);
		return;
	}
	if (get) {
		if (old)
			reply_bulk(c, old->s.p, old->s.len);
		else
			reply_null(c);
	} else
		reply_ok(c);
	if (at != -1 && at <= now_ms()) {
		/* journal.md 7: SET with a past expiry deletes */
		if (old) {
			const char	*dv[2] = { "DEL", argv[1] };
			size_t		 dl[2] = { 3, lens[1] };

			ks_delete(c->db, argv[1], lens[1]);
			jr(c, tx_single(), argv[1], lens[1], 2, dv, dl);
		}
		return;
	}
	o = new_string(argv[2], lens[2]);
	o->expire_ms = keep && old ? old->expire_ms : at;
	ks_create(c->db, argv[1], lens[1], o);
	jr_set_pxat(c, argv[1], lens[1], argv[2], lens[2], at, keep);
}

static void
cmd_setex(struct client *c, size_t argc, char **argv, size_t *lens)
{
	long long	 t;
	int64_t		 at;
	struct obj	*o;

	(void)argc;
	if (parse_ll(argv[2], lens[2], &t) == -1) {
		reply_notint(c);
		return;
	}
	if (t <= 0) {
		reply_error(c, "ERR invalid expire time in '%s' command",
		    arg_is(argv[0], lens[0], "setex") ? "setex" : "psetex");
		return;
	}
	at = now_ms() + (arg_is(argv[0], lens[0], "setex") ? t * 1000 : t);
	ks_lookup_write(c->db, argv[1], lens[1]);
	o = new_string(argv[3], lens[3]);
	o->expire_ms = at;
	ks_create(c->db, argv[1], lens[1], o);
	jr_set_pxat(c, argv[1], lens[1], argv[3], lens[3], at, 0);
	reply_ok(c);
}

static void
cmd_get(struct client *c, size_t argc, char **argv, size_t *lens)
{
	int		 wt;
	struct obj	*o = get_typed(c, argv[1], lens[1], OBJ_STRING, 0, &wt);

	(void)argc;
	if (wt)
		return;
	if (o == NULL)
		reply_null(c);
	else
		reply_bulk(c, o->s.p, o->s.len);
}

static void
cmd_mset(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const char	**kv;
	size_t		 *kl, i, n;
	int		  sh;
	uint64_t	  txid;

	if (argc < 3 || argc % 2 == 0) {
		reply_error(c, "ERR wrong number of arguments for 'mset' "
		    "command");
		return;
	}
	txid = argc > 3 ? tx_multi() : tx_single();
	for (i = 1; i < argc; i += 2) {
		ks_lookup_write(c->db, argv[i], lens[i]);
		ks_create(c->db, argv[i], lens[i],
		    new_string(argv[i + 1], lens[i + 1]));
	}
	if ((kv = calloc(argc, sizeof(*kv))) == NULL ||
	    (kl = calloc(argc, sizeof(*kl))) == NULL)
		fatal("calloc");
	for (sh = 0; sh < opt.shards; sh++) {
		kv[0] = "MSET";
		kl[0] = 4;
		for (i = 1, n = 1; i < argc; i += 2)
			if (key_shard(argv[i], lens[i]) == sh) {
				kv[n] = argv[i];
				kl[n++] = lens[i];
				kv[n] = argv[i + 1];
				kl[n++] = lens[i + 1];
			}
		if (n > 1)
			journal_cmd(sh, c->db, txid, n, kv, kl);
	}
	free(kv);
	free(kl);
	reply_ok(c);
}

static void
cmd_incr(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 v = 0, by = 1;
	char		 num[32];
	int		 wt, n;

	if (argc == 3 && parse_ll(argv[2], lens[2], &by) == -1) {
		reply_notint(c);
		return;
	}
	if (arg_is(argv[0], lens[0], "decr") ||
	    arg_is(argv[0], lens[0], "decrby")) {
		if (by == LLONG_MIN) {
			reply_error(c, "ERR decrement would overflow");
			return;
		}
		by = -by;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STRING, 1, &wt);
	if (wt)
		return;
	if (o != NULL && parse_ll(o->s.p, o->s.len, &v) == -1) {
		reply_notint(c);
		return;
	}
	if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
		reply_error(c, "ERR increment or decrement would overflow");
		return;
	}
	v += by;
	n = snprintf(num, sizeof(num), "%lld", v);
	if (o == NULL) {
		o = new_string(num, (size_t)n);
		ks_create(c->db, argv[1], lens[1], o);
	} else {
		str_free(&o->s);
		o->s = str_dup(num, (size_t)n);
	}
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, v);
}

static void
cmd_incrbyfloat(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	double		 v = 0, by;
	char		 num[64];
	size_t		 n;
	int		 wt;

	if (parse_double(argv[2], lens[2], &by) == -1) {
		reply_error(c, "ERR value is not a valid float");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STRING, 1, &wt);
	if (wt)
		return;
	if (o != NULL && parse_double(o->s.p, o->s.len, &v) == -1) {
		reply_error(c, "ERR value is not a valid float");
		return;
	}
	v += by;
	if (isinf(v) || isnan(v)) {
		reply_error(c, "ERR increment would produce NaN or Infinity");
		return;
	}
	n = fmt_double(num, sizeof(num), v);
	if (o == NULL)
		ks_create(c->db, argv[1], lens[1], new_string(num, n));
	else {
		str_free(&o->s);
		o->s = str_dup(num, n);
	}
	/* journal.md 7: verbatim, not rewritten to SET */
	jr_verbatim(c, argc, argv, lens);
	reply_bulk(c, num, n);
}

#define STRING_MAX	(512ULL * 1024 * 1024)	/* proto-max-bulk-len */

static int
check_string_size(struct client *c, size_t off, size_t n)
{
	if (off > STRING_MAX || n > STRING_MAX - off) {
		reply_error(c, "ERR string exceeds maximum allowed size "
		    "(proto-max-bulk-len)");
		return -1;
	}
	return 0;
}

static void
cmd_append(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_STRING, 1, &wt);
	if (wt)
		return;
	if (o == NULL) {
		o = new_string(argv[2], lens[2]);
		ks_create(c->db, argv[1], lens[1], o);
	} else {
		if (check_string_size(c, o->s.len, lens[2]) == -1)
			return;
		str_setrange(&o->s, o->s.len, argv[2], lens[2]);
	}
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)o->s.len);
}

static void
cmd_setrange(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 off;
	int		 wt;

	if (parse_ll(argv[2], lens[2], &off) == -1) {
		reply_notint(c);
		return;
	}
	if (off < 0) {
		reply_error(c, "ERR offset is out of range");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STRING, 1, &wt);
	if (wt)
		return;
	/* an empty value changes nothing and creates nothing */
	if (lens[3] == 0) {
		reply_int(c, o ? (long long)o->s.len : 0);
		return;
	}
	if (check_string_size(c, (size_t)off, lens[3]) == -1)
		return;
	if (o == NULL) {
		o = new_string("", 0);
		ks_create(c->db, argv[1], lens[1], o);
	}
	str_setrange(&o->s, (size_t)off, argv[3], lens[3]);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)o->s.len);
}

static void
cmd_getrange(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 start, end, len;
	int		 wt;

	(void)argc;
	if (parse_ll(argv[2], lens[2], &start) == -1 ||
	    parse_ll(argv[3], lens[3], &end) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STRING, 0, &wt);
	if (wt)
		return;
	len = o ? (long long)o->s.len : 0;
	if (start < 0)
		start = len + start < 0 ? 0 : len + start;
	if (end < 0)
		end = len + end < 0 ? 0 : len + end;
	if (end >= len)
		end = len - 1;
	if (len == 0 || start > end) {
		reply_bulk(c, "", 0);
		return;
	}
	reply_bulk(c, o->s.p + start, (size_t)(end - start + 1));
}

/* a key that is missing or not a string reads as nil, as in Redis */
static void
cmd_mget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct dent	*e;
	struct obj	*o;
	size_t		 i;

	reply_array(c, (long long)(argc - 1));
	for (i = 1; i < argc; i++) {
		e = ks_lookup(c->db, argv[i], lens[i]);
		o = e ? e->val : NULL;
		if (o != NULL && o->type == OBJ_STRING)
			reply_bulk(c, o->s.p, o->s.len);
		else
			reply_null(c);
	}
}

static void
cmd_strlen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	int		 wt;
	struct obj	*o = get_typed(c, argv[1], lens[1], OBJ_STRING, 0, &wt);

	(void)argc;
	if (!wt)
		reply_int(c, o ? (long long)o->s.len : 0);
}

/* ---------------------------------------------------------------- server */

static void
cmd_ping(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc > 1)
		reply_bulk(c, argv[1], lens[1]);
	else
		reply_simple(c, "PONG");
}

static void
cmd_echo(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	reply_bulk(c, argv[1], lens[1]);
}

static void
cmd_ok(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_ok(c);
}

static void
cmd_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	(void)argv;
	(void)lens;
	reply_array(c, 0);
}

static void
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

static void
cmd_info(struct client *c, size_t argc, char **argv, size_t *lens)
{
	char		 buf[2048];
	struct session	*s;
	size_t		 n, keys = 0;
	int		 db, nrep = 0;

	(void)argc;
	(void)argv;
	(void)lens;
	TAILQ_FOREACH(s, &sessions, entry)
		nrep++;
	n = (size_t)snprintf(buf, sizeof(buf), "# Server\r\n"
	    "redis_version:7.4.0\r\ndragonfly_version:df-v1.40.0-dflymaster\r\n"
	    "redis_mode:standalone\r\nnum_shards:%d\r\n\r\n"
	    "# Replication\r\nrole:master\r\nconnected_slaves:%d\r\n"
	    "master_replid:%s\r\n\r\n# Keyspace\r\n", opt.shards, nrep,
	    master_id);
	for (db = 0; db < NDBS; db++) {
		keys = ks_dbsize(db);
		if (keys > 0 && n < sizeof(buf) - 64)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "db%d:keys=%zu,expires=0,avg_ttl=0\r\n", db, keys);
	}
	reply_bulk(c, buf, n);
}

static void
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

static void
cmd_dflymaster(struct client *c, size_t argc, char **argv, size_t *lens)
{
	if (argc == 2 && arg_is(argv[1], lens[1], "stats"))
		repl_stats(c);
	else if (argc == 2 && arg_is(argv[1], lens[1], "load-sample")) {
		sample_load();
		reply_ok(c);
	} else
		reply_syntax(c);
}

static void
cmd_replconf(struct client *c, size_t argc, char **argv, size_t *lens)
{
	repl_replconf(c, argc, argv, lens);
}

static void
cmd_dfly(struct client *c, size_t argc, char **argv, size_t *lens)
{
	repl_dfly(c, argc, argv, lens);
}

/* ---------------------------------------------------------------- table */

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
	{ "hgetall", cmd_hgetall, 2, 0 },
	{ "hlen", cmd_hlen, 2, 0 },
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
	{ "zadd", cmd_zadd, -4, CMD_WRITE },
	{ "zrem", cmd_zrem, -3, CMD_WRITE },
	{ "zincrby", cmd_zincrby, 4, CMD_WRITE },
	{ "zrange", cmd_zrange, -4, 0 },
	{ "zscore", cmd_zscore, 3, 0 },
	{ "zcard", cmd_zcard, 2, 0 },
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
	if (writes_blocked && (cmd->flags & CMD_WRITE)) {
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
	size_t	 i, j;

	for (i = 0; i < c->nmq; i++) {
		for (j = 0; j < c->mq[i].argc; j++)
			free(c->mq[i].argv[j]);
		free(c->mq[i].argv);
		free(c->mq[i].lens);
	}
	free(c->mq);
	c->mq = NULL;
	c->nmq = 0;
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
	exec_txid = next_txid++;
	reply_array(c, (long long)c->nmq);
	for (i = 0; i < c->nmq; i++)
		run(c, lookup(c->mq[i].argv[0], c->mq[i].lens[0]),
		    c->mq[i].argc, c->mq[i].argv, c->mq[i].lens);
	exec_txid = 0;
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
