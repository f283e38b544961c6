/*
 * fuzz-rdb: libFuzzer target for the RDB / FLOW decoder (include/rdb.h).
 *
 * Every input is decoded in both modes, once fed whole and once fed in
 * small irregular pieces, with small limits.  The decoder promises that
 * the event sequence depends only on the limits, never on how the input
 * was split: each event is serialised into a running digest and the two
 * feedings must end with the same digest, event count, status, error text,
 * offset and leftover bytes; anything else is abort()ed on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb.h"

#include "fuzz.h"

struct run {
	struct digest	 dg;
	uint64_t	 nevents;
	int		 status;	/* RDB_DONE, RDB_ERR, or RDB_AGAIN */
	char		 err[512];
	uint64_t	 offset;
};

static void
mixs(struct digest *d, const char *p, size_t n)
{
	mixu(d, n);
	if (n > 0)
		mix(d, p, n);
}

static void
mixid(struct digest *d, const struct rdb_stream_id *id)
{
	mixu(d, id->ms);
	mixu(d, id->seq);
}

static void
mix_event(struct digest *d, const struct rdb_event *ev)
{
	size_t i;

	mixu(d, ev->type);
	switch (ev->type) {
	case RDB_EV_AUX:
		mixs(d, ev->u.aux.name.p, ev->u.aux.name.len);
		mixs(d, ev->u.aux.value.p, ev->u.aux.value.len);
		return;
	case RDB_EV_DB:
		mixu(d, ev->db);
		return;
	case RDB_EV_FUNCTION:
		mixs(d, ev->u.func.p, ev->u.func.len);
		return;
	case RDB_EV_MODULE_AUX:
		mixs(d, ev->u.module_name.p, ev->u.module_name.len);
		return;
	case RDB_EV_JOURNAL:
		mixu(d, ev->u.journal.nrec);
		mixs(d, ev->u.journal.p, ev->u.journal.len);
		return;
	case RDB_EV_FULLSYNC_END:
	case RDB_EV_EOF:
		return;
	case RDB_EV_JOURNAL_OFFSET:
		mixu(d, ev->u.journal_offset);
		return;
	default:
		break;
	}
	/* key-related events */
	mixu(d, ev->eid);
	mixu(d, (uint64_t)ev->db);
	mixs(d, ev->key.p, ev->key.len);
	mixu(d, ev->vtype);
	mixu(d, ev->enc);
	if (strlen(rdb_vtype_name(ev->vtype)) == 0)
		abort();
	switch (ev->type) {
	case RDB_EV_KEY:
		mixu(d, (uint64_t)ev->u.k.expire_ms);
		mixu(d, ev->u.k.count);
		if (ev->u.k.type_name != NULL)
			mixs(d, ev->u.k.type_name, strlen(ev->u.k.type_name));
		break;
	case RDB_EV_STR:
		mixu(d, (uint64_t)ev->u.str.part);
		mixs(d, ev->u.str.p, ev->u.str.len);
		mixu(d, ev->u.str.off);
		mixu(d, (uint64_t)ev->u.str.more);
		break;
	case RDB_EV_ITEM:
		mixu(d, ev->u.item.index);
		mix(d, &ev->u.item.score, sizeof(ev->u.item.score));
		mixu(d, (uint64_t)ev->u.item.expire_ms);
		break;
	case RDB_EV_STREAM_ENTRY:
		mixid(d, &ev->u.entry.id);
		mixu(d, ev->u.entry.nfields);
		for (i = 0; i < 2 * ev->u.entry.nfields; i++)
			mixs(d, ev->u.entry.fv[i].p, ev->u.entry.fv[i].len);
		break;
	case RDB_EV_STREAM_META:
		mixu(d, ev->u.meta.length);
		mixid(d, &ev->u.meta.last_id);
		mixu(d, (uint64_t)ev->u.meta.has_v2);
		if (ev->u.meta.has_v2) {
			mixid(d, &ev->u.meta.first_id);
			mixid(d, &ev->u.meta.max_deleted_id);
			mixu(d, ev->u.meta.entries_added);
		}
		mixu(d, ev->u.meta.ngroups);
		break;
	case RDB_EV_STREAM_GROUP:
		mixs(d, ev->u.group.name.p, ev->u.group.name.len);
		mixid(d, &ev->u.group.last_id);
		mixu(d, (uint64_t)ev->u.group.entries_read);
		mixu(d, ev->u.group.npel);
		mixu(d, ev->u.group.nconsumers);
		break;
	case RDB_EV_STREAM_PEL:
		mixid(d, &ev->u.pel.id);
		mixu(d, (uint64_t)ev->u.pel.delivery_ms);
		mixu(d, ev->u.pel.delivery_count);
		break;
	case RDB_EV_STREAM_CONSUMER:
		mixs(d, ev->u.consumer.name.p, ev->u.consumer.name.len);
		mixu(d, (uint64_t)ev->u.consumer.seen_ms);
		mixu(d, (uint64_t)ev->u.consumer.active_ms);
		mixu(d, ev->u.consumer.npel);
		break;
	case RDB_EV_STREAM_CPEL:
		mixid(d, &ev->u.cpel);
		break;
	case RDB_EV_KEY_END:
		break;
	default:
		abort();	/* an event type the header does not list */
	}
}

static void
decode(struct run *r, enum rdb_mode mode, const uint8_t *data, size_t size,
    int pieces)
{
	struct rdb_limits lim = { 7, 1024 * 1024 };
	struct rdb_event ev;
	struct rdb *rdb;
	const char *lp;
	size_t off = 0, n, ll;

	uint32_t state = (uint32_t)size;
	int s = RDB_AGAIN;

	memset(r, 0, sizeof(*r));
	dg_init(&r->dg);
	if ((rdb = rdb_new(mode, &lim)) == NULL)
		abort();
	while (off < size) {
		n = pieces ? next_piece(&state) : size;
		if (n > size - off)
			n = size - off;
		if (rdb_feed(rdb, data + off, n) == -1) {
			s = RDB_ERR;
			break;
		}
		off += n;
		while ((s = rdb_next(rdb, &ev)) == RDB_OK) {
			r->nevents++;
			mix_event(&r->dg, &ev);
		}
		if (s != RDB_AGAIN)
			break;
	}
	r->status = s;
	r->offset = rdb_offset(rdb);
	if (s == RDB_ERR)
		snprintf(r->err, sizeof(r->err), "%s", rdb_error(rdb));
	if (s == RDB_DONE) {
		/* what follows the trailer is handed back untouched */
		rdb_leftover(rdb, &lp, &ll);
		if (ll > size - r->offset ||
		    (!pieces && ll != size - r->offset))
			abort();
		if (ll > 0 && memcmp(lp, data + r->offset, ll) != 0)
			abort();
	}
	if (r->offset > size)
		abort();
	rdb_free(rdb);
}

static void
compare(const struct run *a, const struct run *b)
{
	if (a->status != b->status || a->nevents != b->nevents ||
	    !dg_equal(&a->dg, &b->dg) ||
	    (a->status == RDB_DONE && a->offset != b->offset)) {
		fprintf(stderr, "fuzz-rdb: whole: status %d, %llu events, "
		    "offset %llu; pieces: status %d, %llu events, offset %llu\n",
		    a->status, (unsigned long long)a->nevents,
		    (unsigned long long)a->offset, b->status,
		    (unsigned long long)b->nevents,
		    (unsigned long long)b->offset);
		abort();
	}
	if (a->status == RDB_ERR && strcmp(a->err, b->err) != 0) {
		fprintf(stderr, "fuzz-rdb: errors differ:\n  whole:  %s\n  "
		    "pieces: %s\n", a->err, b->err);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum rdb_mode modes[] = { RDB_MODE_FILE, RDB_MODE_FLOW };
	struct run whole, pieces;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		decode(&whole, modes[i], data, size, 0);
		decode(&pieces, modes[i], data, size, 1);
		compare(&whole, &pieces);
	}
	return 0;
}
