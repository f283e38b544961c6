/*
 * df2redis - replicate a Dragonfly server into Redis or Redis Cluster.
 *
 * This file only dispatches to the subcommands; each lives in its own file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "version.h"

static const struct subcommand {
	const char	*name;
	int		(*main)(int, char **);
	const char	*usage;
} subcommands[] = {
	{ "inspect",	cmd_inspect,
	    "inspect [--summary] [--flow [--journal]] FILE" },
	{ "import",	cmd_import,
	    "import [-v] [--conflict overwrite|skip|panic] [--db-map SRC:DST,...]\n"
	    "      [--unsupported fail|skip|lossy] [--batch N] "
	    "[--target-password-file FILE]\n"
	    "      --target URL FILE..." },
	{ "replicate",	cmd_replicate,
	    "replicate [-dnv] [-f FILE] [--full-sync-only] [options]\n"
	    "      --source HOST:PORT --target URL --state-dir DIR" },
	{ "migrate",	cmd_migrate,
	    "migrate [-dnv] [-f FILE] [options]\n"
	    "      --source HOST:PORT --target URL --state-dir DIR\n"
	    "      (replicate --full-sync-only)" },
	{ "check",	cmd_check,
	    "check [-v] [-f FILE] [--json] [--show N] [--sample PERCENT] "
	    "[--max-ops N]\n"
	    "      [--recheck-ms MS] [--rechecks N] [options]\n"
	    "      --source HOST:PORT --target URL "
	    "(exit 0 equal, 1 different, 2 error)" },
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  df2redis %s\n", subcommands[i].usage);
	fprintf(out, "  df2redis -h | --help | -V | --version\n"
	    "options of replicate, migrate and check (also in a -f file):\n");
	config_options(out);
	fprintf(out, "Each command takes -h (--help) for its usage and -V "
	    "(--version).\nSee df2redis(8).\n");
}

int
main(int argc, char **argv)
{
	extern char **environ;
	size_t i;

	/* before anything reads argv: setproctitle may move it */
	setproctitle_init(argc, argv, environ);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		version_print();
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "df2redis: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
