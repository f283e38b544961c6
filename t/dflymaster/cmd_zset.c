/*
 * cmd_zset.c - sorted set commands: ZADD, ZINCRBY, ZREM, ZRANGE, ZSCORE, ZCARD,
 * ZMSCORE, ZSCAN.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"
#include "resp.h"
#include "cmd_list.h"
#include "cmd_keys.h"
#include "cmd_zset.h"

void
cmd_zadd(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i = 2, j, added = 0, changed = 0;
	struct cond	 cd = { 0, 0, 0, 0 };
	int		 ch = 0, incr = 0;
	int		 created;
	double		 s, result = 0;

	for (; i < argc; i++) {
		if (cond_arg(argv[i], lens[i], &cd))
			continue;
		if (arg_is(argv[i], lens[i], "ch"))
			ch = 1;
		else if (arg_is(argv[i], lens[i], "incr"))
			incr = 1;
		else
			break;
	}
	if (i == argc || (argc - i) % 2 != 0 || (cd.nx && cd.xx) ||
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
		if ((cd.nx && e) || (cd.xx && !e))
			continue;
		if (incr && e)
			s += e->score;
		if (e && ((cd.gt && s <= e->score) ||
		    (cd.lt && s >= e->score)))
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
	del_members(c, argc, argv, lens, OBJ_ZSET, NULL);
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

void
cmd_zmscore(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 0, &wt);
	if (wt)
		return;
	reply_array(c, (long long)(argc - 2));
	for (i = 2; i < argc; i++)
		if (o == NULL ||
		    (e = dict_find(o->d, argv[i], lens[i])) == NULL)
			reply_null(c);
		else
			reply_double(c, e->score);
}

void
cmd_zscan(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_ZSET, 0, &wt);
	if (!wt)
		scan_members(c, argc, argv, lens, o ? o->d : NULL, OBJ_ZSET);
}
