/*
 * dispatch.h - the command table and MULTI/EXEC: every request of a plain
 * client, control connection or flow goes through cmd_dispatch().
 */
#ifndef DFLYMASTER_DISPATCH_H
#define DFLYMASTER_DISPATCH_H

#include <stddef.h>

struct client;

void	 cmd_dispatch(struct client *, size_t, char **, size_t *);

#endif
