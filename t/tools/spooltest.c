/*
 * spooltest - drive the spool (spool.h) from tests.
 *
 *   spooltest fifo PATH MEM_MAX FILE_MAX SEED N
 *	N operations, puts (1 byte to 600 KiB) and gets (any max) drawn
 *	from SEED, of a stream whose bytes are a function of SEED and
 *	their offset; every byte got is checked against it, and after each
 *	operation: the spool's counts, memory at most MEM_MAX, the PATH.N
 *	files at most FILE_MAX bytes and none when the file part is empty,
 *	a put placed in memory exactly when the file part is empty and it
 *	fits, a put refused (SPOOL_FULL) only when it fits in neither, and
 *	refused without a trace.  Then drained: no PATH.N is left.  Prints
 *	"puts P gets G full F bytes B peak_mem M peak_disk D file_used U
 *	segments S" (U: times the file part went from empty to not) and
 *	"ok", or "fail: WHAT" and exit 1.
 *   spooltest full PATH MEM_MAX FILE_MAX SIZE
 *	put SIZE bytes at a time until SPOOL_FULL: "accepted P puts B bytes
 *	mem M file F disk D"; gets everything back and compares; then fills
 *	again: "again P puts B bytes", drains and compares; "ok".
 *   spooltest corrupt PATH WHAT REC
 *	puts records of 1000, 2000, ... 5000 bytes to PATH.1 (MEM_MAX 0),
 *	damages record REC (0-4) as WHAT says (payload: a payload byte,
 *	length: the length's top byte, crc: a checksum byte, truncate: cut
 *	the file inside the record's payload), then gets in slices:
 *	"corrupted record REC at byte OFF", "got N bytes", "error KIND:
 *	MESSAGE" (the get's error), "again the same error", "ok".
 *   spooltest leftover PATH
 *	makes PATH, PATH., PATH.1, PATH.7, PATH.x, PATH.1x, PATH_1 and
 *	PATHfoo.1 (all of them garbage), opens the spool, prints "SUFFIX kept" or
 *	"SUFFIX removed" for each (PATH is the empty suffix), runs bytes
 *	through PATH.1 and checks them; "ok".
 *   spooltest ioerror PATH
 *	10 bytes to memory, then a directory at PATH.1 so that the file
 *	part cannot be made: the put's error as "error KIND: MESSAGE" on
 *	stdout, "bytes N" after it; the directory removed, the put again
 *	(to PATH.2): "files SUFFIX...", then everything back; "ok".
 *   spooltest bigfile PATH MB
 *	MB MiB through a spool of 1 MiB memory and 1 GiB file, reading 3
 *	bytes for every 5 written, then draining; after every step the
 *	PATH.N files are consecutive, their first and last numbers never go
 *	back, every full segment has 64 MiB to 64 MiB + one record, and
 *	there are at most 2.  "bytes B segments S max_files F maxrss_kb R"
 *	and "ok".
 *   spooltest open PATH
 *	open the spool and close it: "ok".
 *
 * An error of the spool: "error KIND: MESSAGE" on stderr, exit 1; a check
 * that fails: "fail: WHAT" on stdout, exit 1; a usage error: exit 2.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "spool.h"

#define HDR_LEN		12
#define SEGMENT_MAX	(64ULL << 20)
#define SIZE_MAX_OP	(600 * 1024)
#define MAX_SEGS	64

static void __attribute__((noreturn))
die(const struct error *e)
{
	fprintf(stderr, "error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	printf("fail: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static uint64_t
num(const char *s)
{
	const char *errstr;
	long long v;

	v = strtonum(s, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "%s: %s", s, errstr);
	return (uint64_t)v;
}

static void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n)) == NULL)
		err(1, "malloc");
	return p;
}

static struct spool *
open_spool(const char *path, uint64_t mem_max, uint64_t file_max)
{
	struct spool_opts o;
	struct spool *sp;
	struct error e;

	o.path = path;
	o.mem_max = mem_max;
	o.file_max = file_max;
	if ((sp = spool_open(&o, &e)) == NULL)
		die(&e);
	return sp;
}

/* ------------------------------------------------------------ the stream */

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
rnd(uint64_t *state)
{
	return mix64((*state)++);
}

/* A number in [lo, hi]. */
static uint64_t
rnd_in(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + rnd(state) % (hi - lo + 1);
}

/* Sizes of puts and gets: many tiny, some of a few chunks, some large. */
static size_t
rnd_size(uint64_t *state)
{
	uint64_t c = rnd(state) % 10;

	if (c < 4)
		return rnd_in(state, 1, 64);
	if (c < 7)
		return rnd_in(state, 65, 64 * 1024);
	return rnd_in(state, 64 * 1024 + 1, SIZE_MAX_OP);
}

/* The byte of the stream at offset pos. */
static unsigned char
stream_byte(uint64_t seed, uint64_t pos)
{
	return (unsigned char)(mix64(seed << 40 ^ pos / 8) >> (8 * (pos % 8)));
}

static void
stream_fill(uint64_t seed, uint64_t pos, unsigned char *buf, size_t n)
{
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < n; i++, pos++) {
		if (i == 0 || pos % 8 == 0)
			w = mix64(seed << 40 ^ pos / 8);
		buf[i] = (unsigned char)(w >> (8 * (pos % 8)));
	}
}

static void
stream_check(uint64_t seed, uint64_t pos, const unsigned char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != stream_byte(seed, pos + i))
			fail("mismatch at stream byte %" PRIu64 ": got 0x%02x, "
			    "want 0x%02x", pos + i, buf[i],
			    stream_byte(seed, pos + i));
}

/* Gets until empty, in slices drawn from *state; the bytes got. */
static uint64_t
drain(struct spool *sp, uint64_t seed, uint64_t pos, uint64_t *state,
    unsigned char *buf)
{
	struct error e;
	uint64_t got = 0;
	ssize_t n;

	while ((n = spool_get(sp, buf, rnd_size(state), &e)) != 0) {
		if (n == -1)
			die(&e);
		stream_check(seed, pos + got, buf, (size_t)n);
		got += (uint64_t)n;
	}
	if (spool_bytes(sp) != 0 || spool_file_bytes(sp) != 0)
		fail("empty get with %" PRIu64 " bytes (%" PRIu64 " in the "
		    "file) said waiting", spool_bytes(sp), spool_file_bytes(sp));
	return got;
}

/* ------------------------------------------------------------ PATH.N */

struct segs {
	unsigned int	 count;
	uint64_t	 bytes;
	unsigned int	 seq[MAX_SEGS];	/* ascending */
	uint64_t	 size[MAX_SEGS];
};

static void
split_path(const char *path, char *dir, size_t dlen, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dlen, ".");
		*base = path;
	} else {
		snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
		*base = slash + 1;
	}
}

/* The seq of a PATH.N name, 0 when the name is another one. */
static unsigned int
seg_seq(const char *name, const char *base)
{
	size_t blen = strlen(base);
	const char *p;
	char *end;
	unsigned long v;

	if (strncmp(name, base, blen) != 0 || name[blen] != '.')
		return 0;
	p = name + blen + 1;
	if (*p < '1' || *p > '9')
		return 0;
	v = strtoul(p, &end, 10);
	return *end == '\0' && v <= UINT_MAX ? (unsigned int)v : 0;
}

static void
seg_insert(struct segs *s, unsigned int seq, uint64_t size)
{
	unsigned int i;

	if (s->count == MAX_SEGS)
		fail("more than %d spool files", MAX_SEGS);
	for (i = s->count; i > 0 && s->seq[i - 1] > seq; i--) {
		s->seq[i] = s->seq[i - 1];
		s->size[i] = s->size[i - 1];
	}
	s->seq[i] = seq;
	s->size[i] = size;
	s->count++;
	s->bytes += size;
}

static void
seg_scan(const char *path, struct segs *s)
{
	char dir[PATH_MAX];
	const char *base;
	struct dirent *de;
	struct stat st;
	unsigned int seq;
	DIR *d;

	memset(s, 0, sizeof(*s));
	split_path(path, dir, sizeof(dir), &base);
	if ((d = opendir(dir)) == NULL)
		err(1, "%s", dir);
	while ((de = readdir(d)) != NULL) {
		if ((seq = seg_seq(de->d_name, base)) == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1)
			err(1, "%s/%s", dir, de->d_name);
		seg_insert(s, seq, (uint64_t)st.st_size);
	}
	closedir(d);
}

static void
print_segs(const struct segs *s)
{
	unsigned int i;

	printf("files");
	for (i = 0; i < s->count; i++)
		printf(" .%u", s->seq[i]);
	printf("\n");
}

/* File bytes a put of n takes: its records and their headers. */
static uint64_t
file_need(size_t n)
{
	return n + HDR_LEN * ((n + SPOOL_RECORD - 1) / SPOOL_RECORD);
}

/* ------------------------------------------------------------ fifo */

struct fifo {
	struct spool	*sp;
	uint64_t	 seed, mem_max, file_max;
	uint64_t	 wpos, rpos;
	uint64_t	 puts, gets, full, peak_mem, peak_disk, file_used;
	unsigned int	 max_seq;
	unsigned char	*buf;
	const char	*path;
};

static uint64_t
mem_bytes(const struct spool *sp)
{
	return spool_bytes(sp) - spool_file_bytes(sp);
}

static void
fifo_put(struct fifo *f, size_t n)
{
	struct segs s;
	struct error e;
	uint64_t mem = mem_bytes(f->sp), fb = spool_file_bytes(f->sp);
	int to_mem = fb == 0 && mem + n <= f->mem_max, rc;

	stream_fill(f->seed, f->wpos, f->buf, n);
	seg_scan(f->path, &s);
	if ((rc = spool_put(f->sp, f->buf, n, &e)) == -1)
		die(&e);
	if (rc == SPOOL_FULL) {
		f->full++;
		if (to_mem)
			fail("put %zu: refused, though it fits in memory "
			    "(%" PRIu64 " of %" PRIu64 ")", n, mem, f->mem_max);
		if (s.bytes + file_need(n) <= f->file_max)
			fail("put %zu: refused with %" PRIu64 " bytes of %"
			    PRIu64 " on disk", n, s.bytes, f->file_max);
		if (mem_bytes(f->sp) != mem || spool_file_bytes(f->sp) != fb)
			fail("put %zu: refused, but the spool grew", n);
		return;
	}
	if (rc != 0)
		fail("put %zu: returned %d", n, rc);
	f->puts++;
	f->wpos += n;
	if (to_mem && (mem_bytes(f->sp) != mem + n ||
	    spool_file_bytes(f->sp) != fb))
		fail("put %zu at stream byte %" PRIu64 ": not in memory, "
		    "though the file part is empty and it fits", n, f->wpos - n);
	if (!to_mem && (mem_bytes(f->sp) != mem ||
	    spool_file_bytes(f->sp) != fb + n))
		fail("put %zu at stream byte %" PRIu64 ": not all in the file "
		    "(memory %" PRIu64 " -> %" PRIu64 ", file %" PRIu64 " -> %"
		    PRIu64 ")", n, f->wpos - n, mem, mem_bytes(f->sp), fb,
		    spool_file_bytes(f->sp));
	if (fb == 0 && !to_mem)
		f->file_used++;
}

static void
fifo_get(struct fifo *f, size_t max)
{
	struct error e;
	ssize_t n;

	if ((n = spool_get(f->sp, f->buf, max, &e)) == -1)
		die(&e);
	f->gets++;
	if ((size_t)n > max)
		fail("get %zu: returned %zd", max, n);
	if (n == 0 && f->wpos != f->rpos)
		fail("get %zu: nothing, with %" PRIu64 " bytes waiting", max,
		    f->wpos - f->rpos);
	stream_check(f->seed, f->rpos, f->buf, (size_t)n);
	f->rpos += (uint64_t)n;
}

/* The invariants after every operation. */
static void
fifo_check(struct fifo *f, uint64_t op)
{
	struct segs s;
	uint64_t mem = mem_bytes(f->sp);

	if (spool_bytes(f->sp) != f->wpos - f->rpos)
		fail("op %" PRIu64 ": %" PRIu64 " bytes said waiting, %" PRIu64
		    " put and not got", op, spool_bytes(f->sp),
		    f->wpos - f->rpos);
	if (mem > f->mem_max)
		fail("op %" PRIu64 ": %" PRIu64 " bytes in memory, more than %"
		    PRIu64, op, mem, f->mem_max);
	seg_scan(f->path, &s);
	if (s.bytes > f->file_max)
		fail("op %" PRIu64 ": %" PRIu64 " bytes on disk, more than %"
		    PRIu64, op, s.bytes, f->file_max);
	if (spool_file_bytes(f->sp) == 0 && s.count > 0)
		fail("op %" PRIu64 ": the file part is empty, but PATH.%u is "
		    "there", op, s.seq[0]);
	if (s.bytes < spool_file_bytes(f->sp))
		fail("op %" PRIu64 ": %" PRIu64 " bytes in the file part, %"
		    PRIu64 " on disk", op, spool_file_bytes(f->sp), s.bytes);
	if (mem > f->peak_mem)
		f->peak_mem = mem;
	if (s.bytes > f->peak_disk)
		f->peak_disk = s.bytes;
	if (s.count > 0 && s.seq[s.count - 1] > f->max_seq)
		f->max_seq = s.seq[s.count - 1];
}

static int
cmd_fifo(const char *path, uint64_t mem_max, uint64_t file_max,
    uint64_t seed, uint64_t nops)
{
	struct fifo f;
	struct segs s;
	uint64_t state = mix64(seed), op, put_pct = 50;

	memset(&f, 0, sizeof(f));
	f.sp = open_spool(path, mem_max, file_max);
	f.seed = seed;
	f.mem_max = mem_max;
	f.file_max = file_max;
	f.path = path;
	f.buf = xmalloc(SIZE_MAX_OP);
	for (op = 0; op < nops; op++) {
		if (op % 64 == 0)	/* a phase: filling, even, draining */
			put_pct = 30 + 20 * rnd_in(&state, 0, 2);
		if (rnd(&state) % 200 == 0)
			f.rpos += drain(f.sp, seed, f.rpos, &state, f.buf);
		else if (rnd(&state) % 100 < put_pct)
			fifo_put(&f, rnd_size(&state));
		else
			fifo_get(&f, rnd_size(&state));
		fifo_check(&f, op);
	}
	f.rpos += drain(f.sp, seed, f.rpos, &state, f.buf);
	if (f.rpos != f.wpos)
		fail("drained at stream byte %" PRIu64 ", put %" PRIu64,
		    f.rpos, f.wpos);
	seg_scan(path, &s);
	if (s.count > 0)
		fail("drained, but PATH.%u is there", s.seq[0]);
	spool_close(f.sp);
	free(f.buf);
	printf("puts %" PRIu64 " gets %" PRIu64 " full %" PRIu64 " bytes %"
	    PRIu64 " peak_mem %" PRIu64 " peak_disk %" PRIu64 " file_used %"
	    PRIu64 " segments %u\nok\n", f.puts, f.gets, f.full, f.wpos,
	    f.peak_mem, f.peak_disk, f.file_used, f.max_seq);
	return 0;
}

/* ------------------------------------------------------------ full */

/* Puts of size bytes from stream byte pos until SPOOL_FULL: the puts. */
static uint64_t
fill(struct spool *sp, uint64_t pos, size_t size, unsigned char *buf)
{
	struct error e;
	uint64_t puts = 0, before;
	int rc;

	for (;;) {
		stream_fill(1, pos + puts * size, buf, size);
		before = spool_bytes(sp);
		if ((rc = spool_put(sp, buf, size, &e)) == -1)
			die(&e);
		if (rc == SPOOL_FULL)
			break;
		puts++;
	}
	if (spool_bytes(sp) != before)
		fail("a refused put changed the bytes waiting: %" PRIu64
		    " -> %" PRIu64, before, spool_bytes(sp));
	return puts;
}

static int
cmd_full(const char *path, uint64_t mem_max, uint64_t file_max, size_t size)
{
	struct spool *sp = open_spool(path, mem_max, file_max);
	unsigned char *buf = xmalloc(size > SIZE_MAX_OP ? size : SIZE_MAX_OP);
	uint64_t state = 7, puts, again, got;
	struct segs s;

	puts = fill(sp, 0, size, buf);
	seg_scan(path, &s);
	printf("accepted %" PRIu64 " puts %" PRIu64 " bytes mem %" PRIu64
	    " file %" PRIu64 " disk %" PRIu64 "\n", puts, puts * size,
	    mem_bytes(sp), spool_file_bytes(sp), s.bytes);
	if ((got = drain(sp, 1, 0, &state, buf)) != puts * size)
		fail("got %" PRIu64 " bytes back, put %" PRIu64, got,
		    puts * size);
	seg_scan(path, &s);
	if (s.count > 0)
		fail("drained, but PATH.%u is there", s.seq[0]);
	again = fill(sp, puts * size, size, buf);
	printf("again %" PRIu64 " puts %" PRIu64 " bytes\n", again,
	    again * size);
	if ((got = drain(sp, 1, puts * size, &state, buf)) != again * size)
		fail("got %" PRIu64 " bytes back, put %" PRIu64, got,
		    again * size);
	spool_close(sp);
	free(buf);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------ corrupt */

#define CORRUPT_RECS	5

static void
damage(const char *name, const char *what, uint64_t off, size_t len)
{
	unsigned char b;
	uint64_t at;
	int fd;

	if ((fd = open(name, O_RDWR)) == -1)
		err(1, "%s", name);
	if (strcmp(what, "truncate") == 0) {
		if (ftruncate(fd, (off_t)(off + HDR_LEN + len / 2)) == -1)
			err(1, "%s", name);
		close(fd);
		return;
	}
	if (strcmp(what, "payload") == 0)
		at = off + HDR_LEN + len / 2;
	else if (strcmp(what, "length") == 0)
		at = off + 3;
	else if (strcmp(what, "crc") == 0)
		at = off + 4 + 5;
	else
		errx(2, "%s: payload, length, crc or truncate", what);
	if (pread(fd, &b, 1, (off_t)at) != 1)
		err(1, "%s", name);
	b ^= 0x80;
	if (pwrite(fd, &b, 1, (off_t)at) != 1)
		err(1, "%s", name);
	close(fd);
}

static int
cmd_corrupt(const char *path, const char *what, unsigned int rec)
{
	struct spool *sp = open_spool(path, 0, 1 << 20);
	unsigned char buf[CORRUPT_RECS * 1000];
	char name[PATH_MAX], first[ERR_MSGLEN + 32];
	struct error e;
	uint64_t pos = 0, off = 0, got = 0;
	unsigned int i;
	ssize_t n;

	if (rec >= CORRUPT_RECS)
		errx(2, "REC: 0 to %d", CORRUPT_RECS - 1);
	for (i = 0; i < CORRUPT_RECS; i++) {
		stream_fill(1, pos, buf, (i + 1) * 1000);
		if (spool_put(sp, buf, (i + 1) * 1000, &e) != 0)
			fail("put %u: not accepted", (i + 1) * 1000);
		if (i < rec)
			off += HDR_LEN + (i + 1) * 1000;
		pos += (i + 1) * 1000;
	}
	snprintf(name, sizeof(name), "%s.1", path);
	damage(name, what, off, (rec + 1) * 1000);
	printf("corrupted record %u at byte %" PRIu64 "\n", rec, off);
	while ((n = spool_get(sp, buf, 700, &e)) > 0) {
		stream_check(1, got, buf, (size_t)n);
		got += (uint64_t)n;
	}
	printf("got %" PRIu64 " bytes\n", got);
	if (n == 0)
		fail("the spool was read to its end, no error");
	snprintf(first, sizeof(first), "error %s: %s",
	    err_kind_name(e.kind), e.msg);
	printf("%s\n", first);
	if ((n = spool_get(sp, buf, 700, &e)) != -1)
		fail("a get after the error returned %zd", n);
	if (strcmp(strchr(first, ':') + 2, e.msg) != 0)
		fail("a get after the error: %s", e.msg);
	printf("again the same error\n");
	if (spool_clear(sp, &e) == -1)
		die(&e);
	if (spool_bytes(sp) != 0 || access(name, F_OK) == 0)
		fail("cleared, but %" PRIu64 " bytes or %s are left",
		    spool_bytes(sp), name);
	spool_close(sp);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------ leftover */

static const char *const leftovers[] = {
	"", ".", ".1", ".7", ".x", ".1x", "_1", "foo.1"
};
#define NLEFTOVERS	(sizeof(leftovers) / sizeof(leftovers[0]))

static void
make_file(const char *name, const char *text)
{
	FILE *fp;

	if ((fp = fopen(name, "w")) == NULL)
		err(1, "%s", name);
	fputs(text, fp);
	if (fclose(fp) == EOF)
		err(1, "%s", name);
}

static int
cmd_leftover(const char *path)
{
	struct spool *sp;
	unsigned char buf[1000];
	char name[PATH_MAX];
	uint64_t state = 3;
	struct error e;
	size_t i;

	for (i = 0; i < NLEFTOVERS; i++) {
		snprintf(name, sizeof(name), "%s%s", path, leftovers[i]);
		make_file(name, "garbage, not a record of the spool\n");
	}
	sp = open_spool(path, 0, 1 << 20);
	for (i = 0; i < NLEFTOVERS; i++) {
		snprintf(name, sizeof(name), "%s%s", path, leftovers[i]);
		printf("%s %s\n", leftovers[i], access(name, F_OK) == 0 ?
		    "kept" : "removed");
	}
	stream_fill(1, 0, buf, sizeof(buf));
	if (spool_put(sp, buf, sizeof(buf), &e) != 0 ||
	    spool_file_bytes(sp) != sizeof(buf))
		fail("put %zu: not to the file", sizeof(buf));
	if (drain(sp, 1, 0, &state, buf) != sizeof(buf))
		fail("not all %zu bytes back", sizeof(buf));
	spool_close(sp);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------ ioerror */

static int
cmd_ioerror(const char *path)
{
	struct spool *sp = open_spool(path, 16, 1 << 20);
	unsigned char buf[110];
	char name[PATH_MAX];
	uint64_t state = 5;
	struct error e;
	struct segs s;
	int rc;

	stream_fill(1, 0, buf, sizeof(buf));
	if (spool_put(sp, buf, 10, &e) != 0)
		fail("put 10: not accepted");
	snprintf(name, sizeof(name), "%s.1", path);
	if (mkdir(name, 0700) == -1)
		err(1, "%s", name);
	if ((rc = spool_put(sp, buf + 10, 100, &e)) != -1)
		fail("put 100 with a directory at PATH.1: returned %d", rc);
	printf("error %s: %s\n", err_kind_name(e.kind), e.msg);
	printf("bytes %" PRIu64 "\n", spool_bytes(sp));
	if (rmdir(name) == -1)
		err(1, "%s", name);
	if ((rc = spool_put(sp, buf + 10, 100, &e)) == -1)
		die(&e);
	if (rc != 0)
		fail("put 100 again: returned %d", rc);
	seg_scan(path, &s);
	print_segs(&s);
	if (drain(sp, 1, 0, &state, buf) != sizeof(buf))
		fail("not all %zu bytes back", sizeof(buf));
	seg_scan(path, &s);
	if (s.count > 0)
		fail("drained, but PATH.%u is there", s.seq[0]);
	spool_close(sp);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------ bigfile */

struct big {
	unsigned int	 first, last, max_files;
};

static void
big_check(struct big *b, const char *path)
{
	struct segs s;
	unsigned int i;

	seg_scan(path, &s);
	if (s.count == 0)
		return;
	for (i = 1; i < s.count; i++)
		if (s.seq[i] != s.seq[i - 1] + 1)
			fail("files .%u and .%u: not consecutive",
			    s.seq[i - 1], s.seq[i]);
	for (i = 0; i + 1 < s.count; i++)
		if (s.size[i] < SEGMENT_MAX ||
		    s.size[i] >= SEGMENT_MAX + SPOOL_RECORD + HDR_LEN)
			fail("file .%u: %" PRIu64 " bytes, with .%u after it",
			    s.seq[i], s.size[i], s.seq[i + 1]);
	if (s.seq[0] < b->first || s.seq[s.count - 1] < b->last)
		fail("files .%u to .%u after .%u to .%u", s.seq[0],
		    s.seq[s.count - 1], b->first, b->last);
	b->first = s.seq[0];
	b->last = s.seq[s.count - 1];
	if (s.count > b->max_files)
		b->max_files = s.count;
	if (s.count > 2)
		fail("%u files, .%u to .%u", s.count, s.seq[0],
		    s.seq[s.count - 1]);
}

static int
cmd_bigfile(const char *path, uint64_t mb)
{
	struct spool *sp = open_spool(path, 1 << 20, 1ULL << 30);
	unsigned char *buf = xmalloc(SIZE_MAX_OP);
	uint64_t state = 11, wpos = 0, rpos = 0, total = mb << 20;
	uint64_t debt = 0;
	struct big b = { 0, 0, 0 };
	unsigned int last;
	struct rusage ru;
	struct error e;
	size_t n;
	ssize_t k;
	int rc;

	while (wpos < total) {
		n = rnd_in(&state, 1, 512 * 1024);
		if (n > total - wpos)
			n = total - wpos;
		stream_fill(2, wpos, buf, n);
		if ((rc = spool_put(sp, buf, n, &e)) == -1)
			die(&e);
		if (rc != 0)
			fail("put %zu at stream byte %" PRIu64 ": refused", n,
			    wpos);
		wpos += n;
		debt += n * 3;
		while (debt >= 5 * 1024) {
			n = rnd_in(&state, 1, debt / 5);
			if ((k = spool_get(sp, buf, n, &e)) <= 0)
				fail("get %zu at stream byte %" PRIu64
				    ": %zd", n, rpos, k);
			stream_check(2, rpos, buf, (size_t)k);
			rpos += (uint64_t)k;
			debt -= 5 * (uint64_t)k < debt ? 5 * (uint64_t)k : debt;
		}
		big_check(&b, path);
	}
	while ((k = spool_get(sp, buf, rnd_in(&state, 1, SIZE_MAX_OP),
	    &e)) != 0) {
		if (k == -1)
			die(&e);
		stream_check(2, rpos, buf, (size_t)k);
		rpos += (uint64_t)k;
		big_check(&b, path);
	}
	if (rpos != wpos)
		fail("drained at stream byte %" PRIu64 ", put %" PRIu64, rpos,
		    wpos);
	last = b.last;
	b.first = b.last = 0;
	big_check(&b, path);
	if (b.last != 0)
		fail("drained, but PATH.%u is there", b.first);
	spool_close(sp);
	free(buf);
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %" PRIu64 " segments %u max_files %u maxrss_kb %ld\n"
	    "ok\n", wpos, last, b.max_files, ru.ru_maxrss);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct spool *sp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		errx(2, "usage: spooltest fifo|full|corrupt|leftover|ioerror|"
		    "bigfile|open PATH [ARGS]");
	if (strcmp(cmd, "fifo") == 0 && argc == 7)
		return cmd_fifo(argv[2], num(argv[3]), num(argv[4]),
		    num(argv[5]), num(argv[6]));
	if (strcmp(cmd, "full") == 0 && argc == 6 && num(argv[5]) > 0)
		return cmd_full(argv[2], num(argv[3]), num(argv[4]),
		    num(argv[5]));
	if (strcmp(cmd, "corrupt") == 0 && argc == 5)
		return cmd_corrupt(argv[2], argv[3], num(argv[4]));
	if (strcmp(cmd, "leftover") == 0 && argc == 3)
		return cmd_leftover(argv[2]);
	if (strcmp(cmd, "ioerror") == 0 && argc == 3)
		return cmd_ioerror(argv[2]);
	if (strcmp(cmd, "bigfile") == 0 && argc == 4)
		return cmd_bigfile(argv[2], num(argv[3]));
	if (strcmp(cmd, "open") == 0 && argc == 3) {
		sp = open_spool(argv[2], 1, 1);
		spool_close(sp);
		printf("ok\n");
		return 0;
	}
	errx(2, "%s: unknown command or wrong arguments", cmd);
}
