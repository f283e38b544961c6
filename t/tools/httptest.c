/*
 * httptest - feed a request from stdin to the HTTP parser (http.h), CHUNK
 * bytes at a time, and print what it said:
 *
 *   httptest CHUNK < request
 *	"request METHOD PATH 1.MINOR", "again", "bad" or "toobig", and the
 *	number of bytes fed before the verdict
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

int
main(int argc, char **argv)
{
	static char in[1 << 20];
	struct http_parser p;
	struct http_request r;
	enum http_event ev = HTTP_AGAIN;
	const char *errstr;
	size_t len = 0, off, n, chunk;
	ssize_t got;

	if (argc != 2) {
		fprintf(stderr, "usage: httptest CHUNK < request\n");
		return 2;
	}
	chunk = strtonum(argv[1], 1, sizeof(in), &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "httptest: chunk %s\n", errstr);
		return 2;
	}
	while ((got = read(0, in + len, sizeof(in) - len)) > 0)
		len += got;
	if (got == -1) {
		fprintf(stderr, "httptest: %s\n", strerror(errno));
		return 1;
	}
	http_init(&p);
	for (off = 0; off < len && ev == HTTP_AGAIN; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ev = http_feed(&p, in + off, n, &r);
	}
	switch (ev) {
	case HTTP_REQUEST:
		printf("request %s %s 1.%d", r.method, r.path, r.minor);
		break;
	case HTTP_AGAIN:
		printf("again");
		break;
	case HTTP_BAD:
		printf("bad");
		break;
	case HTTP_TOOBIG:
		printf("toobig");
		break;
	}
	printf(" %zu\n", off);
	return 0;
}
