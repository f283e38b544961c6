/*
 * cmd_keys.h - generic key commands (DEL, EXPIRE, RENAME, SCAN, ...).
 */
#ifndef DFLYMASTER_CMD_KEYS_H
#define DFLYMASTER_CMD_KEYS_H

#include "command.h"

cmd_fn	cmd_del, cmd_exists, cmd_type, cmd_expire, cmd_persist, cmd_ttl;
cmd_fn	cmd_rename, cmd_select, cmd_flush, cmd_dbsize, cmd_scan;

struct dict;
/* The reply of HSCAN, SSCAN or ZSCAN (t) over d, NULL for no key. */
void	scan_members(struct client *, size_t, char **, size_t *,
	    struct dict *, enum otype);

#endif
