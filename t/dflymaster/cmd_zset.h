/*
 * cmd_zset.h - sorted set commands.
 */
#ifndef DFLYMASTER_CMD_ZSET_H
#define DFLYMASTER_CMD_ZSET_H

#include "command.h"

cmd_fn	cmd_zadd, cmd_zrem, cmd_zincrby, cmd_zrange, cmd_zscore, cmd_zcard;
cmd_fn	cmd_zmscore, cmd_zscan;

#endif
