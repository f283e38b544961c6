/*
 * filtertest - drive the key filter (filter.h) through the options of
 * `df2redis replicate` (config.h) from tests.
 *
 *	filtertest [OPTION...] < QUERIES
 *
 * The options are parsed as `df2redis replicate OPTION...` does (-f FILE
 * too), with --source, --target and --state-dir made up; then each line
 * of QUERIES, its words separated by spaces and "\xNN" standing for any
 * byte, is answered by one line:
 *
 *	key DB NAME		"1" copied, "0" left out (filter_key)
 *	cmd DB ARGV...		a journal command (filter_command):
 *				"keep", "drop", "split ARGV...",
 *				"mixed IN OUT" (the two keys)
 *	keys ARGV...		filter_cmd_keys: "STEP IDX..."
 *	spec			"active A keyed K flush F"
 *
 * A configuration error: "error KIND: MESSAGE" on stderr, exit 1.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filter.h"

#define MAXW	256

static void __attribute__((noreturn))
die(const struct error *e)
{
	fprintf(stderr, "error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

/* Split line into words, "\xNN" decoded in place. */
static size_t
words(char *line, char **w, size_t *wl)
{
	size_t n = 0;
	char *p = line, *o;
	unsigned int b;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n' || n == MAXW)
			return n;
		w[n] = o = p;
		while (*p != ' ' && *p != '\0' && *p != '\n') {
			if (p[0] == '\\' && p[1] == 'x' &&
			    isxdigit((unsigned char)p[2]) &&
			    isxdigit((unsigned char)p[3]) &&
			    sscanf(p + 2, "%2x", &b) == 1) {
				*o++ = (char)b;
				p += 4;
			} else
				*o++ = *p++;
		}
		wl[n] = o - w[n];
		n++;
		if (*p == '\0' || *p == '\n') {
			*o = '\0';
			return n;
		}
		*o = '\0';
		p++;
	}
}

static void
put(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (isgraph((unsigned char)p[i]) && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", (unsigned char)p[i]);
}

static void
query(const struct config *cfg, const struct filter *f, char **w,
    size_t *wl, size_t n)
{
	const char *cw[MAXW];
	unsigned char keep[MAXW];
	size_t i, in, out, idx[MAXW], step, nk;
	int db;

	for (i = 0; i < n; i++)
		cw[i] = w[i];
	if (strcmp(w[0], "spec") == 0) {
		printf("active %d keyed %d flush %d\n",
		    filter_spec_active(&cfg->filter),
		    filter_spec_keyed(&cfg->filter), cfg->filter.flush_all);
		return;
	}
	if (strcmp(w[0], "keys") == 0) {
		nk = filter_cmd_keys(n - 1, cw + 1, wl + 1, idx, &step);
		printf("%zu", step);
		for (i = 0; i < nk; i++)
			printf(" %zu", idx[i]);
		printf("\n");
		return;
	}
	if (n < 3) {
		printf("bad query\n");
		return;
	}
	db = atoi(w[1]);
	if (strcmp(w[0], "key") == 0) {
		printf("%d\n", filter_key(f, db, w[2], wl[2]));
		return;
	}
	switch (filter_command(f, db, n - 2, cw + 2, wl + 2, keep, &in,
	    &out)) {
	case FILTER_KEEP:
		printf("keep\n");
		break;
	case FILTER_DROP:
		printf("drop\n");
		break;
	case FILTER_NOMEM:
		printf("nomem\n");
		break;
	case FILTER_MIXED:
		printf("mixed ");
		put(w[2 + in], wl[2 + in]);
		printf(" ");
		put(w[2 + out], wl[2 + out]);
		printf("\n");
		break;
	case FILTER_SPLIT:
		printf("split");
		for (i = 0; i < n - 2; i++)
			if (keep[i]) {
				printf(" ");
				put(w[2 + i], wl[2 + i]);
			}
		printf("\n");
		break;
	}
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	char **av, *line = NULL, *w[MAXW];
	size_t cap = 0, wl[MAXW], n;
	struct filter *f;
	struct error e;
	int i, ac = 0, rc;

	if ((av = calloc(argc + 8, sizeof(*av))) == NULL)
		return 1;
	av[ac++] = "replicate";
	av[ac++] = "--source=127.0.0.1:1";
	av[ac++] = "--target=127.0.0.1:2";
	av[ac++] = "--state-dir=/nonexistent";
	for (i = 1; i < argc; i++)
		av[ac++] = argv[i];
	config_init(&cfg);
	if ((rc = config_parse_args(&cfg, ac, av, &e)) != 0) {
		if (rc == -1 || rc == CONFIG_USAGE)
			die(&e);
		return 2;
	}
	if ((f = filter_new(&cfg.filter, &e)) == NULL)
		die(&e);
	while (getline(&line, &cap, stdin) != -1) {
		if ((n = words(line, w, wl)) == 0)
			continue;
		query(&cfg, f, w, wl, n);
		fflush(stdout);
	}
	free(line);
	free(av);
	filter_free(f);
	return 0;
}
