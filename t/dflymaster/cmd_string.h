/*
 * cmd_string.h - string commands (SET, INCR, APPEND, SETRANGE, ...).
 */
#ifndef DFLYMASTER_CMD_STRING_H
#define DFLYMASTER_CMD_STRING_H

#include "command.h"

cmd_fn	cmd_set, cmd_setex, cmd_get, cmd_mset, cmd_incr, cmd_incrbyfloat;
cmd_fn	cmd_append, cmd_setrange, cmd_getrange, cmd_mget, cmd_strlen;

#endif
