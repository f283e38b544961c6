/*
 * http.c - HTTP/1.x request heads, sans-I/O (http.h).
 */
#include <string.h>

#include "http.h"

void
http_init(struct http_parser *p)
{
	p->len = 0;
	p->ev = HTTP_AGAIN;
}

/* The end of the head: after "\r\n\r\n" or "\n\n"; 0 not yet. */
static size_t
head_end(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* RFC 9110 tchar */
static int
is_token(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* One line, its end (the \n or \r\n) excluded: [b, b + len). */
static enum http_event
request_line(const char *b, size_t len, struct http_request *r)
{
	size_t i = 0, n;

	memset(r, 0, sizeof(*r));
	for (n = 0; i < len && is_token((unsigned char)b[i]); i++, n++)
		if (n + 1 >= sizeof(r->method))
			return HTTP_BAD;
		else
			r->method[n] = b[i];
	if (n == 0 || i >= len || b[i++] != ' ')
		return HTTP_BAD;
	if (i >= len || b[i] != '/')
		return HTTP_BAD;
	for (n = 0; i < len && b[i] != ' '; i++) {
		if ((unsigned char)b[i] <= 0x20 || b[i] == 0x7f)
			return HTTP_BAD;
		if (b[i] == '?' || b[i] == '#')
			n = sizeof(r->path);	/* the query is not kept */
		else if (n + 1 < sizeof(r->path))
			r->path[n++] = b[i];
		else if (n < sizeof(r->path))
			return HTTP_TOOBIG;
	}
	if (i >= len || b[i++] != ' ')
		return HTTP_BAD;
	if (len - i != 8 || memcmp(b + i, "HTTP/1.", 7) != 0 ||
	    (b[i + 7] != '0' && b[i + 7] != '1'))
		return HTTP_BAD;
	r->minor = b[i + 7] - '0';
	return HTTP_REQUEST;
}

/* "Name: value": a token, a colon, no control bytes but tab. */
static int
header_ok(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len && is_token((unsigned char)b[i]); i++)
		;
	if (i == 0 || i >= len || b[i] != ':')
		return 0;
	for (; i < len; i++)
		if (((unsigned char)b[i] < 0x20 && b[i] != '\t') ||
		    b[i] == 0x7f)
			return 0;
	return 1;
}

static enum http_event
parse(const char *b, size_t len, struct http_request *r)
{
	const char *nl;
	size_t n, line = 0;
	enum http_event ev = HTTP_BAD;

	while (len > 0 && (nl = memchr(b, '\n', len)) != NULL) {
		n = nl - b;
		if (n > 0 && b[n - 1] == '\r')
			n--;
		if (line == 0 && (ev = request_line(b, n, r)) != HTTP_REQUEST)
			return ev;
		if (line > 0 && n > 0 && !header_ok(b, n))
			return HTTP_BAD;
		line++;
		len -= nl + 1 - b;
		b = nl + 1;
	}
	return ev;
}

enum http_event
http_feed(struct http_parser *p, const void *data, size_t len,
    struct http_request *r)
{
	size_t room = sizeof(p->buf) - p->len, end;

	if (p->ev != HTTP_AGAIN)
		return p->ev;
	if (len > room)
		len = room;
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	if ((end = head_end(p->buf, p->len)) == 0)
		p->ev = p->len == sizeof(p->buf) ? HTTP_TOOBIG : HTTP_AGAIN;
	else
		p->ev = parse(p->buf, end, r);
	return p->ev;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 408:	return "Request Timeout";
	case 431:	return "Request Header Fields Too Large";
	case 503:	return "Service Unavailable";
	}
	return "Error";
}
