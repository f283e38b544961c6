/*
 * skipsettest - drive the skipped keys (skipset.h) from tests.
 *
 *	skipsettest [-f FILE] [-l LIMIT] < OPS
 *
 * -f keeps the set in FILE (skipset_persist(), loaded first: "persist 0",
 * or "persist -1 ERRNO-TEXT"); -l sets RLIMIT_FSIZE to LIMIT bytes (with
 * SIGXFSZ ignored) after loading, so that appends fail.  Each line of OPS
 * is one operation, answered by one line:
 *
 *	add DB NAME	"add R" (skipset_add)
 *	del DB NAME	"del R" (skipset_del: 1 removed)
 *	has DB NAME	"has R"
 *	clear DB	"clear" (DB -1: every db)
 *	count		"count N"
 *	many N DB	adds key0 .. key(N-1) in DB: "many N"
 *	hasmany N DB	"hasmany F": how many of them are there
 *
 * A NAME "\x00" style escape stands for any byte.
 */
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "skipset.h"

/* Decode "\xNN" in place; the length. */
static size_t
decode(char *p)
{
	char *o = p, *s = p;
	unsigned int b;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 'x' &&
		    isxdigit((unsigned char)s[2]) &&
		    isxdigit((unsigned char)s[3]) &&
		    sscanf(s + 2, "%2x", &b) == 1) {
			*o++ = (char)b;
			s += 4;
		} else
			*o++ = *s++;
	}
	return o - p;
}

int
main(int argc, char **argv)
{
	struct skipset *s;
	struct rlimit rl;
	char *line = NULL, op[16], name[512], key[64];
	const char *file = NULL;
	long long limit = -1, i, n, found;
	size_t cap = 0, len;
	int ch, db;

	log_init("skipsettest", LOG_TO_STDERR, 0);
	while ((ch = getopt(argc, argv, "f:l:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'l':
			limit = atoll(optarg);
			break;
		default:
			return 2;
		}
	}
	if ((s = skipset_new()) == NULL)
		return 1;
	if (file != NULL) {
		if (skipset_persist(s, file) == -1)
			printf("persist -1 %s\n", strerror(errno));
		else
			printf("persist 0\n");
	}
	if (limit >= 0) {
		signal(SIGXFSZ, SIG_IGN);
		rl.rlim_cur = rl.rlim_max = (rlim_t)limit;
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			return 1;
	}
	while (getline(&line, &cap, stdin) != -1) {
		name[0] = '\0';
		db = 0;
		if (sscanf(line, "%15s %d %511s", op, &db, name) < 1)
			continue;
		len = decode(name);
		if (strcmp(op, "add") == 0)
			printf("add %d\n", skipset_add(s, db, name, len));
		else if (strcmp(op, "del") == 0)
			printf("del %d\n", skipset_del(s, db, name, len));
		else if (strcmp(op, "has") == 0)
			printf("has %d\n", skipset_has(s, db, name, len));
		else if (strcmp(op, "clear") == 0) {
			skipset_clear(s, db);
			printf("clear\n");
		} else if (strcmp(op, "count") == 0)
			printf("count %zu\n", skipset_count(s));
		else if (strcmp(op, "many") == 0 ||
		    strcmp(op, "hasmany") == 0) {
			n = db;
			db = atoi(name);
			for (i = found = 0; i < n; i++) {
				len = snprintf(key, sizeof(key), "key%lld", i);
				if (op[0] == 'm')
					found += skipset_add(s, db, key,
					    len) == 0;
				else
					found += skipset_has(s, db, key, len);
			}
			printf("%s %lld\n", op, found);
		}
		fflush(stdout);
	}
	free(line);
	skipset_free(s);
	return 0;
}
