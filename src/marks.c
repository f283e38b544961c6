/*
 * marks.c - the keys a full resync wrote (marks.h): hashes appended by
 * the workers, sorted in runs and merged by the sweeper.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc64.h"
#include "marks.h"

#define MARKS_BUF	(64 * 1024)
#define MERGE_BUF	4096		/* marks a run reads at a time */
#define SORTED_NAME	"marks.sorted"
#define RUNS_NAME	"marks.runs"

struct mark {
	uint64_t	 hi, lo;
};

struct marks {
	int		 fd;
	char		 path[PATH_MAX];
	struct mark	 buf[MARKS_BUF / sizeof(struct mark)];
	size_t		 nbuf;
	uint64_t	 count;
	int		 err;		/* errno of the first failed write */
};

/*
 * The hashes are uniform: where each value of their top `bits` bits
 * starts narrows a lookup to a few marks, one or two cache misses
 * instead of a binary search's twenty over a large file.
 */
#define INDEX_MAXBITS	20

struct markset {
	const struct mark *m;
	size_t		 n;
	size_t		 maplen;
	uint32_t	*start;		/* 2^bits + 1 entries */
	int		 bits;
};

/* (db, name): two independent 64-bit hashes. */
static struct mark
mark_of(int db, const char *p, size_t len)
{
	unsigned char dbb[2] = { (unsigned char)(db >> 8), (unsigned char)db };
	struct mark m;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	m.hi = crc64(crc64(0x6d61726b73ULL, dbb, 2), p, len);
	for (i = 0; i < 2; i++)
		h = (h ^ dbb[i]) * 0x100000001b3ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	m.lo = h ^ len;
	return m;
}

static int
mark_cmp(const void *a, const void *b)
{
	const struct mark *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static int
path_of(char *out, size_t len, const char *dir, const char *name,
    struct error *e)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		return err_set(e, ERR_CONFIG, "state-dir %s: too long", dir);
	return 0;
}

/* write(2) all of it; -1 with errno. */
static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= n;
	}
	return 0;
}

/* read(2) up to len; bytes read, -1 with errno. */
static ssize_t
read_full(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, c + got, len - got)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	return (ssize_t)got;
}

static int
sync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ writing */

struct marks *
marks_create(const char *dir, int flow, struct error *e)
{
	struct marks *mk;
	char name[32];

	if ((mk = calloc(1, sizeof(*mk))) == NULL) {
		err_set(e, ERR_SYS, "out of memory");
		return NULL;
	}
	snprintf(name, sizeof(name), "marks-%d", flow);
	if (path_of(mk->path, sizeof(mk->path), dir, name, e) == -1) {
		free(mk);
		return NULL;
	}
	mk->fd = open(mk->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	/* the promise of a sweep must outlive a crash of the host */
	if (mk->fd == -1 || sync_dir(dir) == -1) {
		err_set(e, ERR_SYS, "%s: %s", mk->path, strerror(errno));
		if (mk->fd != -1)
			close(mk->fd);
		free(mk);
		return NULL;
	}
	return mk;
}

static void
drain(struct marks *mk)
{
	if (mk->nbuf > 0 && mk->err == 0 &&
	    write_all(mk->fd, mk->buf, mk->nbuf * sizeof(struct mark)) == -1)
		mk->err = errno;
	mk->nbuf = 0;
}

void
marks_add(struct marks *mk, int db, const char *p, size_t len)
{
	mk->buf[mk->nbuf++] = mark_of(db, p, len);
	mk->count++;
	if (mk->nbuf == sizeof(mk->buf) / sizeof(mk->buf[0]))
		drain(mk);
}

int
marks_flush(struct marks *mk, struct error *e)
{
	drain(mk);
	if (mk->err != 0)
		return err_set(e, ERR_SYS, "%s: %s", mk->path,
		    strerror(mk->err));
	return 0;
}

uint64_t
marks_count(const struct marks *mk)
{
	return mk->count;
}

void
marks_close(struct marks *mk)
{
	if (mk == NULL)
		return;
	close(mk->fd);
	free(mk);
}

/* ------------------------------------------------------------ sorting */

struct run {
	off_t		 off;		/* next mark to read, in the runs file */
	uint64_t	 left;		/* marks not yet read */
	struct mark	 buf[MERGE_BUF];
	size_t		 pos, n;
};

struct runs {
	int		 fd;
	struct run	*r;
	size_t		 n, cap;
	off_t		 end;
};

/* Sort one flow's file into runs of at most `per` marks. */
static int
make_runs(struct runs *rs, const char *path, struct mark *buf, size_t per,
    struct error *e)
{
	struct stat sb;
	struct run *r;
	ssize_t got;
	size_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		err_set(e, ERR_SYS, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (sb.st_size % sizeof(struct mark) != 0) {
		err_set(e, ERR_DATA, "%s: %lld bytes, not whole marks", path,
		    (long long)sb.st_size);
		goto fail;
	}
	for (;;) {
		if ((got = read_full(fd, buf, per * sizeof(*buf))) == -1) {
			err_set(e, ERR_SYS, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if ((n = got / sizeof(*buf)) == 0)
			break;
		qsort(buf, n, sizeof(*buf), mark_cmp);
		if (write_all(rs->fd, buf, n * sizeof(*buf)) == -1) {
			err_set(e, ERR_SYS, "%s: %s", RUNS_NAME,
			    strerror(errno));
			goto fail;
		}
		if (rs->n == rs->cap) {
			r = reallocarray(rs->r, rs->cap ? rs->cap * 2 : 8,
			    sizeof(*r));
			if (r == NULL) {
				err_set(e, ERR_SYS, "out of memory");
				goto fail;
			}
			rs->r = r;
			rs->cap = rs->cap ? rs->cap * 2 : 8;
		}
		r = &rs->r[rs->n++];
		memset(r, 0, sizeof(*r));
		r->off = rs->end;
		r->left = n;
		rs->end += n * sizeof(*buf);
	}
	close(fd);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

/* The run's next mark, or NULL at its end. */
static const struct mark *
run_peek(int fd, struct run *r, struct error *e, int *failed)
{
	ssize_t got;
	size_t want;

	if (r->pos < r->n)
		return &r->buf[r->pos];
	if (r->left == 0)
		return NULL;
	want = r->left < MERGE_BUF ? r->left : MERGE_BUF;
	got = pread(fd, r->buf, want * sizeof(struct mark), r->off);
	if (got != (ssize_t)(want * sizeof(struct mark))) {
		err_set(e, ERR_SYS, "%s: %s", RUNS_NAME,
		    got == -1 ? strerror(errno) : "short read");
		*failed = 1;
		return NULL;
	}
	r->off += got;
	r->left -= want;
	r->pos = 0;
	r->n = want;
	return &r->buf[0];
}

/*
 * Merge every run into out, each mark once.  The runs are few (the marks
 * over the memory given), so the smallest is found by a plain scan.
 */
static int
merge_runs(struct runs *rs, int out, size_t *count, struct error *e)
{
	struct mark buf[MERGE_BUF], last;
	const struct mark *m, *min;
	size_t i, nb = 0, imin;
	int failed = 0, have = 0;

	*count = 0;
	for (;;) {
		min = NULL;
		imin = 0;
		for (i = 0; i < rs->n; i++) {
			if ((m = run_peek(rs->fd, &rs->r[i], e, &failed)) ==
			    NULL) {
				if (failed)
					return -1;
				continue;
			}
			if (min == NULL || mark_cmp(m, min) < 0) {
				min = m;
				imin = i;
			}
		}
		if (min == NULL)
			break;
		if (!have || mark_cmp(min, &last) != 0) {
			last = *min;
			have = 1;
			buf[nb++] = last;
			(*count)++;
			if (nb == MERGE_BUF) {
				if (write_all(out, buf, sizeof(buf)) == -1)
					return err_set(e, ERR_SYS, "%s: %s",
					    SORTED_NAME, strerror(errno));
				nb = 0;
			}
		}
		rs->r[imin].pos++;
	}
	if (nb > 0 && write_all(out, buf, nb * sizeof(buf[0])) == -1)
		return err_set(e, ERR_SYS, "%s: %s", SORTED_NAME,
		    strerror(errno));
	return 0;
}

static int	make_index(struct markset *);

struct markset *
markset_build(const char *dir, int nflows, size_t mem, struct error *e)
{
	struct markset *ms = NULL;
	struct runs rs;
	struct mark *buf = NULL;
	char path[PATH_MAX], runs[PATH_MAX], sorted[PATH_MAX], name[32];
	size_t per = mem / sizeof(struct mark), count = 0;
	void *map;
	int i, out = -1;

	memset(&rs, 0, sizeof(rs));
	rs.fd = -1;
	if (per < MERGE_BUF)
		per = MERGE_BUF;
	if (path_of(runs, sizeof(runs), dir, RUNS_NAME, e) == -1 ||
	    path_of(sorted, sizeof(sorted), dir, SORTED_NAME, e) == -1)
		return NULL;
	if ((buf = reallocarray(NULL, per, sizeof(*buf))) == NULL ||
	    (ms = calloc(1, sizeof(*ms))) == NULL) {
		err_set(e, ERR_SYS, "out of memory");
		goto fail;
	}
	if ((rs.fd = open(runs, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		err_set(e, ERR_SYS, "%s: %s", runs, strerror(errno));
		goto fail;
	}
	for (i = 0; i < nflows; i++) {
		snprintf(name, sizeof(name), "marks-%d", i);
		if (path_of(path, sizeof(path), dir, name, e) == -1 ||
		    make_runs(&rs, path, buf, per, e) == -1)
			goto fail;
	}
	free(buf);
	buf = NULL;
	if ((out = open(sorted, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		err_set(e, ERR_SYS, "%s: %s", sorted, strerror(errno));
		goto fail;
	}
	if (merge_runs(&rs, out, &count, e) == -1)
		goto fail;
	ms->n = count;
	ms->maplen = count * sizeof(struct mark);
	if (count > 0) {
		map = mmap(NULL, ms->maplen, PROT_READ, MAP_SHARED, out, 0);
		if (map == MAP_FAILED) {
			err_set(e, ERR_SYS, "%s: mmap: %s", sorted,
			    strerror(errno));
			goto fail;
		}
		ms->m = map;
		if (make_index(ms) == -1) {
			err_set(e, ERR_SYS, "out of memory");
			munmap(map, ms->maplen);
			goto fail;
		}
	}
	close(out);
	close(rs.fd);
	unlink(runs);
	free(rs.r);
	return ms;
fail:
	if (out != -1)
		close(out);
	if (rs.fd != -1) {
		close(rs.fd);
		unlink(runs);
	}
	free(rs.r);
	free(buf);
	free(ms);
	return NULL;
}

/* Index the sorted marks by their top bits; -1 out of memory. */
static int
make_index(struct markset *ms)
{
	size_t i, b, nb;

	for (ms->bits = 1; ms->bits < INDEX_MAXBITS &&
	    ((size_t)1 << ms->bits) < ms->n / 4; ms->bits++)
		;
	nb = (size_t)1 << ms->bits;
	/* a uint32_t position: past 2^32 marks the search covers the rest */
	if (ms->n > UINT32_MAX)
		return 0;
	if ((ms->start = reallocarray(NULL, nb + 1, sizeof(*ms->start))) ==
	    NULL)
		return -1;
	for (i = 0, b = 0; b < nb; b++) {
		while (i < ms->n && (ms->m[i].hi >> (64 - ms->bits)) < b)
			i++;
		ms->start[b] = (uint32_t)i;
	}
	ms->start[nb] = (uint32_t)ms->n;
	return 0;
}

int
markset_has(const struct markset *ms, int db, const char *p, size_t len)
{
	struct mark m = mark_of(db, p, len);
	size_t lo = 0, hi = ms->n, b;

	if (ms->n == 0)
		return 0;
	if (ms->start != NULL) {
		b = m.hi >> (64 - ms->bits);
		lo = ms->start[b];
		hi = ms->start[b + 1];
	}
	return hi > lo && bsearch(&m, ms->m + lo, hi - lo, sizeof(m),
	    mark_cmp) != NULL;
}

uint64_t
markset_count(const struct markset *ms)
{
	return ms->n;
}

void
markset_close(struct markset *ms)
{
	if (ms == NULL)
		return;
	if (ms->n > 0)
		munmap((void *)ms->m, ms->maplen);
	free(ms->start);
	free(ms);
}

/* ------------------------------------------------------------ the files */

static int
is_marks_file(const char *name)
{
	const char *p;

	if (strcmp(name, SORTED_NAME) == 0 || strcmp(name, RUNS_NAME) == 0)
		return 1;
	if (strncmp(name, "marks-", 6) != 0 || name[6] == '\0')
		return 0;
	for (p = name + 6; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* Find (or, with del, remove) the marks files of dir: 1 some, 0 none, -1. */
static int
each_file(const char *dir, int del, struct error *e)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d;
	int found = 0;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, ERR_SYS, "%s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_marks_file(de->d_name))
			continue;
		found = 1;
		if (!del)
			break;
		if (path_of(path, sizeof(path), dir, de->d_name, e) == -1) {
			closedir(d);
			return -1;
		}
		if (unlink(path) == -1 && errno != ENOENT) {
			err_set(e, ERR_SYS, "%s: %s", path, strerror(errno));
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return found;
}

int
marks_pending(const char *dir, struct error *e)
{
	return each_file(dir, 0, e);
}

int
marks_remove(const char *dir, struct error *e)
{
	if (each_file(dir, 1, e) == -1)
		return -1;
	if (sync_dir(dir) == -1 && errno != ENOENT)
		return err_set(e, ERR_SYS, "%s: %s", dir, strerror(errno));
	return 0;
}
