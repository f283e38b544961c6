/*
 * fuzz-http: libFuzzer target for the HTTP request parser (include/http.h).
 *
 * Every input is fed whole and in small irregular pieces: both feedings
 * must reach the same verdict and, for a request, the same method, path
 * and version; a request's method and path are NUL-terminated within
 * their buffers and the path starts with '/'.  Anything else is abort()ed
 * on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "fuzz.h"

static enum http_event
parse(const uint8_t *data, size_t size, int pieces, struct http_request *r)
{
	struct http_parser p;
	enum http_event ev = HTTP_AGAIN;
	uint32_t state = (uint32_t)size;
	size_t off = 0, n;

	memset(r, 0, sizeof(*r));
	http_init(&p);
	while (off < size && ev == HTTP_AGAIN) {
		n = pieces ? next_piece(&state) : size;
		if (n > size - off)
			n = size - off;
		ev = http_feed(&p, data + off, n, r);
		off += n;
	}
	if (ev == HTTP_REQUEST && (memchr(r->method, '\0',
	    sizeof(r->method)) == NULL || memchr(r->path, '\0',
	    sizeof(r->path)) == NULL || r->path[0] != '/' ||
	    r->method[0] == '\0' || (r->minor != 0 && r->minor != 1)))
		abort();
	return ev;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request a, b;
	enum http_event ea, eb;

	ea = parse(data, size, 0, &a);
	eb = parse(data, size, 1, &b);
	if (ea != eb || (ea == HTTP_REQUEST && memcmp(&a, &b, sizeof(a)) != 0)) {
		fprintf(stderr, "fuzz-http: whole: %d, pieces: %d\n", ea, eb);
		abort();
	}
	return 0;
}
