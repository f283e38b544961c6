/*
 * config.c - options of `df2redis replicate` / `migrate`: command line,
 * `-f df2redis.conf`, password files and environment.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_FLAG, OPT_SIZE, OPT_SPECIAL };

static const struct option_desc {
	const char	*name;
	enum opt_kind	 kind;
	size_t		 off;		/* into struct config, OPT_STR/INT/FLAG */
	size_t		 size;		/* OPT_STR buffer size */
	long long	 min, max;	/* OPT_INT */
	const char	*help;
} options[] = {
#define S(n, f, h) { n, OPT_STR, offsetof(struct config, f), \
	sizeof(((struct config *)0)->f), 0, 0, h }
#define I(n, f, lo, hi, h) { n, OPT_INT, offsetof(struct config, f), 0, lo, hi, h }
#define F(n, f, h) { n, OPT_FLAG, offsetof(struct config, f), 0, 0, 1, h }
#define Z(n, f, lo, h) { n, OPT_SIZE, offsetof(struct config, f), 0, lo, 0, h }
#define X(n, h) { n, OPT_SPECIAL, 0, 0, 0, 0, h }
	X("source",		"HOST:PORT of the Dragonfly master"),
	S("source-user",	source_user, "ACL user for the master"),
	S("source-password-file", source_password_file,
	    "file holding the master's password"),
	S("target",		target_url, "HOST:PORT or redis://[USER[:PASS]@]HOST:PORT[/DB]"),
	S("target-password-file", target_password_file,
	    "file holding the target's password"),
	F("source-tls",		source_tls.enabled, "connect to the master over TLS"),
	S("source-tls-ca-file",	source_tls.ca_file,
	    "CA certificates the master's is checked against (system's)"),
	S("source-tls-cert-file", source_tls.cert_file,
	    "client certificate for the master"),
	S("source-tls-key-file", source_tls.key_file,
	    "its private key (the cert file)"),
	S("source-tls-sni",	source_tls.sni,
	    "name sent to the master and checked (the host)"),
	F("source-tls-verify",	source_tls.verify,
	    "check the master's certificate and name (yes)"),
	S("target-tls-ca-file",	target_tls.ca_file,
	    "rediss://: CA certificates the target's is checked against"),
	S("target-tls-cert-file", target_tls.cert_file,
	    "rediss://: client certificate for the target"),
	S("target-tls-key-file", target_tls.key_file,
	    "rediss://: its private key (the cert file)"),
	S("target-tls-sni",	target_tls.sni,
	    "rediss://: name sent to the target and checked (the host)"),
	F("target-tls-verify",	target_tls.verify,
	    "rediss://: check the target's certificate and name (yes)"),
	X("db-map",		"SRC:DST[,SRC:DST...] database renumbering"),
	X("db-filter",
	    "DB[-DB][,...] copy only these source dbs (repeatable)"),
	X("db-exclude",
	    "DB[-DB][,...] never copy these source dbs (repeatable)"),
	X("key-prefix",
	    "copy only keys starting with it (repeatable)"),
	X("key-exclude-prefix",
	    "never copy keys starting with it (repeatable)"),
	X("key-regex",
	    "copy only keys matching this POSIX extended regex (repeatable)"),
	X("key-exclude-regex",
	    "never copy keys matching it (repeatable)"),
	X("filter-flush",
	    "fail|all: FLUSHDB/FLUSHALL under a key filter stops, or flushes "
	    "the target db whole"),
	X("unsupported",	"fail|skip|lossy values Redis cannot hold"),
	X("batch",		"members per write command, 1-100000 (default 512)"),
	S("state-dir",		state_dir, "directory of the LSN checkpoints"),
	S("ctl-socket",		ctl_socket, "control socket (STATE_DIR/df2redis.sock)"),
	S("pidfile",		pidfile, "pid file (STATE_DIR/df2redis.pid)"),
	I("max-retries",	max_retries, 0, 1000000,
	    "full-sync restarts before giving up (10)"),
	I("retry-delay-ms",	retry_delay_ms, 1, 3600000,
	    "first retry delay, doubled each time (250)"),
	I("timeout-ms",		timeout_ms, 100, 3600000,
	    "source connect and reply timeout (30000)"),
	I("checkpoint-ms",	checkpoint_ms, 1, 3600000,
	    "stable sync: LSN checkpoints at most this often (100)"),
	Z("spool-memory",	spool_memory, 1 << 20,
	    "stable sync: journal bytes a flow holds in memory while the "
	    "target is behind (16M)"),
	Z("spool-max",		spool_max, 0,
	    "then in its spool file, at most (1G; 0: no file)"),
	Z("spool-max-total",	spool_max_total, 0,
	    "every flow's spool files together, at most (8G)"),
	F("full-sync-only",	full_sync_only,
	    "stop once the snapshot is applied"),
	F("flush-on-resync",	flush_on_resync,
	    "flush the target's dbs before a restarted full sync (no)"),
	F("sweep-on-resync",	sweep_on_resync,
	    "after a restarted full sync, delete the keys it did not write "
	    "(yes)"),
	I("verbose",		verbose, 0, 3, "log level 0-3"),
	X("metrics-listen",	"HOST:PORT (IPv4 or [IPv6] literal) of the "
	    "Prometheus metrics and status page (off)"),
#undef S
#undef I
#undef F
#undef Z
#undef X
};
#define NOPTIONS	(sizeof(options) / sizeof(options[0]))

/* The options config_set() parses itself (set_special()). */
static int
special_changed(const struct config *a, const struct config *b,
    const char *name)
{
	if (strcmp(name, "source") == 0)
		return strcmp(a->source_host, b->source_host) != 0 ||
		    a->source_port != b->source_port;
	if (strcmp(name, "db-map") == 0)
		return memcmp(a->db_map, b->db_map, sizeof(a->db_map)) != 0;
	if (strcmp(name, "unsupported") == 0)
		return a->unsupported != b->unsupported;
	if (filter_option(name))
		return filter_spec_changed(&a->filter, &b->filter, name);
	if (strcmp(name, "batch") == 0)
		return a->batch != b->batch;
	if (strcmp(name, "metrics-listen") == 0)
		return strcmp(a->metrics_listen, b->metrics_listen) != 0;
	return 0;
}

void
config_changed(const struct config *a, const struct config *b,
    void (*fn)(void *, const char *), void *arg)
{
	const struct option_desc *o;
	const char *pa, *pb;
	int diff;
	size_t i;

	for (i = 0; i < NOPTIONS; i++) {
		o = &options[i];
		pa = (const char *)a + o->off;
		pb = (const char *)b + o->off;
		switch (o->kind) {
		case OPT_STR:
			diff = strcmp(pa, pb) != 0;
			break;
		case OPT_INT:
		case OPT_FLAG:
			diff = *(const int *)pa != *(const int *)pb;
			break;
		case OPT_SIZE:
			diff = *(const uint64_t *)pa != *(const uint64_t *)pb;
			break;
		default:
			diff = special_changed(a, b, o->name);
			break;
		}
		if (diff)
			fn(arg, o->name);
	}
}

void
config_init(struct config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < CONFIG_MAXDB; i++)
		cfg->db_map[i] = -1;
	cfg->unsupported = CONFIG_UNSUPPORTED_FAIL;
	cfg->max_retries = 10;
	cfg->retry_delay_ms = 250;
	cfg->timeout_ms = 30000;
	cfg->checkpoint_ms = 100;
	cfg->sweep_on_resync = 1;
	cfg->source_tls.verify = 1;
	cfg->target_tls.verify = 1;
	cfg->spool_memory = 16ULL << 20;
	cfg->spool_max = 1ULL << 30;
	cfg->spool_max_total = 8ULL << 30;
}

/* "64M": bytes, with an optional K, M, G or T (powers of 1024). */
static int
parse_size(const char *v, uint64_t *out)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end != '\0' || (shift > 0 && n > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)n << shift;
	return 0;
}

static int
parse_hostport(const char *s, char *host, size_t hostlen, int *port,
    struct error *e)
{
	const char *colon, *errstr;
	size_t hl;

	if ((colon = strrchr(s, ':')) == NULL)
		return err_set(e, ERR_CONFIG, "\"%s\": expected HOST:PORT", s);
	hl = colon - s;
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {	/* [::1]:6379 */
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen)
		return err_set(e, ERR_CONFIG, "\"%s\": bad host", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return err_set(e, ERR_CONFIG, "\"%s\": port is %s", s, errstr);
	return 0;
}

static int
parse_dbmap(struct config *cfg, const char *spec, struct error *e)
{
	char buf[4096], *p, *pair, *colon;
	const char *errstr;
	long long src, dst;

	if (strlcpy(buf, spec, sizeof(buf)) >= sizeof(buf))
		return err_set(e, ERR_CONFIG, "db-map too long");
	for (p = buf; (pair = strsep(&p, ",")) != NULL;) {
		if (*pair == '\0')
			continue;
		if ((colon = strchr(pair, ':')) == NULL)
			return err_set(e, ERR_CONFIG,
			    "db-map \"%s\": expected SRC:DST", pair);
		*colon = '\0';
		src = strtonum(pair, 0, CONFIG_MAXDB - 1, &errstr);
		if (errstr != NULL)
			return err_set(e, ERR_CONFIG,
			    "db-map: source db \"%s\" is %s", pair, errstr);
		dst = strtonum(colon + 1, 0, CONFIG_MAXDB - 1, &errstr);
		if (errstr != NULL)
			return err_set(e, ERR_CONFIG,
			    "db-map: target db \"%s\" is %s", colon + 1, errstr);
		cfg->db_map[src] = dst;
	}
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0)
		*out = 1;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
config_split_listen(const char *v, char *host, size_t hostlen, int *port,
    struct error *e)
{
	unsigned char a[sizeof(struct in6_addr)];
	const char *colon, *h = v, *errstr;
	size_t hl;
	int af = AF_INET;

	if (*v == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			return err_set(e, ERR_CONFIG, "metrics-listen \"%s\": "
			    "expected [IPV6]:PORT", v);
		h = v + 1;
		hl = colon - h;
		colon++;
		af = AF_INET6;
	} else if ((colon = strrchr(v, ':')) == NULL)
		return err_set(e, ERR_CONFIG, "metrics-listen \"%s\": expected "
		    "HOST:PORT", v);
	else
		hl = colon - v;
	if (hl == 0 || hl >= hostlen)
		return err_set(e, ERR_CONFIG, "metrics-listen \"%s\": bad "
		    "address", v);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(af, host, a) != 1)
		return err_set(e, ERR_CONFIG, "metrics-listen \"%s\": \"%s\" "
		    "is not an %s literal", v, host, af == AF_INET ?
		    "IPv4 address (IPv6: [ADDR]:PORT)" : "IPv6 address");
	*port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return err_set(e, ERR_CONFIG, "metrics-listen \"%s\": port is "
		    "%s", v, errstr);
	return 0;
}

static int
set_special(struct config *cfg, const char *key, const char *value,
    struct error *e)
{
	const char *errstr;
	char host[64];
	int port;

	if (strcmp(key, "source") == 0)
		return parse_hostport(value, cfg->source_host,
		    sizeof(cfg->source_host), &cfg->source_port, e);
	if (strcmp(key, "db-map") == 0)
		return parse_dbmap(cfg, value, e);
	if (strcmp(key, "unsupported") == 0) {
		if (strcmp(value, "fail") == 0)
			cfg->unsupported = CONFIG_UNSUPPORTED_FAIL;
		else if (strcmp(value, "skip") == 0)
			cfg->unsupported = CONFIG_UNSUPPORTED_SKIP;
		else if (strcmp(value, "lossy") == 0)
			cfg->unsupported = CONFIG_UNSUPPORTED_LOSSY;
		else
			return err_set(e, ERR_CONFIG, "unsupported: \"%s\" "
			    "is not fail, skip or lossy", value);
		return 0;
	}
	if (strcmp(key, "metrics-listen") == 0) {
		if (config_split_listen(value, host, sizeof(host), &port, e) ==
		    -1)
			return -1;
		if (strlcpy(cfg->metrics_listen, value,
		    sizeof(cfg->metrics_listen)) >= sizeof(cfg->metrics_listen))
			return err_set(e, ERR_CONFIG, "metrics-listen: value "
			    "too long");
		return 0;
	}
	if (filter_option(key))
		return filter_spec_set(&cfg->filter, key, value, e);
	if (strcmp(key, "batch") == 0) {
		cfg->batch = strtonum(value, 1, 100000, &errstr);
		if (errstr != NULL)
			return err_set(e, ERR_CONFIG, "batch \"%s\" is %s "
			    "(1-100000)", value, errstr);
		return 0;
	}
	return err_set(e, ERR_CONFIG, "unknown option \"%s\"", key);
}

int
config_set(struct config *cfg, const char *key, const char *value,
    struct error *e)
{
	const struct option_desc *o;
	const char *errstr;
	char *base = (char *)cfg;
	size_t i;

	for (i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].name, key) == 0)
			break;
	if (i == NOPTIONS)
		return err_set(e, ERR_CONFIG, "unknown option \"%s\"", key);
	o = &options[i];
	switch (o->kind) {
	case OPT_STR:
		if (*value == '\0')
			return err_set(e, ERR_CONFIG, "%s: empty value", key);
		if (strlcpy(base + o->off, value, o->size) >= o->size)
			return err_set(e, ERR_CONFIG, "%s: value too long", key);
		return 0;
	case OPT_INT:
		*(int *)(base + o->off) = strtonum(value, o->min, o->max,
		    &errstr);
		if (errstr != NULL)
			return err_set(e, ERR_CONFIG, "%s: \"%s\" is %s", key,
			    value, errstr);
		return 0;
	case OPT_FLAG:
		if (parse_bool(value, (int *)(base + o->off)) == -1)
			return err_set(e, ERR_CONFIG,
			    "%s: \"%s\" is not yes or no", key, value);
		return 0;
	case OPT_SIZE:
		if (parse_size(value, (uint64_t *)(base + o->off)) == -1)
			return err_set(e, ERR_CONFIG, "%s: \"%s\" is not a "
			    "size (bytes, or a number with K, M or G)", key,
			    value);
		if (*(uint64_t *)(base + o->off) < (uint64_t)o->min)
			return err_set(e, ERR_CONFIG, "%s: \"%s\" is below "
			    "%lld bytes", key, value, o->min);
		return 0;
	case OPT_SPECIAL:
		return set_special(cfg, key, value, e);
	}
	return err_set(e, ERR_CONFIG, "%s: bad option kind", key);
}

int
config_load(struct config *cfg, const char *path, struct error *e)
{
	FILE *fp;
	char *line = NULL, *key, *value, *end;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return err_set(e, ERR_CONFIG, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if ((end = strchr(line, '#')) != NULL)
			*end = '\0';
		key = line + strspn(line, " \t\r\n");
		if (*key == '\0')
			continue;
		value = key + strcspn(key, " \t\r\n");
		if (*value != '\0')
			*value++ = '\0';
		value += strspn(value, " \t");
		end = value + strlen(value);
		while (end > value && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*value == '\0') {
			rc = err_set(e, ERR_CONFIG, "%s:%d: %s: missing value",
			    path, lineno, key);
			break;
		}
		if (config_set(cfg, key, value, e) == -1) {
			rc = err_prefix(e, "%s:%d", path, lineno);
			break;
		}
	}
	if (rc == 0 && ferror(fp))
		rc = err_set(e, ERR_CONFIG, "%s: %s", path, strerror(errno));
	free(line);
	fclose(fp);
	return rc;
}

int
config_read_secret(const char *path, char *buf, size_t buflen,
    struct error *e)
{
	struct stat st;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL)
		return err_set(e, ERR_CONFIG, "%s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(stderr, "df2redis: warning: %s is readable by others\n",
		    path);
	if (fgets(buf, buflen, fp) == NULL) {
		fclose(fp);
		return err_set(e, ERR_CONFIG, "%s: empty password file", path);
	}
	fclose(fp);
	n = strcspn(buf, "\r\n");
	if (n == buflen - 1)
		return err_set(e, ERR_CONFIG, "%s: password too long", path);
	buf[n] = '\0';
	if (n == 0)
		return err_set(e, ERR_CONFIG, "%s: empty password", path);
	return 0;
}

static int
getenv_secret(const char *name, char *buf, size_t buflen, struct error *e)
{
	const char *v;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return 0;
	if (strlcpy(buf, v, buflen) >= buflen)
		return err_set(e, ERR_CONFIG, "%s: password too long", name);
	return 0;
}

/*
 * Passwords, the same rule for every subcommand: the password file first,
 * then (target only) the password in the URL, then the environment.
 */
int
config_secrets(struct config *cfg, int url_password, struct error *e)
{
	if (cfg->source_password_file[0] != '\0') {
		if (config_read_secret(cfg->source_password_file,
		    cfg->source_password, sizeof(cfg->source_password),
		    e) == -1)
			return -1;
	} else if (getenv_secret("DF2REDIS_SOURCE_PASSWORD",
	    cfg->source_password, sizeof(cfg->source_password), e) == -1)
		return -1;
	if (cfg->target_password_file[0] != '\0')
		return config_read_secret(cfg->target_password_file,
		    cfg->target_password, sizeof(cfg->target_password), e);
	if (url_password)
		return 0;
	return getenv_secret("DF2REDIS_TARGET_PASSWORD", cfg->target_password,
	    sizeof(cfg->target_password), e);
}

static int
config_finish(struct config *cfg, struct error *e)
{
	int n;

	if (cfg->source_host[0] == '\0')
		return err_set(e, ERR_CONFIG, "--source HOST:PORT is required");
	if (cfg->target_url[0] == '\0')
		return err_set(e, ERR_CONFIG, "--target URL is required");
	if (cfg->state_dir[0] == '\0' && cfg->state_dir_optional)
		return 0;
	if (cfg->state_dir[0] == '\0')
		return err_set(e, ERR_CONFIG, "--state-dir DIR is required");
	if (cfg->flush_on_resync && filter_spec_keyed(&cfg->filter) &&
	    !cfg->filter.flush_all)
		return err_set(e, ERR_CONFIG, "flush-on-resync empties whole "
		    "target dbs, the keys --key-prefix/--key-regex leave out "
		    "too (--filter-flush all to allow it)");
	if (!cfg->source_tls.enabled && (cfg->source_tls.ca_file[0] != '\0' ||
	    cfg->source_tls.cert_file[0] != '\0' ||
	    cfg->source_tls.key_file[0] != '\0' ||
	    cfg->source_tls.sni[0] != '\0'))
		return err_set(e, ERR_CONFIG, "source-tls-* options given "
		    "without source-tls");
	if (cfg->ctl_socket[0] == '\0') {
		n = snprintf(cfg->ctl_socket, sizeof(cfg->ctl_socket),
		    "%s/df2redis.sock", cfg->state_dir);
		if (n < 0 || (size_t)n >= sizeof(cfg->ctl_socket))
			return err_set(e, ERR_CONFIG, "state-dir too long");
	}
	if (cfg->pidfile[0] == '\0') {
		n = snprintf(cfg->pidfile, sizeof(cfg->pidfile),
		    "%s/df2redis.pid", cfg->state_dir);
		if (n < 0 || (size_t)n >= sizeof(cfg->pidfile))
			return err_set(e, ERR_CONFIG, "state-dir too long");
	}
	return 0;
}

void
config_options(FILE *out)
{
	size_t i;

	fprintf(out, "  -d  stay in the foreground, log to stderr\n"
	    "  -f FILE  read settings from FILE (the command line wins)\n"
	    "  -n  check the configuration and exit\n"
	    "  -v  more verbose logging\n");
	for (i = 0; i < NOPTIONS; i++)
		fprintf(out, "  --%-22s %s\n", options[i].name,
		    options[i].help);
}

void
config_usage(FILE *out, const char *cmd)
{
	fprintf(out, "usage: df2redis %s [-dnv] [-f FILE] --source HOST:PORT "
	    "--target URL --state-dir DIR [options]\n", cmd);
	config_options(out);
	fprintf(out, "  -h, --help  this text; -V, --version  the version\n");
	fprintf(out, "flags: --NAME or --NAME=yes turns one on, "
	    "--NAME=no or --no-NAME off\n  (over the -f file)\n");
	fprintf(out, "flush-on-resync: a full sync that starts again "
	    "overwrites the target key by key;\n  keys deleted on the master "
	    "while the session was broken stay on the target\n  unless it is "
	    "yes, which empties the target's dbs first (they are then\n  "
	    "incomplete until the snapshot is in).  A FLUSHALL/FLUSHDB on the "
	    "master\n  during the full sync always flushes the matching target "
	    "dbs.\n");
	fprintf(out, "passwords: the source's from --source-password-file, "
	    "else $DF2REDIS_SOURCE_PASSWORD;\n  the target's from "
	    "--target-password-file, else the URL, else "
	    "$DF2REDIS_TARGET_PASSWORD\n");
}

/* Is keys[i] the first of its name? */
static int
first_of(const char **keys, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(keys[j], keys[i]) == 0)
			return 0;
	return 1;
}

int
config_parse_args(struct config *cfg, int argc, char **argv,
    struct error *e)
{
	/* each option, "no-NAME" for each flag (val 1), help, version, end */
	struct option longopts[2 * NOPTIONS + 3];
	char noname[NOPTIONS][64];
	const char **keys, **values;
	char msg[ERR_MSGLEN];
	size_t i, nl, n = 0;
	int ch, idx, rc = -1, verbose = 0;

	for (i = 0; i < NOPTIONS; i++) {
		longopts[i].name = options[i].name;
		longopts[i].has_arg = options[i].kind == OPT_FLAG ?
		    optional_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 0;
	}
	for (nl = 0; nl < NOPTIONS; nl++) {
		if (options[nl].kind != OPT_FLAG)
			continue;
		snprintf(noname[i - NOPTIONS], sizeof(noname[0]), "no-%s",
		    options[nl].name);
		longopts[i].name = noname[i - NOPTIONS];
		longopts[i].has_arg = no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 1;
		i++;
	}
	longopts[i].name = "help";
	longopts[i].has_arg = no_argument;
	longopts[i].flag = NULL;
	longopts[i].val = 'h';
	i++;
	longopts[i].name = "version";
	longopts[i].has_arg = no_argument;
	longopts[i].flag = NULL;
	longopts[i].val = 'V';
	memset(&longopts[i + 1], 0, sizeof(longopts[i + 1]));

	keys = calloc(argc + 1, sizeof(*keys));
	values = calloc(argc + 1, sizeof(*values));
	if (keys == NULL || values == NULL) {
		err_set(e, ERR_SYS, "out of memory");
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "df:hnVv", longopts, &idx)) != -1) {
		switch (ch) {
		case 0:
			keys[n] = options[idx].name;
			values[n++] = options[idx].kind == OPT_FLAG &&
			    optarg == NULL ? "yes" : optarg;
			break;
		case 1:		/* --no-NAME */
			keys[n] = longopts[idx].name + 3;
			values[n++] = "no";
			break;
		case 'd':
			cfg->foreground = 1;
			break;
		case 'f':
			if (strlcpy(cfg->config_file, optarg,
			    sizeof(cfg->config_file)) >= sizeof(cfg->config_file)) {
				err_set(e, ERR_CONFIG, "-f: path too long");
				goto out;
			}
			break;
		case 'n':
			cfg->check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			rc = CONFIG_HELP;
			goto out;
		case 'V':
			rc = CONFIG_VERSION;
			goto out;
		default:
			err_set(e, ERR_CONFIG, "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
			rc = CONFIG_USAGE;
			goto out;
		}
	}
	if (optind < argc) {
		err_set(e, ERR_CONFIG, "unexpected argument \"%s\"",
		    argv[optind]);
		rc = CONFIG_USAGE;
		goto out;
	}
	if (cfg->config_file[0] != '\0' &&
	    config_load(cfg, cfg->config_file, e) == -1)
		goto out;
	/* a list given on the command line replaces the file's */
	for (i = 0; i < n; i++)
		if (filter_option(keys[i]) && first_of(keys, i))
			filter_spec_reset(&cfg->filter, keys[i]);
	for (i = 0; i < n; i++)
		if (config_set(cfg, keys[i], values[i], e) == -1) {
			/* the option as it was typed: "--batch: ..." */
			strlcpy(msg, e->msg, sizeof(msg));
			err_set(e, ERR_CONFIG, "--%s", msg);
			goto out;
		}
	if (verbose > 0)
		cfg->verbose = verbose;
	/* nothing given at all: say what is needed, as usage */
	if ((rc = config_finish(cfg, e)) == -1 && argc < 2)
		rc = CONFIG_USAGE;
out:
	free(keys);
	free(values);
	return rc;
}
