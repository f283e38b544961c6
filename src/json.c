/*
 * json.c - JSON output for "df2redis inspect" (json.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

/* bytes written as themselves: 0x20-0x7e but '"' (0x22) and '\\' (0x5c) */
static const unsigned char plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};
static const char hexdig[] = "0123456789abcdef";

/* "df2redis inspect: WHAT[: strerror(errnum)]" on stderr, exit 1. */
static void
fail(const char *what, int errnum)
    __attribute__((noreturn));

static void
fail(const char *what, int errnum)
{
	if (errnum != 0)
		fprintf(stderr, "df2redis inspect: %s: %s\n", what,
		    strerror(errnum));
	else
		fprintf(stderr, "df2redis inspect: %s\n", what);
	exit(1);
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			fail("write", errno);
		}
		p += w;
		n -= w;
	}
}

static int
spill_file(void)
{
	const char *dir;
	char path[4096];
	int fd;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	snprintf(path, sizeof(path), "%s/df2redis-inspect.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1)
		fail(path, errno);
	unlink(path);
	return fd;
}

void
obuf_flush(struct obuf *b)
{
	if (b->len == 0)
		return;
	if (b->fd == -1)
		b->fd = spill_file();
	write_all(b->fd, b->p, b->len);
	b->len = 0;
}

void
obuf_init(struct obuf *b, int fd, size_t max, int spill)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->max = max;
	b->spill = spill;
}

void
obuf_free(struct obuf *b)
{
	free(b->p);
	if (b->spill && b->fd != -1)
		close(b->fd);
	obuf_init(b, -1, b->max, b->spill);
}

void
obuf_room(struct obuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return;
	if (b->cap < b->max) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len < n && cap < b->max)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		if ((p = realloc(b->p, cap)) == NULL)
			fail("out of memory", 0);
		b->p = p;
		b->cap = cap;
		if (cap - b->len >= n)
			return;
	}
	obuf_flush(b);
}

void
obuf_write_slow(struct obuf *b, const char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		obuf_room(b, n < b->max ? n : b->max);
		k = b->cap - b->len;
		if (k > n)
			k = n;
		memcpy(b->p + b->len, p, k);
		b->len += k;
		p += k;
		n -= k;
	}
}

void
obuf_puts(struct obuf *b, const char *s)
{
	obuf_write(b, s, strlen(s));
}

void
obuf_uint(struct obuf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	obuf_write(b, p, tmp + sizeof(tmp) - p);
}

void
obuf_int(struct obuf *b, int64_t v)
{
	if (v < 0) {
		obuf_putc(b, '-');
		obuf_uint(b, -(uint64_t)v);
	} else
		obuf_uint(b, v);
}

void
obuf_ms(struct obuf *b, int64_t ms)
{
	if (ms < 0)
		obuf_lit(b, "null");
	else
		obuf_int(b, ms);
}

void
obuf_esc(struct obuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n, *run;
	char *d;

	while (p < end) {
		run = p;
		while (p < end && plain[*p])
			p++;
		if (p > run)
			obuf_write(b, run, p - run);
		for (; p < end && !plain[*p]; p++) {
			obuf_room(b, 6);
			d = b->p + b->len;
			d[0] = '\\';
			d[1] = 'u';
			d[2] = '0';
			d[3] = '0';
			d[4] = hexdig[*p >> 4];
			d[5] = hexdig[*p & 15];
			b->len += 6;
		}
	}
}

void
json_fputstrn(FILE *fp, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	putc('"', fp);
	for (i = 0; i < n; i++) {
		if (plain[p[i]])
			putc(p[i], fp);
		else
			fprintf(fp, "\\u00%c%c", hexdig[p[i] >> 4],
			    hexdig[p[i] & 15]);
	}
	putc('"', fp);
}

void
json_fputstr(FILE *fp, const char *s)
{
	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	json_fputstrn(fp, s, strlen(s));
}

void
obuf_str(struct obuf *b, const char *s, size_t n)
{
	obuf_putc(b, '"');
	obuf_esc(b, s, n);
	obuf_putc(b, '"');
}

void
obuf_id(struct obuf *b, const struct rdb_stream_id *id)
{
	char tmp[48];
	int n;

	n = snprintf(tmp, sizeof(tmp), "\"%" PRIu64 "-%" PRIu64 "\"", id->ms,
	    id->seq);
	obuf_write(b, tmp, n);
}

void
obuf_score(struct obuf *b, double d)
{
	char tmp[40];
	int n;

	if (isnan(d))
		obuf_lit(b, "\"nan\"");
	else if (isinf(d))
		obuf_puts(b, d > 0 ? "\"inf\"" : "\"-inf\"");
	else if (fabs(d) < 1e15 && d == (double)(int64_t)d && !signbit(d))
		obuf_int(b, (int64_t)d);	/* what %.17g prints, faster */
	else {
		n = snprintf(tmp, sizeof(tmp), "%.17g", d);
		obuf_write(b, tmp, n);
	}
}

void
obuf_move(struct obuf *dst, struct obuf *src)
{
	char tmp[64 * 1024];
	ssize_t r;

	if (src->fd != -1) {
		obuf_flush(src);
		if (lseek(src->fd, 0, SEEK_SET) == -1)
			fail("lseek", errno);
		for (;;) {
			r = read(src->fd, tmp, sizeof(tmp));
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1)
				fail("read spill file", errno);
			if (r == 0)
				break;
			obuf_write(dst, tmp, r);
		}
	} else
		obuf_write(dst, src->p, src->len);
	obuf_free(src);
}
