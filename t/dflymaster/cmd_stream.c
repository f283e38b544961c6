/*
 * cmd_stream.c - streams, consumer groups and their journal forms
 * (journal.md 7): XADD with its resolved id (and MINID after trimming),
 * XREADGROUP as XGROUP CREATECONSUMER + XCLAIM ... + XGROUP SETID.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "cmd_stream.h"

static int
sid_cmp(struct sid a, struct sid b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}

static int
fmt_sid(char *buf, size_t sz, struct sid id)
{
	return snprintf(buf, sz, "%llu-%llu", (unsigned long long)id.ms,
	    (unsigned long long)id.seq);
}

/* "ms", "ms-seq"; missing seq = dflt_seq; *seq_star for "ms-*" */
static int
parse_sid(const char *p, size_t n, uint64_t dflt_seq, struct sid *id,
    int *seq_star)
{
	const char	*dash = memchr(p, '-', n);
	long long	 ms, seq;

	if (seq_star)
		*seq_star = 0;
	if (dash == NULL) {
		if (parse_ll(p, n, &ms) == -1 || ms < 0)
			return -1;
		id->ms = (uint64_t)ms;
		id->seq = dflt_seq;
		return 0;
	}
	if (parse_ll(p, (size_t)(dash - p), &ms) == -1 || ms < 0)
		return -1;
	id->ms = (uint64_t)ms;
	if (seq_star && (size_t)(p + n - dash) == 2 && dash[1] == '*') {
		*seq_star = 1;
		return 0;
	}
	if (parse_ll(dash + 1, (size_t)(p + n - dash - 1), &seq) == -1 ||
	    seq < 0)
		return -1;
	id->seq = (uint64_t)seq;
	return 0;
}

static void
reply_sid(struct client *c, struct sid id)
{
	char	 buf[48];
	int	 n = fmt_sid(buf, sizeof(buf), id);

	reply_bulk(c, buf, (size_t)n);
}

static void
entry_free(struct sentry *e)
{
	size_t	 i;

	for (i = 0; i < e->nfv; i++)
		str_free(&e->fv[i]);
	free(e->fv);
}

static void
trim_front(struct stream *x, size_t drop)
{
	size_t	 i;

	if (drop == 0)
		return;
	x->maxdel = x->e[drop - 1].id;
	for (i = 0; i < drop; i++)
		entry_free(&x->e[i]);
	memmove(x->e, x->e + drop, (x->n - drop) * sizeof(*x->e));
	x->n -= drop;
}

void
cmd_xadd(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct stream	*x;
	struct sentry	*se;
	struct sid	 id, minid = { 0, 0 };
	long long	 maxlen = -1;
	size_t		 i = 2, j, drop = 0;
	int		 nomk = 0, star, wt, trim_min = 0;
	char		 idbuf[48], trimbuf[48];

	for (; i < argc; i++) {
		if (arg_is(argv[i], lens[i], "nomkstream"))
			nomk = 1;
		else if (arg_is(argv[i], lens[i], "maxlen") ||
		    arg_is(argv[i], lens[i], "minid")) {
			int	 ismin = arg_is(argv[i], lens[i], "minid");

			if (i + 1 < argc && (arg_is(argv[i + 1], lens[i + 1],
			    "~") || arg_is(argv[i + 1], lens[i + 1], "=")))
				i++;
			if (i + 1 >= argc) {
				reply_syntax(c);
				return;
			}
			i++;
			if (ismin) {
				if (parse_sid(argv[i], lens[i], 0, &minid,
				    NULL) == -1) {
					reply_error(c, "ERR Invalid stream ID "
					    "specified as stream command "
					    "argument");
					return;
				}
				trim_min = 1;
			} else if (parse_ll(argv[i], lens[i], &maxlen) == -1 ||
			    maxlen < 0) {
				reply_error(c, "ERR The MAXLEN argument must "
				    "be >= 0.");
				return;
			}
		} else if (arg_is(argv[i], lens[i], "limit") && i + 1 < argc)
			i++;
		else
			break;
	}
	if (i >= argc || (argc - i - 1) < 2 || (argc - i - 1) % 2 != 0) {
		reply_error(c, "ERR wrong number of arguments for 'xadd' "
		    "command");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STREAM, 1, &wt);
	if (wt)
		return;
	if (o == NULL && nomk) {
		reply_null(c);
		return;
	}
	x = o ? &o->x : NULL;
	if (arg_is(argv[i], lens[i], "*")) {
		int64_t	 now = wall_ms();

		id.ms = x && x->last.ms >= (uint64_t)now ? x->last.ms :
		    (uint64_t)now;
		id.seq = x && id.ms == x->last.ms ? x->last.seq + 1 : 0;
	} else {
		if (parse_sid(argv[i], lens[i], 0, &id, &star) == -1) {
			reply_error(c, "ERR Invalid stream ID specified as "
			    "stream command argument");
			return;
		}
		if (star)
			id.seq = x && id.ms == x->last.ms ? x->last.seq + 1 : 0;
		if (id.ms == 0 && id.seq == 0) {
			reply_error(c, "ERR The ID specified in XADD must be "
			    "greater than 0-0");
			return;
		}
		if (x && sid_cmp(id, x->last) <= 0) {
			reply_error(c, "ERR The ID specified in XADD is equal "
			    "or smaller than the target stream top item");
			return;
		}
	}
	if (o == NULL) {
		o = obj_new(OBJ_STREAM);
		ks_create(c->db, argv[1], lens[1], o);
		x = &o->x;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		if ((x->e = reallocarray(x->e, x->cap, sizeof(*x->e))) == NULL)
			fatal("reallocarray");
	}
	se = &x->e[x->n++];
	se->id = id;
	se->nfv = argc - i - 1;
	if ((se->fv = calloc(se->nfv, sizeof(*se->fv))) == NULL)
		fatal("calloc");
	for (j = 0; j < se->nfv; j++)
		se->fv[j] = str_dup(argv[i + 1 + j], lens[i + 1 + j]);
	x->last = id;
	x->added++;
	if (maxlen >= 0 && x->n > (size_t)maxlen)
		drop = x->n - (size_t)maxlen;
	if (trim_min)
		while (drop < x->n && sid_cmp(x->e[drop].id, minid) < 0)
			drop++;
	trim_front(x, drop);
	fmt_sid(idbuf, sizeof(idbuf), id);
	{
		/* journal.md 7: the id pinned; trimming as MINID <first> */
		const char	**jv;
		size_t		 *jl, n = 0;

		if ((jv = calloc(argc + 4, sizeof(*jv))) == NULL ||
		    (jl = calloc(argc + 4, sizeof(*jl))) == NULL)
			fatal("calloc");
		jv[n] = "XADD";
		jl[n++] = 4;
		jv[n] = argv[1];
		jl[n++] = lens[1];
		if (maxlen >= 0 || trim_min) {
			if (x->n == 0) {
				jv[n] = "MAXLEN";
				jl[n++] = 6;
				jv[n] = "0";
				jl[n++] = 1;
			} else {
				jv[n] = "MINID";
				jl[n++] = 5;
				jv[n] = trimbuf;
				jl[n++] = (size_t)fmt_sid(trimbuf,
				    sizeof(trimbuf), x->e[0].id);
			}
		}
		if (nomk) {
			jv[n] = "NOMKSTREAM";
			jl[n++] = 10;
		}
		jv[n] = idbuf;
		jl[n++] = strlen(idbuf);
		for (j = i + 1; j < argc; j++) {
			jv[n] = argv[j];
			jl[n++] = lens[j];
		}
		jr(c, tx_single(), argv[1], lens[1], n, jv, jl);
		free(jv);
		free(jl);
	}
	reply_bulk(c, idbuf, strlen(idbuf));
}

void
cmd_xlen(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_STREAM, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->x.n : 0);
}

static void
reply_entry(struct client *c, const struct sentry *e)
{
	size_t	 i;

	reply_array(c, 2);
	reply_sid(c, e->id);
	reply_array(c, (long long)e->nfv);
	for (i = 0; i < e->nfv; i++)
		reply_bulk(c, e->fv[i].p, e->fv[i].len);
}

void
cmd_xrange(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct sid	 lo = { 0, 0 }, hi = { UINT64_MAX, UINT64_MAX };
	long long	 count = LLONG_MAX;
	size_t		 i, n = 0, first = 0;
	int		 wt;

	if (!arg_is(argv[2], lens[2], "-") &&
	    parse_sid(argv[2], lens[2], 0, &lo, NULL) == -1) {
		reply_error(c, "ERR Invalid stream ID specified as stream "
		    "command argument");
		return;
	}
	if (!arg_is(argv[3], lens[3], "+") &&
	    parse_sid(argv[3], lens[3], UINT64_MAX, &hi, NULL) == -1) {
		reply_error(c, "ERR Invalid stream ID specified as stream "
		    "command argument");
		return;
	}
	if (argc == 6 && arg_is(argv[4], lens[4], "count")) {
		if (parse_ll(argv[5], lens[5], &count) == -1 || count < 0) {
			reply_notint(c);
			return;
		}
	} else if (argc != 4) {
		reply_syntax(c);
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_STREAM, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_array(c, 0);
		return;
	}
	for (i = 0; i < o->x.n; i++)
		if (sid_cmp(o->x.e[i].id, lo) >= 0 &&
		    sid_cmp(o->x.e[i].id, hi) <= 0) {
			if (n == 0)
				first = i;
			if ((long long)n < count)
				n++;
		}
	reply_array(c, (long long)n);
	for (i = first; n > 0; i++)
		if (sid_cmp(o->x.e[i].id, lo) >= 0) {
			reply_entry(c, &o->x.e[i]);
			n--;
		}
}

static struct group *
find_group(struct stream *x, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < x->ng; i++)
		if (str_eq(&x->g[i].name, p, n))
			return &x->g[i];
	return NULL;
}

static size_t
find_consumer(struct group *g, const char *p, size_t n, int create,
    int *created)
{
	size_t	 i;

	*created = 0;
	for (i = 0; i < g->ncons; i++)
		if (str_eq(&g->cons[i].name, p, n))
			return i;
	if (!create)
		return SIZE_MAX;
	if ((g->cons = reallocarray(g->cons, g->ncons + 1,
	    sizeof(*g->cons))) == NULL)
		fatal("reallocarray");
	g->cons[g->ncons].name = str_dup(p, n);
	g->cons[g->ncons].seen_ms = wall_ms();
	g->cons[g->ncons].active_ms = -1;
	*created = 1;
	return g->ncons++;
}

static void
reply_nogroup(struct client *c, const char *k, size_t kl, const char *g,
    size_t gl)
{
	reply_error(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
	    (int)kl, k, (int)gl, g);
}

void
cmd_xgroup(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct group	*g;
	struct sid	 id;
	size_t		 i;
	int		 wt, created, mk = 0;

	if (argc < 4) {
		reply_error(c, "ERR wrong number of arguments for 'xgroup' "
		    "command");
		return;
	}
	if (arg_is(argv[1], lens[1], "create")) {
		if (argc < 5) {
			reply_syntax(c);
			return;
		}
		for (i = 5; i < argc; i++)
			if (arg_is(argv[i], lens[i], "mkstream"))
				mk = 1;
		o = get_typed(c, argv[2], lens[2], OBJ_STREAM, 1, &wt);
		if (wt)
			return;
		if (o == NULL && !mk) {
			reply_error(c, "ERR The XGROUP subcommand requires the "
			    "key to exist. Note that for CREATE you may want "
			    "to use the MKSTREAM option to create an empty "
			    "stream automatically.");
			return;
		}
		if (!arg_is(argv[4], lens[4], "$") &&
		    parse_sid(argv[4], lens[4], 0, &id, NULL) == -1) {
			reply_error(c, "ERR Invalid stream ID specified as "
			    "stream command argument");
			return;
		}
		if (o != NULL && find_group(&o->x, argv[3], lens[3])) {
			reply_error(c, "BUSYGROUP Consumer Group name already "
			    "exists");
			return;
		}
		if (o == NULL) {
			o = obj_new(OBJ_STREAM);
			ks_create(c->db, argv[2], lens[2], o);
		}
		if (arg_is(argv[4], lens[4], "$"))
			id = o->x.last;
		if ((o->x.g = reallocarray(o->x.g, o->x.ng + 1,
		    sizeof(*o->x.g))) == NULL)
			fatal("reallocarray");
		g = &o->x.g[o->x.ng++];
		memset(g, 0, sizeof(*g));
		g->name = str_dup(argv[3], lens[3]);
		g->last = id;
		for (i = 0; i < o->x.n; i++)
			if (sid_cmp(o->x.e[i].id, id) <= 0)
				g->entries_read++;
		jr(c, tx_single(), argv[2], lens[2], argc,
		    (const char *const *)argv, lens);
		reply_ok(c);
		return;
	}
	o = get_typed(c, argv[2], lens[2], OBJ_STREAM, 1, &wt);
	if (wt)
		return;
	if (o == NULL || (g = find_group(&o->x, argv[3], lens[3])) == NULL) {
		reply_nogroup(c, argv[2], lens[2], argv[3], lens[3]);
		return;
	}
	if (arg_is(argv[1], lens[1], "createconsumer") && argc == 5) {
		find_consumer(g, argv[4], lens[4], 1, &created);
		if (created)
			jr(c, tx_single(), argv[2], lens[2], argc,
			    (const char *const *)argv, lens);
		reply_int(c, created);
	} else if (arg_is(argv[1], lens[1], "setid") && argc >= 5) {
		long long	 er = -1;

		if (arg_is(argv[4], lens[4], "$"))
			id = o->x.last;
		else if (parse_sid(argv[4], lens[4], 0, &id, NULL) == -1) {
			reply_error(c, "ERR Invalid stream ID specified as "
			    "stream command argument");
			return;
		}
		if (argc == 7 && arg_is(argv[5], lens[5], "entriesread") &&
		    parse_ll(argv[6], lens[6], &er) == -1) {
			reply_notint(c);
			return;
		}
		g->last = id;
		if (er >= 0)
			g->entries_read = (uint64_t)er;
		jr(c, tx_single(), argv[2], lens[2], argc,
		    (const char *const *)argv, lens);
		reply_ok(c);
	} else
		reply_syntax(c);
}

static void
jr_strs(struct client *c, const char *key, size_t kl, size_t n, ...)
{
	const char	*v[16];
	size_t		 l[16], i;
	va_list		 ap;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		v[i] = va_arg(ap, const char *);
		l[i] = va_arg(ap, size_t);
	}
	va_end(ap);
	jr(c, tx_single(), key, kl, n, v, l);
}

/* XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k > */
void
cmd_xreadgroup(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct group	*g;
	long long	 count = LLONG_MAX;
	size_t		 i, ks = 0, cons, start, n;
	int		 noack = 0, wt, created;
	char		 idb[48], tb[32], nb[32];
	int64_t		 now = wall_ms();

	if (!arg_is(argv[1], lens[1], "group")) {
		reply_syntax(c);
		return;
	}
	for (i = 4; i < argc; i++) {
		if (arg_is(argv[i], lens[i], "count") && i + 1 < argc) {
			i++;
			if (parse_ll(argv[i], lens[i], &count) == -1 ||
			    count < 0) {
				reply_notint(c);
				return;
			}
			if (count == 0)
				count = LLONG_MAX;
		} else if (arg_is(argv[i], lens[i], "block") && i + 1 < argc)
			i++;
		else if (arg_is(argv[i], lens[i], "noack"))
			noack = 1;
		else if (arg_is(argv[i], lens[i], "streams")) {
			ks = i + 1;
			break;
		} else {
			reply_syntax(c);
			return;
		}
	}
	if (ks == 0 || argc - ks != 2) {
		reply_error(c, "ERR dflymaster: XREADGROUP takes exactly one "
		    "stream");
		return;
	}
	if (!arg_is(argv[ks + 1], lens[ks + 1], ">")) {
		reply_error(c, "ERR dflymaster: XREADGROUP reads new entries "
		    "only ('>')");
		return;
	}
	o = get_typed(c, argv[ks], lens[ks], OBJ_STREAM, 1, &wt);
	if (wt)
		return;
	if (o == NULL || (g = find_group(&o->x, argv[2], lens[2])) == NULL) {
		reply_nogroup(c, argv[ks], lens[ks], argv[2], lens[2]);
		return;
	}
	cons = find_consumer(g, argv[3], lens[3], 1, &created);
	g->cons[cons].seen_ms = now;
	if (created)
		jr_strs(c, argv[ks], lens[ks], 5, "XGROUP", (size_t)6,
		    "CREATECONSUMER", (size_t)14, argv[ks], lens[ks], argv[2],
		    lens[2], argv[3], lens[3]);
	for (start = 0; start < o->x.n &&
	    sid_cmp(o->x.e[start].id, g->last) <= 0; start++)
		;
	n = o->x.n - start;
	if ((long long)n > count)
		n = (size_t)count;
	if (n == 0) {
		reply_null_array(c);
		return;
	}
	g->cons[cons].active_ms = now;
	reply_array(c, 1);
	reply_array(c, 2);
	reply_bulk(c, argv[ks], lens[ks]);
	reply_array(c, (long long)n);
	snprintf(tb, sizeof(tb), "%lld", (long long)now);
	for (i = start; i < start + n; i++) {
		reply_entry(c, &o->x.e[i]);
		if (noack)
			continue;
		if ((g->pel = reallocarray(g->pel, g->npel + 1,
		    sizeof(*g->pel))) == NULL)
			fatal("reallocarray");
		g->pel[g->npel].id = o->x.e[i].id;
		g->pel[g->npel].delivery_ms = now;
		g->pel[g->npel].count = 1;
		g->pel[g->npel++].consumer = cons;
		fmt_sid(idb, sizeof(idb), o->x.e[i].id);
		jr_strs(c, argv[ks], lens[ks], 14, "XCLAIM", (size_t)6,
		    argv[ks], lens[ks], argv[2], lens[2], argv[3], lens[3],
		    "0", (size_t)1, idb, strlen(idb), "TIME", (size_t)4, tb,
		    strlen(tb), "RETRYCOUNT", (size_t)10, "1", (size_t)1,
		    "FORCE", (size_t)5, "JUSTID", (size_t)6, "LASTID",
		    (size_t)6, idb, strlen(idb));
	}
	g->last = o->x.e[start + n - 1].id;
	g->entries_read += n;
	fmt_sid(idb, sizeof(idb), g->last);
	snprintf(nb, sizeof(nb), "%llu", (unsigned long long)g->entries_read);
	jr_strs(c, argv[ks], lens[ks], 7, "XGROUP", (size_t)6, "SETID",
	    (size_t)5, argv[ks], lens[ks], argv[2], lens[2], idb, strlen(idb),
	    "ENTRIESREAD", (size_t)11, nb, strlen(nb));
}

void
cmd_xack(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct group	*g;
	struct sid	 id;
	size_t		 i, j, n = 0;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_STREAM, 1, &wt);
	if (wt)
		return;
	if (o == NULL || (g = find_group(&o->x, argv[2], lens[2])) == NULL) {
		reply_int(c, 0);
		return;
	}
	for (i = 3; i < argc; i++) {
		if (parse_sid(argv[i], lens[i], 0, &id, NULL) == -1) {
			reply_error(c, "ERR Invalid stream ID specified as "
			    "stream command argument");
			return;
		}
		for (j = 0; j < g->npel; j++)
			if (sid_cmp(g->pel[j].id, id) == 0) {
				memmove(&g->pel[j], &g->pel[j + 1],
				    (g->npel - j - 1) * sizeof(*g->pel));
				g->npel--;
				n++;
				break;
			}
	}
	if (n > 0)
		jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)n);
}

static size_t
pending_of(const struct group *g, size_t cons)
{
	size_t	 i, n = 0;

	for (i = 0; i < g->npel; i++)
		n += g->pel[i].consumer == cons;
	return n;
}

void
cmd_xinfo(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct group	*g;
	size_t		 i;
	int		 wt;
	int64_t		 now = wall_ms();

	o = get_typed(c, argv[2], lens[2], OBJ_STREAM, 0, &wt);
	if (wt)
		return;
	if (o == NULL) {
		reply_error(c, "ERR no such key");
		return;
	}
	if (arg_is(argv[1], lens[1], "groups")) {
		reply_array(c, (long long)o->x.ng);
		for (i = 0; i < o->x.ng; i++) {
			g = &o->x.g[i];
			reply_array(c, 12);
			reply_cstr(c, "name");
			reply_bulk(c, g->name.p, g->name.len);
			reply_cstr(c, "consumers");
			reply_int(c, (long long)g->ncons);
			reply_cstr(c, "pending");
			reply_int(c, (long long)g->npel);
			reply_cstr(c, "last-delivered-id");
			reply_sid(c, g->last);
			reply_cstr(c, "entries-read");
			reply_int(c, (long long)g->entries_read);
			reply_cstr(c, "lag");
			reply_int(c, (long long)(o->x.added - g->entries_read));
		}
	} else if (arg_is(argv[1], lens[1], "consumers") && argc == 4) {
		if ((g = find_group(&o->x, argv[3], lens[3])) == NULL) {
			reply_nogroup(c, argv[2], lens[2], argv[3], lens[3]);
			return;
		}
		reply_array(c, (long long)g->ncons);
		for (i = 0; i < g->ncons; i++) {
			reply_array(c, 8);
			reply_cstr(c, "name");
			reply_bulk(c, g->cons[i].name.p, g->cons[i].name.len);
			reply_cstr(c, "pending");
			reply_int(c, (long long)pending_of(g, i));
			reply_cstr(c, "idle");
			reply_int(c, now - g->cons[i].seen_ms);
			reply_cstr(c, "inactive");
			reply_int(c, g->cons[i].active_ms < 0 ? -1 :
			    now - g->cons[i].active_ms);
		}
	} else if (arg_is(argv[1], lens[1], "stream")) {
		reply_array(c, 20);
		reply_cstr(c, "length");
		reply_int(c, (long long)o->x.n);
		reply_cstr(c, "radix-tree-keys");
		reply_int(c, (long long)(o->x.n + 99) / 100);
		reply_cstr(c, "radix-tree-nodes");
		reply_int(c, (long long)(o->x.n + 99) / 100 + 1);
		reply_cstr(c, "last-generated-id");
		reply_sid(c, o->x.last);
		reply_cstr(c, "max-deleted-entry-id");
		reply_sid(c, o->x.maxdel);
		reply_cstr(c, "entries-added");
		reply_int(c, (long long)o->x.added);
		reply_cstr(c, "recorded-first-entry-id");
		reply_sid(c, o->x.n ? o->x.e[0].id : (struct sid){ 0, 0 });
		reply_cstr(c, "groups");
		reply_int(c, (long long)o->x.ng);
		reply_cstr(c, "first-entry");
		if (o->x.n)
			reply_entry(c, &o->x.e[0]);
		else
			reply_null(c);
		reply_cstr(c, "last-entry");
		if (o->x.n)
			reply_entry(c, &o->x.e[o->x.n - 1]);
		else
			reply_null(c);
	} else
		reply_syntax(c);
}

/* XPENDING k g, or the extended XPENDING k g start end count [consumer] */
void
cmd_xpending(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct group	*g;
	struct sid	 lo = { 0, 0 }, hi = { UINT64_MAX, UINT64_MAX };
	long long	 count;
	size_t		 i, n = 0, cons = SIZE_MAX;
	int		 wt, created;
	int64_t		 now = wall_ms();

	o = get_typed(c, argv[1], lens[1], OBJ_STREAM, 0, &wt);
	if (wt)
		return;
	if (o == NULL || (g = find_group(&o->x, argv[2], lens[2])) == NULL) {
		reply_nogroup(c, argv[1], lens[1], argv[2], lens[2]);
		return;
	}
	if (argc == 3) {
		reply_array(c, 4);
		reply_int(c, (long long)g->npel);
		if (g->npel == 0) {
			reply_null(c);
			reply_null(c);
			reply_null_array(c);
			return;
		}
		reply_sid(c, g->pel[0].id);
		reply_sid(c, g->pel[g->npel - 1].id);
		for (i = 0; i < g->ncons; i++)
			n += pending_of(g, i) > 0;
		reply_array(c, (long long)n);
		for (i = 0; i < g->ncons; i++) {
			char	 num[32];

			if (pending_of(g, i) == 0)
				continue;
			reply_array(c, 2);
			reply_bulk(c, g->cons[i].name.p, g->cons[i].name.len);
			snprintf(num, sizeof(num), "%zu", pending_of(g, i));
			reply_cstr(c, num);
		}
		return;
	}
	if (argc < 6 || argc > 7 ||
	    (!arg_is(argv[3], lens[3], "-") &&
	    parse_sid(argv[3], lens[3], 0, &lo, NULL) == -1) ||
	    (!arg_is(argv[4], lens[4], "+") &&
	    parse_sid(argv[4], lens[4], UINT64_MAX, &hi, NULL) == -1) ||
	    parse_ll(argv[5], lens[5], &count) == -1 || count < 0) {
		reply_syntax(c);
		return;
	}
	if (argc == 7 && (cons = find_consumer(g, argv[6], lens[6], 0,
	    &created)) == SIZE_MAX) {
		reply_array(c, 0);
		return;
	}
	for (i = 0; i < g->npel; i++)
		if (sid_cmp(g->pel[i].id, lo) >= 0 &&
		    sid_cmp(g->pel[i].id, hi) <= 0 &&
		    (cons == SIZE_MAX || g->pel[i].consumer == cons))
			n++;
	if ((long long)n > count)
		n = (size_t)count;
	reply_array(c, (long long)n);
	for (i = 0; i < g->npel && n > 0; i++) {
		const struct pel *p = &g->pel[i];

		if (sid_cmp(p->id, lo) < 0 || sid_cmp(p->id, hi) > 0 ||
		    (cons != SIZE_MAX && p->consumer != cons))
			continue;
		reply_array(c, 4);
		reply_sid(c, p->id);
		reply_bulk(c, g->cons[p->consumer].name.p,
		    g->cons[p->consumer].name.len);
		reply_int(c, now - p->delivery_ms);
		reply_int(c, (long long)p->count);
		n--;
	}
}
