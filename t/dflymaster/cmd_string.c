/*
 * cmd_string.c - string commands and their journal forms (journal.md 7):
 * SET with its options rewritten to absolute PXAT, INCR and friends, APPEND,
 * SETRANGE, MSET.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "clock.h"
#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "options.h"
#include "journal.h"
#include "cmd_string.h"

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

void
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
			at = unit == 1 ? wall_ms() + t * 1000 : unit == 2 ?
			    wall_ms() + t : unit == 3 ? t * 1000 : t;
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
	if (at != -1 && at <= wall_ms()) {
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

void
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
	at = wall_ms() + (arg_is(argv[0], lens[0], "setex") ? t * 1000 : t);
	ks_lookup_write(c->db, argv[1], lens[1]);
	o = new_string(argv[3], lens[3]);
	o->expire_ms = at;
	ks_create(c->db, argv[1], lens[1], o);
	jr_set_pxat(c, argv[1], lens[1], argv[3], lens[3], at, 0);
	reply_ok(c);
}

void
cmd_get(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	reply_value(c, argv[1], lens[1], OBJ_STRING);
}

void
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
	for (sh = 0; sh < options()->shards; sh++) {
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

void
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

void
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

void
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

void
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

void
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
void
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

void
cmd_strlen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	int		 wt;
	struct obj	*o = get_typed(c, argv[1], lens[1], OBJ_STRING, 0, &wt);

	(void)argc;
	if (!wt)
		reply_int(c, o ? (long long)o->s.len : 0);
}
