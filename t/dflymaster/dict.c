/*
 * dict.c - the hash table behind every keyspace and container.  The table
 * only grows (power-of-two buckets, chained), so an entry in bucket b moves to
 * b or b + old size: a cursor walking buckets in order never misses an entry
 * that existed when the walk started (the snapshot traversal relies on this).
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dict.h"

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
