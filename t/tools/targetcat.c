/*
 * targetcat - send commands from stdin through the target layer.
 *
 *	targetcat [--window N] [--retry-ms MS] [--reply-timeout-ms MS]
 *	    [--connect-timeout-ms MS] [--count-only] URL < commands
 *	targetcat --parse URL		(prints what target_parse() read)
 *	targetcat --slot KEY		(prints target_slot(KEY); \xHH escapes)
 *
 * One command per line, arguments separated by single or repeated spaces.
 * In an argument, "\xHH" is the byte HH, "\s" a space and "\\" a
 * backslash.  The argument that routes the command (its key) is argument 1
 * unless the command is keyless (PING, INFO, FLUSHALL, ...: -1), or the
 * line starts with "@N " (argument N; "@-1 " for none) or "@all " (sent
 * to every master with target_send_all()).  A line starting with "!" is
 * sent with TARGET_NORESEND ("!INCR c", "!@2 ...").  Empty lines are
 * skipped.
 *
 * The tag of a command is its line's number among the commands, from 0.
 * Once everything is acknowledged, one line per reply is printed in input
 * order: "TAG REPLY" with REPLY as +status, -error, :integer, "string"
 * (escaped), (nil) or [elements, ...].  With --count-only only the totals
 * are printed.  A summary goes to stderr:
 *	targetcat: commands=N replies=N errors=N moved=N ask=N retries=N
 *	    reconnects=N refreshes=N seconds=S
 * Exit 1 with the target's error when the target layer fails.  The
 * password may also come from the environment, TARGETCAT_PASSWORD.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "target.h"

#define MAXARGS		4096
#define LINEMAX		(64 * 1024 * 1024)

struct out {
	char	*s;
	size_t	 len, size;
};

struct cat {
	int		 count_only;
	struct out	*replies;	/* by tag */
	size_t		 nreplies_alloc;
	uint64_t	 nreplies;
	uint64_t	 nerrors;
};

static const char *keyless[] = {
	"PING", "INFO", "FLUSHALL", "FLUSHDB", "DBSIZE", "SELECT", "SCRIPT",
	"FUNCTION", "CONFIG", "ECHO", "TIME", "CLIENT", "CLUSTER", "MULTI",
	"EXEC", "DEBUG", "MEMORY", "LASTSAVE", "SAVE", "BGSAVE", "COMMAND",
	"ROLE", "WAIT", "SWAPDB", "RANDOMKEY", "KEYS",
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: targetcat [--window N] [--retry-ms MS] "
	    "[--reply-timeout-ms MS]\n"
	    "           [--connect-timeout-ms MS] [--count-only] URL < "
	    "commands\n"
	    "       targetcat --parse URL\n"
	    "       targetcat --slot KEY\n");
	exit(2);
}

static int
out_add(struct out *o, const char *s, size_t len)
{
	size_t	 nsize;
	char	*ns;

	if (o->len + len + 1 > o->size) {
		nsize = o->size ? o->size : 32;
		while (nsize < o->len + len + 1)
			nsize *= 2;
		if ((ns = realloc(o->s, nsize)) == NULL)
			return -1;
		o->s = ns;
		o->size = nsize;
	}
	memcpy(o->s + o->len, s, len);
	o->len += len;
	o->s[o->len] = '\0';
	return 0;
}

static int
out_str(struct out *o, const char *s)
{
	return out_add(o, s, strlen(s));
}

static int
render(struct out *o, const redisReply *r)
{
	char	 tmp[32];
	size_t	 i;

	switch (r->type) {
	case REDIS_REPLY_STATUS:
		return out_str(o, "+") == -1 ? -1 : out_add(o, r->str, r->len);
	case REDIS_REPLY_ERROR:
		return out_str(o, "-") == -1 ? -1 : out_add(o, r->str, r->len);
	case REDIS_REPLY_INTEGER:
		snprintf(tmp, sizeof(tmp), ":%lld", r->integer);
		return out_str(o, tmp);
	case REDIS_REPLY_NIL:
		return out_str(o, "(nil)");
	case REDIS_REPLY_STRING:
		if (out_str(o, "\"") == -1)
			return -1;
		for (i = 0; i < r->len; i++) {
			unsigned char ch = (unsigned char)r->str[i];
			if (isprint(ch) && ch != '"' && ch != '\\')
				tmp[0] = (char)ch, tmp[1] = '\0';
			else
				snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
			if (out_str(o, tmp) == -1)
				return -1;
		}
		return out_str(o, "\"");
	case REDIS_REPLY_ARRAY:
		if (out_str(o, "[") == -1)
			return -1;
		for (i = 0; i < r->elements; i++) {
			if ((i > 0 && out_str(o, ", ") == -1) ||
			    render(o, r->element[i]) == -1)
				return -1;
		}
		return out_str(o, "]");
	default:
		snprintf(tmp, sizeof(tmp), "(type %d)", r->type);
		return out_str(o, tmp);
	}
}

static int
on_reply(void *arg, uint64_t tag, const redisReply *r)
{
	struct cat	*cat = arg;
	struct out	*o;

	cat->nreplies++;
	if (r->type == REDIS_REPLY_ERROR)
		cat->nerrors++;
	if (cat->count_only)
		return 0;
	if (tag >= cat->nreplies_alloc) {
		fprintf(stderr, "targetcat: reply for unknown tag %llu\n",
		    (unsigned long long)tag);
		return -1;
	}
	o = &cat->replies[tag];
	if ((o->len > 0 && out_str(o, "\n") == -1) || render(o, r) == -1) {
		fprintf(stderr, "targetcat: out of memory\n");
		return -1;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (tolower(c) - 'a' + 10) & 0xf;
}

/* Splits line in place into argv; -1 on a bad escape. */
static int
split(char *line, const char **argv, size_t *argvlen, int *argc)
{
	char	*p = line, *w;
	int	 n = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n == MAXARGS)
			return -1;
		argv[n] = w = p;
		while (*p != '\0' && *p != ' ') {
			if (*p != '\\') {
				*w++ = *p++;
				continue;
			}
			p++;
			if (*p == '\\' || *p == 's') {
				*w++ = *p == 's' ? ' ' : '\\';
				p++;
			} else if (*p == 'x' && isxdigit((unsigned char)p[1]) &&
			    isxdigit((unsigned char)p[2])) {
				*w++ = (char)(hexval(p[1]) << 4 | hexval(p[2]));
				p += 3;
			} else
				return -1;
		}
		argvlen[n] = (size_t)(w - argv[n]);
		if (*p == ' ')
			p++;
		*w = '\0';
		n++;
	}
	*argc = n;
	return 0;
}

static int
default_keyidx(const char *cmd, int argc)
{
	size_t	i;

	if (argc < 2)
		return -1;
	for (i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
		if (strcasecmp(cmd, keyless[i]) == 0)
			return -1;
	return 1;
}

static int
grow_replies(struct cat *cat, uint64_t tag)
{
	size_t		 n;
	struct out	*nr;

	if (cat->count_only || tag < cat->nreplies_alloc)
		return 0;
	n = cat->nreplies_alloc ? cat->nreplies_alloc * 2 : 1024;
	if ((nr = reallocarray(cat->replies, n, sizeof(*nr))) == NULL)
		return -1;
	memset(nr + cat->nreplies_alloc, 0,
	    (n - cat->nreplies_alloc) * sizeof(*nr));
	cat->replies = nr;
	cat->nreplies_alloc = n;
	return 0;
}

static int
do_line(struct target *t, struct cat *cat, char *line, uint64_t tag,
    uint64_t lineno)
{
	static const char	*argv[MAXARGS];
	static size_t		 argvlen[MAXARGS];
	const char		*errstr;
	char			*p = line, *sp;
	int			 argc, keyidx = -2, all = 0, flags = 0;

	if (line[0] == '!') {
		flags = TARGET_NORESEND;
		line++;
		p = line;
	}
	if (line[0] == '@') {
		if ((sp = strchr(line, ' ')) == NULL)
			goto bad;
		*sp = '\0';
		if (strcmp(line + 1, "all") == 0)
			all = 1;
		else {
			keyidx = (int)strtonum(line + 1, -1, MAXARGS, &errstr);
			if (errstr != NULL)
				goto bad;
		}
		p = sp + 1;
	}
	if (split(p, argv, argvlen, &argc) == -1 || argc == 0)
		goto bad;
	if (keyidx == -2)
		keyidx = default_keyidx(argv[0], argc);
	if (keyidx >= argc)
		goto bad;
	if (grow_replies(cat, tag) == -1) {
		fprintf(stderr, "targetcat: out of memory\n");
		return -1;
	}
	if (all && flags == 0)
		return target_send_all(t, argc, argv, argvlen, tag);
	if (all)
		goto bad;
	return target_send_flags(t, argc, argv, argvlen, keyidx, tag, flags);
 bad:
	fprintf(stderr, "targetcat: line %llu: malformed command\n",
	    (unsigned long long)lineno);
	exit(2);
}

/*
 * Reads stdin as it comes: while no input is waiting, queued commands are
 * written and replies read, so a slow producer still sees its commands go.
 */
static int
feed(struct target *t, struct cat *cat, uint64_t *ncmds)
{
	char		*buf = NULL, *nl, *line;
	size_t		 size = 1 << 20, len = 0, off;
	ssize_t		 n;
	uint64_t	 lineno = 0;
	struct pollfd	 pfd = { .fd = 0, .events = POLLIN };

	if ((buf = malloc(size)) == NULL)
		return -1;
	for (;;) {
		if (poll(&pfd, 1, 0) == 0) {
			if (target_poll(t, 0) == -1)
				goto fail;
			poll(&pfd, 1, 10);
			continue;
		}
		if (len == size) {
			char *nb;
			if (size >= LINEMAX ||
			    (nb = realloc(buf, size * 2)) == NULL) {
				fprintf(stderr, "targetcat: line too long\n");
				goto fail;
			}
			buf = nb;
			size *= 2;
		}
		n = read(0, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "targetcat: stdin: %s\n",
			    strerror(errno));
			goto fail;
		}
		if (n == 0 && len > 0)
			buf[len++] = '\n';	/* last line without newline */
		len += (size_t)n;
		off = 0;
		while ((nl = memchr(buf + off, '\n', len - off)) != NULL) {
			*nl = '\0';
			line = buf + off;
			off = (size_t)(nl - buf) + 1;
			lineno++;
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			if (line[0] == '\0')
				continue;
			if (do_line(t, cat, line, *ncmds, lineno) == -1)
				goto fail;
			(*ncmds)++;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
		if (n == 0)
			break;
	}
	free(buf);
	return 0;
 fail:
	free(buf);
	return -1;
}

/* The password is never printed, only whether there is one. */
static int
parse_only(const char *url)
{
	struct target_opts	opts;
	struct error		e;

	if (target_parse(url, &opts, &e) == -1) {
		fprintf(stderr, "targetcat: %s\n", e.msg);
		return 1;
	}
	printf("host=%s port=%d user=%s password=%s db=%d have_db=%d%s\n",
	    opts.host, opts.port, opts.user, opts.password[0] ? "yes" : "no",
	    opts.db, opts.have_db, opts.tls.enabled ? " tls=yes" : "");
	return 0;
}

static int
slot_only(char *key)
{
	const char	*argv[1];
	size_t		 argvlen[1];
	int		 argc;

	if (split(key, argv, argvlen, &argc) == -1 || argc != 1)
		usage();
	printf("%u\n", target_slot(argv[0], argvlen[0]));
	return 0;
}

int
main(int argc, char **argv)
{
	struct target_opts		 opts;
	const struct target_stats	*st;
	struct target			*t;
	struct cat			 cat;
	struct timespec			 t0, t1;
	const char			*errstr, *pw;
	struct error			 e;
	size_t				 window = 0;
	int				 retry_ms = 0, reply_ms = -1, conn_ms = 0;
	int				 i;
	uint64_t			 ncmds = 0, tag;

	memset(&cat, 0, sizeof(cat));
	log_init("targetcat", LOG_TO_STDERR, 0);
	if (argc == 3 && strcmp(argv[1], "--parse") == 0)
		return parse_only(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--slot") == 0)
		return slot_only(argv[2]);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--count-only") == 0)
			cat.count_only = 1;
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) {
			window = (size_t)strtonum(argv[++i], 1, 1 << 24,
			    &errstr);
			if (errstr != NULL)
				usage();
		} else if (strcmp(argv[i], "--retry-ms") == 0 &&
		    i + 1 < argc) {
			retry_ms = (int)strtonum(argv[++i], 1, 1 << 30,
			    &errstr);
			if (errstr != NULL)
				usage();
		} else if (strcmp(argv[i], "--reply-timeout-ms") == 0 &&
		    i + 1 < argc) {
			reply_ms = (int)strtonum(argv[++i], 0, 1 << 30,
			    &errstr);
			if (errstr != NULL)
				usage();
		} else if (strcmp(argv[i], "--connect-timeout-ms") == 0 &&
		    i + 1 < argc) {
			conn_ms = (int)strtonum(argv[++i], 1, 1 << 30,
			    &errstr);
			if (errstr != NULL)
				usage();
		} else
			usage();
	}
	if (i + 1 != argc)
		usage();
	if (target_parse(argv[i], &opts, &e) == -1) {
		fprintf(stderr, "targetcat: %s\n", e.msg);
		return 1;
	}
	if ((pw = getenv("TARGETCAT_PASSWORD")) != NULL)
		strlcpy(opts.password, pw, sizeof(opts.password));
	if (window)
		opts.window = window;
	if (retry_ms)
		opts.retry_ms = retry_ms;
	if (reply_ms >= 0)
		opts.reply_timeout_ms = reply_ms;
	if (conn_ms)
		opts.connect_timeout_ms = conn_ms;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((t = target_open(&opts, &e)) == NULL) {
		fprintf(stderr, "targetcat: %s\n", e.msg);
		return 1;
	}
	explicit_bzero(&opts, sizeof(opts));
	target_set_reply_cb(t, on_reply, &cat);
	fprintf(stderr, "targetcat: %s, version %d\n", target_is_cluster(t) ?
	    "cluster" : "standalone", target_version(t));
	if (feed(t, &cat, &ncmds) == -1 || target_flush(t) == -1) {
		fprintf(stderr, "targetcat: %s\n", target_error(t));
		target_close(t);
		for (tag = 0; tag < cat.nreplies_alloc; tag++)
			free(cat.replies[tag].s);
		free(cat.replies);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (tag = 0; !cat.count_only && tag < ncmds; tag++) {
		if (cat.replies[tag].s == NULL)
			printf("%llu (no reply)\n", (unsigned long long)tag);
		else {
			/* several replies (@all) share the tag: one line each */
			char *s = cat.replies[tag].s, *nl;
			while ((nl = strchr(s, '\n')) != NULL) {
				printf("%llu %.*s\n", (unsigned long long)tag,
				    (int)(nl - s), s);
				s = nl + 1;
			}
			printf("%llu %s\n", (unsigned long long)tag, s);
		}
		free(cat.replies[tag].s);
	}
	free(cat.replies);
	if (cat.count_only)
		printf("commands=%llu replies=%llu errors=%llu\n",
		    (unsigned long long)ncmds,
		    (unsigned long long)cat.nreplies,
		    (unsigned long long)cat.nerrors);
	st = target_stats(t);
	fprintf(stderr, "targetcat: commands=%llu replies=%llu errors=%llu "
	    "moved=%llu ask=%llu retries=%llu reconnects=%llu refreshes=%llu "
	    "seconds=%.3f\n", (unsigned long long)ncmds,
	    (unsigned long long)cat.nreplies, (unsigned long long)cat.nerrors,
	    (unsigned long long)st->moved, (unsigned long long)st->ask,
	    (unsigned long long)st->retries,
	    (unsigned long long)st->reconnects,
	    (unsigned long long)st->refreshes,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	target_close(t);
	return 0;
}
