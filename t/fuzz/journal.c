/*
 * fuzz-journal: libFuzzer target for the journal decoder (include/journal.h).
 *
 * Every input is decoded once fed whole and once fed in small irregular
 * pieces, with small limits; both feedings must yield the same records
 * (digested), the same final status and error text, and the same count
 * of bytes left pending.  The record scanner of lag.h, fed the same bytes
 * in pieces, must count exactly the records (LSN entries aside) of a
 * stream the decoder takes.  Anything else is abort()ed on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "lag.h"

#include "fuzz.h"

struct run {
	struct digest	 dg;
	uint64_t	 nrecs;
	uint64_t	 nlsn;		/* LSN entries: no records */
	int		 status;
	char		 err[512];
	uint64_t	 offset;
	size_t		 pending;
};

static void
mix_rec(struct digest *d, const struct journal_rec *rec, size_t size)
{
	size_t i;

	mixu(d, rec->op);
	mixu(d, rec->wire_op);
	mixu(d, rec->db);
	mixu(d, rec->txid);
	mixu(d, rec->shard_cnt);
	mixu(d, rec->lsn);
	mixu(d, rec->offset);
	if (rec->offset >= size)
		abort();		/* a record starts inside the input */
	mixu(d, rec->argc);
	if (rec->op == JOURNAL_COMMAND && rec->argc == 0)
		abort();		/* a command has at least its name */
	for (i = 0; i < rec->argc; i++) {
		mixu(d, rec->argvlen[i]);
		if (rec->argvlen[i] > 0)
			mix(d, rec->argv[i], rec->argvlen[i]);
	}
}

static void
decode(struct run *r, const uint8_t *data, size_t size, int pieces)
{
	struct journal_limits lim = { 1024 * 1024, 1024 };
	struct journal_rec rec;
	struct journal *j;
	size_t off = 0, n;
	uint32_t state = (uint32_t)size;
	int s = JOURNAL_AGAIN;

	memset(r, 0, sizeof(*r));
	dg_init(&r->dg);
	if ((j = journal_new(&lim)) == NULL)
		abort();
	while (off < size) {
		n = pieces ? next_piece(&state) : size;
		if (n > size - off)
			n = size - off;
		if (journal_feed(j, data + off, n) == -1) {
			s = JOURNAL_ERR;
			break;
		}
		off += n;
		while ((s = journal_next(j, &rec)) == JOURNAL_OK) {
			r->nrecs++;
			r->nlsn += rec.op == JOURNAL_LSN;
			mix_rec(&r->dg, &rec, size);
		}
		if (s != JOURNAL_AGAIN)
			break;
	}
	r->status = s;
	r->offset = journal_offset(j);
	if (s == JOURNAL_ERR)
		snprintf(r->err, sizeof(r->err), "%s", journal_error(j));
	else {
		r->pending = journal_pending(j);
		if (r->offset + r->pending != size)
			abort();	/* every byte is consumed or pending */
	}
	journal_free(j);
}

/* What the scanner counts in the whole records the decoder returned. */
static uint64_t
scan(const uint8_t *data, size_t size)
{
	struct jscan js;
	uint32_t state = (uint32_t)size + 7;
	uint64_t recs = 0;
	size_t off = 0, n;

	jscan_init(&js);
	while (off < size) {
		n = next_piece(&state);
		if (n > size - off)
			n = size - off;
		recs += jscan_feed(&js, data + off, n);
		off += n;
	}
	if (js.broken)
		abort();	/* the decoder took it: so must the scanner */
	return recs;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	uint64_t n;

	decode(&a, data, size, 0);
	decode(&b, data, size, 1);
	if (a.status != b.status || a.nrecs != b.nrecs ||
	    !dg_equal(&a.dg, &b.dg) || a.pending != b.pending) {
		fprintf(stderr, "fuzz-journal: whole: status %d, %llu records, "
		    "offset %llu; pieces: status %d, %llu records, offset "
		    "%llu\n", a.status, (unsigned long long)a.nrecs,
		    (unsigned long long)a.offset, b.status,
		    (unsigned long long)b.nrecs, (unsigned long long)b.offset);
		abort();
	}
	if (a.status != JOURNAL_ERR &&
	    (n = scan(data, a.offset)) != a.nrecs - a.nlsn) {
		fprintf(stderr, "fuzz-journal: the scanner counted %llu "
		    "records, the decoder %llu\n", (unsigned long long)n,
		    (unsigned long long)(a.nrecs - a.nlsn));
		abort();
	}
	if (a.status == JOURNAL_ERR && strcmp(a.err, b.err) != 0) {
		fprintf(stderr, "fuzz-journal: errors differ:\n  whole:  %s\n"
		    "  pieces: %s\n", a.err, b.err);
		abort();
	}
	return 0;
}
