/* PLACEHOLDER: replaced by the inspect implementation before landing. */
#include <stdio.h>
#include "cmd.h"

int
cmd_inspect(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "df2redis: inspect: placeholder\n");
	return 2;
}
