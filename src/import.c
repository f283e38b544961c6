/* PLACEHOLDER: replaced by the import implementation before landing. */
#include <stdio.h>
#include "cmd.h"

int
cmd_import(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "df2redis: import: placeholder\n");
	return 2;
}
