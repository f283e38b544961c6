/*
 * json.h - JSON output for "df2redis inspect": a buffered writer (struct
 * obuf) and the encoders of the values it prints.
 *
 * An obuf writes to a file descriptor whenever it is full.  One made with
 * spill set holds up to max bytes in memory and then spills to an
 * unlinked temporary file of its own, so a key whose pieces interleave
 * with other keys can be held whole at a bounded memory cost, and moved
 * to the output when it is complete (obuf_move()).
 *
 * Strings are byte-exact: bytes 0x20-0x7e other than '"' and '\' are
 * themselves, every other byte is \u00xx.  An error while writing (a
 * full disk, memory out) ends the command: it is printed on stderr, and
 * the process exits with status 1.
 */
#ifndef DF2REDIS_JSON_H
#define DF2REDIS_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "rdb.h"

struct obuf {
	char		*p;
	size_t		 len, cap, max;
	int		 fd;		/* -1: spill file not created yet */
	int		 spill;
};

void	obuf_init(struct obuf *, int fd, size_t max, int spill);
void	obuf_flush(struct obuf *);
void	obuf_free(struct obuf *);
/* Room for n (<= max) more bytes. */
void	obuf_room(struct obuf *, size_t n);
void	obuf_write_slow(struct obuf *, const char *, size_t);
void	obuf_puts(struct obuf *, const char *);
void	obuf_uint(struct obuf *, uint64_t);
void	obuf_int(struct obuf *, int64_t);
/* An absolute time in ms, or null when absent (-1). */
void	obuf_ms(struct obuf *, int64_t);
/* The body of a JSON string, without the quotes. */
void	obuf_esc(struct obuf *, const char *, size_t);
void	obuf_str(struct obuf *, const char *, size_t);
/* A stream id as "ms-seq". */
void	obuf_id(struct obuf *, const struct rdb_stream_id *);
/* A zset score: a number (%.17g), or "inf", "-inf", "nan". */
void	obuf_score(struct obuf *, double);
/* Appends everything src holds to dst and empties src. */
void	obuf_move(struct obuf *dst, struct obuf *src);

/* the two hot paths, inline */
static inline void
obuf_write(struct obuf *b, const void *p, size_t n)
{
	if (b->cap - b->len >= n) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	} else
		obuf_write_slow(b, p, n);
}

static inline void
obuf_putc(struct obuf *b, char c)
{
	if (b->len == b->cap)
		obuf_room(b, 1);
	b->p[b->len++] = c;
}

/* A string literal, its length known at compile time. */
#define obuf_lit(b, s)	obuf_write((b), (s), sizeof(s) - 1)

/*
 * A NUL-terminated string, or null for NULL, on a stdio stream, escaped
 * as obuf_str() does: for the daemon's own JSON (status), where a write
 * error is the stream's to report.
 */
void	json_fputstr(FILE *, const char *);
/* The same for n bytes, which may hold any byte (a key). */
void	json_fputstrn(FILE *, const char *, size_t);

#endif
