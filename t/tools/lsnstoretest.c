/*
 * lsnstoretest - drive the LSN store (lsnstore.h) from tests.
 *
 *   lsnstoretest open DIR                 open and close: "ok"
 *   lsnstoretest put DIR FLOW LSN [REPLID] write flow's record: "ok"
 *   lsnstoretest get DIR FLOW             "none", or the record as
 *                                         "replid R nflows N next_lsn L
 *                                         state S keys K bytes B ms T"
 *   lsnstoretest fork DIR NPROC NPUTS     open the store, then fork NPROC
 *                                         writers that each open their own
 *                                         handle and put NPUTS records to
 *                                         their flow (0..NPROC-1) and to
 *                                         flow 999, all at once; then read
 *                                         every flow through the parent's
 *                                         handle: one "get" line each,
 *                                         prefixed "flow F "
 *   lsnstoretest keep DIR                 open the store, print "open",
 *                                         wait to be killed
 *   lsnstoretest hold DIR                 open lsn.mdb with LMDB itself, begin
 *                                         a read transaction, print
 *                                         "holding", wait to be killed
 *   lsnstoretest readers DIR              the number of reader slots taken,
 *                                         read with LMDB itself
 *
 * An error: "error KIND: MESSAGE" on stderr, exit 1 (2 for a usage error).
 */
#include <sys/wait.h>

#include <err.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "error.h"
#include "lsnstore.h"

#define SHARED_FLOW	999

static void __attribute__((noreturn))
die(const struct error *e)
{
	fprintf(stderr, "error %s: %s\n", err_kind_name(e->kind), e->msg);
	exit(1);
}

static struct lsnstore *
open_store(const char *dir)
{
	struct lsnstore *ls;
	struct error e;

	if ((ls = lsnstore_open(dir, &e)) == NULL)
		die(&e);
	return ls;
}

static void
make_rec(struct lsn_rec *rec, const char *replid, uint64_t lsn)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->replid, sizeof(rec->replid), "%s", replid);
	rec->nflows = 4;
	rec->next_lsn = lsn;
	rec->state = LSN_FULLSYNC_DONE;
	rec->keys = lsn * 10;
	rec->bytes = lsn * 100;
}

static void
print_rec(struct lsnstore *ls, int flow, const char *prefix)
{
	struct lsn_rec rec;
	struct error e;
	int rc;

	if ((rc = lsnstore_get(ls, flow, &rec, &e)) == -1)
		die(&e);
	if (rc == 0) {
		printf("%snone\n", prefix);
		return;
	}
	printf("%sreplid %s nflows %" PRIu32 " next_lsn %" PRIu64 " state %d "
	    "keys %" PRIu64 " bytes %" PRIu64 " ms %" PRId64 "\n", prefix,
	    rec.replid, rec.nflows, rec.next_lsn, (int)rec.state, rec.keys,
	    rec.bytes, rec.updated_ms);
}

/* A replid of 40 characters that names the writer. */
static void
writer_replid(char *buf, size_t len, int child)
{
	snprintf(buf, len, "%040d", child);
}

static void __attribute__((noreturn))
child_writes(const char *dir, int child, int nputs)
{
	struct lsnstore *ls = open_store(dir);
	struct lsn_rec rec;
	struct error e;
	char replid[LSN_REPLID_LEN + 1];
	int i;

	writer_replid(replid, sizeof(replid), child);
	for (i = 1; i <= nputs; i++) {
		make_rec(&rec, replid, i);
		if (lsnstore_put(ls, child, &rec, &e) == -1 ||
		    lsnstore_put(ls, SHARED_FLOW, &rec, &e) == -1)
			die(&e);
	}
	lsnstore_close(ls);
	exit(0);
}

static int
cmd_fork(const char *dir, int nproc, int nputs)
{
	struct lsnstore *ls = open_store(dir);
	char prefix[32];
	int i, status, failed = 0;

	for (i = 0; i < nproc; i++) {
		switch (fork()) {
		case -1:
			err(1, "fork");
		case 0:
			child_writes(dir, i, nputs);
		}
	}
	for (i = 0; i < nproc; i++) {
		if (wait(&status) == -1)
			err(1, "wait");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	if (failed) {
		fprintf(stderr, "error: %d writers failed\n", failed);
		return 1;
	}
	for (i = 0; i < nproc; i++) {
		snprintf(prefix, sizeof(prefix), "flow %d ", i);
		print_rec(ls, i, prefix);
	}
	snprintf(prefix, sizeof(prefix), "flow %d ", SHARED_FLOW);
	print_rec(ls, SHARED_FLOW, prefix);
	lsnstore_close(ls);
	return 0;
}

static MDB_env *
raw_env(const char *dir)
{
	char path[PATH_MAX];
	MDB_env *env;
	int rc;

	snprintf(path, sizeof(path), "%s/lsn.mdb", dir);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0600)) !=
	    0)
		errx(1, "%s: %s", path, mdb_strerror(rc));
	return env;
}

static int
cmd_hold(const char *dir)
{
	MDB_env *env = raw_env(dir);
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		errx(1, "read transaction: %s", mdb_strerror(rc));
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* mdb_reader_list: a header line, then one line per slot taken. */
static int
count_line(const char *msg, void *arg)
{
	int *n = arg;

	if (strstr(msg, "pid") == NULL && strstr(msg, "no active") == NULL)
		(*n)++;
	return 0;
}

static int
cmd_readers(const char *dir)
{
	MDB_env *env = raw_env(dir);
	int n = 0;

	if (mdb_reader_list(env, count_line, &n) < 0)
		errx(1, "mdb_reader_list failed");
	printf("%d\n", n);
	mdb_env_close(env);
	return 0;
}

static int
num(const char *s)
{
	const char *errstr;
	int n;

	n = strtonum(s, 0, INT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "\"%s\" is %s", s, errstr);
	return n;
}

int
main(int argc, char **argv)
{
	struct lsnstore *ls;
	struct lsn_rec rec;
	struct error e;
	const char *cmd = argc > 1 ? argv[1] : "", *dir = argv[2];

	if (argc < 3)
		errx(2, "usage: lsnstoretest open|put|get|fork|keep|hold|"
		    "readers DIR [ARGS]");
	if (strcmp(cmd, "fork") == 0 && argc == 5)
		return cmd_fork(dir, num(argv[3]), num(argv[4]));
	if (strcmp(cmd, "hold") == 0)
		return cmd_hold(dir);
	if (strcmp(cmd, "readers") == 0)
		return cmd_readers(dir);
	ls = open_store(dir);
	if (strcmp(cmd, "open") == 0) {
		printf("ok\n");
	} else if (strcmp(cmd, "keep") == 0) {
		printf("open\n");
		fflush(stdout);
		for (;;)
			pause();
	} else if (strcmp(cmd, "put") == 0 && (argc == 5 || argc == 6)) {
		make_rec(&rec, argc == 6 ? argv[5] :
		    "0123456789abcdef0123456789abcdef01234567", num(argv[4]));
		if (lsnstore_put(ls, num(argv[3]), &rec, &e) == -1)
			die(&e);
		printf("ok\n");
	} else if (strcmp(cmd, "get") == 0 && argc == 4) {
		print_rec(ls, num(argv[3]), "");
	} else
		errx(2, "%s: unknown command or wrong arguments", cmd);
	lsnstore_close(ls);
	return 0;
}
