/*
 * compacttest - drive the compact iterators, LZF and CRC-64 from tests.
 *
 *   compacttest lp|zl|is|zm      < BUF   one line per element ("i:-12",
 *                                        "s:<escaped>"), then "end"
 *   compacttest lzf OUTLEN       < BUF   the decompressed bytes, escaped
 *   compacttest crc64 [SKIP [CHUNK]] < BUF  the CRC of BUF after SKIP bytes
 *                                        (chained over CHUNK-byte pieces),
 *                                        as 16 hex digits
 *   compacttest crcbench MIB             throughput of crc64 and of the
 *                                        portable code over MIB MiB
 *   compacttest crccmp                   crc64 against crc64_portable at
 *                                        every length to 1100 bytes, every
 *                                        alignment and several start values
 *
 * Escaping: bytes 0x21-0x7e other than '\' as themselves, others \xHH.
 * Corrupt input: the error on stderr, exit 1.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compact.h"
#include "crc64.h"
#include "lzf.h"

static unsigned char *
slurp(size_t *lenp)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				err(2, "realloc");
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n == -1)
			err(2, "read");
		if (n == 0)
			break;
		len += n;
	}
	*lenp = len;
	return buf;
}

static void
put_escaped(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x21 && p[i] <= 0x7e && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

static int
walk(const char *kind, const unsigned char *buf, size_t len)
{
	struct compact_it it;
	const char *p;
	size_t n;
	int r;

	if (strcmp(kind, "lp") == 0)
		r = lp_open(&it, buf, len);
	else if (strcmp(kind, "zl") == 0)
		r = zl_open(&it, buf, len);
	else if (strcmp(kind, "is") == 0)
		r = is_open(&it, buf, len);
	else
		r = zm_open(&it, buf, len);
	if (r == -1) {
		fprintf(stderr, "%s\n", it.err);
		return 1;
	}
	printf("count %llu\n", it.countknown ?
	    (unsigned long long)it.count : 0ULL);
	while ((r = compact_next(&it, &p, &n)) == 1) {
		if (it.isint) {
			if (strlen(it.num) != n || strtoll(p, NULL, 10) !=
			    it.ival)
				errx(2, "integer text %s disagrees with %lld",
				    p, (long long)it.ival);
			printf("i:%.*s\n", (int)n, p);
		} else {
			printf("s:");
			put_escaped((const unsigned char *)p, n);
			putchar('\n');
		}
	}
	if (r == -1) {
		fflush(stdout);
		fprintf(stderr, "%s\n", it.err);
		return 1;
	}
	/* Once ended, the iterator stays ended. */
	if (compact_next(&it, &p, &n) != 0)
		errx(2, "iterator did not stay at the end");
	printf("end\n");
	return 0;
}

static int
unlzf(const char *outlen, const unsigned char *buf, size_t len)
{
	unsigned char *out;
	const char *errstr;
	size_t n;

	n = strtonum(outlen, 0, 1 << 30, &errstr);
	if (errstr != NULL)
		errx(2, "output length %s: %s", outlen, errstr);
	/* exactly n bytes: ASan catches any write past the end */
	if ((out = malloc(n ? n : 1)) == NULL)
		err(2, "malloc");
	if (lzf_decompress(buf, len, out, n) == -1) {
		fprintf(stderr, "lzf: corrupt input\n");
		free(out);
		return 1;
	}
	put_escaped(out, n);
	putchar('\n');
	free(out);
	return 0;
}

static double
crcrate(uint64_t (*fn)(uint64_t, const void *, size_t),
    const unsigned char *buf, size_t n, int rounds, uint64_t *crcp)
{
	struct timespec t0, t1;
	uint64_t crc = 0;
	double secs;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (r = 0; r < rounds; r++)
		crc = fn(crc, buf, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	*crcp = crc;
	return (double)n * rounds / 1e6 / secs;
}

static int
crcbench(const char *mib)
{
	unsigned char *buf;
	const char *errstr;
	uint64_t crc, pcrc;
	double fast, port;
	size_t n, i;
	int rounds;

	n = strtonum(mib, 1, 4096, &errstr);
	if (errstr != NULL)
		errx(2, "size %s: %s", mib, errstr);
	rounds = 1;
	if (n < 256) {
		rounds = 256 / n;
		n <<= 20;
	} else
		n <<= 20;
	if ((buf = malloc(n)) == NULL)
		err(2, "malloc");
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	fast = crcrate(crc64, buf, n, rounds, &crc);
	port = crcrate(crc64_portable, buf, n, rounds, &pcrc);
	printf("crc64 %016llx %.0f MB/s (%s), portable %016llx %.0f MB/s\n",
	    (unsigned long long)crc, fast, crc64_accelerated() ? "pclmul" :
	    "tables", (unsigned long long)pcrc, port);
	free(buf);
	return crc == pcrc ? 0 : 1;
}

/* Exhaustive agreement of the two implementations on short inputs. */
static int
crccmp(void)
{
	static const uint64_t starts[] = { 0, 1, 0xe9c6d914c4b8d9caULL,
	    0xffffffffffffffffULL, 0x8000000000000000ULL };
	unsigned char *buf;
	size_t len, align, s, checked = 0, bad = 0;
	uint64_t a, b;

	if ((buf = malloc(1100 + 16)) == NULL)
		err(2, "malloc");
	for (len = 0; len < 1100 + 16; len++)
		buf[len] = (unsigned char)(len * 2654435761u >> 11);
	for (len = 0; len <= 1100; len++)
		for (align = 0; align < 16; align++)
			for (s = 0; s < sizeof(starts) / sizeof(starts[0]);
			    s++) {
				a = crc64(starts[s], buf + align, len);
				b = crc64_portable(starts[s], buf + align, len);
				checked++;
				if (a != b && bad++ < 3)
					fprintf(stderr, "length %zu, alignment "
					    "%zu, start %016llx: %016llx, "
					    "portable %016llx\n", len, align,
					    (unsigned long long)starts[s],
					    (unsigned long long)a,
					    (unsigned long long)b);
			}
	printf("%s: %zu checked, %zu differ\n", crc64_accelerated() ?
	    "pclmul" : "tables", checked, bad);
	free(buf);
	return bad == 0 ? 0 : 1;
}

static int
crcfile(const unsigned char *buf, size_t len, const char *skipstr,
    const char *chunkstr)
{
	const char *errstr;
	size_t skip, chunk, n;
	uint64_t crc = 0;

	skip = strtonum(skipstr, 0, len, &errstr);
	if (errstr != NULL)
		errx(2, "skip %s: %s", skipstr, errstr);
	chunk = strtonum(chunkstr, 0, INT32_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "chunk %s: %s", chunkstr, errstr);
	buf += skip;
	len -= skip;
	if (chunk == 0)
		chunk = len;
	do {
		n = len < chunk ? len : chunk;
		crc = crc64(crc, buf, n);
		buf += n;
		len -= n;
	} while (len > 0);
	printf("%016llx\n", (unsigned long long)crc);
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned char *buf;
	size_t len;
	int r;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "crcbench") == 0 && argc == 3)
		return crcbench(argv[2]);
	if (strcmp(argv[1], "crccmp") == 0 && argc == 2)
		return crccmp();
	if (strcmp(argv[1], "crc64") == 0 && argc <= 4) {
		buf = slurp(&len);
		r = crcfile(buf, len, argc > 2 ? argv[2] : "0",
		    argc > 3 ? argv[3] : "0");
		free(buf);
		return r;
	}
	if (strcmp(argv[1], "lzf") == 0 && argc == 3) {
		buf = slurp(&len);
		r = unlzf(argv[2], buf, len);
		free(buf);
		return r;
	}
	if (argc == 2 && (strcmp(argv[1], "lp") == 0 ||
	    strcmp(argv[1], "zl") == 0 || strcmp(argv[1], "is") == 0 ||
	    strcmp(argv[1], "zm") == 0)) {
		buf = slurp(&len);
		r = walk(argv[1], buf, len);
		free(buf);
		return r;
	}
usage:
	fprintf(stderr, "usage: compacttest lp|zl|is|zm|crc64 < buf\n"
	    "       compacttest lzf outlen < buf\n"
	    "       compacttest crcbench mib\n"
	    "       compacttest crccmp\n");
	return 2;
}
