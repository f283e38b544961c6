/*
 * lagtest - drive the lag counters (lag.h) from tests:
 *
 *   lagtest CHUNK [ACK...] < journal
 *	feed the journal bytes to a struct lag from LSN 0, CHUNK bytes at a
 *	time, the n-th chunk arriving at n ms; then each ACK (an LSN) is
 *	acknowledged 1 s after the last chunk arrived.  Prints
 *	"records N lag L broken B" after the bytes and after each ACK, then
 *	the histogram: "hist COUNT SUM_US B0 B1 ... B15".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lag.h"

static void
show(const struct lag *l)
{
	printf("records %" PRIu64 " lag %" PRIu64 " broken %d\n", l->recv,
	    lag_records(l), l->scan.broken);
}

int
main(int argc, char **argv)
{
	static char in[8 << 20];
	static struct lag l;
	const char *errstr;
	size_t len = 0, off, n, chunk;
	ssize_t got;
	int64_t t = 0, last = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: lagtest CHUNK [ACK...] < journal\n");
		return 2;
	}
	chunk = strtonum(argv[1], 1, sizeof(in), &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "lagtest: chunk %s\n", errstr);
		return 2;
	}
	while ((got = read(0, in + len, sizeof(in) - len)) > 0)
		len += got;
	if (got == -1) {
		fprintf(stderr, "lagtest: %s\n", strerror(errno));
		return 1;
	}
	lag_reset(&l, 0);
	for (off = 0; off < len; off += n, t += 1000) {
		n = len - off < chunk ? len - off : chunk;
		lag_received(&l, in + off, n, t);
		last = t;
	}
	show(&l);
	for (i = 2; i < argc; i++) {
		lag_acked(&l, strtoull(argv[i], NULL, 10), last + 1000000);
		show(&l);
	}
	printf("hist %" PRIu64 " %" PRIu64, l.hist.count, l.hist.sum_us);
	for (i = 0; i < LAT_NBUCKETS; i++)
		printf(" %" PRIu64, l.hist.bucket[i]);
	printf("\n");
	return 0;
}
