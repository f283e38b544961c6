/*
 * compact.h - iterators over Redis's compact encodings held in memory:
 * listpack, ziplist, intset and zipmap (snapshot.md section 10).
 *
 * Each iterator validates as it walks: a length that runs past the end of
 * the buffer, a bad encoding byte or a missing terminator is an error
 * (return -1 with a message in it->err), never a read out of bounds.
 * Integer elements come back as their decimal text in the iterator's own
 * scratch buffer, so every element is a (pointer, length) string.
 */
#ifndef DF2REDIS_COMPACT_H
#define DF2REDIS_COMPACT_H

#include <stddef.h>
#include <stdint.h>

struct compact_it {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	uint64_t		 count;		/* elements announced; 0 unknown */
	uint64_t		 index;		/* elements returned so far */
	int			 isint;		/* last element was an integer */
	int64_t			 ival;		/* ... and its value */
	char			 num[24];	/* scratch for integer text */
	int			 kind;		/* COMPACT_LISTPACK, ... */
	char			 err[96];
	/* walking state, private to compact.c */
	int			 countknown;	/* count was announced */
	int			 done;		/* terminator reached */
	size_t			 last;		/* offset of the last entry */
	size_t			 lastlen;	/* its length (ziplist prevlen) */
	size_t			 tail;		/* ziplist zltail */
	unsigned int		 width;		/* intset bytes per element */
	int			 zmvalue;	/* zipmap: next is a value */
};

#define COMPACT_LISTPACK	1
#define COMPACT_ZIPLIST		2
#define COMPACT_INTSET		3
#define COMPACT_ZIPMAP		4

/* Open: check the header; 0 ok, -1 corrupt (it->err). */
int	lp_open(struct compact_it *, const void *, size_t);
int	zl_open(struct compact_it *, const void *, size_t);
int	is_open(struct compact_it *, const void *, size_t);
int	zm_open(struct compact_it *, const void *, size_t);

/*
 * Next element: 1 and (*p, *len) set; 0 at the end (terminator checked,
 * and the element count when one was announced); -1 corrupt.
 */
int	compact_next(struct compact_it *, const char **, size_t *);

#endif
