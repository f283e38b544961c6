/*
 * cmd_hash.c - hash commands: HSET, HDEL, HINCRBY, HGET, HMGET, HGETALL,
 * HLEN, HSCAN,
 * and field TTLs as Dragonfly has them (src/server/hset_family.cc):
 * HSETEX in both its forms, HEXPIRE, HPEXPIRETIME, HTTL, and FIELDEXPIRE
 * (generic_family.cc), which also takes a set.  Every one is journaled
 * verbatim, relative TTLs too, as Dragonfly's auto-journal does.  A
 * field past its time is not expired here: the tests give TTLs far
 * longer than they run.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "cmd_keys.h"
#include "cmd_hash.h"

/* common.h kMaxExpireDeadlineSec */
#define MAX_EXPIRE_SEC	(4294967295LL / 2)

/*
 * Set a field; ttl 0 is none.  Like StringMap::AddOrUpdate, the field
 * loses its TTL unless keepttl and it has one (ComputeTtl).
 */
static void
hash_put(struct obj *o, const char *f, size_t fl, const char *v, size_t vl,
    uint32_t ttl, int keepttl, int *created)
{
	struct dent	*e = dict_add(o->d, f, fl, created);
	struct str	*s;

	if (!*created) {
		str_free(e->val);
		free(e->val);
	}
	if ((s = malloc(sizeof(*s))) == NULL)
		fatal("malloc");
	*s = str_dup(v, vl);
	e->val = s;
	if (!keepttl || e->mexp == 0)
		obj_member_ttl(o, e, ttl);
}

void
cmd_hset(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, added = 0;
	int		 created;

	if (argc % 2 != 0) {
		reply_error(c, "ERR wrong number of arguments for 'hset' "
		    "command");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_HASH)) == NULL)
		return;
	for (i = 2; i < argc; i += 2) {
		hash_put(o, argv[i], lens[i], argv[i + 1], lens[i + 1], 0, 0,
		    &created);
		added += created;
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)added);
}

void
cmd_hdel(struct client *c, size_t argc, char **argv, size_t *lens)
{
	del_members(c, argc, argv, lens, OBJ_HASH, obj_free_strval);
}

void
cmd_hincrby(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	long long	 by, v = 0;
	char		 num[32];
	int		 n, created, wt;

	if (parse_ll(argv[3], lens[3], &by) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o != NULL && (e = dict_find(o->d, argv[2], lens[2])) != NULL &&
	    parse_ll(((struct str *)e->val)->p, ((struct str *)e->val)->len,
	    &v) == -1) {
		reply_error(c, "ERR hash value is not an integer");
		return;
	}
	if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
		reply_error(c, "ERR increment or decrement would overflow");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_HASH)) == NULL)
		return;
	v += by;
	n = snprintf(num, sizeof(num), "%lld", v);
	/* an increment keeps the field's TTL */
	hash_put(o, argv[2], lens[2], num, (size_t)n, 0, 1, &created);
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, v);
}

void
cmd_hget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o == NULL || (e = dict_find(o->d, argv[2], lens[2])) == NULL)
		reply_null(c);
	else
		reply_bulk(c, ((struct str *)e->val)->p,
		    ((struct str *)e->val)->len);
}

void
cmd_hmget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	reply_array(c, (long long)(argc - 2));
	for (i = 2; i < argc; i++)
		if (o == NULL ||
		    (e = dict_find(o->d, argv[i], lens[i])) == NULL)
			reply_null(c);
		else
			reply_bulk(c, ((struct str *)e->val)->p,
			    ((struct str *)e->val)->len);
}

void
cmd_hscan(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (!wt)
		scan_members(c, argc, argv, lens, o ? o->d : NULL, OBJ_HASH);
}

void
cmd_hgetall(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_array(c, 0);
		return;
	}
	reply_array(c, (long long)o->d->count * 2);
	for (i = 0; i < dict_buckets(o->d); i++)
		for (e = o->d->b[i]; e != NULL; e = e->next) {
			reply_bulk(c, e->key, e->klen);
			reply_bulk(c, ((struct str *)e->val)->p,
			    ((struct str *)e->val)->len);
		}
}

void
cmd_hlen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->d->count : 0);
}

/* ---------------------------------------------------------------- TTLs */

enum hmode { M_ALL, M_NX, M_FNX, M_FXX };

/*
 * HSETEX key [NX|FNX|FXX] [KEEPTTL] ttl_sec field value...     (Dragonfly)
 * HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
 *     FIELDS n field value...                                  (Redis 8)
 * as hset_family.cc ParseHSetEx and HSetEx: FIELDS tells the forms
 * apart; NX skips the fields that exist, FNX/FXX set all or nothing; the
 * Redis form's time becomes whole seconds, rounded up.  Replies the
 * fields created (Dragonfly's form) or 1 (Redis's), 0 when FNX/FXX do
 * not hold.
 */
void
cmd_hsetex(struct client *c, size_t argc, char **argv, size_t *lens)
{
	static const char *const eopt[] = { "ex", "px", "exat", "pxat" };
	enum hmode	 mode = M_ALL;
	struct obj	*o;
	struct dent	*e;
	long long	 v = -1, n, ttl_ms;
	size_t		 i = 2, j, first, added = 0;
	int		 keep = 0, eo = -1, redis = 0, created, wt;
	uint32_t	 ttl = 0;

	for (; i < argc; i++) {
		if (arg_is(argv[i], lens[i], "nx") && mode == M_ALL)
			mode = M_NX;
		else if (arg_is(argv[i], lens[i], "fnx") && mode == M_ALL)
			mode = M_FNX;
		else if (arg_is(argv[i], lens[i], "fxx") && mode == M_ALL)
			mode = M_FXX;
		else if (arg_is(argv[i], lens[i], "keepttl") && !keep)
			keep = 1;
		else {
			for (j = 0; j < 4; j++)
				if (arg_is(argv[i], lens[i], eopt[j]))
					break;
			if (j == 4 || eo != -1 || i + 1 >= argc)
				break;
			eo = (int)j;
			if (parse_ll(argv[i + 1], lens[i + 1], &v) == -1) {
				reply_notint(c);
				return;
			}
			i++;
		}
	}
	if (i < argc && arg_is(argv[i], lens[i], "fields")) {
		redis = 1;
		if (mode == M_NX || (keep && eo != -1)) {
			reply_syntax(c);
			return;
		}
		if (i + 1 >= argc || parse_ll(argv[i + 1], lens[i + 1], &n) ==
		    -1 || n <= 0 || argc - i - 2 != 2 * (size_t)n) {
			reply_error(c, "ERR numfields mismatch");
			return;
		}
		first = i + 2;
		if (eo != -1) {
			/* MakeFieldExpireParams: a time to come */
			ttl_ms = eo == 0 ? v * 1000 : eo == 1 ? v :
			    eo == 2 ? v * 1000 - wall_ms() : v - wall_ms();
			if (v < 0 || v > MAX_EXPIRE_SEC * 1000 || ttl_ms <= 0) {
				reply_error(c, "ERR invalid expire time in "
				    "'hsetex' command");
				return;
			}
			ttl = (uint32_t)((ttl_ms + 999) / 1000);
		}
	} else {
		if (eo != -1 || i >= argc) {
			reply_syntax(c);
			return;
		}
		if (parse_ll(argv[i], lens[i], &v) == -1 || v < 1 ||
		    v > MAX_EXPIRE_SEC) {
			reply_error(c, "ERR value is not an integer or out of "
			    "range");
			return;
		}
		ttl = (uint32_t)v;
		first = i + 1;
		if (first >= argc || (argc - first) % 2 != 0) {
			reply_error(c, "ERR wrong number of arguments for "
			    "'hsetex' command");
			return;
		}
	}
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 1, &wt);
	if (wt)
		return;
	if (mode == M_FNX || mode == M_FXX) {
		/* CheckHSetExCondition; the write is journaled either way */
		for (i = first; i < argc; i += 2) {
			e = o != NULL ? dict_find(o->d, argv[i], lens[i]) :
			    NULL;
			if ((mode == M_FNX) == (e != NULL))
				break;
		}
		if (i < argc) {
			jr_verbatim(c, argc, argv, lens);
			reply_int(c, 0);
			return;
		}
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_HASH)) == NULL)
		return;
	for (i = first; i < argc; i += 2) {
		if (mode == M_NX && dict_find(o->d, argv[i], lens[i]) != NULL)
			continue;
		hash_put(o, argv[i], lens[i], argv[i + 1], lens[i + 1], ttl,
		    keep, &created);
		added += created;
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, redis ? 1 : (long long)added);
}

/*
 * The TTL of the named members (UpdateTTL): -2 none such, 0 a condition
 * failed, 2 deleted (ttl 0), 1 set.  A container left empty is deleted
 * and DEL journaled before the command (OpHExpire).
 */
static void
members_ttl(struct client *c, struct obj *o, const char *k, size_t kl,
    long long ttl, int flag, size_t argc, char **argv, size_t *lens,
    size_t first)
{
	const char	*dv[2] = { "DEL", k };
	size_t		 dl[2] = { 3, kl }, i;
	struct dent	*e;
	uint32_t	 now = obj_member_now();
	long long	*res;

	if ((res = calloc(argc, sizeof(*res))) == NULL)
		fatal("calloc");
	for (i = first; i < argc; i++) {
		if ((e = dict_find(o->d, argv[i], lens[i])) == NULL) {
			res[i] = -2;
			continue;
		}
		/* NX XX GT LT; no TTL counts as none to compare (GT fails) */
		if ((flag == 'N' && e->mexp) || (flag == 'X' && !e->mexp) ||
		    (flag == 'G' && (!e->mexp || e->mexp - now >= ttl)) ||
		    (flag == 'L' && e->mexp && e->mexp - now <= ttl))
			continue;
		if (ttl == 0) {
			dict_del(o->d, argv[i], lens[i], o->type == OBJ_HASH ?
			    obj_free_strval : NULL);
			res[i] = 2;
		} else {
			obj_member_ttl(o, e, (uint32_t)ttl);
			res[i] = 1;
		}
	}
	if (ttl != 0) {
		/* SetFieldsExpireTime converts even when no field matched */
		o->mttl = 1;
		o->big = 1;
	}
	if (o->d->count == 0) {
		ks_delete(c->db, k, kl);
		jr(c, tx_single(), k, kl, 2, dv, dl);
	}
	jr_verbatim(c, argc, argv, lens);
	reply_array(c, (long long)(argc - first));
	for (i = first; i < argc; i++)
		reply_int(c, res[i]);
	free(res);
}

static int
parse_ttl(struct client *c, const char *p, size_t n, long long *ttl)
{
	if (parse_ll(p, n, ttl) == -1 || *ttl < 0 || *ttl > MAX_EXPIRE_SEC) {
		reply_error(c, "ERR value is not an integer or out of range");
		return -1;
	}
	return 0;
}

/* HEXPIRE key seconds [NX|XX|GT|LT] FIELDS n field... (CmdHExpire) */
void
cmd_hexpire(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 ttl, n;
	size_t		 i = 3;
	int		 flag = 0, wt;

	if (parse_ttl(c, argv[2], lens[2], &ttl) == -1)
		return;
	if (arg_is(argv[i], lens[i], "nx") || arg_is(argv[i], lens[i], "xx") ||
	    arg_is(argv[i], lens[i], "gt") || arg_is(argv[i], lens[i], "lt"))
		flag = arg_is(argv[i], lens[i], "nx") ? 'N' :
		    arg_is(argv[i], lens[i], "xx") ? 'X' :
		    arg_is(argv[i], lens[i], "gt") ? 'G' : 'L', i++;
	if (i >= argc || !arg_is(argv[i], lens[i], "fields")) {
		reply_error(c, "ERR Mandatory argument FIELDS is missing or "
		    "not at the right position");
		return;
	}
	if (i + 1 >= argc || parse_ll(argv[i + 1], lens[i + 1], &n) == -1 ||
	    n <= 0 || argc - i - 2 != (size_t)n) {
		reply_error(c, "ERR The `numfields` parameter must match the "
		    "number of arguments");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 1, &wt);
	if (wt)
		return;
	if (o == NULL) {
		/* KEY_NOTFOUND: nothing journaled */
		reply_array(c, n);
		for (i = 0; i < (size_t)n; i++)
			reply_int(c, -2);
		return;
	}
	members_ttl(c, o, argv[1], lens[1], ttl, flag, argc, argv, lens,
	    i + 2);
}

/* FIELDEXPIRE key seconds member... on a hash or a set (OpFieldExpire) */
void
cmd_fieldexpire(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	long long	 ttl;
	size_t		 i;

	if (parse_ttl(c, argv[2], lens[2], &ttl) == -1)
		return;
	e = ks_lookup_write(c->db, argv[1], lens[1]);
	o = e != NULL ? e->val : NULL;
	if (o == NULL || (o->type != OBJ_HASH && o->type != OBJ_SET)) {
		reply_array(c, (long long)(argc - 3));
		for (i = 3; i < argc; i++)
			reply_int(c, -2);
		return;
	}
	members_ttl(c, o, argv[1], lens[1], ttl, 0, argc, argv, lens, 3);
}

/*
 * HPEXPIRETIME / HTTL key FIELDS n field...: unix ms, or seconds left;
 * -1 no TTL, -2 no such field.
 */
void
cmd_hpexpiretime(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	long long	 n;
	size_t		 i;
	int		 wt, ms = arg_is(argv[0], lens[0], "hpexpiretime");

	if (!arg_is(argv[2], lens[2], "fields") ||
	    parse_ll(argv[3], lens[3], &n) == -1 || n <= 0 ||
	    argc - 4 != (size_t)n) {
		reply_syntax(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_HASH, 0, &wt);
	if (wt)
		return;
	reply_array(c, n);
	for (i = 4; i < argc; i++) {
		e = o != NULL ? dict_find(o->d, argv[i], lens[i]) : NULL;
		if (e == NULL)
			reply_int(c, -2);
		else if (e->mexp == 0)
			reply_int(c, -1);
		else if (ms)
			reply_int(c, (MEMBER_EXPIRY_BASE + e->mexp) * 1000);
		else
			reply_int(c, (long long)e->mexp -
			    (long long)obj_member_now());
	}
}
