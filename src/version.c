/*
 * version.c - what -h, -V and a malformed command line print.
 */
#include <stdio.h>

#include "version.h"

void
version_print(void)
{
	printf("df2redis %s\n", DF2REDIS_VERSION);
}

int
usage_done(int ch, void (*usage)(FILE *))
{
	switch (ch) {
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		version_print();
		return 0;
	default:
		usage(stderr);
		return EXIT_USAGE;
	}
}
