/* cmd.h - the df2redis subcommands, one file each. */
#ifndef DF2REDIS_CMD_H
#define DF2REDIS_CMD_H

int	cmd_inspect(int, char **);	/* inspect.c */
int	cmd_import(int, char **);	/* import.c */
int	cmd_replicate(int, char **);	/* supervisor.c */
int	cmd_migrate(int, char **);	/* supervisor.c: replicate --full-sync-only */
int	cmd_check(int, char **);	/* check.c */

#endif
