/* PLACEHOLDER: replaced by the supervisor implementation before landing. */
#include <stdio.h>
#include "cmd.h"

int
cmd_replicate(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "df2redis: replicate: placeholder\n");
	return 2;
}

int
cmd_migrate(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "df2redis: migrate: placeholder\n");
	return 2;
}
