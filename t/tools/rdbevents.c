/*
 * rdbevents - print the events of include/rdb.h's decoder, one per line
 * (the format is the contract between engineers, see t/rdb.t).
 *
 *	rdbevents [--flow] [--feed N] [--piece N] [--pieces] [--leftover]
 *	    [--max-blob N] FILE
 *	rdbevents [--flow] --truncations FILE	decode every prefix
 *	rdbevents [--flow] --flips FILE		decode with each byte flipped
 *	rdbevents [--flow] --bench FILE		decode, print MB/s only
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rdb.h"

struct part {
	char	*p;
	size_t	 len, cap;
	int	 used;
};

/* accumulated item strings of one key, per eid */
struct acc {
	uint32_t	 eid;
	int		 used;
	struct part	 s[2];
};

static enum rdb_mode mode = RDB_MODE_FILE;
static size_t feed = 65536, piece = 65536, max_blob;
static int pieces, leftover;
static size_t fed;
static struct acc *accs;
static size_t naccs;

static void
put_esc(const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (len == 0) {
		fputs("\"\"", stdout);
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c >= 0x21 && c <= 0x7e && c != '\\')
			putchar_unlocked(c);
		else {
			putchar_unlocked('\\');
			putchar_unlocked('x');
			putchar_unlocked(hex[c >> 4]);
			putchar_unlocked(hex[c & 15]);
		}
	}
}

static void
put_str(struct rdb_str s)
{
	put_esc(s.p, s.len);
}

static void
put_id(struct rdb_stream_id id)
{
	printf("%llu-%llu", (unsigned long long)id.ms,
	    (unsigned long long)id.seq);
}

static struct acc *
acc_get(uint32_t eid)
{
	size_t i;

	for (i = 0; i < naccs; i++)
		if (accs[i].used && accs[i].eid == eid)
			return &accs[i];
	for (i = 0; i < naccs; i++)
		if (!accs[i].used)
			break;
	if (i == naccs) {
		if ((accs = reallocarray(accs, naccs + 1, sizeof(*accs))) ==
		    NULL)
			err(1, "reallocarray");
		memset(&accs[naccs++], 0, sizeof(*accs));
	}
	accs[i].used = 1;
	accs[i].eid = eid;
	accs[i].s[0].len = accs[i].s[1].len = 0;
	accs[i].s[0].used = accs[i].s[1].used = 0;
	return &accs[i];
}

static void
acc_add(struct part *pt, const char *p, size_t len)
{
	if (pt->len + len > pt->cap) {
		size_t cap = pt->cap ? pt->cap : 256;

		while (cap < pt->len + len)
			cap *= 2;
		if ((pt->p = realloc(pt->p, cap)) == NULL)
			err(1, "realloc");
		pt->cap = cap;
	}
	memcpy(pt->p + pt->len, p, len);
	pt->len += len;
	pt->used = 1;
}

static void
print_event(const struct rdb_event *ev)
{
	struct acc *a;
	size_t i;

	switch (ev->type) {
	case RDB_EV_AUX:
		fputs("aux ", stdout);
		put_str(ev->u.aux.name);
		putchar_unlocked(' ');
		put_str(ev->u.aux.value);
		break;
	case RDB_EV_DB:
		printf("db %d", ev->db);
		break;
	case RDB_EV_FUNCTION:
		fputs("function ", stdout);
		put_str(ev->u.func);
		break;
	case RDB_EV_MODULE_AUX:
		fputs("module_aux ", stdout);
		put_str(ev->u.module_name);
		break;
	case RDB_EV_KEY:
		printf("key %u %d %s %u %lld %llu ", ev->eid, ev->db,
		    rdb_vtype_name(ev->vtype), ev->enc,
		    (long long)ev->u.k.expire_ms,
		    (unsigned long long)ev->u.k.count);
		put_str(ev->key);
		acc_get(ev->eid);
		break;
	case RDB_EV_STR:
		a = acc_get(ev->eid);
		acc_add(&a->s[ev->u.str.part ? 1 : 0], ev->u.str.p,
		    ev->u.str.len);
		if (!pieces)
			return;
		printf("str %u %d %llu %d ", ev->eid, ev->u.str.part,
		    (unsigned long long)ev->u.str.off, ev->u.str.more);
		put_esc(ev->u.str.p, ev->u.str.len);
		break;
	case RDB_EV_ITEM:
		a = acc_get(ev->eid);
		printf("item %u %llu %.17g %lld", ev->eid,
		    (unsigned long long)ev->u.item.index, ev->u.item.score,
		    (long long)ev->u.item.expire_ms);
		if (!pieces) {
			for (i = 0; i < 2; i++) {
				if (!a->s[i].used)
					continue;
				putchar_unlocked(' ');
				put_esc(a->s[i].p, a->s[i].len);
			}
		}
		a->s[0].len = a->s[1].len = 0;
		a->s[0].used = a->s[1].used = 0;
		break;
	case RDB_EV_STREAM_ENTRY:
		printf("entry %u ", ev->eid);
		put_id(ev->u.entry.id);
		printf(" %zu", ev->u.entry.nfields);
		for (i = 0; i < 2 * ev->u.entry.nfields; i++) {
			putchar_unlocked(' ');
			put_str(ev->u.entry.fv[i]);
		}
		break;
	case RDB_EV_STREAM_META:
		printf("meta %u %llu ", ev->eid,
		    (unsigned long long)ev->u.meta.length);
		put_id(ev->u.meta.last_id);
		if (ev->u.meta.has_v2) {
			putchar_unlocked(' ');
			put_id(ev->u.meta.first_id);
			putchar_unlocked(' ');
			put_id(ev->u.meta.max_deleted_id);
			printf(" %llu",
			    (unsigned long long)ev->u.meta.entries_added);
		} else
			fputs(" - - -", stdout);
		printf(" %llu", (unsigned long long)ev->u.meta.ngroups);
		break;
	case RDB_EV_STREAM_GROUP:
		printf("group %u ", ev->eid);
		put_str(ev->u.group.name);
		putchar_unlocked(' ');
		put_id(ev->u.group.last_id);
		printf(" %lld %llu %llu", (long long)ev->u.group.entries_read,
		    (unsigned long long)ev->u.group.npel,
		    (unsigned long long)ev->u.group.nconsumers);
		break;
	case RDB_EV_STREAM_PEL:
		printf("pel %u ", ev->eid);
		put_id(ev->u.pel.id);
		printf(" %lld %llu", (long long)ev->u.pel.delivery_ms,
		    (unsigned long long)ev->u.pel.delivery_count);
		break;
	case RDB_EV_STREAM_CONSUMER:
		printf("consumer %u ", ev->eid);
		put_str(ev->u.consumer.name);
		printf(" %lld %lld %llu", (long long)ev->u.consumer.seen_ms,
		    (long long)ev->u.consumer.active_ms,
		    (unsigned long long)ev->u.consumer.npel);
		break;
	case RDB_EV_STREAM_CPEL:
		printf("cpel %u ", ev->eid);
		put_id(ev->u.cpel);
		break;
	case RDB_EV_KEY_END:
		printf("keyend %u ", ev->eid);
		put_str(ev->key);
		a = acc_get(ev->eid);
		a->used = 0;
		break;
	case RDB_EV_JOURNAL:
		printf("journal %llu ", (unsigned long long)ev->u.journal.nrec);
		for (i = 0; i < ev->u.journal.len; i++)
			printf("%02x", (unsigned char)ev->u.journal.p[i]);
		if (ev->u.journal.len == 0)
			fputs("\"\"", stdout);
		break;
	case RDB_EV_FULLSYNC_END:
		fputs("fullsync_end", stdout);
		break;
	case RDB_EV_JOURNAL_OFFSET:
		printf("journal_offset %llu",
		    (unsigned long long)ev->u.journal_offset);
		break;
	case RDB_EV_EOF:
		fputs("eof", stdout);
		break;
	}
	putchar_unlocked('\n');
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	struct stat sb;
	unsigned char *p;
	ssize_t n;
	size_t off = 0;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		err(1, "%s", path);
	if (fstat(fd, &sb) == -1)
		err(1, "%s", path);
	if ((p = malloc(sb.st_size + 1)) == NULL)
		err(1, "malloc");
	while (off < (size_t)sb.st_size) {
		if ((n = read(fd, p + off, sb.st_size - off)) <= 0)
			err(1, "read %s", path);
		off += n;
	}
	close(fd);
	*len = off;
	return p;
}

/*
 * Decode buf fed in slices of `feed` bytes.  Returns 0 on RDB_DONE, 1 on
 * an error, 2 if the input ended first.
 */
static int
decode(const unsigned char *buf, size_t len, int print, struct rdb **rp)
{
	struct rdb_limits lim = { piece, max_blob };
	struct rdb_event ev;
	struct rdb *r;
	size_t off = 0, n;
	int rc;

	if ((r = rdb_new(mode, &lim)) == NULL)
		err(1, "rdb_new");
	*rp = r;
	for (;;) {
		while ((rc = rdb_next(r, &ev)) == RDB_OK)
			if (print)
				print_event(&ev);
		if (rc == RDB_DONE) {
			fed = off;
			return 0;
		}
		if (rc == RDB_ERR)
			return 1;
		if (off == len)
			return 2;
		n = len - off < feed ? len - off : feed;
		if (rdb_feed(r, buf + off, n) == -1)
			return 1;
		off += n;
	}
}

static int
one(const unsigned char *buf, size_t len)
{
	struct rdb *r;
	const char *lp;
	size_t llen;
	uint64_t at;
	int rc;

	rc = decode(buf, len, 1, &r);
	fflush(stdout);
	if (rc == 1) {
		fprintf(stderr, "error: %s\n", rdb_error(r));
		rdb_free(r);
		return 1;
	}
	if (rc == 2) {
		fprintf(stderr, "error: truncated at byte %zu (decoded up to "
		    "byte %llu)\n", len, (unsigned long long)rdb_offset(r));
		rdb_free(r);
		return 1;
	}
	if (leftover) {
		/* hand the decoder the rest of the file, then ask for it */
		at = rdb_offset(r);
		if (fed < len && rdb_feed(r, buf + fed, len - fed) == -1)
			errx(1, "rdb_feed: %s", rdb_error(r));
		rdb_leftover(r, &lp, &llen);
		printf("leftover %llu %zu ", (unsigned long long)at, llen);
		put_esc(lp, llen > 48 ? 48 : llen);
		putchar('\n');
	}
	rdb_free(r);
	return 0;
}

/* Every prefix must end in RDB_AGAIN or an error, never a crash. */
static int
truncations(const unsigned char *buf, size_t len)
{
	size_t l, nagain = 0, nerr = 0, ndone = 0;
	struct rdb *r;
	int rc;

	feed = 65536;
	for (l = 0; l <= len; l++) {
		rc = decode(buf, l, 0, &r);
		rdb_free(r);
		if (rc == 0)
			ndone++;
		else if (rc == 1)
			nerr++;
		else
			nagain++;
	}
	printf("truncations %zu again %zu error %zu done %zu\n", len + 1,
	    nagain, nerr, ndone);
	return 0;
}

static int
flips(unsigned char *buf, size_t len)
{
	size_t i, nerr = 0, nok = 0, nagain = 0;
	struct rdb *r;
	int rc;

	for (i = 0; i < len; i++) {
		buf[i] ^= 0xff;
		rc = decode(buf, len, 0, &r);
		rdb_free(r);
		buf[i] ^= 0xff;
		if (rc == 0)
			nok++;
		else if (rc == 1)
			nerr++;
		else
			nagain++;
	}
	printf("flips %zu done %zu error %zu again %zu\n", len, nok, nerr,
	    nagain);
	return 0;
}

static int
bench(const unsigned char *buf, size_t len)
{
	struct timespec a, b;
	struct rdb *r;
	double s;
	int rc, rounds = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		rc = decode(buf, len, 0, &r);
		rdb_free(r);
		if (rc != 0)
			errx(1, "decode failed");
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &b);
		s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	} while (s < 0.5);
	printf("%.1f MB/s (%d rounds of %zu bytes)\n",
	    (double)len * rounds / s / 1e6, rounds, len);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rdbevents [--flow] [--feed N] [--piece N] "
	    "[--pieces] [--leftover] [--truncations | --flips | --bench] "
	    "FILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	enum { RUN, TRUNC, FLIPS, BENCH } what = RUN;
	static char obuf[1 << 16];
	unsigned char *buf;
	const char *errstr;
	size_t len;
	int i, rc;

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--flow") == 0)
			mode = RDB_MODE_FLOW;
		else if (strcmp(argv[i], "--pieces") == 0)
			pieces = 1;
		else if (strcmp(argv[i], "--leftover") == 0)
			leftover = 1;
		else if (strcmp(argv[i], "--truncations") == 0)
			what = TRUNC;
		else if (strcmp(argv[i], "--flips") == 0)
			what = FLIPS;
		else if (strcmp(argv[i], "--bench") == 0)
			what = BENCH;
		else if (strcmp(argv[i], "--feed") == 0 && i + 1 < argc) {
			feed = strtonum(argv[++i], 1, 1 << 30, &errstr);
			if (errstr)
				errx(2, "--feed %s: %s", argv[i], errstr);
		} else if (strcmp(argv[i], "--max-blob") == 0 &&
		    i + 1 < argc) {
			max_blob = strtonum(argv[++i], 1, 1 << 30, &errstr);
			if (errstr)
				errx(2, "--max-blob %s: %s", argv[i], errstr);
		} else if (strcmp(argv[i], "--piece") == 0 && i + 1 < argc) {
			piece = strtonum(argv[++i], 1, 1 << 30, &errstr);
			if (errstr)
				errx(2, "--piece %s: %s", argv[i], errstr);
		} else
			usage();
	}
	if (i + 1 != argc)
		usage();
	buf = slurp(argv[i], &len);
	switch (what) {
	case TRUNC:
		rc = truncations(buf, len);
		break;
	case FLIPS:
		rc = flips(buf, len);
		break;
	case BENCH:
		rc = bench(buf, len);
		break;
	default:
		rc = one(buf, len);
		break;
	}
	fflush(stdout);
	free(buf);
	for (i = 0; i < (int)naccs; i++) {
		free(accs[i].s[0].p);
		free(accs[i].s[1].p);
	}
	free(accs);
	return rc;
}
