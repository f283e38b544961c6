/*
 * resp.c - RESP requests (arrays of bulk strings, or inline commands as the
 * Dragonfly replica sends them, replication.md 0) and reply builders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "client.h"
#include "text.h"
#include "resp.h"

#define MAX_INLINE	(64 * 1024)

#define MAX_ARGS	(1024 * 1024)

#define MAX_BULK	(512LL * 1024 * 1024)

static char	**pargv;

static size_t	 *plens;

static size_t	  pcap;

static void
args_reserve(size_t n)
{
	if (n <= pcap)
		return;
	if ((pargv = reallocarray(pargv, n, sizeof(*pargv))) == NULL ||
	    (plens = reallocarray(plens, n, sizeof(*plens))) == NULL)
		fatal("reallocarray");
	pcap = n;
}

static const uint8_t *
find_crlf(const uint8_t *p, size_t n)
{
	const uint8_t	*q = memchr(p, '\r', n);

	while (q != NULL && (size_t)(q - p) + 1 < n) {
		if (q[1] == '\n')
			return q;
		q = memchr(q + 1, '\r', n - (size_t)(q + 1 - p));
	}
	return NULL;
}

static int
read_num(const uint8_t *p, size_t n, long long *v)
{
	return parse_ll((const char *)p, n, v);
}

static int
parse_inline(struct client *c, size_t *used, size_t *argc, const char **err)
{
	const uint8_t	*e, *p, *end;
	size_t		 n = 0;

	if ((e = find_crlf(c->in, c->inlen)) == NULL) {
		const uint8_t	*nl = memchr(c->in, '\n', c->inlen);

		if (nl == NULL) {
			if (c->inlen > MAX_INLINE) {
				*err = "Protocol error: too big inline request";
				return PARSE_ERR;
			}
			return PARSE_AGAIN;
		}
		e = nl;
		*used = (size_t)(nl - c->in) + 1;
	} else
		*used = (size_t)(e - c->in) + 2;
	p = c->in;
	end = e;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		args_reserve(n + 1);
		pargv[n] = (char *)p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		plens[n] = (size_t)(p - (const uint8_t *)pargv[n]);
		n++;
	}
	*argc = n;
	return PARSE_OK;
}

/*
 * Parse one request at the head of c->in.  argv/lens point into c->in and
 * stay valid until *used bytes are consumed.
 */
int
resp_parse(struct client *c, size_t *used, char ***argv, size_t **lens,
    size_t *argc, const char **err)
{
	const uint8_t	*p = c->in, *e, *end = c->in + c->inlen;
	long long	 n, len;
	size_t		 i;
	int		 r;

	*err = NULL;
	if (c->inlen == 0)
		return PARSE_AGAIN;
	if (*p != '*') {
		r = parse_inline(c, used, argc, err);
		*argv = pargv;
		*lens = plens;
		return r;
	}
	if ((e = find_crlf(p, c->inlen)) == NULL)
		return c->inlen > MAX_INLINE ? (*err = "Protocol error: "
		    "invalid multibulk length", PARSE_ERR) : PARSE_AGAIN;
	if (read_num(p + 1, (size_t)(e - p - 1), &n) == -1 || n > MAX_ARGS) {
		*err = "Protocol error: invalid multibulk length";
		return PARSE_ERR;
	}
	p = e + 2;
	if (n < 0)
		n = 0;
	args_reserve((size_t)n + 1);
	for (i = 0; i < (size_t)n; i++) {
		if (p >= end)
			return PARSE_AGAIN;
		if (*p != '$') {
			*err = "Protocol error: expected '$'";
			return PARSE_ERR;
		}
		if ((e = find_crlf(p, (size_t)(end - p))) == NULL)
			return PARSE_AGAIN;
		if (read_num(p + 1, (size_t)(e - p - 1), &len) == -1 ||
		    len < 0 || len > MAX_BULK) {
			*err = "Protocol error: invalid bulk length";
			return PARSE_ERR;
		}
		p = e + 2;
		if ((size_t)(end - p) < (size_t)len + 2)
			return PARSE_AGAIN;
		pargv[i] = (char *)p;
		plens[i] = (size_t)len;
		p += len + 2;
	}
	*used = (size_t)(p - c->in);
	*argc = (size_t)n;
	*argv = pargv;
	*lens = plens;
	return PARSE_OK;
}

void
reply_raw(struct client *c, const void *p, size_t n)
{
	if (c->dead)
		return;
	obuf_add(&c->out, p, n);
}

void
reply_simple(struct client *c, const char *s)
{
	reply_raw(c, "+", 1);
	reply_raw(c, s, strlen(s));
	reply_raw(c, "\r\n", 2);
}

void
reply_ok(struct client *c)
{
	reply_raw(c, "+OK\r\n", 5);
}

void
reply_error(struct client *c, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	reply_raw(c, "-", 1);
	reply_raw(c, buf, (size_t)n);
	reply_raw(c, "\r\n", 2);
	if (c->in_multi)
		c->multi_err = 1;
}

/* ":<v>\r\n", "*<v>\r\n" */
static void
reply_num(struct client *c, char type, long long v)
{
	char	 buf[32];
	int	 n = snprintf(buf, sizeof(buf), "%c%lld\r\n", type, v);

	reply_raw(c, buf, (size_t)n);
}

void
reply_int(struct client *c, long long v)
{
	reply_num(c, ':', v);
}

void
reply_bulk(struct client *c, const void *p, size_t len)
{
	char	 buf[32];
	int	 n = snprintf(buf, sizeof(buf), "$%zu\r\n", len);

	reply_raw(c, buf, (size_t)n);
	reply_raw(c, p, len);
	reply_raw(c, "\r\n", 2);
}

void
reply_cstr(struct client *c, const char *s)
{
	reply_bulk(c, s, strlen(s));
}

void
reply_null(struct client *c)
{
	reply_raw(c, "$-1\r\n", 5);
}

void
reply_null_array(struct client *c)
{
	reply_raw(c, "*-1\r\n", 5);
}

void
reply_array(struct client *c, long long n)
{
	reply_num(c, '*', n);
}

void
reply_double(struct client *c, double v)
{
	char	 buf[64];
	size_t	 n = fmt_double(buf, sizeof(buf), v);

	reply_bulk(c, buf, n);
}
