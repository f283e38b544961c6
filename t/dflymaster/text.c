/*
 * text.c - arguments as text: keywords, integers and doubles the way Redis
 * reads and prints them, and random hex ids.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int
arg_is(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

int
parse_ll(const char *p, size_t n, long long *v)
{
	char		 buf[32], *end;
	long long	 x;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (buf[0] == ' ' || buf[0] == '+' || (buf[0] == '0' && n > 1) ||
	    (buf[0] == '-' && (n == 1 || buf[1] == '0')))
		return -1;
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

int
parse_double(const char *p, size_t n, double *v)
{
	char	 buf[64], *end;
	double	 x;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "+inf") == 0 || strcasecmp(buf, "inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcasecmp(buf, "-inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (buf[0] == ' ')
		return -1;
	errno = 0;
	x = strtod(buf, &end);
	if (errno == ERANGE || *end != '\0' || isnan(x))
		return -1;
	*v = x;
	return 0;
}

/* Shortest text that reads back as the same double, like Redis's %.17g. */
size_t
fmt_double(char *buf, size_t sz, double v)
{
	int	 prec;

	if (isinf(v))
		return (size_t)snprintf(buf, sz, "%s", v > 0 ? "inf" : "-inf");
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sz, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return strlen(buf);
}

void
random_hex(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++)
		out[i] = hex[arc4random_uniform(16)];
	out[n] = '\0';
}
