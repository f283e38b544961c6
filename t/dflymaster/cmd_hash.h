/*
 * cmd_hash.h - hash commands.
 */
#ifndef DFLYMASTER_CMD_HASH_H
#define DFLYMASTER_CMD_HASH_H

#include "command.h"

cmd_fn	cmd_hset, cmd_hdel, cmd_hincrby, cmd_hget, cmd_hgetall, cmd_hlen;
cmd_fn	cmd_hmget, cmd_hscan;
cmd_fn	cmd_hsetex, cmd_hexpire, cmd_fieldexpire, cmd_hpexpiretime;

#endif
