/*
 * bstr.h - byte strings: keys, values and arguments that may hold any byte.
 * str_dup() keeps a NUL after the bytes so they can be printed.
 */
#ifndef DFLYMASTER_BSTR_H
#define DFLYMASTER_BSTR_H

#include <stddef.h>

struct str {
	char	*p;
	size_t	 len;
};

struct str	 str_dup(const void *, size_t);
void		 str_setrange(struct str *, size_t, const void *, size_t);
void		 str_free(struct str *);
int		 str_eq(const struct str *, const void *, size_t);

#endif
