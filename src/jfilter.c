/*
 * jfilter.c - a journal record against the key filter (filter.h) and the
 * keys --unsupported skip left out (skipset.h), before jcmd.c turns it
 * into commands.
 *
 * The filter: a record whose keys are all copied goes on, one whose keys
 * are all left out is dropped (counted in WC_FILTERED; its LSN is still
 * applied), and one with keys on both sides is cut to the copied keys
 * where the command allows it (DEL, UNLINK, MSET, ...) and is otherwise
 * an ERR_DATA error naming the command and both keys: never a partial
 * write.  FLUSHDB of a db left out is dropped; FLUSHALL under a db
 * filter is a FLUSHDB of each copied db.  Under a key filter both would
 * delete the keys left out on the target: an error unless --filter-flush
 * all.
 *
 * Skipped keys stay skipped: a record on one is dropped, one that also
 * names other keys (RENAME, SMOVE, SUNIONSTORE...) skips them all (their
 * value may now come from the skipped key), until the master deletes
 * the key (DEL, UNLINK, FLUSHDB, FLUSHALL), after which it is written
 * again as the journal builds it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"
#include "log.h"
#include "skipset.h"
#include "writer_int.h"

static int
is(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

const char *
jwhere(const struct writer *w, const struct journal_rec *rec, char *out,
    size_t len)
{
	if (w->lsnmode)
		snprintf(out, len, "journal record at byte %" PRIu64 " (LSN %"
		    PRIu64 ")", rec->offset, w->jlsn);
	else
		snprintf(out, len, "journal record at byte %" PRIu64,
		    rec->offset);
	return out;
}

int
jskip_key(struct writer *w, int db, const char *key, size_t len,
    const char *why)
{
	struct keyref *ref;
	const char *argv[2] = { "DEL", key };
	size_t argvlen[2] = { 3, len };
	char kt[900], lb[64];
	int rv;

	if (skipset_add(w->skipped, db, key, len) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	w->counts[WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%skey \"%s\" skipped: %s; deleted on the target, its "
	    "records dropped until the master deletes it", wlabel(w, lb,
	    sizeof(lb)), keytext(key, len, kt, sizeof(kt)), why);
	if ((ref = keyref_new(w, key, len, RDB_VT_STRING, "DEL")) == NULL)
		return -1;
	ref->db = db;
	rv = wsend(w, ref, C_JOURNAL, 2, argv, argvlen, 1);
	keyref_put(w, ref);
	return rv;
}

/* Room for a copy of n arguments in w->frec. */
static int
frec_reserve(struct writer *w, size_t n)
{
	const char **a;
	size_t *l;
	unsigned char *k;

	if (n <= w->fcap)
		return 0;
	if ((a = reallocarray(w->fargv, n, sizeof(*a))) == NULL)
		goto oom;
	w->fargv = a;
	if ((l = reallocarray(w->fargvlen, n, sizeof(*l))) == NULL)
		goto oom;
	w->fargvlen = l;
	if ((k = realloc(w->fkeep, n)) == NULL)
		goto oom;
	w->fkeep = k;
	w->fcap = n;
	return 0;
oom:
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

static int
dropped(struct writer *w, const struct journal_rec *rec)
{
	char kt[900];

	w->counts[WC_FILTERED]++;
	log_debug("%.*s of key \"%s\": left out by the filter",
	    (int)rec->argvlen[0], rec->argv[0], rec->argc > 1 ?
	    keytext(rec->argv[1], rec->argvlen[1], kt, sizeof(kt)) : "");
	return 1;
}

/* The record against the filter: 0 go on with *recp, 1 dropped, -1. */
static int
filter_rec(struct writer *w, const struct journal_rec **recp)
{
	const struct journal_rec *rec = *recp;
	char k1[300], k2[300], wh[96];
	size_t i, n, in, out;

	if (frec_reserve(w, rec->argc) == -1)
		return -1;
	switch (filter_command(w->opts.filter, (int)rec->db, rec->argc,
	    rec->argv, rec->argvlen, w->fkeep, &in, &out)) {
	case FILTER_KEEP:
		return 0;
	case FILTER_DROP:
		return dropped(w, rec);
	case FILTER_NOMEM:
		werr(w, ERR_SYS, "out of memory");
		return -1;
	case FILTER_MIXED:
		werr(w, ERR_DATA, "%s: %.*s has keys on both sides of the "
		    "filter (\"%s\" copied, \"%s\" left out%s) and cannot be "
		    "split", jwhere(w, rec, wh, sizeof(wh)),
		    (int)rec->argvlen[0], rec->argv[0],
		    keytext(rec->argv[in], rec->argvlen[in], k1, sizeof(k1)),
		    keytext(rec->argv[out], rec->argvlen[out], k2, sizeof(k2)),
		    in == out ? ", in the other db" : "");
		return -1;
	case FILTER_SPLIT:
		break;
	}
	w->frec = *rec;
	for (i = n = 0; i < rec->argc; i++)
		if (w->fkeep[i]) {
			w->fargv[n] = rec->argv[i];
			w->fargvlen[n++] = rec->argvlen[i];
		}
	w->frec.argc = n;
	w->frec.argv = w->fargv;
	w->frec.argvlen = w->fargvlen;
	w->counts[WC_FILTERED]++;
	log_debug("%.*s: %zu of %zu arguments left out by the filter",
	    (int)rec->argvlen[0], rec->argv[0], rec->argc - n, rec->argc);
	*recp = &w->frec;
	return 0;
}

/* The record against the skipped keys: 0 go on, 1 dropped, -1. */
static int
skipped_rec(struct writer *w, const struct journal_rec *rec)
{
	size_t *idx, n, i, step, hit = 0;
	char why[120];
	int rv = 0;

	if (skipset_count(w->skipped) == 0 || w->jdb < 0)
		return 0;
	if ((idx = reallocarray(NULL, rec->argc, sizeof(*idx))) == NULL) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	n = filter_cmd_keys(rec->argc, rec->argv, rec->argvlen, idx, &step);
	if (is(rec->argv[0], rec->argvlen[0], "DEL") ||
	    is(rec->argv[0], rec->argvlen[0], "UNLINK")) {
		/* gone on the master: written again from now on */
		for (i = 0; i < n; i++)
			skipset_del(w->skipped, w->jdb, rec->argv[idx[i]],
			    rec->argvlen[idx[i]]);
		free(idx);
		return 0;
	}
	for (i = 0; i < n; i++)
		hit += skipset_has(w->skipped, w->jdb, rec->argv[idx[i]],
		    rec->argvlen[idx[i]]);
	if (hit == 0) {
		free(idx);
		return 0;
	}
	snprintf(why, sizeof(why), "the journal's %.*s names a skipped key",
	    (int)(rec->argvlen[0] < 40 ? rec->argvlen[0] : 40), rec->argv[0]);
	for (i = 0; i < n && rv == 0; i++)
		if (!skipset_has(w->skipped, w->jdb, rec->argv[idx[i]],
		    rec->argvlen[idx[i]]))
			rv = jskip_key(w, w->jdb, rec->argv[idx[i]],
			    rec->argvlen[idx[i]], why);
	free(idx);
	if (rv == -1)
		return -1;
	log_debug("%.*s dropped: it names a skipped key",
	    (int)rec->argvlen[0], rec->argv[0]);
	return 1;
}

int
jfilter(struct writer *w, const struct journal_rec **recp)
{
	int rv;

	if (w->opts.filter != NULL && (rv = filter_rec(w, recp)) != 0)
		return rv;
	if (w->opts.unsupported == UNSUPPORTED_SKIP)
		return skipped_rec(w, *recp);
	return 0;
}

void
writer_flushed(struct writer *w, const struct journal_rec *rec)
{
	int db;

	if (rec->argc == 0)
		return;
	if (is(rec->argv[0], rec->argvlen[0], "FLUSHALL")) {
		skipset_clear(w->skipped, -1);
		return;
	}
	db = rec->db < WRITER_MAXDB ? w->opts.db_map[rec->db] : -1;
	if (db < 0)
		db = w->cluster ? 0 : (int)rec->db;
	skipset_clear(w->skipped, db);
}

/*
 * FLUSHALL or FLUSHDB: 0 go on (verbatim), 1 done or dropped, -1.  The
 * skipped keys of what it empties are forgotten.
 */
int
jfilter_flush(struct writer *w, const struct journal_rec *rec, int all)
{
	const struct filter *f = w->opts.filter;
	uint8_t done[WRITER_MAXDB];
	struct keyref *ref;
	char wh[96];
	int i, db, rv;

	if (f != NULL && !all && !filter_db(f, (int)rec->db))
		return dropped(w, rec);
	if (filter_keyed(f) && !filter_flush_all(f)) {
		werr(w, ERR_DATA, "%s: %.*s would delete on the target the "
		    "keys --key-prefix/--key-regex leave out (--filter-flush "
		    "all to allow it)", jwhere(w, rec, wh, sizeof(wh)),
		    (int)rec->argvlen[0], rec->argv[0]);
		return -1;
	}
	skipset_clear(w->skipped, all ? -1 : w->jdb);
	if (!all || f == NULL)
		return 0;
	for (i = 0; i < WRITER_MAXDB && filter_db(f, i); i++)
		;
	if (i == WRITER_MAXDB)
		return 0;	/* no db left out: FLUSHALL it is */
	/* a FLUSHDB in each target db a copied db maps to */
	memset(done, 0, sizeof(done));
	for (i = 0; i <= filter_dbmax(f); i++) {
		if (!filter_db(f, i))
			continue;
		if (map_db(w, i, &db) == -1)
			return -1;
		if (db < 0 || db >= WRITER_MAXDB || done[db])
			continue;
		done[db] = 1;
		if ((ref = keyref_new(w, "", 0, RDB_VT_STRING, "FLUSHDB")) ==
		    NULL)
			return -1;
		ref->db = db;
		av_str(w, 0, "FLUSHDB");
		rv = wsend_all(w, ref, C_JOURNAL, 1);
		keyref_put(w, ref);
		if (rv == -1)
			return -1;
	}
	return 1;
}
