/*
 * skipset.c - the keys --unsupported skip left off the target
 * (skipset.h): an open-addressing table of 128-bit hashes, and its file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc64.h"
#include "log.h"
#include "skipset.h"

enum { EMPTY, USED, GONE };
enum { OP_ADD = 1, OP_DEL, OP_CLEAR };	/* the file's records */

struct sent {
	uint64_t	 hi, lo;
	int32_t		 db;
	int32_t		 state;
};

struct skipset {
	struct sent	*t;
	size_t		 cap;		/* a power of 2, or 0 */
	size_t		 used, gone;
	int		 fd;		/* the file appended to, or -1 */
	char		 path[PATH_MAX];
};

/* A change, to the file: its record has the layout of struct sent. */
static void
note(struct skipset *s, int op, int db, uint64_t hi, uint64_t lo)
{
	struct sent r;

	if (s->fd == -1)
		return;
	memset(&r, 0, sizeof(r));
	r.hi = hi;
	r.lo = lo;
	r.db = db;
	r.state = op;
	if (op == OP_CLEAR && db < 0) {
		if (ftruncate(s->fd, 0) == 0)
			return;
	} else if (write(s->fd, &r, sizeof(r)) == (ssize_t)sizeof(r))
		return;
	log_warnx("%s: %s: removed, the skipped keys are kept in memory only",
	    s->path, strerror(errno));
	close(s->fd);
	s->fd = -1;
	unlink(s->path);
}

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
	struct skipset *s;

	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->fd = -1;
	return s;
}

void
skipset_free(struct skipset *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
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
	note(s, OP_ADD, db, hi, lo);
	return 0;
}

/* The add of an already hashed key (loading). */
static int
add_hashed(struct skipset *s, int db, uint64_t hi, uint64_t lo)
{
	struct sent *e;

	if ((s->used + s->gone + 1) * 10 > s->cap * 7 && grow(s) == -1)
		return -1;
	if ((e = find(s, db, hi, lo))->state == USED)
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

static void
del_hashed(struct skipset *s, int db, uint64_t hi, uint64_t lo)
{
	struct sent *e;

	if (s->used == 0 || (e = find(s, db, hi, lo))->state != USED)
		return;
	e->state = GONE;
	s->used--;
	s->gone++;
}

static void
clear_db(struct skipset *s, int db)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->t[i].state == USED && (db < 0 || s->t[i].db == db)) {
			s->t[i].state = GONE;
			s->used--;
			s->gone++;
		}
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
	note(s, OP_DEL, db, hi, lo);
	return 1;
}

void
skipset_clear(struct skipset *s, int db)
{
	if (s == NULL)
		return;
	clear_db(s, db);
	note(s, OP_CLEAR, db, 0, 0);
}

/* Replay the records of fd into the set; a record cut short ends it. */
static int
load(struct skipset *s, int fd)
{
	struct sent r;
	ssize_t n;

	while ((n = read(fd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		switch (r.state) {
		case OP_ADD:
			if (add_hashed(s, r.db, r.hi, r.lo) == -1)
				return -1;
			break;
		case OP_DEL:
			del_hashed(s, r.db, r.hi, r.lo);
			break;
		case OP_CLEAR:
			clear_db(s, r.db);
			break;
		}
	}
	return n == -1 ? -1 : 0;
}

int
skipset_persist(struct skipset *s, const char *path)
{
	char tmp[PATH_MAX];
	size_t i;
	int fd, err;

	if (strlcpy(s->path, path, sizeof(s->path)) >= sizeof(s->path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY)) != -1) {
		err = load(s, fd);
		close(fd);
		if (err == -1)
			return -1;
	} else if (errno != ENOENT)
		return -1;
	/* compact: what the set holds, one record a key */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	s->fd = fd;
	for (i = 0; i < s->cap && s->fd != -1; i++)
		if (s->t[i].state == USED)
			note(s, OP_ADD, s->t[i].db, s->t[i].hi, s->t[i].lo);
	if (s->fd == -1 || fsync(fd) == -1 || rename(tmp, path) == -1) {
		err = errno;
		if (s->fd != -1)
			close(s->fd);
		s->fd = -1;
		unlink(tmp);
		errno = err;
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		return -1;
	return 0;
}

size_t
skipset_count(const struct skipset *s)
{
	return s == NULL ? 0 : s->used;
}
