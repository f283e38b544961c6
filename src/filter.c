/*
 * filter.c - which source keys df2redis copies (filter.h): the options,
 * the compiled filter, and the keys of journal commands.
 */
#include <sys/types.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"

#define MAXPAT	256

static const struct {
	const char	*name;
	char		 kind;
} patopts[] = {
	{ "key-prefix", 'p' }, { "key-exclude-prefix", 'P' },
	{ "key-regex", 'r' }, { "key-exclude-regex", 'R' },
};

struct filter {
	uint8_t		 db_ok[FILTER_MAXDB];
	int		 dbmax;
	int		 keyed, flush_all;
	size_t		 npre_in, npre_out, nre_in, nre_out;
	const char	*pre_in[MAXPAT], *pre_out[MAXPAT];
	size_t		 prelen_in[MAXPAT], prelen_out[MAXPAT];
	regex_t		 re_in[MAXPAT], re_out[MAXPAT];
	char		 pat[FILTER_SPECLEN];
};

/* ------------------------------------------------------------ options */

static char
pat_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(patopts) / sizeof(patopts[0]); i++)
		if (strcmp(patopts[i].name, name) == 0)
			return patopts[i].kind;
	return 0;
}

int
filter_option(const char *name)
{
	return pat_kind(name) != 0 || strcmp(name, "db-filter") == 0 ||
	    strcmp(name, "db-exclude") == 0 ||
	    strcmp(name, "filter-flush") == 0;
}

/* "0,2-4": each db named set in dbs. */
static int
parse_dbs(const char *name, const char *v, uint8_t *dbs, struct error *e)
{
	char buf[4096], *p, *item, *dash;
	const char *errstr;
	long long lo, hi, i;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
		return err_set(e, ERR_CONFIG, "%s: too long", name);
	for (p = buf; (item = strsep(&p, ",")) != NULL;) {
		item += strspn(item, " ");
		if (*item == '\0')
			return err_set(e, ERR_CONFIG, "%s \"%s\": an empty "
			    "item", name, v);
		if ((dash = strchr(item, '-')) != NULL)
			*dash++ = '\0';
		lo = strtonum(item, 0, FILTER_MAXDB - 1, &errstr);
		if (errstr != NULL)
			return err_set(e, ERR_CONFIG, "%s: db \"%s\" is %s "
			    "(0-%d)", name, item, errstr, FILTER_MAXDB - 1);
		hi = lo;
		if (dash != NULL) {
			hi = strtonum(dash, lo, FILTER_MAXDB - 1, &errstr);
			if (errstr != NULL)
				return err_set(e, ERR_CONFIG, "%s: range end "
				    "\"%s\" is %s (%lld-%d)", name, dash,
				    errstr, lo, FILTER_MAXDB - 1);
		}
		for (i = lo; i <= hi; i++)
			dbs[i] = 1;
	}
	return 0;
}

int
filter_spec_set(struct filter_spec *s, const char *name, const char *value,
    struct error *e)
{
	char kind, msg[256];
	size_t n;
	regex_t re;
	int rc;

	if (strcmp(name, "db-filter") == 0) {
		s->have_db_in = 1;
		return parse_dbs(name, value, s->db_in, e);
	}
	if (strcmp(name, "db-exclude") == 0)
		return parse_dbs(name, value, s->db_out, e);
	if (strcmp(name, "filter-flush") == 0) {
		if (strcmp(value, "fail") == 0)
			s->flush_all = 0;
		else if (strcmp(value, "all") == 0)
			s->flush_all = 1;
		else
			return err_set(e, ERR_CONFIG, "filter-flush: \"%s\" "
			    "is not fail or all", value);
		return 0;
	}
	if ((kind = pat_kind(name)) == 0)
		return err_set(e, ERR_CONFIG, "unknown option \"%s\"", name);
	if (*value == '\0')
		return err_set(e, ERR_CONFIG, "%s: empty value", name);
	if (kind == 'r' || kind == 'R') {
		if ((rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB)) !=
		    0) {
			regerror(rc, &re, msg, sizeof(msg));
			return err_set(e, ERR_CONFIG, "%s \"%s\": %s", name,
			    value, msg);
		}
		regfree(&re);
	}
	n = strlen(value);
	if (s->patlen + n + 2 > sizeof(s->pat))
		return err_set(e, ERR_CONFIG, "%s: the key patterns are "
		    "longer than %d bytes together", name, FILTER_SPECLEN);
	s->pat[s->patlen] = kind;
	memcpy(s->pat + s->patlen + 1, value, n + 1);
	s->patlen += n + 2;
	return 0;
}

void
filter_spec_reset(struct filter_spec *s, const char *name)
{
	char kind, *p, *end;
	size_t n;

	if (strcmp(name, "db-filter") == 0) {
		memset(s->db_in, 0, sizeof(s->db_in));
		s->have_db_in = 0;
		return;
	}
	if (strcmp(name, "db-exclude") == 0) {
		memset(s->db_out, 0, sizeof(s->db_out));
		return;
	}
	if ((kind = pat_kind(name)) == 0)
		return;
	for (p = s->pat, end = s->pat + s->patlen; p < end;) {
		n = strlen(p + 1) + 2;
		if (*p != kind) {
			p += n;
			continue;
		}
		memmove(p, p + n, end - p - n);
		end -= n;
		s->patlen -= n;
		memset(end, 0, n);
	}
}

/* The next pattern of kind from *p on, NULL at the end. */
static const char *
next_pat(const struct filter_spec *s, const char **p, char kind)
{
	const char *q, *end = s->pat + s->patlen;

	while ((q = *p) < end) {
		*p += strlen(q + 1) + 2;
		if (*q == kind)
			return q + 1;
	}
	return NULL;
}

int
filter_spec_changed(const struct filter_spec *a, const struct filter_spec *b,
    const char *name)
{
	const char *pa = a->pat, *pb = b->pat, *x, *y;
	char kind;

	if (strcmp(name, "db-filter") == 0)
		return a->have_db_in != b->have_db_in ||
		    memcmp(a->db_in, b->db_in, sizeof(a->db_in)) != 0;
	if (strcmp(name, "db-exclude") == 0)
		return memcmp(a->db_out, b->db_out, sizeof(a->db_out)) != 0;
	if (strcmp(name, "filter-flush") == 0)
		return a->flush_all != b->flush_all;
	if ((kind = pat_kind(name)) == 0)
		return 0;
	for (;;) {
		x = next_pat(a, &pa, kind);
		y = next_pat(b, &pb, kind);
		if (x == NULL || y == NULL)
			return x != y;
		if (strcmp(x, y) != 0)
			return 1;
	}
}

int
filter_spec_keyed(const struct filter_spec *s)
{
	return s->patlen > 0;
}

int
filter_spec_db(const struct filter_spec *s, int db)
{
	if (db < 0 || db >= FILTER_MAXDB)
		return !s->have_db_in;
	return (!s->have_db_in || s->db_in[db]) && !s->db_out[db];
}

int
filter_spec_active(const struct filter_spec *s)
{
	size_t i;

	if (s->have_db_in || s->patlen > 0)
		return 1;
	for (i = 0; i < FILTER_MAXDB; i++)
		if (s->db_out[i])
			return 1;
	return 0;
}

/* ------------------------------------------------------------ filter */

void
filter_free(struct filter *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nre_in; i++)
		regfree(&f->re_in[i]);
	for (i = 0; i < f->nre_out; i++)
		regfree(&f->re_out[i]);
	free(f);
}

static int
compile(struct filter *f, char kind, const char *text, struct error *e)
{
	char msg[256];
	regex_t *re;
	size_t *n;
	int rc;

	switch (kind) {
	case 'p':
	case 'P':
		n = kind == 'p' ? &f->npre_in : &f->npre_out;
		if (*n == MAXPAT)
			return err_set(e, ERR_CONFIG, "more than %d key "
			    "prefixes", MAXPAT);
		(kind == 'p' ? f->pre_in : f->pre_out)[*n] = text;
		(kind == 'p' ? f->prelen_in : f->prelen_out)[*n] =
		    strlen(text);
		(*n)++;
		return 0;
	default:
		n = kind == 'r' ? &f->nre_in : &f->nre_out;
		if (*n == MAXPAT)
			return err_set(e, ERR_CONFIG, "more than %d key "
			    "regexes", MAXPAT);
		re = kind == 'r' ? &f->re_in[*n] : &f->re_out[*n];
		if ((rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, re, msg, sizeof(msg));
			return err_set(e, ERR_CONFIG, "key regex \"%s\": %s",
			    text, msg);
		}
		(*n)++;
		return 0;
	}
}

struct filter *
filter_new(const struct filter_spec *s, struct error *e)
{
	struct filter *f;
	const char *p, *end;
	size_t i;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		err_set(e, ERR_SYS, "out of memory");
		return NULL;
	}
	f->dbmax = 15;
	for (i = 0; i < FILTER_MAXDB; i++) {
		f->db_ok[i] = filter_spec_db(s, (int)i);
		if ((s->db_in[i] || s->db_out[i]) && (int)i > f->dbmax)
			f->dbmax = (int)i;
	}
	f->flush_all = s->flush_all;
	f->keyed = s->patlen > 0;
	memcpy(f->pat, s->pat, s->patlen);
	for (p = f->pat, end = f->pat + s->patlen; p < end;
	    p += strlen(p + 1) + 2)
		if (compile(f, *p, p + 1, e) == -1) {
			filter_free(f);
			return NULL;
		}
	return f;
}

static int
key_matches(const regex_t *re, const char *key, size_t len)
{
	regmatch_t m[1];

	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	return regexec(re, len > 0 ? key : "", 1, m, REG_STARTEND) == 0;
}

static int
any_prefix(const char *const *pre, const size_t *plen, size_t n,
    const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (plen[i] <= len && memcmp(pre[i], key, plen[i]) == 0)
			return 1;
	return 0;
}

static int
any_re(const regex_t *re, size_t n, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (key_matches(&re[i], key, len))
			return 1;
	return 0;
}

int
filter_db(const struct filter *f, int db)
{
	if (f == NULL)
		return 1;
	return db >= 0 && db < FILTER_MAXDB && f->db_ok[db];
}

int
filter_dbmax(const struct filter *f)
{
	return f == NULL ? 15 : f->dbmax;
}

int
filter_keyed(const struct filter *f)
{
	return f != NULL && f->keyed;
}

int
filter_flush_all(const struct filter *f)
{
	return f != NULL && f->flush_all;
}

int
filter_key(const struct filter *f, int db, const char *key, size_t len)
{
	if (f == NULL)
		return 1;
	if (!filter_db(f, db))
		return 0;
	if (!f->keyed)
		return 1;
	if (any_prefix(f->pre_out, f->prelen_out, f->npre_out, key, len) ||
	    any_re(f->re_out, f->nre_out, key, len))
		return 0;
	if (f->npre_in == 0 && f->nre_in == 0)
		return 1;
	return any_prefix(f->pre_in, f->prelen_in, f->npre_in, key, len) ||
	    any_re(f->re_in, f->nre_in, key, len);
}

/* ------------------------------------------------------------ commands */

enum { K_FIXED, K_NUMKEYS, K_STORE, K_NONE };

/*
 * Where the keys of a journal command are: argv[first] to argv[last]
 * (negative: from the end, -1 the last) every step; K_NUMKEYS: argv[first]
 * is a key when first > 0, then argv[nk] holds how many keys follow it;
 * K_STORE: argv[1], and the argument after each STORE or STOREDIST.
 */
static const struct keyspec {
	const char	*name;
	int		 how;
	int		 first, last, step;
	int		 nk;
	int		 split;
} specs[] = {
	{ "DEL", K_FIXED, 1, -1, 1, 0, 1 },
	{ "UNLINK", K_FIXED, 1, -1, 1, 0, 1 },
	{ "TOUCH", K_FIXED, 1, -1, 1, 0, 1 },
	{ "EXISTS", K_FIXED, 1, -1, 1, 0, 1 },
	{ "MSET", K_FIXED, 1, -1, 2, 0, 1 },
	{ "MSETNX", K_FIXED, 1, -1, 2, 0, 0 },
	{ "RENAME", K_FIXED, 1, 2, 1, 0, 0 },
	{ "RENAMENX", K_FIXED, 1, 2, 1, 0, 0 },
	{ "COPY", K_FIXED, 1, 2, 1, 0, 0 },
	{ "SMOVE", K_FIXED, 1, 2, 1, 0, 0 },
	{ "LMOVE", K_FIXED, 1, 2, 1, 0, 0 },
	{ "BLMOVE", K_FIXED, 1, 2, 1, 0, 0 },
	{ "RPOPLPUSH", K_FIXED, 1, 2, 1, 0, 0 },
	{ "BRPOPLPUSH", K_FIXED, 1, 2, 1, 0, 0 },
	{ "ZRANGESTORE", K_FIXED, 1, 2, 1, 0, 0 },
	{ "GEOSEARCHSTORE", K_FIXED, 1, 2, 1, 0, 0 },
	{ "SUNIONSTORE", K_FIXED, 1, -1, 1, 0, 0 },
	{ "SINTERSTORE", K_FIXED, 1, -1, 1, 0, 0 },
	{ "SDIFFSTORE", K_FIXED, 1, -1, 1, 0, 0 },
	{ "PFMERGE", K_FIXED, 1, -1, 1, 0, 0 },
	{ "BITOP", K_FIXED, 2, -1, 1, 0, 0 },
	{ "ZUNIONSTORE", K_NUMKEYS, 1, 0, 1, 2, 0 },
	{ "ZINTERSTORE", K_NUMKEYS, 1, 0, 1, 2, 0 },
	{ "ZDIFFSTORE", K_NUMKEYS, 1, 0, 1, 2, 0 },
	{ "EVAL", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "EVALSHA", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "EVAL_RO", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "FCALL", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "LMPOP", K_NUMKEYS, 0, 0, 1, 1, 0 },
	{ "ZMPOP", K_NUMKEYS, 0, 0, 1, 1, 0 },
	{ "BLMPOP", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "BZMPOP", K_NUMKEYS, 0, 0, 1, 2, 0 },
	{ "SORT", K_STORE, 1, 0, 1, 0, 0 },
	{ "GEORADIUS", K_STORE, 1, 0, 1, 0, 0 },
	{ "GEORADIUSBYMEMBER", K_STORE, 1, 0, 1, 0, 0 },
	{ "XGROUP", K_FIXED, 2, 2, 1, 0, 0 },
	{ "FLUSHDB", K_NONE, 0, 0, 0, 0, 0 },
	{ "FLUSHALL", K_NONE, 0, 0, 0, 0, 0 },
	{ "SCRIPT", K_NONE, 0, 0, 0, 0, 0 },
	{ "FUNCTION", K_NONE, 0, 0, 0, 0, 0 },
	{ "DFLYCLUSTER", K_NONE, 0, 0, 0, 0, 0 },
	{ "PING", K_NONE, 0, 0, 0, 0, 0 },
	{ "SELECT", K_NONE, 0, 0, 0, 0, 0 },
	{ "MULTI", K_NONE, 0, 0, 0, 0, 0 },
	{ "EXEC", K_NONE, 0, 0, 0, 0, 0 },
};

static const struct keyspec *
spec_of(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (strlen(specs[i].name) == n &&
		    strncasecmp(specs[i].name, name, n) == 0)
			return &specs[i];
	return NULL;
}

/* A count argument; -1 when it is not one. */
static long long
count_arg(const char *p, size_t n)
{
	char num[24];
	const char *errstr;
	long long v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	v = strtonum(num, 0, 1LL << 31, &errstr);
	return errstr != NULL ? -1 : v;
}

size_t
filter_cmd_keys(size_t argc, const char *const *argv, const size_t *argvlen,
    size_t *idx, size_t *step)
{
	const struct keyspec *ks;
	size_t i, n = 0, last;
	long long nk;

	*step = 0;
	if (argc == 0)
		return 0;
	if ((ks = spec_of(argv[0], argvlen[0])) == NULL) {
		if (argc < 2)
			return 0;
		idx[0] = 1;
		return 1;
	}
	switch (ks->how) {
	case K_NONE:
		return 0;
	case K_STORE:
		if (argc < 2)
			return 0;
		idx[n++] = 1;
		for (i = 2; i + 1 < argc; i++)
			if ((argvlen[i] == 5 && strncasecmp(argv[i], "STORE",
			    5) == 0) || (argvlen[i] == 9 &&
			    strncasecmp(argv[i], "STOREDIST", 9) == 0))
				idx[n++] = ++i;
		return n;
	case K_NUMKEYS:
		if (ks->first > 0 && (size_t)ks->first < argc)
			idx[n++] = ks->first;
		if ((size_t)ks->nk >= argc ||
		    (nk = count_arg(argv[ks->nk], argvlen[ks->nk])) < 0)
			return n;
		for (i = ks->nk + 1; i < argc && nk > 0; i++, nk--)
			idx[n++] = i;
		return n;
	}
	if ((size_t)ks->first >= argc)
		return 0;
	last = ks->last < 0 ? argc + ks->last : (size_t)ks->last;
	if (last >= argc)
		last = argc - 1;
	for (i = ks->first; i <= last; i += ks->step)
		idx[n++] = i;
	if (ks->split)
		*step = ks->step;
	return n;
}

/* MOVE key db: the key leaves db for the other one. */
static enum filter_verdict
filter_move(const struct filter *f, int db, size_t argc,
    const char *const *argv, const size_t *argvlen, size_t *in, size_t *out)
{
	long long to = argc > 2 ? count_arg(argv[2], argvlen[2]) : -1;
	int a, b;

	a = filter_key(f, db, argv[1], argvlen[1]);
	b = to >= 0 && to < FILTER_MAXDB ? filter_key(f, (int)to, argv[1],
	    argvlen[1]) : a;
	if (a == b)
		return a ? FILTER_KEEP : FILTER_DROP;
	*in = *out = 1;
	return FILTER_MIXED;
}

enum filter_verdict
filter_command(const struct filter *f, int db, size_t argc,
    const char *const *argv, const size_t *argvlen, unsigned char *keep,
    size_t *in, size_t *out)
{
	size_t *idx, n, i, j, step, nin = 0;
	enum filter_verdict v;

	if (f == NULL || argc == 0)
		return FILTER_KEEP;
	if (argc == 3 && argvlen[0] == 4 && strncasecmp(argv[0], "MOVE",
	    4) == 0)
		return filter_move(f, db, argc, argv, argvlen, in, out);
	if ((idx = reallocarray(NULL, argc, sizeof(*idx))) == NULL)
		return FILTER_NOMEM;
	n = filter_cmd_keys(argc, argv, argvlen, idx, &step);
	if (n == 0) {
		free(idx);
		return filter_db(f, db) ? FILTER_KEEP : FILTER_DROP;
	}
	*in = *out = 0;
	memset(keep, 0, argc);
	for (i = 0; i < n; i++)
		if (filter_key(f, db, argv[idx[i]], argvlen[idx[i]])) {
			nin++;
			*in = idx[i];
			keep[idx[i]] = 1;
		} else
			*out = idx[i];
	if (nin == n)
		v = FILTER_KEEP;
	else if (nin == 0)
		v = FILTER_DROP;
	else if (step == 0)
		v = FILTER_MIXED;
	else {
		keep[0] = 1;
		for (i = 0; i < n; i++)
			for (j = 1; j < step && keep[idx[i]]; j++)
				if (idx[i] + j < argc)
					keep[idx[i] + j] = 1;
		v = FILTER_SPLIT;
	}
	free(idx);
	return v;
}
