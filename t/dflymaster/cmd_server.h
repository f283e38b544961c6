/*
 * cmd_server.h - server commands, test hooks and the replication entry points.
 */
#ifndef DFLYMASTER_CMD_SERVER_H
#define DFLYMASTER_CMD_SERVER_H

#include "command.h"

cmd_fn	cmd_ping, cmd_echo, cmd_ok, cmd_command, cmd_config, cmd_info;
cmd_fn	cmd_debug, cmd_dflymaster, cmd_replconf, cmd_dfly;

#endif
