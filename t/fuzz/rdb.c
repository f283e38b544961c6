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

struct run {
	uint64_t	 h1, h2;	/* two independent digests */
	uint64_t	 nevents;
	int		 status;	/* RDB_DONE, RDB_ERR, or RDB_AGAIN */
	char		 err[512];
	uint64_t	 offset;
};

static void
mix(struct run *r, const void *v, size_t n)
{
	const unsigned char *p = v;
	size_t i;

	for (i = 0; i < n; i++) {
		r->h1 = (r->h1 ^ p[i]) * 0x100000001b3ULL;
		r->h2 = (r->h2 + p[i] + 1) * 0x9e3779b97f4a7c15ULL;
		r->h2 ^= r->h2 >> 29;
	}
}

static void
mixu(struct run *r, uint64_t v)
{
	mix(r, &v, sizeof(v));
}

static void
mixs(struct run *r, const char *p, size_t n)
{
	mixu(r, n);
	if (n > 0)
		mix(r, p, n);
}

static void
mixid(struct run *r, const struct rdb_stream_id *id)
{
	mixu(r, id->ms);
	mixu(r, id->seq);
}

static void
mix_event(struct run *r, const struct rdb_event *ev)
{
	size_t i;

	mixu(r, ev->type);
	switch (ev->type) {
	case RDB_EV_AUX:
		mixs(r, ev->u.aux.name.p, ev->u.aux.name.len);
		mixs(r, ev->u.aux.value.p, ev->u.aux.value.len);
		return;
	case RDB_EV_DB:
		mixu(r, ev->db);
		return;
	case RDB_EV_FUNCTION:
		mixs(r, ev->u.func.p, ev->u.func.len);
		return;
	case RDB_EV_MODULE_AUX:
		mixs(r, ev->u.module_name.p, ev->u.module_name.len);
		return;
	case RDB_EV_JOURNAL:
		mixu(r, ev->u.journal.nrec);
		mixs(r, ev->u.journal.p, ev->u.journal.len);
		return;
	case RDB_EV_FULLSYNC_END:
	case RDB_EV_EOF:
		return;
	case RDB_EV_JOURNAL_OFFSET:
		mixu(r, ev->u.journal_offset);
		return;
	default:
		break;
	}
	/* key-related events */
	mixu(r, ev->eid);
	mixu(r, (uint64_t)ev->db);
	mixs(r, ev->key.p, ev->key.len);
	mixu(r, ev->vtype);
	mixu(r, ev->enc);
	if (strlen(rdb_vtype_name(ev->vtype)) == 0)
		abort();
	switch (ev->type) {
	case RDB_EV_KEY:
		mixu(r, (uint64_t)ev->u.k.expire_ms);
		mixu(r, ev->u.k.count);
		if (ev->u.k.type_name != NULL)
			mixs(r, ev->u.k.type_name, strlen(ev->u.k.type_name));
		break;
	case RDB_EV_STR:
		mixu(r, (uint64_t)ev->u.str.part);
		mixs(r, ev->u.str.p, ev->u.str.len);
		mixu(r, ev->u.str.off);
		mixu(r, (uint64_t)ev->u.str.more);
		break;
	case RDB_EV_ITEM:
		mixu(r, ev->u.item.index);
		mix(r, &ev->u.item.score, sizeof(ev->u.item.score));
		mixu(r, (uint64_t)ev->u.item.expire_ms);
		break;
	case RDB_EV_STREAM_ENTRY:
		mixid(r, &ev->u.entry.id);
		mixu(r, ev->u.entry.nfields);
		for (i = 0; i < 2 * ev->u.entry.nfields; i++)
			mixs(r, ev->u.entry.fv[i].p, ev->u.entry.fv[i].len);
		break;
	case RDB_EV_STREAM_META:
		mixu(r, ev->u.meta.length);
		mixid(r, &ev->u.meta.last_id);
		mixu(r, (uint64_t)ev->u.meta.has_v2);
		if (ev->u.meta.has_v2) {
			mixid(r, &ev->u.meta.first_id);
			mixid(r, &ev->u.meta.max_deleted_id);
			mixu(r, ev->u.meta.entries_added);
		}
		mixu(r, ev->u.meta.ngroups);
		break;
	case RDB_EV_STREAM_GROUP:
		mixs(r, ev->u.group.name.p, ev->u.group.name.len);
		mixid(r, &ev->u.group.last_id);
		mixu(r, (uint64_t)ev->u.group.entries_read);
		mixu(r, ev->u.group.npel);
		mixu(r, ev->u.group.nconsumers);
		break;
	case RDB_EV_STREAM_PEL:
		mixid(r, &ev->u.pel.id);
		mixu(r, (uint64_t)ev->u.pel.delivery_ms);
		mixu(r, ev->u.pel.delivery_count);
		break;
	case RDB_EV_STREAM_CONSUMER:
		mixs(r, ev->u.consumer.name.p, ev->u.consumer.name.len);
		mixu(r, (uint64_t)ev->u.consumer.seen_ms);
		mixu(r, (uint64_t)ev->u.consumer.active_ms);
		mixu(r, ev->u.consumer.npel);
		break;
	case RDB_EV_STREAM_CPEL:
		mixid(r, &ev->u.cpel);
		break;
	case RDB_EV_KEY_END:
		break;
	default:
		abort();	/* an event type the header does not list */
	}
}

/* Piece sizes 1..13, irregular, the same for every run of one input. */
static size_t
next_piece(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return 1 + (*state >> 16) % 13;
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
	r->h1 = 0xcbf29ce484222325ULL;
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
			mix_event(r, &ev);
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
		if (ll > size - r->offset || (!pieces && ll != size - r->offset))
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
	    a->h1 != b->h1 || a->h2 != b->h2 || (a->status == RDB_DONE && a->offset != b->offset)) {
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
