/*
 * markstest - drive the marks of a full resync (marks.h) from tests.
 *
 *   markstest fill DIR NFLOWS N
 *	key:I (I < N) in db I % 16, each to flow I % NFLOWS; every 10th
 *	also to flow (I + 1) % NFLOWS, every 7th once more to its own flow
 *	a while later (another run of the sort); then "" (the empty name)
 *	in db 3 and "bin\0I" (a NUL inside, I < 100) in db 0, to flow 0.
 *	One line "flow F count C" per flow (marks_count), then "marks M
 *	distinct D": every add, and the (db, name) pairs among them.
 *   markstest check DIR NFLOWS N MEM
 *	markset_build(DIR, NFLOWS, MEM) over what fill N wrote, then
 *	"count C" (markset_count), "found F of D" (every pair fill added),
 *	"absent_found A of N" (absent:I in db I % 16, never added),
 *	"otherdb_found O of N" (key:I in db (I + 1) % 16, and db I % 16 +
 *	256: the same names elsewhere), "prefix_found P of 100" ("bin",
 *	I's digits without the NUL), "runs_left R" (1 when marks.runs is
 *	still there), "ok".
 *   markstest add DIR FLOW DB PREFIX N
 *	marks_create(DIR, FLOW), PREFIX0 .. PREFIX(N-1) in db DB,
 *	marks_flush, marks_close: "count N".
 *   markstest has DIR NFLOWS MEM DB PREFIX N
 *	markset_build, then "count C found F": F of PREFIX0 .. PREFIX(N-1)
 *	in db DB found.
 *   markstest build DIR NFLOWS MEM
 *	markset_build: "count C".
 *   markstest pending DIR		"pending R" (marks_pending)
 *   markstest remove DIR		marks_remove: "removed"
 *   markstest fsize DIR LIMIT N
 *	RLIMIT_FSIZE at LIMIT bytes and SIGXFSZ ignored: marks_create(DIR,
 *	0), N marks added, then marks_flush twice, each printing "flush R"
 *	and, when it failed, "error KIND: MESSAGE" (on stdout); then
 *	"count C" (marks_count).
 *
 * An error of the module: "error KIND: MESSAGE" on stderr, exit 1; a
 * usage error: exit 2.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "marks.h"

#define NDBS		16
#define NBIN		100

static void __attribute__((noreturn))
die(const struct error *e)
{
	fprintf(stderr, "error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

static uint64_t
num(const char *s)
{
	const char *errstr;
	long long v;

	v = strtonum(s, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "%s: %s", s, errstr);
	return (uint64_t)v;
}

static int
small(const char *s, uint64_t max)
{
	uint64_t v = num(s);

	if (v > max)
		errx(2, "%s: more than %" PRIu64, s, max);
	return (int)v;
}

/* "PREFIXI" into buf: its length. */
static size_t
name_of(char *buf, size_t len, const char *prefix, uint64_t i)
{
	int n = snprintf(buf, len, "%s%" PRIu64, prefix, i);

	if (n < 0 || (size_t)n >= len)
		errx(2, "%s: too long", prefix);
	return (size_t)n;
}

/* "bin\0I": a NUL inside the name. */
static size_t
bin_of(char *buf, size_t len, int i)
{
	int n = snprintf(buf, len, "bin_%d", i);

	buf[3] = '\0';
	return (size_t)n;
}

static struct marks *
create(const char *dir, int flow)
{
	struct marks *mk;
	struct error e;

	if ((mk = marks_create(dir, flow, &e)) == NULL)
		die(&e);
	return mk;
}

static void
finish(struct marks *mk)
{
	struct error e;

	if (marks_flush(mk, &e) == -1)
		die(&e);
	marks_close(mk);
}

static struct markset *
build(const char *dir, int nflows, size_t mem)
{
	struct markset *ms;
	struct error e;

	if ((ms = markset_build(dir, nflows, mem, &e)) == NULL)
		die(&e);
	return ms;
}

/* ------------------------------------------------------------ fill, check */

static int
cmd_fill(const char *dir, int nflows, uint64_t n)
{
	struct marks **mk;
	char name[64];
	uint64_t i, j, marks = 0;
	size_t len;
	int f;

	if (nflows < 1)
		errx(2, "fill: no flow");
	if ((mk = calloc(nflows, sizeof(*mk))) == NULL)
		err(1, "calloc");
	for (f = 0; f < nflows; f++)
		mk[f] = create(dir, f);
	for (i = 0; i < n; i++) {
		len = name_of(name, sizeof(name), "key:", i);
		marks_add(mk[i % nflows], (int)(i % NDBS), name, len);
		marks++;
		if (i % 10 == 0) {
			marks_add(mk[(i + 1) % nflows], (int)(i % NDBS), name,
			    len);
			marks++;
		}
		/* the 7th keys again, 50,000 keys later: in another run */
		if (i >= 50000 && (j = i - 50000) % 7 == 0) {
			len = name_of(name, sizeof(name), "key:", j);
			marks_add(mk[j % nflows], (int)(j % NDBS), name, len);
			marks++;
		}
	}
	for (i = n > 50000 ? n - 50000 : 0; i < n; i++) {
		if (i % 7 != 0)
			continue;
		len = name_of(name, sizeof(name), "key:", i);
		marks_add(mk[i % nflows], (int)(i % NDBS), name, len);
		marks++;
	}
	marks_add(mk[0], 3, "", 0);
	marks_add(mk[0], 3, "", 0);
	marks += 2;
	for (f = 0; f < NBIN; f++) {
		len = bin_of(name, sizeof(name), f);
		marks_add(mk[0], 0, name, len);
		marks++;
	}
	for (f = 0; f < nflows; f++) {
		printf("flow %d count %" PRIu64 "\n", f, marks_count(mk[f]));
		finish(mk[f]);
	}
	free(mk);
	printf("marks %" PRIu64 " distinct %" PRIu64 "\n", marks,
	    n + 1 + NBIN);
	return 0;
}

static int
cmd_check(const char *dir, int nflows, uint64_t n, size_t mem)
{
	struct markset *ms;
	struct stat sb;
	char name[64], path[PATH_MAX];
	uint64_t i, found = 0, absent = 0, other = 0, prefix = 0;
	size_t len;
	int b;

	ms = build(dir, nflows, mem);
	printf("count %" PRIu64 "\n", markset_count(ms));
	for (i = 0; i < n; i++) {
		len = name_of(name, sizeof(name), "key:", i);
		found += markset_has(ms, (int)(i % NDBS), name, len);
		other += markset_has(ms, (int)((i + 1) % NDBS), name, len);
		other += markset_has(ms, (int)(i % NDBS) + 256, name, len);
		len = name_of(name, sizeof(name), "absent:", i);
		absent += markset_has(ms, (int)(i % NDBS), name, len);
	}
	found += markset_has(ms, 3, "", 0);
	for (b = 0; b < NBIN; b++) {
		len = bin_of(name, sizeof(name), b);
		found += markset_has(ms, 0, name, len);
		/* "bin" alone, and "bin" + the digits without the NUL */
		prefix += markset_has(ms, 0, name, 3);
		len = name_of(name, sizeof(name), "bin", b);
		prefix += markset_has(ms, 0, name, len);
	}
	printf("found %" PRIu64 " of %" PRIu64 "\n", found, n + 1 + NBIN);
	printf("absent_found %" PRIu64 " of %" PRIu64 "\n", absent, n);
	printf("otherdb_found %" PRIu64 " of %" PRIu64 "\n", other, 2 * n);
	printf("prefix_found %" PRIu64 " of %d\n", prefix, 2 * NBIN);
	markset_close(ms);
	snprintf(path, sizeof(path), "%s/marks.runs", dir);
	printf("runs_left %d\n", stat(path, &sb) == 0);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------ small ones */

static int
cmd_add(const char *dir, int flow, int db, const char *prefix, uint64_t n)
{
	struct marks *mk = create(dir, flow);
	char name[256];
	uint64_t i;
	size_t len;

	for (i = 0; i < n; i++) {
		len = name_of(name, sizeof(name), prefix, i);
		marks_add(mk, db, name, len);
	}
	printf("count %" PRIu64 "\n", marks_count(mk));
	finish(mk);
	return 0;
}

static int
cmd_has(const char *dir, int nflows, size_t mem, int db, const char *prefix,
    uint64_t n)
{
	struct markset *ms = build(dir, nflows, mem);
	char name[256];
	uint64_t i, found = 0;
	size_t len;

	for (i = 0; i < n; i++) {
		len = name_of(name, sizeof(name), prefix, i);
		found += markset_has(ms, db, name, len);
	}
	printf("count %" PRIu64 " found %" PRIu64 "\n", markset_count(ms),
	    found);
	markset_close(ms);
	return 0;
}

static int
cmd_build(const char *dir, int nflows, size_t mem)
{
	struct markset *ms = build(dir, nflows, mem);

	printf("count %" PRIu64 "\n", markset_count(ms));
	markset_close(ms);
	return 0;
}

static int
cmd_pending(const char *dir)
{
	struct error e;
	int r;

	if ((r = marks_pending(dir, &e)) == -1)
		die(&e);
	printf("pending %d\n", r);
	return 0;
}

static int
cmd_remove(const char *dir)
{
	struct error e;

	if (marks_remove(dir, &e) == -1)
		die(&e);
	printf("removed\n");
	return 0;
}

static int
cmd_fsize(const char *dir, uint64_t limit, uint64_t n)
{
	struct rlimit rl;
	struct marks *mk;
	struct error e;
	char name[64];
	uint64_t i;
	size_t len;
	int k, r;

	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = limit;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		err(1, "setrlimit");
	mk = create(dir, 0);
	for (i = 0; i < n; i++) {
		len = name_of(name, sizeof(name), "key:", i);
		marks_add(mk, 0, name, len);
	}
	for (k = 0; k < 2; k++) {
		memset(&e, 0, sizeof(e));
		r = marks_flush(mk, &e);
		printf("flush %d\n", r);
		if (r != 0)
			printf("error %s: %s\n", err_kind_name(e.kind), e.msg);
	}
	printf("count %" PRIu64 "\n", marks_count(mk));
	marks_close(mk);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		errx(2, "usage: markstest fill|check|add|has|build|pending|"
		    "remove|fsize DIR [ARGS]");
	if (strcmp(cmd, "fill") == 0 && argc == 5)
		return cmd_fill(argv[2], small(argv[3], 1000), num(argv[4]));
	if (strcmp(cmd, "check") == 0 && argc == 6)
		return cmd_check(argv[2], small(argv[3], 1000), num(argv[4]),
		    num(argv[5]));
	if (strcmp(cmd, "add") == 0 && argc == 7)
		return cmd_add(argv[2], small(argv[3], 1000000),
		    small(argv[4], 65535), argv[5], num(argv[6]));
	if (strcmp(cmd, "has") == 0 && argc == 8)
		return cmd_has(argv[2], small(argv[3], 1000000), num(argv[4]),
		    small(argv[5], 65535), argv[6], num(argv[7]));
	if (strcmp(cmd, "build") == 0 && argc == 5)
		return cmd_build(argv[2], small(argv[3], 1000000),
		    num(argv[4]));
	if (strcmp(cmd, "pending") == 0 && argc == 3)
		return cmd_pending(argv[2]);
	if (strcmp(cmd, "remove") == 0 && argc == 3)
		return cmd_remove(argv[2]);
	if (strcmp(cmd, "fsize") == 0 && argc == 5)
		return cmd_fsize(argv[2], num(argv[3]), num(argv[4]));
	errx(2, "%s: unknown command or wrong arguments", cmd);
}
