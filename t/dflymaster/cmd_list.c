/*
 * cmd_list.c - list commands: LPUSH/RPUSH, LPOP/RPOP, LTRIM, LRANGE, LLEN.
 */
#include <string.h>

#include "text.h"
#include "resp.h"
#include "cmd_list.h"

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

void
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
