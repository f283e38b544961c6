/* PLACEHOLDER: replaced by the control tool before landing. */
#include <stdio.h>

int
main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "df2redisctl: placeholder\n");
	return 2;
}
