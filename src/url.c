/*
 * url.c - the target's address (url.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

static int
parse_port(const char *s, size_t len, int *port)
{
	char		 num[8];
	const char	*errstr;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len);
	num[len] = '\0';
	*port = (int)strtonum(num, 1, 65535, &errstr);
	return errstr == NULL ? 0 : -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into out; -1 on a bad escape or overflow. */
static int
pct_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t	i, o = 0;
	int	hi, lo;

	for (i = 0; i < len; i++) {
		if (o + 1 >= outsz)
			return -1;
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len || (hi = hexval(s[i + 1])) == -1 ||
		    (lo = hexval(s[i + 2])) == -1)
			return -1;
		if (hi == 0 && lo == 0)
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

/* HOST:PORT, [V6]:PORT; port optional when defport is not 0. */
static int
parse_hostport(const char *s, size_t len, struct target_opts *o, int defport,
    struct error *e)
{
	const char	*colon = NULL, *host = s;
	size_t		 hlen;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL) {
			err_set(e, ERR_CONFIG, "target: missing ']' after IPv6 "
			    "address");
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				err_set(e, ERR_CONFIG, "target: expected ':' "
				    "after ']'");
				return -1;
			}
			colon = close + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(s + len - colon - 1)) != NULL) {
			err_set(e, ERR_CONFIG, "target: an IPv6 address must be "
			    "written [ADDRESS]:PORT");
			return -1;
		}
		hlen = colon != NULL ? (size_t)(colon - s) : len;
	}
	if (hlen == 0) {
		err_set(e, ERR_CONFIG, "target: missing host");
		return -1;
	}
	if (hlen >= sizeof(o->host)) {
		err_set(e, ERR_CONFIG, "target: host name too long");
		return -1;
	}
	memcpy(o->host, host, hlen);
	o->host[hlen] = '\0';
	if (colon == NULL) {
		if (defport == 0) {
			err_set(e, ERR_CONFIG, "target %s: missing :PORT",
			    o->host);
			return -1;
		}
		o->port = defport;
		return 0;
	}
	if (parse_port(colon + 1, (size_t)(s + len - colon - 1),
	    &o->port) == -1) {
		err_set(e, ERR_CONFIG, "target %s: bad port \"%.*s\" (1-65535)",
		    o->host, (int)(s + len - colon - 1), colon + 1);
		return -1;
	}
	return 0;
}

static int
parse_url(const char *s, struct target_opts *o, struct error *e)
{
	const char	*auth, *at, *slash, *colon, *end;
	const char	*errstr;
	char		 num[16];

	end = s + strlen(s);
	auth = s;
	slash = memchr(auth, '/', (size_t)(end - auth));
	if (strpbrk(auth, "?#") != NULL) {
		err_set(e, ERR_CONFIG, "target: URL options (?...) are not "
		    "supported");
		return -1;
	}
	if (slash == NULL)
		slash = end;
	at = memrchr(auth, '@', (size_t)(slash - auth));
	if (at != NULL) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (pct_decode(auth, (size_t)((colon ? colon : at) - auth),
		    o->user, sizeof(o->user)) == -1) {
			err_set(e, ERR_CONFIG, "target: bad user name in URL "
			    "(percent escape or length)");
			return -1;
		}
		if (colon != NULL && pct_decode(colon + 1,
		    (size_t)(at - colon - 1), o->password,
		    sizeof(o->password)) == -1) {
			err_set(e, ERR_CONFIG, "target: bad password in URL "
			    "(percent escape or length)");
			return -1;
		}
		auth = at + 1;
	}
	if (parse_hostport(auth, (size_t)(slash - auth), o, 6379, e) == -1)
		return -1;
	if (slash == end || slash + 1 == end)
		return 0;
	if ((size_t)(end - slash - 1) >= sizeof(num)) {
		err_set(e, ERR_CONFIG, "target %s:%d: bad db number in URL",
		    o->host, o->port);
		return -1;
	}
	memcpy(num, slash + 1, (size_t)(end - slash - 1));
	num[end - slash - 1] = '\0';
	o->db = (int)strtonum(num, 0, 1 << 20, &errstr);
	if (errstr != NULL) {
		err_set(e, ERR_CONFIG, "target %s:%d: bad db number \"%s\" in "
		    "URL", o->host, o->port, num);
		return -1;
	}
	o->have_db = 1;
	return 0;
}

int
target_parse(const char *spec, struct target_opts *o, struct error *e)
{
	memset(o, 0, sizeof(*o));
	o->window = TARGET_DEFAULT_WINDOW;
	o->connect_timeout_ms = TARGET_DEFAULT_CONNECT_MS;
	o->retry_ms = TARGET_DEFAULT_RETRY_MS;
	o->reply_timeout_ms = TARGET_DEFAULT_REPLY_MS;
	o->tls.verify = 1;
	if (spec == NULL || spec[0] == '\0') {
		err_set(e, ERR_CONFIG, "target: empty address");
		return -1;
	}
	if (strncasecmp(spec, "rediss://", 9) == 0) {
		o->tls.enabled = 1;
		return parse_url(spec + 9, o, e);
	}
	if (strncasecmp(spec, "redis://", 8) == 0)
		return parse_url(spec + 8, o, e);
	if (strstr(spec, "://") != NULL) {
		err_set(e, ERR_CONFIG, "target: unknown URL scheme (want "
		    "redis:// or rediss://)");
		return -1;
	}
	if (strpbrk(spec, "@/") != NULL) {
		err_set(e, ERR_CONFIG, "target: expected HOST:PORT or "
		    "redis[s]://[USER[:PASSWORD]@]HOST:PORT[/DB]");
		return -1;
	}
	return parse_hostport(spec, strlen(spec), o, 0, e);
}

