/*
 * checkval.c - one key's value compared on both sides (check.h), type by
 * type, chunk by chunk: strings by GETRANGE, lists by LRANGE, streams by
 * XRANGE on both sides; hashes, sets and sorted sets by a cursor (HSCAN,
 * SSCAN, ZSCAN) on the source and a lookup of the same members on the
 * target (HMGET, SMISMEMBER, ZMSCORE), after their sizes were found
 * equal, which makes "every source member is on the target" mean equal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A short printable form of bytes, for the report. */
static void
show(char *buf, size_t bufsz, const char *p, size_t n)
{
	size_t	 i, o = 0;
	int	 w;

	for (i = 0; i < n && o + 8 < bufsz; i++) {
		if (o > 40) {
			o += snprintf(buf + o, bufsz - o, "...");
			break;
		}
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			buf[o++] = p[i];
		else {
			w = snprintf(buf + o, bufsz - o, "\\x%02x",
			    (unsigned char)p[i]);
			o += w;
		}
	}
	buf[o < bufsz ? o : bufsz - 1] = '\0';
}

/*
 * An error reply: WRONGTYPE (the key changed under us) is a difference,
 * anything else a failure.  1 when r is an error (why or e set), else 0.
 */
static int
refused(const struct side *s, const char *cmd, const redisReply *r,
    char *why, size_t whylen, int *rc, struct error *e)
{
	if (r->type != REDIS_REPLY_ERROR)
		return 0;
	if (strncmp(r->str, "WRONGTYPE", 9) == 0) {
		snprintf(why, whylen, "its type changed on the %s during the "
		    "check", s->label);
		*rc = 1;
	} else
		*rc = err_set(e, ERR_TARGET, "%s: %s: %s", s->label, cmd,
		    r->str);
	return 1;
}

/* Both replies checked for errors; 1 when the caller must return *rc. */
static int
replies_bad(struct side *src, struct side *dst, const char *cmd,
    redisReply *rs, redisReply *rt, char *why, size_t whylen, int *rc,
    struct error *e)
{
	if (refused(src, cmd, rs, why, whylen, rc, e) ||
	    refused(dst, cmd, rt, why, whylen, rc, e)) {
		freeReplyObject(rs);
		freeReplyObject(rt);
		return 1;
	}
	return 0;
}

static int
proto(const struct side *s, const char *cmd, struct error *e)
{
	return err_set(e, ERR_PROTO, "%s: %s: unexpected reply", s->label,
	    cmd);
}

static int
same_str(const redisReply *a, const redisReply *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type != REDIS_REPLY_STRING && a->type != REDIS_REPLY_STATUS)
		return a->type == REDIS_REPLY_NIL ||
		    (a->type == REDIS_REPLY_INTEGER &&
		    a->integer == b->integer);
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Where two string replies part. */
static size_t
first_diff(const redisReply *a, const redisReply *b)
{
	size_t	 i;

	if (a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING)
		return 0;
	for (i = 0; i < a->len && i < b->len && a->str[i] == b->str[i]; i++)
		;
	return i;
}

/* The size command (STRLEN, LLEN, HLEN, ...) on both; -1 e, 1 differ. */
static int
sizes(struct side *src, struct side *dst, const char *cmd, const char *key,
    size_t klen, long long *n, char *why, size_t whylen, struct error *e)
{
	const char	*argv[2] = { cmd, key };
	size_t		 lens[2] = { strlen(cmd), klen };
	redisReply	*rs, *rt;
	int		 rc = 0;

	if (both_command(src, dst, 2, argv, lens, 1, &rs, &rt,
	    e) == -1)
		return -1;
	if (replies_bad(src, dst, cmd, rs, rt, why, whylen, &rc, e))
		return rc;
	if (rs->type != REDIS_REPLY_INTEGER || rt->type != REDIS_REPLY_INTEGER)
		rc = proto(rs->type != REDIS_REPLY_INTEGER ? src : dst, cmd, e);
	else if (rs->integer != rt->integer) {
		snprintf(why, whylen, "%s %lld on the source, %lld on the "
		    "target", cmd, rs->integer, rt->integer);
		rc = 1;
	} else
		*n = rs->integer;
	freeReplyObject(rs);
	freeReplyObject(rt);
	return rc;
}

static int
cmp_string(struct side *src, struct side *dst, const char *key, size_t klen,
    char *why, size_t whylen, struct error *e)
{
	const char	*argv[4] = { "GETRANGE", key, NULL, NULL };
	size_t		 lens[4] = { 8, klen, 0, 0 };
	char		 from[24], to[24];
	redisReply	*rs, *rt;
	long long	 len, off;
	int		 rc;

	if ((rc = sizes(src, dst, "STRLEN", key, klen, &len, why, whylen,
	    e)) != 0)
		return rc;
	for (off = 0; off < len; off += CHECK_STRCHUNK) {
		lens[2] = snprintf(from, sizeof(from), "%lld", off);
		lens[3] = snprintf(to, sizeof(to), "%lld",
		    off + CHECK_STRCHUNK - 1);
		argv[2] = from;
		argv[3] = to;
		if (both_command(src, dst, 4, argv, lens, 1, &rs, &rt,
	    e) == -1)
			return -1;
		if (replies_bad(src, dst, "GETRANGE", rs, rt, why, whylen, &rc,
		    e))
			return rc;
		if (!same_str(rs, rt)) {
			snprintf(why, whylen, "the bytes differ from offset "
			    "%lld", off + (long long)first_diff(rs, rt));
			rc = 1;
		}
		freeReplyObject(rs);
		freeReplyObject(rt);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
cmp_list(struct side *src, struct side *dst, const char *key, size_t klen,
    char *why, size_t whylen, struct error *e)
{
	const char	*argv[4] = { "LRANGE", key, NULL, NULL };
	size_t		 lens[4] = { 6, klen, 0, 0 };
	char		 from[24], to[24];
	redisReply	*rs, *rt;
	long long	 len, off;
	size_t		 i;
	int		 rc;

	if ((rc = sizes(src, dst, "LLEN", key, klen, &len, why, whylen,
	    e)) != 0)
		return rc;
	for (off = 0; off < len; off += CHECK_CHUNK) {
		lens[2] = snprintf(from, sizeof(from), "%lld", off);
		lens[3] = snprintf(to, sizeof(to), "%lld",
		    off + CHECK_CHUNK - 1);
		argv[2] = from;
		argv[3] = to;
		if (both_command(src, dst, 4, argv, lens, 1, &rs, &rt,
	    e) == -1)
			return -1;
		if (replies_bad(src, dst, "LRANGE", rs, rt, why, whylen, &rc,
		    e))
			return rc;
		if (rs->type != REDIS_REPLY_ARRAY ||
		    rt->type != REDIS_REPLY_ARRAY)
			rc = proto(rs->type != REDIS_REPLY_ARRAY ? src : dst,
			    "LRANGE", e);
		else if (rs->elements != rt->elements) {
			snprintf(why, whylen, "the list changed length during "
			    "the check");
			rc = 1;
		} else
			for (i = 0; i < rs->elements; i++)
				if (!same_str(rs->element[i], rt->element[i])) {
					snprintf(why, whylen, "element %lld "
					    "differs", off + (long long)i);
					rc = 1;
					break;
				}
		freeReplyObject(rs);
		freeReplyObject(rt);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * One chunk of members from the source's cursor command (HSCAN, SSCAN,
 * ZSCAN key cursor COUNT n): the reply, its members array and the next
 * cursor.  NULL with rc set on an error reply.
 */
static redisReply *
scan_chunk(struct side *src, const char *cmd, const char *key, size_t klen,
    char *cursor, size_t cursorsz, char *why, size_t whylen, int *rc,
    struct error *e)
{
	char		 count[16];
	const char	*argv[5] = { cmd, key, cursor, "COUNT", count };
	size_t		 lens[5] = { strlen(cmd), klen, strlen(cursor), 5, 0 };
	redisReply	*r;

	lens[4] = snprintf(count, sizeof(count), "%d", CHECK_CHUNK);
	if ((r = side_command(src, 5, argv, lens, 1, e)) == NULL) {
		*rc = -1;
		return NULL;
	}
	if (refused(src, cmd, r, why, whylen, rc, e)) {
		freeReplyObject(r);
		return NULL;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->len >= cursorsz) {
		freeReplyObject(r);
		*rc = proto(src, cmd, e);
		return NULL;
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
	return r;
}

/* A score as Redis prints it, compared as a double. */
static int
same_score(const redisReply *a, const redisReply *b)
{
	double	 x, y;

	if (a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING)
		return 0;
	x = strtod(a->str, NULL);
	y = strtod(b->str, NULL);
	return x == y || (isnan(x) && isnan(y));
}

/* One member of a source chunk against the target's answer for it. */
static int
member_differs(const char *type, const redisReply *val,
    const redisReply *got, const char *name, size_t nlen, char *why,
    size_t whylen)
{
	char	 buf[160];
	int	 missing;

	missing = got->type == REDIS_REPLY_NIL ||
	    (got->type == REDIS_REPLY_INTEGER && got->integer == 0);
	if (!missing && (*type == 's' || (*type == 'h' ? same_str(val, got) :
	    same_score(val, got))))
		return 0;
	show(buf, sizeof(buf), name, nlen);
	if (missing)
		snprintf(why, whylen, "%s \"%s\" is not on the target",
		    *type == 'h' ? "field" : "member", buf);
	else if (*type == 'h')
		snprintf(why, whylen, "field \"%s\" differs", buf);
	else
		snprintf(why, whylen, "the score of \"%s\" differs", buf);
	return 1;
}

/*
 * Hashes, sets and sorted sets: every member the source's cursor yields
 * looked up on the target.  step is 2 for field/value and member/score
 * pairs, 1 for set members.
 */
static int
cmp_members(struct side *src, struct side *dst, const char *type,
    const char *key, size_t klen, char *why, size_t whylen, struct error *e)
{
	const char	*sizecmd, *scancmd, *getcmd;
	const char	**argv = NULL;
	size_t		*lens = NULL, i, n, step;
	redisReply	*rs, *rt, *m;
	char		 cursor[64] = "0";
	long long	 len;
	int		 rc;

	if (strcmp(type, "hash") == 0) {
		sizecmd = "HLEN", scancmd = "HSCAN", getcmd = "HMGET", step = 2;
	} else if (strcmp(type, "set") == 0) {
		sizecmd = "SCARD", scancmd = "SSCAN", getcmd = "SMISMEMBER";
		step = 1;
	} else {
		sizecmd = "ZCARD", scancmd = "ZSCAN", getcmd = "ZMSCORE";
		step = 2;
	}
	if ((rc = sizes(src, dst, sizecmd, key, klen, &len, why, whylen,
	    e)) != 0)
		return rc;
	do {
		if ((rs = scan_chunk(src, scancmd, key, klen, cursor,
		    sizeof(cursor), why, whylen, &rc, e)) == NULL)
			return rc;
		m = rs->element[1];
		n = m->elements / step;
		if (n == 0) {
			freeReplyObject(rs);
			continue;
		}
		free(argv);
		free(lens);
		argv = calloc(n + 2, sizeof(*argv));
		lens = calloc(n + 2, sizeof(*lens));
		if (argv == NULL || lens == NULL) {
			freeReplyObject(rs);
			rc = err_set(e, ERR_SYS, "out of memory");
			break;
		}
		argv[0] = getcmd;
		lens[0] = strlen(getcmd);
		argv[1] = key;
		lens[1] = klen;
		for (i = 0; i < n; i++) {
			argv[i + 2] = m->element[i * step]->str;
			lens[i + 2] = m->element[i * step]->len;
		}
		if ((rt = side_command(dst, (int)n + 2, argv, lens, 1,
		    e)) == NULL) {
			freeReplyObject(rs);
			rc = -1;
			break;
		}
		if (refused(dst, getcmd, rt, why, whylen, &rc, e))
			;
		else if (rt->type != REDIS_REPLY_ARRAY || rt->elements != n)
			rc = proto(dst, getcmd, e);
		else
			for (i = 0; i < n && rc == 0; i++)
				rc = member_differs(type, step == 2 ?
				    m->element[i * 2 + 1] : NULL,
				    rt->element[i], argv[i + 2], lens[i + 2],
				    why, whylen);
		freeReplyObject(rt);
		freeReplyObject(rs);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	free(argv);
	free(lens);
	return rc;
}

/* The value after name in a flat name/value array, or NULL. */
static const redisReply *
field(const redisReply *r, const char *name)
{
	size_t	 i;

	if (r->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING ||
		    r->element[i]->type == REDIS_REPLY_STATUS)
			if (strcmp(r->element[i]->str, name) == 0)
				return r->element[i + 1];
	return NULL;
}

/* The fields both report must agree (nil on one side: not reported). */
static int
same_fields(const redisReply *a, const redisReply *b,
    const char *const *names, const char **which)
{
	const redisReply	*x, *y;

	for (; *names != NULL; names++) {
		x = field(a, *names);
		y = field(b, *names);
		if (x == NULL || y == NULL || x->type == REDIS_REPLY_NIL ||
		    y->type == REDIS_REPLY_NIL)
			continue;
		if (!same_str(x, y)) {
			*which = *names;
			return 0;
		}
	}
	return 1;
}

/* The id after id: ms-(seq+1), or (ms+1)-0. */
static int
next_id(const redisReply *id, char *buf, size_t bufsz)
{
	unsigned long long	 ms, seq;

	if (id->type != REDIS_REPLY_STRING ||
	    sscanf(id->str, "%llu-%llu", &ms, &seq) != 2)
		return -1;
	if (seq == UINT64_MAX)
		snprintf(buf, bufsz, "%llu-0", ms + 1);
	else
		snprintf(buf, bufsz, "%llu-%llu", ms, seq + 1);
	return 0;
}

static int
same_entry(const redisReply *a, const redisReply *b)
{
	size_t	 i;

	if (a->type != REDIS_REPLY_ARRAY || b->type != REDIS_REPLY_ARRAY ||
	    a->elements != 2 || b->elements != 2 ||
	    !same_str(a->element[0], b->element[0]))
		return 0;
	a = a->element[1];
	b = b->element[1];
	if (a->type != b->type || a->elements != b->elements)
		return 0;
	for (i = 0; i < a->elements; i++)
		if (!same_str(a->element[i], b->element[i]))
			return 0;
	return 1;
}

static int
cmp_stream_entries(struct side *src, struct side *dst, const char *key,
    size_t klen, char *why, size_t whylen, struct error *e)
{
	char		 start[64] = "-", count[16];
	const char	*argv[6] = { "XRANGE", key, start, "+", "COUNT",
			    count };
	size_t		 lens[6] = { 6, klen, 1, 1, 5, 0 };
	redisReply	*rs, *rt;
	size_t		 i, n;
	int		 rc = 0;

	lens[5] = snprintf(count, sizeof(count), "%d", CHECK_CHUNK);
	do {
		lens[2] = strlen(start);
		if (both_command(src, dst, 6, argv, lens, 1, &rs, &rt,
	    e) == -1)
			return -1;
		if (replies_bad(src, dst, "XRANGE", rs, rt, why, whylen, &rc,
		    e))
			return rc;
		n = 0;
		if (rs->type != REDIS_REPLY_ARRAY ||
		    rt->type != REDIS_REPLY_ARRAY)
			rc = proto(rs->type != REDIS_REPLY_ARRAY ? src : dst,
			    "XRANGE", e);
		else if (rs->elements != rt->elements) {
			snprintf(why, whylen, "the entries differ after %s",
			    start);
			rc = 1;
		} else {
			for (i = 0; i < rs->elements; i++)
				if (!same_entry(rs->element[i],
				    rt->element[i])) {
					snprintf(why, whylen, "entry %zu after "
					    "%s differs", i, start);
					rc = 1;
					break;
				}
			n = rs->elements;
			if (rc == 0 && n > 0 && next_id(rs->element[n - 1]->
			    element[0], start, sizeof(start)) == -1)
				rc = proto(src, "XRANGE", e);
		}
		freeReplyObject(rs);
		freeReplyObject(rt);
	} while (rc == 0 && n == CHECK_CHUNK);
	return rc;
}

/* A group of the array r named like g, or NULL. */
static const redisReply *
group_named(const redisReply *r, const redisReply *g)
{
	const redisReply	*name = field(g, "name"), *other;
	size_t			 i;

	for (i = 0; name != NULL && i < r->elements; i++)
		if ((other = field(r->element[i], "name")) != NULL &&
		    same_str(name, other))
			return r->element[i];
	return NULL;
}

/* XINFO STREAM and XINFO GROUPS, as far as both sides report them. */
static int
cmp_stream_meta(struct side *src, struct side *dst, const char *key,
    size_t klen, char *why, size_t whylen, struct error *e)
{
	static const char *const meta[] = { "length", "last-generated-id",
	    "entries-added", "max-deleted-entry-id", NULL };
	static const char *const gmeta[] = { "consumers", "pending",
	    "last-delivered-id", "entries-read", NULL };
	const char		*argv[3] = { "XINFO", "STREAM", key };
	size_t			 lens[3] = { 5, 6, klen }, i;
	const redisReply	*g;
	redisReply		*rs, *rt;
	const char		*which;
	char			 buf[160];
	int			 rc = 0;

	if (both_command(src, dst, 3, argv, lens, 2, &rs, &rt,
	    e) == -1)
		return -1;
	if (replies_bad(src, dst, "XINFO STREAM", rs, rt, why, whylen, &rc, e))
		return rc;
	if (!same_fields(rs, rt, meta, &which)) {
		snprintf(why, whylen, "its %s differs", which);
		rc = 1;
	}
	freeReplyObject(rs);
	freeReplyObject(rt);
	if (rc != 0)
		return rc;
	argv[1] = "GROUPS";
	if (both_command(src, dst, 3, argv, lens, 2, &rs, &rt,
	    e) == -1)
		return -1;
	if (replies_bad(src, dst, "XINFO GROUPS", rs, rt, why, whylen, &rc, e))
		return rc;
	if (rs->type != REDIS_REPLY_ARRAY || rt->type != REDIS_REPLY_ARRAY)
		rc = proto(rs->type != REDIS_REPLY_ARRAY ? src : dst,
		    "XINFO GROUPS", e);
	else if (rs->elements != rt->elements) {
		snprintf(why, whylen, "%zu consumer groups on the source, %zu "
		    "on the target", rs->elements, rt->elements);
		rc = 1;
	} else
		for (i = 0; i < rs->elements && rc == 0; i++) {
			g = field(rs->element[i], "name");
			if (g != NULL && g->type == REDIS_REPLY_STRING)
				show(buf, sizeof(buf), g->str, g->len);
			else
				strlcpy(buf, "?", sizeof(buf));
			if ((g = group_named(rt, rs->element[i])) == NULL) {
				snprintf(why, whylen, "consumer group \"%s\" "
				    "is not on the target", buf);
				rc = 1;
			} else if (!same_fields(rs->element[i], g, gmeta,
			    &which)) {
				snprintf(why, whylen, "the %s of consumer "
				    "group \"%s\" differs", which, buf);
				rc = 1;
			}
		}
	freeReplyObject(rs);
	freeReplyObject(rt);
	return rc;
}

static int
cmp_json(struct side *src, struct side *dst, const char *key, size_t klen,
    char *why, size_t whylen, struct error *e)
{
	const char	*argv[2] = { "JSON.GET", key };
	size_t		 lens[2] = { 8, klen };
	redisReply	*rs, *rt;
	int		 rc = 0;

	if (both_command(src, dst, 2, argv, lens, 1, &rs, &rt,
	    e) == -1)
		return -1;
	if (replies_bad(src, dst, "JSON.GET", rs, rt, why, whylen, &rc, e))
		return rc;
	if (!same_str(rs, rt)) {
		snprintf(why, whylen, "the JSON documents differ");
		rc = 1;
	}
	freeReplyObject(rs);
	freeReplyObject(rt);
	return rc;
}

int
check_value(struct side *src, struct side *dst, const char *type,
    const char *key, size_t klen, char *why, size_t whylen, struct error *e)
{
	int	 rc;

	if (strcmp(type, "string") == 0)
		return cmp_string(src, dst, key, klen, why, whylen, e);
	if (strcmp(type, "list") == 0)
		return cmp_list(src, dst, key, klen, why, whylen, e);
	if (strcmp(type, "hash") == 0 || strcmp(type, "set") == 0 ||
	    strcmp(type, "zset") == 0)
		return cmp_members(src, dst, type, key, klen, why, whylen, e);
	if (strcmp(type, "stream") == 0) {
		if ((rc = cmp_stream_entries(src, dst, key, klen, why, whylen,
		    e)) != 0)
			return rc;
		return cmp_stream_meta(src, dst, key, klen, why, whylen, e);
	}
	if (strcmp(type, "ReJSON-RL") == 0)
		return cmp_json(src, dst, key, klen, why, whylen, e);
	return err_set(e, ERR_DATA, "no comparison for type %s", type);
}

/* n commands of argc arguments on key idx[i], pipelined on each side. */
static int
pipe_both(struct side *src, struct side *dst, struct side_cmd *cmds,
    size_t n, redisReply **rs, redisReply **rt, struct error *e)
{
	size_t	 i;

	if (side_pipe(src, cmds, n, rs, e) == -1)
		return -1;
	if (side_pipe(dst, cmds, n, rt, e) == -1) {
		for (i = 0; i < n; i++)
			freeReplyObject(rs[i]);
		return -1;
	}
	return 0;
}

static void
free_both(redisReply **rs, redisReply **rt, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		freeReplyObject(rs[i]);
		freeReplyObject(rt[i]);
	}
}

static void
string_cmds(struct side_cmd *cmds, const char **keys, const size_t *lens,
    const size_t *idx, size_t n, int get)
{
	static char	 last[24];
	size_t		 i;

	snprintf(last, sizeof(last), "%d", CHECK_SMALLSTR - 1);
	memset(cmds, 0, n * sizeof(*cmds));
	for (i = 0; i < n; i++) {
		cmds[i].argc = get ? 4 : 2;
		cmds[i].argv[0] = get ? "GETRANGE" : "STRLEN";
		cmds[i].lens[0] = get ? 8 : 6;
		cmds[i].argv[1] = keys[idx[i]];
		cmds[i].lens[1] = lens[idx[i]];
		cmds[i].argv[2] = "0";
		cmds[i].lens[2] = 1;
		cmds[i].argv[3] = last;
		cmds[i].lens[3] = strlen(last);
		cmds[i].keyidx = 1;
	}
}

int
check_strings(struct side *src, struct side *dst, const char **keys,
    const size_t *lens, const size_t *idx, size_t n, int *diff, char **why,
    struct error *e)
{
	struct side_cmd	 cmds[CHECK_PIPE];
	redisReply	*rs[CHECK_PIPE], *rt[CHECK_PIPE];
	size_t		 small[CHECK_PIPE], i, j, ns = 0;
	int		 rc = 0;

	string_cmds(cmds, keys, lens, idx, n, 0);
	if (pipe_both(src, dst, cmds, n, rs, rt, e) == -1)
		return -1;
	for (i = 0; i < n && rc != -1; i++) {
		diff[i] = 0;
		if (refused(src, "STRLEN", rs[i], why[i], CHECK_WHYLEN,
		    &diff[i], e) || refused(dst, "STRLEN", rt[i], why[i],
		    CHECK_WHYLEN, &diff[i], e))
			rc = diff[i] == -1 ? -1 : 0;
		else if (rs[i]->type != REDIS_REPLY_INTEGER ||
		    rt[i]->type != REDIS_REPLY_INTEGER)
			rc = proto(rs[i]->type != REDIS_REPLY_INTEGER ? src :
			    dst, "STRLEN", e);
		else if (rs[i]->integer != rt[i]->integer) {
			snprintf(why[i], CHECK_WHYLEN, "STRLEN %lld on the "
			    "source, %lld on the target", rs[i]->integer,
			    rt[i]->integer);
			diff[i] = 1;
		} else if (rs[i]->integer < CHECK_SMALLSTR)
			small[ns++] = i;
		else
			diff[i] = -2;	/* a big one: in pieces, below */
	}
	free_both(rs, rt, n);
	if (rc == -1)
		return -1;
	for (i = 0; i < ns; i++)
		small[i] = idx[small[i]];
	string_cmds(cmds, keys, lens, small, ns, 1);
	if (ns > 0 && pipe_both(src, dst, cmds, ns, rs, rt, e) == -1)
		return -1;
	for (i = j = 0; i < ns; i++) {
		while (idx[j] != small[i])
			j++;
		if (refused(src, "GETRANGE", rs[i], why[j], CHECK_WHYLEN,
		    &diff[j], e) || refused(dst, "GETRANGE", rt[i], why[j],
		    CHECK_WHYLEN, &diff[j], e)) {
			if (diff[j] == -1)
				rc = -1;
		} else if (!same_str(rs[i], rt[i])) {
			snprintf(why[j], CHECK_WHYLEN, "the bytes differ from "
			    "offset %zu", first_diff(rs[i], rt[i]));
			diff[j] = 1;
		}
	}
	free_both(rs, rt, ns);
	for (j = 0; j < n && rc == 0; j++)
		if (diff[j] == -2 && (diff[j] = cmp_string(src, dst,
		    keys[idx[j]], lens[idx[j]], why[j], CHECK_WHYLEN, e)) == -1)
			rc = -1;
	return rc;
}
