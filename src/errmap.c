/*
 * errmap.c - kinds for the errors of modules not yet on struct error
 * (errmap.h).
 */
#include <string.h>

#include "errmap.h"

enum err_kind
errmap_target(const char *msg)
{
	/* AUTH answered LOADING: the server is starting, not refusing us */
	if (strstr(msg, "LOADING") != NULL)
		return ERR_TARGET;
	if (strstr(msg, "authentication failed") != NULL ||
	    strstr(msg, "NOAUTH") != NULL || strstr(msg, "WRONGPASS") != NULL)
		return ERR_AUTH;
	if (strstr(msg, "only db 0") != NULL)
		return ERR_CONFIG;
	return ERR_IO;
}
