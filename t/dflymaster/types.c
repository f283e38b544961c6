/*
 * types.c - hashes, lists, sets, sorted sets, streams and JSON documents,
 * with Dragonfly's journal forms (journal.md 7), and DFLYMASTER
 * LOAD-SAMPLE, a dataset holding every type and encoding the snapshot
 * writer can produce (snapshot.md 6.0).
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dflymaster.h"
#include "commands.h"

/* ---------------------------------------------------------------- hash */

static void
hash_put(struct obj *o, const char *f, size_t fl, const char *v, size_t vl,
    int *created)
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
}

static void
free_strval(void *p)
{
	str_free(p);
	free(p);
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
		hash_put(o, argv[i], lens[i], argv[i + 1], lens[i + 1],
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
	struct obj	*o;
	size_t		 i, n = 0;
	int		 wt;

	if ((o = get_typed(c, argv[1], lens[1], OBJ_HASH, 1, &wt)) == NULL) {
		if (!wt)
			reply_int(c, 0);
		return;
	}
	for (i = 2; i < argc; i++)
		n += (size_t)dict_del(o->d, argv[i], lens[i], free_strval);
	if (n > 0) {
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
	reply_int(c, (long long)n);
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
	hash_put(o, argv[2], lens[2], num, (size_t)n, &created);
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

/* ---------------------------------------------------------------- list */

void
cmd_push(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i;
	int		 left = arg_is(argv[0], lens[0], "lpush");

	if ((o = get_or_create(c, argv[1], lens[1], OBJ_LIST)) == NULL)
		return;
	for (i = 2; i < argc; i++)
		list_push(&o->l, left, argv[i], lens[i]);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)o->l.n);
}

void
cmd_pop(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct str	 s;
	long long	 count = 1;
	int		 left = arg_is(argv[0], lens[0], "lpop"), wt;
	size_t		 i, n;

	if (argc > 3 || (argc == 3 && (parse_ll(argv[2], lens[2], &count) ==
	    -1 || count < 0))) {
		reply_error(c, "ERR value is out of range, must be positive");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_LIST, 1, &wt);
	if (wt)
		return;
	if (o == NULL) {
		if (argc == 3)
			reply_null_array(c);
		else
			reply_null(c);
		return;
	}
	n = (size_t)count < o->l.n ? (size_t)count : o->l.n;
	if (argc == 3)
		reply_array(c, (long long)n);
	for (i = 0; i < n; i++) {
		s = list_pop(&o->l, left);
		reply_bulk(c, s.p, s.len);
		str_free(&s);
	}
	if (n > 0) {
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
}

static void
range_of(long long start, long long stop, size_t n, size_t *from, size_t *to)
{
	if (start < 0)
		start += (long long)n;
	if (stop < 0)
		stop += (long long)n;
	if (start < 0)
		start = 0;
	if (stop >= (long long)n)
		stop = (long long)n - 1;
	if (start > stop || n == 0) {
		*from = 1;
		*to = 0;
		return;
	}
	*from = (size_t)start;
	*to = (size_t)stop;
}

void
cmd_ltrim(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 start, stop;
	size_t		 from, to, i, keep;
	int		 wt;

	if (parse_ll(argv[2], lens[2], &start) == -1 ||
	    parse_ll(argv[3], lens[3], &stop) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_LIST, 1, &wt);
	if (wt)
		return;
	if (o != NULL) {
		range_of(start, stop, o->l.n, &from, &to);
		keep = from > to ? 0 : to - from + 1;
		for (i = 0; i < o->l.n; i++)
			if (i < from || i > to)
				str_free(list_at(&o->l, i));
		memmove(o->l.a + o->l.head, o->l.a + o->l.head +
		    (keep ? from : 0), keep * sizeof(struct str));
		o->l.n = keep;
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
	reply_ok(c);
}

void
cmd_lrange(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	long long	 start, stop;
	size_t		 from, to, i;
	int		 wt;

	(void)argc;
	if (parse_ll(argv[2], lens[2], &start) == -1 ||
	    parse_ll(argv[3], lens[3], &stop) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_LIST, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_array(c, 0);
		return;
	}
	range_of(start, stop, o->l.n, &from, &to);
	reply_array(c, from > to ? 0 : (long long)(to - from + 1));
	for (i = from; i <= to && from <= to; i++)
		reply_bulk(c, list_at(&o->l, i)->p, list_at(&o->l, i)->len);
}

void
cmd_llen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_LIST, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->l.n : 0);
}

/* ---------------------------------------------------------------- set */

void
cmd_sadd(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, n = 0;
	int		 created;

	if ((o = get_or_create(c, argv[1], lens[1], OBJ_SET)) == NULL)
		return;
	for (i = 2; i < argc; i++) {
		dict_add(o->d, argv[i], lens[i], &created);
		n += created;
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)n);
}

void
cmd_srem(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, n = 0;
	int		 wt;

	if ((o = get_typed(c, argv[1], lens[1], OBJ_SET, 1, &wt)) == NULL) {
		if (!wt)
			reply_int(c, 0);
		return;
	}
	for (i = 2; i < argc; i++)
		n += (size_t)dict_del(o->d, argv[i], lens[i], NULL);
	if (n > 0) {
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
	reply_int(c, (long long)n);
}

/* journal.md 7: SPOP -> SREM of the popped members, or DEL when emptied */
void
cmd_spop(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct str	*popped;
	const char	**jv;
	size_t		 *jl, i, n, b;
	long long	  count = 1;
	int		  wt;

	if (argc > 3 || (argc == 3 && (parse_ll(argv[2], lens[2], &count) ==
	    -1 || count < 0))) {
		reply_error(c, "ERR value is out of range, must be positive");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 1, &wt);
	if (wt)
		return;
	if (o == NULL) {
		if (argc == 3)
			reply_array(c, 0);
		else
			reply_null(c);
		return;
	}
	n = (size_t)count < o->d->count ? (size_t)count : o->d->count;
	if ((popped = calloc(n + 1, sizeof(*popped))) == NULL ||
	    (jv = calloc(n + 2, sizeof(*jv))) == NULL ||
	    (jl = calloc(n + 2, sizeof(*jl))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		struct dent	*e = NULL;

		b = arc4random_uniform((uint32_t)dict_buckets(o->d));
		while ((e = o->d->b[b]) == NULL)
			b = (b + 1) & o->d->mask;
		popped[i] = str_dup(e->key, e->klen);
		dict_del(o->d, e->key, e->klen, NULL);
	}
	if (argc == 3)
		reply_array(c, (long long)n);
	for (i = 0; i < n; i++)
		reply_bulk(c, popped[i].p, popped[i].len);
	if (argc == 2 && n == 0)
		reply_null(c);
	if (n > 0) {
		if (o->d->count == 0) {
			jv[0] = "DEL";
			jl[0] = 3;
			jv[1] = argv[1];
			jl[1] = lens[1];
			ks_delete(c->db, argv[1], lens[1]);
			jr(c, tx_single(), argv[1], lens[1], 2, jv, jl);
		} else {
			jv[0] = "SREM";
			jl[0] = 4;
			jv[1] = argv[1];
			jl[1] = lens[1];
			for (i = 0; i < n; i++) {
				jv[i + 2] = popped[i].p;
				jl[i + 2] = popped[i].len;
			}
			jr(c, tx_single(), argv[1], lens[1], n + 2, jv, jl);
		}
	}
	for (i = 0; i < n; i++)
		str_free(&popped[i]);
	free(popped);
	free(jv);
	free(jl);
}

void
cmd_smembers(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (wt)
		return;
	reply_array(c, o ? (long long)o->d->count : 0);
	for (i = 0; o != NULL && i < dict_buckets(o->d); i++)
		for (e = o->d->b[i]; e != NULL; e = e->next)
			reply_bulk(c, e->key, e->klen);
}

void
cmd_scard(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->d->count : 0);
}

/* ---------------------------------------------------------------- zset */

void
cmd_zadd(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i = 2, j, added = 0, changed = 0;
	int		 nx = 0, xx = 0, gt = 0, lt = 0, ch = 0, incr = 0;
	int		 created;
	double		 s, result = 0;

	for (; i < argc; i++) {
		if (arg_is(argv[i], lens[i], "nx"))
			nx = 1;
		else if (arg_is(argv[i], lens[i], "xx"))
			xx = 1;
		else if (arg_is(argv[i], lens[i], "gt"))
			gt = 1;
		else if (arg_is(argv[i], lens[i], "lt"))
			lt = 1;
		else if (arg_is(argv[i], lens[i], "ch"))
			ch = 1;
		else if (arg_is(argv[i], lens[i], "incr"))
			incr = 1;
		else
			break;
	}
	if (i == argc || (argc - i) % 2 != 0 || (nx && xx) ||
	    (incr && argc - i != 2)) {
		reply_syntax(c);
		return;
	}
	for (j = i; j < argc; j += 2)
		if (parse_double(argv[j], lens[j], &s) == -1) {
			reply_error(c, "ERR value is not a valid float");
			return;
		}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_ZSET)) == NULL)
		return;
	for (j = i; j < argc; j += 2) {
		parse_double(argv[j], lens[j], &s);
		e = dict_find(o->d, argv[j + 1], lens[j + 1]);
		if ((nx && e) || (xx && !e))
			continue;
		if (incr && e)
			s += e->score;
		if (e && ((gt && s <= e->score) || (lt && s >= e->score)))
			continue;
		if (e == NULL) {
			e = dict_add(o->d, argv[j + 1], lens[j + 1], &created);
			added++;
		} else if (e->score != s)
			changed++;
		e->score = s;
		result = s;
	}
	obj_update_encoding(o);
	drop_if_empty(c, argv[1], lens[1], o);
	jr_verbatim(c, argc, argv, lens);
	if (incr)
		reply_double(c, result);
	else
		reply_int(c, (long long)(ch ? added + changed : added));
}

void
cmd_zincrby(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	double		 by;
	int		 created;

	if (parse_double(argv[2], lens[2], &by) == -1) {
		reply_error(c, "ERR value is not a valid float");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_ZSET)) == NULL)
		return;
	e = dict_add(o->d, argv[3], lens[3], &created);
	e->score = created ? by : e->score + by;
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_double(c, e->score);
}

void
cmd_zrem(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, n = 0;
	int		 wt;

	if ((o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 1, &wt)) == NULL) {
		if (!wt)
			reply_int(c, 0);
		return;
	}
	for (i = 2; i < argc; i++)
		n += (size_t)dict_del(o->d, argv[i], lens[i], NULL);
	if (n > 0) {
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
	reply_int(c, (long long)n);
}

static int
cmp_score(const void *a, const void *b)
{
	const struct dent	*x = *(struct dent *const *)a;
	const struct dent	*y = *(struct dent *const *)b;
	size_t			 n = x->klen < y->klen ? x->klen : y->klen;
	int			 r;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	if ((r = memcmp(x->key, y->key, n)) != 0)
		return r;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

void
cmd_zrange(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	**arr, *e;
	long long	 start, stop;
	size_t		 i, n = 0, from, to;
	int		 ws = 0, wt;

	if (argc == 5 && arg_is(argv[4], lens[4], "withscores"))
		ws = 1;
	else if (argc != 4) {
		reply_syntax(c);
		return;
	}
	if (parse_ll(argv[2], lens[2], &start) == -1 ||
	    parse_ll(argv[3], lens[3], &stop) == -1) {
		reply_notint(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_array(c, 0);
		return;
	}
	if ((arr = calloc(o->d->count + 1, sizeof(*arr))) == NULL)
		fatal("calloc");
	for (i = 0; i < dict_buckets(o->d); i++)
		for (e = o->d->b[i]; e != NULL; e = e->next)
			arr[n++] = e;
	qsort(arr, n, sizeof(*arr), cmp_score);
	range_of(start, stop, n, &from, &to);
	reply_array(c, from > to ? 0 : (long long)((to - from + 1) *
	    (ws ? 2 : 1)));
	for (i = from; from <= to && i <= to; i++) {
		reply_bulk(c, arr[i]->key, arr[i]->klen);
		if (ws)
			reply_double(c, arr[i]->score);
	}
	free(arr);
}

void
cmd_zscore(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 0, &wt);
	if (wt)
		return;
	if (o == NULL || (e = dict_find(o->d, argv[2], lens[2])) == NULL)
		reply_null(c);
	else
		reply_double(c, e->score);
}

void
cmd_zcard(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->d->count : 0);
}

/* ---------------------------------------------------------------- JSON */

void
cmd_jsonset(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	if (!arg_is(argv[2], lens[2], "$") && !arg_is(argv[2], lens[2], ".")) {
		reply_error(c, "ERR dflymaster stores whole documents only "
		    "(path $)");
		return;
	}
	get_typed(c, argv[1], lens[1], OBJ_JSON, 1, &wt);
	if (wt)
		return;
	o = obj_new(OBJ_JSON);
	o->s = str_dup(argv[3], lens[3]);
	ks_create(c->db, argv[1], lens[1], o);
	jr_verbatim(c, argc, argv, lens);
	reply_ok(c);
}

void
cmd_jsonget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_JSON, 0, &wt);
	if (wt)
		return;
	if (o == NULL)
		reply_null(c);
	else
		reply_bulk(c, o->s.p, o->s.len);
}

/* ---------------------------------------------------------------- sample */

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
sample_load(struct client *real)
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
	(void)real;
}
