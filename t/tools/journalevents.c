/*
 * journalevents - decode a journal file with src/journal.c, one line per
 * record:
 *
 *   cmd DB TXID SHARDCNT ARG0 ARG1 ...	COMMAND, EXPIRED, MULTI_COMMAND
 *   exec TXID				EXEC
 *   ping				PING
 *   lsn N				LSN entry
 *   pending N				N bytes of a partial record at the end
 *
 * Arguments: bytes 0x21-0x7e other than '\' as themselves, others \xHH,
 * an empty argument as "".  --verbose prefixes each line with the record's
 * byte offset and wire opcode.  --quiet --repeat N decodes the file N
 * times (fresh decoder each time) to measure the decoding rate.
 *
 * LSN rule (journal.md section 4): the counter goes up by one per record
 * and must equal V + 1 at an LSN entry carrying V.  It starts at
 * --start-lsn L, or without it at the first LSN entry.
 *
 * Exit 0 decoded (a partial record at the end is fine), 1 decode error or
 * LSN violation, 2 usage or I/O error.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

struct opts {
	size_t		 feed;
	uint64_t	 from;
	int		 have_lsn;
	uint64_t	 start_lsn;
	int		 verbose;
	int		 quiet;
	uint64_t	 repeat;	/* decode the file this many times */
	size_t		 max_record;
	size_t		 max_args;
};

struct stats {
	uint64_t	 records;
	uint64_t	 lsns;
	int		 counting;
	uint64_t	 counter;
};

static void
put_arg(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (len == 0) {
		fputs("\"\"", stdout);
		return;
	}
	for (i = 0; i < len; i++) {
		if (p[i] >= 0x21 && p[i] <= 0x7e && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

static void
print_rec(const struct opts *o, const struct journal_rec *r)
{
	size_t i;

	if (o->quiet)
		return;
	if (o->verbose)
		printf("%" PRIu64 " %u ", r->offset, r->wire_op);
	switch (r->op) {
	case JOURNAL_COMMAND:
		printf("cmd %u %" PRIu64 " %u", r->db, r->txid, r->shard_cnt);
		for (i = 0; i < r->argc; i++) {
			putchar(' ');
			put_arg(r->argv[i], r->argvlen[i]);
		}
		putchar('\n');
		break;
	case JOURNAL_EXEC:
		printf("exec %" PRIu64 "\n", r->txid);
		break;
	case JOURNAL_PING:
		printf("ping\n");
		break;
	case JOURNAL_LSN:
		printf("lsn %" PRIu64 "\n", r->lsn);
		break;
	}
}

/* 0 fine, -1 the LSN rule is broken (message printed). */
static int
check_lsn(const struct opts *o, struct stats *st, const struct journal_rec *r)
{
	if (r->op != JOURNAL_LSN) {
		st->records++;
		st->counter++;
		return 0;
	}
	st->lsns++;
	if (!st->counting) {
		st->counting = 1;
		st->counter = r->lsn + 1;
		return 0;
	}
	if (st->counter == r->lsn + 1)
		return 0;
	fflush(stdout);
	fprintf(stderr, "journalevents: byte %" PRIu64 ": LSN entry %" PRIu64
	    " but %s the counter at %" PRIu64 " (expected %" PRIu64 "): "
	    "records lost or duplicated\n", r->offset, r->lsn,
	    o->have_lsn ? "--start-lsn and the records put" :
	    "the previous LSN entry and the records put", st->counter,
	    r->lsn + 1);
	return -1;
}

static int
drain(struct journal *j, const struct opts *o, struct stats *st)
{
	struct journal_rec rec;
	int r;

	while ((r = journal_next(j, &rec)) == JOURNAL_OK) {
		print_rec(o, &rec);
		if (check_lsn(o, st, &rec) == -1)
			return -1;
	}
	if (r == JOURNAL_ERR) {
		fflush(stdout);
		fprintf(stderr, "journalevents: %s\n", journal_error(j));
		return -1;
	}
	return 0;
}

/* Peak RSS of this program since exec (VmHWM), in kB; 0 if unknown. */
static long
peak_rss_kb(void)
{
	char line[128];
	long kb = 0;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

struct totals {
	uint64_t	 records;
	uint64_t	 lsns;
	double		 secs;
	size_t		 pending;	/* of the last pass */
	uint64_t	 offset;
};

static int
decode(int fd, const struct opts *o, struct totals *tot)
{
	struct journal_limits lim = { o->max_record, o->max_args };
	struct timespec t0, t1;
	struct journal *j;
	struct stats st;
	unsigned char *buf;
	ssize_t n;
	size_t off, chunk;
	double secs;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	if (o->have_lsn) {
		st.counting = 1;
		st.counter = o->start_lsn;
	}
	if ((j = journal_new(&lim)) == NULL)
		err(2, "journal_new");
	if (journal_set_offset(j, o->from) == -1)
		errx(2, "journal_set_offset");
	if ((buf = malloc(65536)) == NULL)
		err(2, "malloc");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rc == 0 && (n = read(fd, buf, 65536)) != 0) {
		if (n == -1)
			err(2, "read");
		for (off = 0; rc == 0 && off < (size_t)n; off += chunk) {
			chunk = (size_t)n - off < o->feed ? (size_t)n - off :
			    o->feed;
			if (journal_feed(j, buf + off, chunk) != JOURNAL_OK) {
				fprintf(stderr, "journalevents: %s\n",
				    journal_error(j));
				rc = 1;
				break;
			}
			if (drain(j, o, &st) == -1)
				rc = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0 && journal_pending(j) > 0 && !o->quiet)
		printf("pending %zu\n", journal_pending(j));
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	tot->records += st.records;
	tot->lsns += st.lsns;
	tot->secs += secs;
	tot->pending = journal_pending(j);
	tot->offset = journal_offset(j);
	free(buf);
	journal_free(j);
	return rc;
}

static uint64_t
number(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0)
		errx(2, "%s: not a number: %s", what, s);
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: journalevents [--feed N] [--from OFFSET] "
	    "[--start-lsn L] [--max-record B] [--max-args N] [--verbose] "
	    "[--quiet] [--repeat N] FILE\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "feed", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'o' },
		{ "start-lsn", required_argument, NULL, 'l' },
		{ "max-record", required_argument, NULL, 'r' },
		{ "max-args", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "repeat", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct totals tot;
	struct opts o;
	int ch, fd, rc;

	memset(&o, 0, sizeof(o));
	o.feed = 65536;
	o.repeat = 1;
	while ((ch = getopt_long(argc, argv, "f:o:l:r:a:vqn:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			o.feed = number(optarg, "--feed");
			if (o.feed == 0)
				errx(2, "--feed must be at least 1");
			break;
		case 'o':
			o.from = number(optarg, "--from");
			break;
		case 'l':
			o.have_lsn = 1;
			o.start_lsn = number(optarg, "--start-lsn");
			break;
		case 'r':
			o.max_record = number(optarg, "--max-record");
			break;
		case 'a':
			o.max_args = number(optarg, "--max-args");
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'n':
			o.repeat = number(optarg, "--repeat");
			if (o.repeat == 0)
				errx(2, "--repeat must be at least 1");
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if ((fd = open(argv[optind], O_RDONLY)) == -1)
		err(2, "%s", argv[optind]);
	memset(&tot, 0, sizeof(tot));
	do {
		if (lseek(fd, (off_t)o.from, SEEK_SET) == -1)
			err(2, "%s: seek to %" PRIu64, argv[optind], o.from);
		rc = decode(fd, &o, &tot);
	} while (rc == 0 && --o.repeat > 0);
	fprintf(stderr, "journalevents: %" PRIu64 " records, %" PRIu64
	    " LSN entries, %zu bytes pending at byte %" PRIu64 ", %.0f "
	    "records/s, peak RSS %ld kB\n", tot.records, tot.lsns,
	    tot.pending, tot.offset,
	    tot.secs > 0 ? tot.records / tot.secs : 0.0, peak_rss_kb());
	close(fd);
	return rc;
}
