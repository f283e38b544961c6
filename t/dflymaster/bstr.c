/*
 * bstr.c - byte strings: keys, values and arguments that may hold any byte.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "bstr.h"

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
