/*
 * text.h - arguments as text: keywords, integers and doubles the way Redis
 * reads and prints them, and random hex ids.
 */
#ifndef DFLYMASTER_TEXT_H
#define DFLYMASTER_TEXT_H

#include <stddef.h>

int	 arg_is(const char *, size_t, const char *);	/* case-insensitive */
int	 parse_ll(const char *, size_t, long long *);
int	 parse_double(const char *, size_t, double *);
size_t	 fmt_double(char *, size_t, double);
void	 random_hex(char *, size_t);

#endif
