/*
 * skipset.c - the keys --unsupported skip left off the target
 * (skipset.h): an open-addressing table of 128-bit hashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "skipset.h"

enum { EMPTY, USED, GONE };

struct sent {
	uint64_t	 hi, lo;
	int32_t		 db;
	int32_t		 state;
};

struct skipset {
	struct sent	*t;
	size_t		 cap;		/* a power of 2, or 0 */
	size_t		 used, gone;
};

static void
hash(int db, const char *p, size_t len, uint64_t *hi, uint64_t *lo)
{
	unsigned char dbb[2] = { (unsigned char)(db >> 8), (unsigned char)db };
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	*hi = crc64(crc64(0x736b6970ULL, dbb, 2), p, len);
	for (i = 0; i < 2; i++)
		h = (h ^ dbb[i]) * 0x100000001b3ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	*lo = h ^ len;
}

struct skipset *
skipset_new(void)
{
	return calloc(1, sizeof(struct skipset));
}

void
skipset_free(struct skipset *s)
{
	if (s == NULL)
		return;
	free(s->t);
	free(s);
}

/* The entry of (hi, lo, db), or where it would go (EMPTY or GONE). */
static struct sent *
find(const struct skipset *s, int db, uint64_t hi, uint64_t lo)
{
	struct sent *e, *slot = NULL;
	size_t i, mask = s->cap - 1;

	for (i = lo & mask;; i = (i + 1) & mask) {
		e = &s->t[i];
		if (e->state == EMPTY)
			return slot != NULL ? slot : e;
		if (e->state == GONE) {
			if (slot == NULL)
				slot = e;
			continue;
		}
		if (e->hi == hi && e->lo == lo && e->db == db)
			return e;
	}
}

static int
grow(struct skipset *s)
{
	struct sent *old = s->t, *e;
	size_t i, ocap = s->cap, ncap;

	/* twice as big, or as big without the tombstones */
	ncap = ocap ? ocap : 64;
	if ((s->used + 1) * 2 > ncap)
		ncap *= 2;
	if ((s->t = calloc(ncap, sizeof(*s->t))) == NULL) {
		s->t = old;
		return -1;
	}
	s->cap = ncap;
	s->gone = 0;
	for (i = 0; i < ocap; i++) {
		if (old[i].state != USED)
			continue;
		e = find(s, old[i].db, old[i].hi, old[i].lo);
		*e = old[i];
	}
	free(old);
	return 0;
}

int
skipset_add(struct skipset *s, int db, const char *p, size_t len)
{
	struct sent *e;
	uint64_t hi, lo;

	if ((s->used + s->gone + 1) * 10 > s->cap * 7 && grow(s) == -1)
		return -1;
	hash(db, p, len, &hi, &lo);
	e = find(s, db, hi, lo);
	if (e->state == USED)
		return 0;
	if (e->state == GONE)
		s->gone--;
	e->hi = hi;
	e->lo = lo;
	e->db = db;
	e->state = USED;
	s->used++;
	return 0;
}

int
skipset_has(const struct skipset *s, int db, const char *p, size_t len)
{
	uint64_t hi, lo;

	if (s == NULL || s->used == 0)
		return 0;
	hash(db, p, len, &hi, &lo);
	return find(s, db, hi, lo)->state == USED;
}

int
skipset_del(struct skipset *s, int db, const char *p, size_t len)
{
	struct sent *e;
	uint64_t hi, lo;

	if (s == NULL || s->used == 0)
		return 0;
	hash(db, p, len, &hi, &lo);
	if ((e = find(s, db, hi, lo))->state != USED)
		return 0;
	e->state = GONE;
	s->used--;
	s->gone++;
	return 1;
}

void
skipset_clear(struct skipset *s, int db)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->cap; i++)
		if (s->t[i].state == USED && (db < 0 || s->t[i].db == db)) {
			s->t[i].state = GONE;
			s->used--;
			s->gone++;
		}
}

size_t
skipset_count(const struct skipset *s)
{
	return s == NULL ? 0 : s->used;
}
