/*
 * cmd_set.h - set commands.
 */
#ifndef DFLYMASTER_CMD_SET_H
#define DFLYMASTER_CMD_SET_H

#include "command.h"

cmd_fn	cmd_saddex, cmd_sadd, cmd_srem, cmd_spop, cmd_smembers, cmd_scard;
cmd_fn	cmd_smismember, cmd_sscan;

#endif
