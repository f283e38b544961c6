/*
 * df2redisctl - control a running df2redis supervisor over its UNIX socket.
 *
 * One request line per connection (see ctl.h); the answer is read up to the
 * line holding a single "." and shown: `status` as a table, everything else
 * as the server's text, `status --json` as the server's JSON, verbatim.
 * An "error: " answer exits 1.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "version.h"

#define DEFAULT_SOCKET	"/var/lib/df2redis/df2redis.sock"
#define DEFAULT_TIMEOUT	30		/* seconds */
#define MAX_REPLY	(4 << 20)	/* bytes; a status of 1024 flows is ~250K */
#define MAX_FIELDS	32		/* key/value pairs on one reply line */
#define TAKEOVER_DEFAULT_S 10		/* the supervisor's default */
#define TAKEOVER_GRACE_S 60		/* to stop the workers, and slack */

enum action {
	NONE,
	STATUS,
	STATUS_JSON,
	RESTART_FLOW,
	STOP,
	TAKEOVER,
};

enum token_type {
	ENDTOKEN,
	OPTEND,		/* ends a table whose one word may be left out */
	KEYWORD,
	FLOWID,
	SECONDS,
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	enum action		 action;
	const struct token	*next;
};

struct request {
	enum action		 action;
	const char		*words[4];	/* what goes on the wire */
	int			 nwords;
};

static const struct token t_flowid[];
static const struct token t_status[];
static const struct token t_seconds[];

static const struct token t_main[] = {
	{ KEYWORD,	"restart-flow",	RESTART_FLOW,	t_flowid },
	{ KEYWORD,	"status",	STATUS,		t_status },
	{ KEYWORD,	"stop",		STOP,		NULL },
	{ KEYWORD,	"takeover",	TAKEOVER,	t_seconds },
	{ ENDTOKEN,	"",		NONE,		NULL },
};

static const struct token t_flowid[] = {
	{ FLOWID,	"<flow>",	NONE,		NULL },
	{ ENDTOKEN,	"",		NONE,		NULL },
};

static const struct token t_status[] = {
	{ KEYWORD,	"--json",	STATUS_JSON,	NULL },
	{ OPTEND,	"",		NONE,		NULL },
};

static const struct token t_seconds[] = {
	{ SECONDS,	"<seconds>",	NONE,		NULL },
	{ OPTEND,	"",		NONE,		NULL },
};

/* One reply line split as KIND NAME KEY VALUE KEY VALUE ... */
struct record {
	char		*kind;
	char		*name;
	char		*key[MAX_FIELDS];
	char		*value[MAX_FIELDS];
	int		 nfields;
};

static void __attribute__((noreturn))
usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out, "usage: df2redisctl [-r] [-f file] [-s socket] "
	    "[-t seconds] command [argument]\n"
	    "commands:\n"
	    "  status [--json]     the session and every flow\n"
	    "  restart-flow <flow> restart the session (the full sync)\n"
	    "  stop                stop the daemon\n"
	    "  takeover [seconds]  cut over: DFLY TAKEOVER, then stop\n"
	    "-h, --help: this text; -V, --version: the version.  "
	    "See df2redisctl(8).\n");
	exit(status);
}

static int
is_end(const struct token *t)
{
	return t->type == ENDTOKEN || t->type == OPTEND;
}

/* Whether the table's word may be left out. */
static int
optional(const struct token *table)
{
	while (table->type != ENDTOKEN && table->type != OPTEND)
		table++;
	return table->type == OPTEND;
}

static void
show_valid(const struct token *table)
{
	const char *what = table == t_main ? "commands" : "arguments";
	int i;

	fprintf(stderr, "valid %s:", what);
	for (i = 0; !is_end(&table[i]); i++)
		fprintf(stderr, " %s", table[i].keyword);
	fprintf(stderr, "\n");
}

static int
is_flowid(const char *word)
{
	const char *errstr;

	strtonum(word, 0, INT_MAX, &errstr);
	return errstr == NULL;
}

/* Must agree with the supervisor's TAKEOVER_MAX_S (takeover.h). */
static int
is_seconds(const char *word)
{
	const char *errstr;

	strtonum(word, 0, 3600, &errstr);
	return errstr == NULL;
}

/*
 * Match one word against a table: an exact keyword wins, else a unique
 * prefix.  Returns the token, or NULL after saying why.
 */
static const struct token *
match_token(const char *word, const struct token *table)
{
	const struct token *t = NULL;
	int i, matches = 0;

	for (i = 0; !is_end(&table[i]); i++) {
		switch (table[i].type) {
		case KEYWORD:
			if (strcmp(word, table[i].keyword) == 0)
				return &table[i];
			if (*word != '\0' && strncmp(word, table[i].keyword,
			    strlen(word)) == 0) {
				t = &table[i];
				matches++;
			}
			break;
		case FLOWID:
			if (is_flowid(word))
				return &table[i];
			break;
		case SECONDS:
			if (is_seconds(word))
				return &table[i];
			break;
		case ENDTOKEN:
		case OPTEND:
			break;
		}
	}
	if (matches == 1)
		return t;
	if (matches > 1)
		warnx("ambiguous argument: %s", word);
	else if (table[0].type == FLOWID)
		warnx("bad flow id: %s", word);
	else if (table[0].type == SECONDS)
		warnx("bad timeout: %s (0..3600 seconds)", word);
	else
		warnx("unknown argument: %s", word);
	show_valid(table);
	return NULL;
}

static void
parse(int argc, char **argv, struct request *req)
{
	const struct token *table = t_main, *t;
	int i;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < argc; i++) {
		if (table == NULL) {
			warnx("unexpected argument: %s", argv[i]);
			usage(EXIT_USAGE);
		}
		if ((t = match_token(argv[i], table)) == NULL)
			exit(EXIT_USAGE);
		if (t->type == KEYWORD) {
			/* an option word goes on the wire without its dashes */
			req->words[req->nwords++] = t->keyword +
			    strspn(t->keyword, "-");
			req->action = t->action;
		} else
			req->words[req->nwords++] = argv[i];
		table = t->next;
	}
	if (table != NULL && !optional(table)) {
		warnx("missing argument after %s", argv[argc - 1]);
		show_valid(table);
		exit(EXIT_USAGE);
	}
}

/* The socket named by a df2redis.conf: ctl-socket, else STATE_DIR's. */
static void
socket_from_config(const char *file, char *path, size_t pathlen)
{
	struct config cfg;
	struct error e;

	config_init(&cfg);
	if (config_load(&cfg, file, &e) == -1)
		errx(1, "%s", e.msg);
	if (cfg.ctl_socket[0] != '\0') {
		if (strlcpy(path, cfg.ctl_socket, pathlen) >= pathlen)
			errx(1, "%s: ctl-socket too long", file);
		return;
	}
	if (cfg.state_dir[0] == '\0')
		errx(1, "%s: neither ctl-socket nor state-dir is set", file);
	if ((size_t)snprintf(path, pathlen, "%s/df2redis.sock",
	    cfg.state_dir) >= pathlen)
		errx(1, "%s: state-dir too long", file);
}

static int
connect_ctl(const char *path, int timeout)
{
	struct sockaddr_un sun;
	struct timeval tv;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "%s: socket path too long", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	/* bounds connect() on a full backlog and send() */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		err(1, "setsockopt");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	switch (errno) {
	case ENOENT:
		errx(1, "is df2redis running? no socket at %s", path);
	case ECONNREFUSED:
		if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			errx(1, "%s: not a socket", path);
		errx(1, "%s: connection refused: df2redis is not running "
		    "(stale socket)", path);
	case EAGAIN:
	case EINPROGRESS:
		errx(1, "%s: connect: no answer within %d s", path, timeout);
	default:
		err(1, "%s: connect", path);
	}
}

/* The request line without its newline, e.g. "restart-flow 2". */
static void
format_request(const struct request *req, char *line, size_t linelen)
{
	int i;

	line[0] = '\0';
	for (i = 0; i < req->nwords; i++) {
		if (i > 0)
			strlcat(line, " ", linelen);
		if (strlcat(line, req->words[i], linelen) >= linelen)
			errx(EXIT_USAGE, "request too long");
	}
}

static void
send_request(int fd, const char *path, const char *request)
{
	char line[CTL_MAXREQ];
	size_t len = 0, n;
	ssize_t w;

	n = snprintf(line, sizeof(line), "%s\n", request);
	if (n >= sizeof(line))
		errx(EXIT_USAGE, "request too long");
	while (len < n) {
		if ((w = send(fd, line + len, n - len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "%s: send", path);
		}
		len += w;
	}
}

static int
reply_complete(const char *buf, size_t len)
{
	if (len == 2)
		return memcmp(buf, ".\n", 2) == 0;
	return len > 2 && memcmp(buf + len - 3, "\n.\n", 3) == 0;
}

/*
 * Read the reply up to its final "." line; returns it NUL-terminated with
 * that line removed.  A server that closes early, stalls or sends too much
 * is an error.
 */
static char *
read_reply(int fd, const char *path, int timeout, size_t *lenp)
{
	struct pollfd pfd;
	char *buf, *nbuf;
	size_t len = 0, cap = 4096;
	long long deadline, left;
	ssize_t n;
	int rv;

	if ((buf = malloc(cap)) == NULL)
		err(1, NULL);
	pfd.fd = fd;
	pfd.events = POLLIN;
	/* one deadline for the whole reply, not one per read */
	deadline = mono_ms() + timeout * 1000LL;
	for (;;) {
		if (reply_complete(buf, len))
			break;
		if (len + 1 == cap) {
			if (cap >= MAX_REPLY)
				errx(1, "%s: reply longer than %d bytes", path,
				    MAX_REPLY);
			cap *= 2;
			if ((nbuf = realloc(buf, cap)) == NULL)
				err(1, NULL);
			buf = nbuf;
		}
		if ((left = deadline - mono_ms()) <= 0 ||
		    (rv = poll(&pfd, 1, left)) == 0)
			errx(1, "%s: no reply within %d s (after %zu bytes)",
			    path, timeout, len);
		if (rv == -1 && errno == EINTR)
			continue;
		if (rv == -1)
			err(1, "poll");
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			err(1, "%s: recv", path);
		if (n == 0)
			errx(1, "%s: connection closed before the end of the "
			    "reply (after %zu bytes)", path, len);
		len += n;
	}
	len -= 2;			/* the "." line */
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Split the reply in place into lines, each made safe to print. */
static char **
split_lines(char *buf, int *nlines)
{
	char **lines = NULL, **nl, *line, *safe;
	int n = 0;

	while ((line = strsep(&buf, "\n")) != NULL) {
		if (buf == NULL && *line == '\0')
			break;			/* after the last newline */
		if ((safe = malloc(4 * strlen(line) + 1)) == NULL)
			err(1, NULL);
		strvis(safe, line, VIS_SAFE | VIS_OCTAL);
		if ((nl = reallocarray(lines, n + 1, sizeof(*lines))) == NULL)
			err(1, NULL);
		lines = nl;
		lines[n++] = safe;
	}
	*nlines = n;
	return lines;
}

/* KIND NAME KEY VALUE ...; returns -1 if the line is not of that shape. */
static int
split_record(char *line, struct record *r)
{
	char *p = line, *k, *v;

	memset(r, 0, sizeof(*r));
	if ((r->kind = strsep(&p, " ")) == NULL || p == NULL ||
	    (r->name = strsep(&p, " ")) == NULL)
		return -1;
	while (p != NULL) {
		if ((k = strsep(&p, " ")) == NULL || p == NULL ||
		    (v = strsep(&p, " ")) == NULL)
			return -1;
		if (r->nfields == MAX_FIELDS)
			return -1;
		r->key[r->nfields] = k;
		r->value[r->nfields++] = v;
	}
	return 0;
}

static int
is_number(const char *s)
{
	if (*s == '\0')
		return 0;
	return s[strspn(s, "0123456789")] == '\0';
}

static const char *
field(const struct record *r, const char *key)
{
	int i;

	for (i = 0; i < r->nfields; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->value[i];
	return NULL;
}

static void
print_session(const struct record *r)
{
	int i;

	printf("%-9s %s\n", "session", r->name);
	for (i = 0; i < r->nfields; i++)
		printf("%-9s %s\n", r->key[i], r->value[i]);
}

/*
 * The flow table: one column per key, in the order the server sends them,
 * so a field added to the supervisor shows up here unchanged.  Counters
 * that every flow reports are summed into a total line.
 */
static const char *summed[] = { "keys", "written", "skipped", "journal",
    "bytes" };

static const char *
total_of(const char *col, char total[][24])
{
	size_t j;

	for (j = 0; j < sizeof(summed) / sizeof(summed[0]); j++)
		if (strcmp(col, summed[j]) == 0)
			return total[j][0] != '\0' ? total[j] : NULL;
	return NULL;
}

/* Numbers right-aligned, words left-aligned; no blanks at the end. */
static void
print_cell(const char *v, int width, int numeric, int last)
{
	if (numeric)
		printf("  %*s", width, v);
	else if (last)
		printf("  %s", v);
	else
		printf("  %-*s", width, v);
}

static void
print_flows(struct record *flows, int nflows)
{
	const char *cols[MAX_FIELDS], *v;
	char total[sizeof(summed) / sizeof(summed[0])][24];
	int width[MAX_FIELDS + 1], numeric[MAX_FIELDS];
	unsigned long long sum;
	int ncols = 0, last, i, j, k, w;

	for (i = 0; i < nflows; i++)
		for (j = 0; j < flows[i].nfields; j++) {
			for (k = 0; k < ncols; k++)
				if (strcmp(cols[k], flows[i].key[j]) == 0)
					break;
			if (k == ncols && ncols < MAX_FIELDS) {
				cols[ncols] = flows[i].key[j];
				numeric[ncols++] = 1;
			}
		}
	for (k = 0; k < (int)(sizeof(summed) / sizeof(summed[0])); k++) {
		sum = 0;
		for (i = 0; i < nflows; i++) {
			if ((v = field(&flows[i], summed[k])) == NULL ||
			    !is_number(v))
				break;
			sum += strtoull(v, NULL, 10);
		}
		if (i == nflows)
			snprintf(total[k], sizeof(total[k]), "%llu", sum);
		else
			total[k][0] = '\0';
	}

	width[0] = strlen("FLOW");
	for (i = 0; i < nflows; i++)
		if ((w = strlen(flows[i].name)) > width[0])
			width[0] = w;
	if (nflows > 1 && width[0] < (int)strlen("total"))
		width[0] = strlen("total");
	for (k = 0; k < ncols; k++) {
		width[k + 1] = strlen(cols[k]);
		for (i = 0; i < nflows; i++) {
			if ((v = field(&flows[i], cols[k])) == NULL)
				v = "-";
			else if (!is_number(v))
				numeric[k] = 0;
			if ((w = strlen(v)) > width[k + 1])
				width[k + 1] = w;
		}
		if ((v = total_of(cols[k], total)) != NULL &&
		    (w = strlen(v)) > width[k + 1])
			width[k + 1] = w;
	}

	printf("\n%*s", width[0], "FLOW");
	for (k = 0; k < ncols; k++) {
		char head[64];

		strlcpy(head, cols[k], sizeof(head));
		for (j = 0; head[j] != '\0'; j++)
			if (head[j] >= 'a' && head[j] <= 'z')
				head[j] -= 'a' - 'A';
		print_cell(head, width[k + 1], numeric[k], k == ncols - 1);
	}
	printf("\n");
	for (i = 0; i < nflows; i++) {
		printf("%*s", width[0], flows[i].name);
		for (k = 0; k < ncols; k++) {
			if ((v = field(&flows[i], cols[k])) == NULL)
				v = "-";
			print_cell(v, width[k + 1], numeric[k], k == ncols - 1);
		}
		printf("\n");
	}
	if (nflows < 2)
		return;
	for (last = -1, k = 0; k < ncols; k++)
		if (total_of(cols[k], total) != NULL)
			last = k;
	printf("%*s", width[0], "total");
	for (k = 0; k <= last; k++) {
		if ((v = total_of(cols[k], total)) == NULL)
			v = "";
		print_cell(v, width[k + 1], numeric[k], k == last);
	}
	printf("\n");
}

static void
print_status(char **lines, int nlines)
{
	struct record *flows, r;
	char **copies, *shown;
	int i, nflows = 0, sessions = 0;

	if ((flows = calloc(nlines, sizeof(*flows))) == NULL ||
	    (copies = calloc(nlines, sizeof(*copies))) == NULL ||
	    (shown = calloc(nlines, 1)) == NULL)
		err(1, NULL);
	for (i = 1; i < nlines; i++) {
		if ((copies[i] = strdup(lines[i])) == NULL)
			err(1, NULL);
		if (split_record(copies[i], &r) == -1)
			continue;
		if (strcmp(r.kind, "session") == 0) {
			print_session(&r);
			sessions++;
			shown[i] = 1;
		} else if (strcmp(r.kind, "flow") == 0) {
			flows[nflows++] = r;
			shown[i] = 1;
		}
	}
	if (nflows > 0)
		print_flows(flows, nflows);
	else if (sessions > 0)
		printf("\nno flows\n");
	/* lines of a newer supervisor this table does not know, verbatim */
	for (i = 1; i < nlines; i++)
		if (!shown[i])
			printf("%s\n", lines[i]);
	for (i = 1; i < nlines; i++)
		free(copies[i]);
	free(copies);
	free(shown);
	free(flows);
}

/*
 * A takeover is answered when the master answers, after its own timeout
 * at most, and once the workers stopped: give it that much more.
 */
static int
reply_timeout(const struct request *req, int timeout)
{
	int t;

	if (req->action != TAKEOVER)
		return timeout;
	t = req->nwords > 1 ? atoi(req->words[1]) : TAKEOVER_DEFAULT_S;
	t += TAKEOVER_GRACE_S;
	return t > timeout ? t : timeout;
}

int
main(int argc, char **argv)
{
	struct request req;
	const char *errstr, *text;
	char path[PATH_MAX], request[CTL_MAXREQ], *reply, **lines;
	const char *sockopt = NULL, *conffile = NULL;
	size_t len;
	int ch, fd, i, nlines, raw = 0, rc = 0, timeout = DEFAULT_TIMEOUT;

	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ NULL,		0,		NULL,	0 }
	};

	while ((ch = getopt_long(argc, argv, "+f:hrs:t:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			version_print();
			return 0;
		case 'r':
			raw = 1;
			break;
		case 's':
			sockopt = optarg;
			break;
		case 't':
			timeout = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "-t %s: timeout is %s", optarg,
				    errstr);
			break;
		default:
			usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(EXIT_USAGE);
	parse(argc, argv, &req);

	if (sockopt != NULL) {
		if (strlcpy(path, sockopt, sizeof(path)) >= sizeof(path))
			errx(1, "%s: socket path too long", sockopt);
	} else if (conffile != NULL)
		socket_from_config(conffile, path, sizeof(path));
	else
		strlcpy(path, DEFAULT_SOCKET, sizeof(path));

	format_request(&req, request, sizeof(request));
	fd = connect_ctl(path, timeout);
	send_request(fd, path, request);
	reply = read_reply(fd, path, reply_timeout(&req, timeout), &len);
	close(fd);
	if (req.action == STATUS_JSON && !raw &&
	    strncmp(reply, "ok\n", 3) == 0) {
		/* JSON escapes every byte that could need it: verbatim */
		fputs(reply + 3, stdout);
		if (fflush(stdout) == EOF || ferror(stdout))
			err(1, "stdout");
		free(reply);
		return 0;
	}
	lines = split_lines(reply, &nlines);

	if (nlines == 0) {
		warnx("%s: empty reply to \"%s\"", path, request);
		rc = 1;
		goto out;
	}
	if (strncmp(lines[0], "error: ", 7) == 0) {
		fprintf(stderr, "df2redisctl: %s: %s\n", request, lines[0] + 7);
		for (i = 1; i < nlines; i++)
			fprintf(stderr, "%s\n", lines[i]);
		rc = 1;
		goto out;
	}
	if (strcmp(lines[0], "ok") != 0 && strncmp(lines[0], "ok ", 3) != 0) {
		warnx("%s: unexpected reply to \"%s\": %s", path, request,
		    lines[0]);
		rc = 1;
		goto out;
	}

	if (raw) {
		for (i = 0; i < nlines; i++)
			printf("%s\n", lines[i]);
	} else if (req.action == STATUS) {
		print_status(lines, nlines);
	} else {
		text = lines[0] + 2;
		if (*text == ' ')
			printf("%s\n", text + 1);
		for (i = 1; i < nlines; i++)
			printf("%s\n", lines[i]);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
out:
	for (i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	free(reply);
	return rc;
}
