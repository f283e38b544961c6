/*
 * util.c - output buffers, byte strings and the hash table behind every
 * keyspace and container.  The table only grows (power-of-two buckets,
 * chained), so an entry in bucket b moves to b or b + old size: a cursor
 * walking buckets in order never misses an entry that existed when the
 * walk started (the snapshot traversal relies on this).
 */
#include <sys/time.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "dflymaster.h"

void
obuf_add(struct obuf *b, const void *p, size_t n)
{
	size_t	 need;

	if (n == 0)
		return;
	if (b->off > 0 && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	need = b->len + n;
	if (need > b->cap) {
		if (b->off > 0 && need - b->off <= b->cap) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		} else {
			size_t	 cap = b->cap ? b->cap : 4096;

			while (cap < need)
				cap *= 2;
			if ((b->p = realloc(b->p, cap)) == NULL)
				fatal("realloc");
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

size_t
obuf_pending(const struct obuf *b)
{
	return b->len - b->off;
}

void
obuf_free(struct obuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct str
str_dup(const void *p, size_t n)
{
	struct str	 s;

	if ((s.p = malloc(n + 1)) == NULL)
		fatal("malloc");
	if (n)
		memcpy(s.p, p, n);
	s.p[n] = '\0';
	s.len = n;
	return s;
}

/*
 * Write n bytes of p at offset off, growing s (zero-filled, as SETRANGE
 * pads) when they reach past its end; APPEND is off == s->len.
 */
void
str_setrange(struct str *s, size_t off, const void *p, size_t n)
{
	size_t	 end = off + n;
	char	*q;

	if (end > s->len) {
		if ((q = realloc(s->p, end + 1)) == NULL)
			fatal("realloc");
		if (off > s->len)
			memset(q + s->len, 0, off - s->len);
		q[end] = '\0';
		s->p = q;
		s->len = end;
	}
	if (n)
		memcpy(s->p + off, p, n);
}

void
str_free(struct str *s)
{
	free(s->p);
	s->p = NULL;
	s->len = 0;
}

int
str_eq(const struct str *s, const void *p, size_t n)
{
	return s->len == n && memcmp(s->p, p, n) == 0;
}

int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: the in-shard bucket hash (the shard hash is CRC-64, see key_shard) */
uint64_t
dict_hash(const void *p, size_t n)
{
	const uint8_t	*s = p;
	uint64_t	 h = 1469598103934665603ULL;

	while (n--) {
		h ^= *s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

struct dict *
dict_new(void)
{
	struct dict	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	d->mask = 7;
	if ((d->b = calloc(d->mask + 1, sizeof(*d->b))) == NULL)
		fatal("calloc");
	return d;
}

void
dict_free(struct dict *d, void (*freeval)(void *))
{
	struct dent	*e, *next;
	size_t		 i;

	if (d == NULL)
		return;
	for (i = 0; i <= d->mask; i++)
		for (e = d->b[i]; e != NULL; e = next) {
			next = e->next;
			if (freeval && e->val)
				freeval(e->val);
			free(e);
		}
	free(d->b);
	free(d);
}

struct dent *
dict_find(struct dict *d, const void *k, size_t n)
{
	struct dent	*e;
	uint64_t	 h = dict_hash(k, n);

	for (e = d->b[h & d->mask]; e != NULL; e = e->next)
		if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0)
			return e;
	return NULL;
}

static void
dict_grow(struct dict *d)
{
	struct dent	**nb, *e, *next;
	size_t		  i, nmask = d->mask * 2 + 1;

	if ((nb = calloc(nmask + 1, sizeof(*nb))) == NULL)
		fatal("calloc");
	for (i = 0; i <= d->mask; i++)
		for (e = d->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & nmask];
			nb[e->hash & nmask] = e;
		}
	free(d->b);
	d->b = nb;
	d->mask = nmask;
}

struct dent *
dict_add(struct dict *d, const void *k, size_t n, int *created)
{
	struct dent	*e;
	uint64_t	 h;

	if ((e = dict_find(d, k, n)) != NULL) {
		*created = 0;
		return e;
	}
	if (d->count >= d->mask + 1)
		dict_grow(d);
	h = dict_hash(k, n);
	if ((e = calloc(1, sizeof(*e) + n + 1)) == NULL)
		fatal("calloc");
	e->hash = h;
	e->klen = n;
	memcpy(e->key, k, n);
	e->next = d->b[h & d->mask];
	d->b[h & d->mask] = e;
	d->count++;
	*created = 1;
	return e;
}

int
dict_del(struct dict *d, const void *k, size_t n, void (*freeval)(void *))
{
	struct dent	**pp, *e;
	uint64_t	  h = dict_hash(k, n);

	for (pp = &d->b[h & d->mask]; (e = *pp) != NULL; pp = &e->next)
		if (e->hash == h && e->klen == n &&
		    memcmp(e->key, k, n) == 0) {
			*pp = e->next;
			if (freeval && e->val)
				freeval(e->val);
			free(e);
			d->count--;
			return 1;
		}
	return 0;
}

size_t
dict_buckets(const struct dict *d)
{
	return d->mask + 1;
}

int
arg_is(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

int
parse_ll(const char *p, size_t n, long long *v)
{
	char		 buf[32], *end;
	long long	 x;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (buf[0] == ' ' || buf[0] == '+' || (buf[0] == '0' && n > 1) ||
	    (buf[0] == '-' && (n == 1 || buf[1] == '0')))
		return -1;
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

int
parse_double(const char *p, size_t n, double *v)
{
	char	 buf[64], *end;
	double	 x;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "+inf") == 0 || strcasecmp(buf, "inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcasecmp(buf, "-inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (buf[0] == ' ')
		return -1;
	errno = 0;
	x = strtod(buf, &end);
	if (errno == ERANGE || *end != '\0' || isnan(x))
		return -1;
	*v = x;
	return 0;
}

/* Shortest text that reads back as the same double, like Redis's %.17g. */
size_t
fmt_double(char *buf, size_t sz, double v)
{
	int	 prec;

	if (isinf(v))
		return (size_t)snprintf(buf, sz, "%s", v > 0 ? "inf" : "-inf");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sz, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return strlen(buf);
}

void
random_hex(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++)
		out[i] = hex[arc4random_uniform(16)];
	out[n] = '\0';
}
