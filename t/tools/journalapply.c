/*
 * journalapply - apply a file of journal records (journal.md) to a target
 * through writer_journal(), as a replication worker does.
 *
 *	journalapply [-u fail|skip|lossy] [-F OPTION=VALUE]... URL FILE
 *
 * -F sets a filter option (filter.h: db-filter, key-prefix, ...); the
 * counters then end with "filtered N".
 *
 * Prints the writer's counters on success; exits 1 with its error and
 * its kind ("error data: ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "journal.h"
#include "log.h"
#include "target.h"
#include "writer.h"

static void
fail(struct writer *w)
{
	const struct error *e = writer_error(w);

	fprintf(stderr, "error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

int
main(int argc, char **argv)
{
	struct target_opts topts;
	struct writer_opts wopts;
	struct journal_rec rec;
	struct journal *j;
	struct target *t;
	struct writer *w;
	const uint64_t *c;
	struct filter_spec spec;
	struct filter *flt = NULL;
	struct error e;
	char buf[65536], *eq;
	FILE *f;
	size_t n;
	int ch, rv;

	log_init("journalapply", LOG_TO_STDERR, 0);
	writer_opts_init(&wopts);
	memset(&topts, 0, sizeof(topts));
	memset(&spec, 0, sizeof(spec));
	while ((ch = getopt(argc, argv, "F:u:")) != -1) {
		switch (ch) {
		case 'F':
			if ((eq = strchr(optarg, '=')) == NULL)
				fatalx("-F %s: expected OPTION=VALUE", optarg);
			*eq = '\0';
			if (filter_spec_set(&spec, optarg, eq + 1, &e) == -1)
				fatalx("%s", e.msg);
			break;
		case 'u':
			wopts.unsupported = strcmp(optarg, "skip") == 0 ?
			    UNSUPPORTED_SKIP : strcmp(optarg, "lossy") == 0 ?
			    UNSUPPORTED_LOSSY : UNSUPPORTED_FAIL;
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		fatalx("usage: journalapply [-u fail|skip|lossy] "
		    "[-F OPTION=VALUE]... URL FILE");
	if (filter_spec_active(&spec) &&
	    (wopts.filter = flt = filter_new(&spec, &e)) == NULL)
		fatalx("%s", e.msg);
	if (target_parse(argv[0], &topts, &e) == -1 ||
	    (t = target_open(&topts, &e)) == NULL)
		fatalx("%s", e.msg);
	if ((w = writer_open(t, &wopts, &e)) == NULL)
		fatalx("%s", e.msg);
	if ((f = fopen(argv[1], "rb")) == NULL)
		fatal("%s", argv[1]);
	if ((j = journal_new(NULL)) == NULL)
		fatal("journal_new");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (journal_feed(j, buf, n) == -1)
			fatalx("%s", journal_error(j));
		while ((rv = journal_next(j, &rec)) == JOURNAL_OK)
			if (writer_journal(w, &rec) == -1)
				fail(w);
		if (rv == JOURNAL_ERR)
			fatalx("%s", journal_error(j));
	}
	if (writer_sync(w) == -1)
		fail(w);
	c = writer_counts(w);
	printf("journal %llu lossy %llu skipped %llu", (unsigned long long)
	    c[WC_JOURNAL], (unsigned long long)c[WC_LOSSY],
	    (unsigned long long)c[WC_SKIPPED_UNSUPPORTED]);
	if (flt != NULL)
		printf(" filtered %llu", (unsigned long long)c[WC_FILTERED]);
	printf("\n");
	journal_free(j);
	fclose(f);
	writer_close(w);
	target_close(t);
	filter_free(flt);
	return 0;
}
