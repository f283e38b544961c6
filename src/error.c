/*
 * error.c - struct error: a kind and a fixed-size message (error.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const kind_names[ERR_MAX] = {
	[ERR_NONE] = "none",
	[ERR_SYS] = "system",
	[ERR_IO] = "io",
	[ERR_PROTO] = "protocol",
	[ERR_AUTH] = "auth",
	[ERR_CONFIG] = "config",
	[ERR_DATA] = "data",
	[ERR_TARGET] = "target",
	[ERR_DIVERGED] = "diverged",
};

int
err_set(struct error *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
err_prefix(struct error *e, const char *fmt, ...)
{
	char old[ERR_MSGLEN];
	va_list ap;
	int n;

	if (e == NULL)
		return -1;
	strlcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg)) {
		strlcat(e->msg, ": ", sizeof(e->msg));
		strlcat(e->msg, old, sizeof(e->msg));
	}
	return -1;
}

int
err_copy(struct error *dst, const struct error *src)
{
	if (dst != NULL && dst != src)
		*dst = *src;
	return -1;
}

void
err_clear(struct error *e)
{
	e->kind = ERR_NONE;
	e->msg[0] = '\0';
}

const char *
err_kind_name(enum err_kind kind)
{
	if ((unsigned)kind >= ERR_MAX)
		return "unknown";
	return kind_names[kind];
}

int
err_retryable(enum err_kind kind)
{
	switch (kind) {
	case ERR_SYS:
	case ERR_IO:
	case ERR_PROTO:
	case ERR_TARGET:
		return 1;
	default:
		return 0;
	}
}
