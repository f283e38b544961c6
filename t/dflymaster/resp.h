/*
 * resp.h - RESP requests (arrays of bulk strings, or inline commands as the
 * Dragonfly replica sends them, replication.md 0) and reply builders.
 */
#ifndef DFLYMASTER_RESP_H
#define DFLYMASTER_RESP_H

#include <stddef.h>

struct client;

#define PARSE_AGAIN	0
#define PARSE_OK	1
#define PARSE_ERR	(-1)
int		 resp_parse(struct client *, size_t *, char ***, size_t **,
		     size_t *, const char **);
void		 reply_raw(struct client *, const void *, size_t);
void		 reply_simple(struct client *, const char *);
void		 reply_error(struct client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 reply_int(struct client *, long long);
void		 reply_bulk(struct client *, const void *, size_t);
void		 reply_cstr(struct client *, const char *);
void		 reply_null(struct client *);
void		 reply_array(struct client *, long long);
void		 reply_null_array(struct client *);
void		 reply_double(struct client *, double);
void		 reply_ok(struct client *);

#endif
