/*
 * cmd_stream.h - stream and consumer group commands.
 */
#ifndef DFLYMASTER_CMD_STREAM_H
#define DFLYMASTER_CMD_STREAM_H

#include "command.h"

cmd_fn	cmd_xadd, cmd_xlen, cmd_xrange, cmd_xgroup, cmd_xreadgroup, cmd_xack;
cmd_fn	cmd_xinfo, cmd_xpending;

#endif
