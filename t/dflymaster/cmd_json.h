/*
 * cmd_json.h - JSON.SET and JSON.GET.
 */
#ifndef DFLYMASTER_CMD_JSON_H
#define DFLYMASTER_CMD_JSON_H

#include "command.h"

cmd_fn	cmd_jsonset, cmd_jsonget;

#endif
