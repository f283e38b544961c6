/*
 * http.h - a sans-I/O parser of HTTP/1.x request heads, for the metrics
 * listener (httpd.h): fed the bytes a client sent, it says when the head
 * is whole (the request line and the headers up to the empty line), or
 * malformed, or past the size limit.  Only the method, the path (without
 * its query) and the version are kept; header lines are checked for form
 * and skipped.  A body is never read: the server answers and closes.
 */
#ifndef DF2REDIS_HTTP_H
#define DF2REDIS_HTTP_H

#include <stddef.h>

#define HTTP_MAXHEAD	4096	/* bytes of a request head */

enum http_event {
	HTTP_AGAIN,	/* the head is not whole yet */
	HTTP_REQUEST,	/* whole: the request is filled in */
	HTTP_BAD,	/* malformed: answer 400 */
	HTTP_TOOBIG,	/* longer than HTTP_MAXHEAD: answer 431 */
};

struct http_request {
	char		 method[16];
	char		 path[256];
	int		 minor;		/* HTTP/1.minor */
};

struct http_parser {
	char		 buf[HTTP_MAXHEAD];
	size_t		 len;
	enum http_event	 ev;		/* once not HTTP_AGAIN, final */
};

void		 http_init(struct http_parser *);
/* Feed len bytes; the request is filled in on HTTP_REQUEST. */
enum http_event	 http_feed(struct http_parser *, const void *, size_t,
		    struct http_request *);
/* "Not Found" for 404, ... */
const char	*http_reason(int status);

#endif
