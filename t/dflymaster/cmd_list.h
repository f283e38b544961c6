/*
 * cmd_list.h - list commands, and the Redis index range rule shared with ZRANGE.
 */
#ifndef DFLYMASTER_CMD_LIST_H
#define DFLYMASTER_CMD_LIST_H

#include "command.h"

cmd_fn	cmd_push, cmd_pop, cmd_ltrim, cmd_lrange, cmd_llen;

/* start/stop as Redis reads them (negative from the end); from > to: empty */
void	range_of(long long, long long, size_t, size_t *, size_t *);

#endif
