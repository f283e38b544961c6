/*
 * rdbstream.c - stream values of the RDB decoder (rdb_int.h): the node
 * listpacks and their entries (delta-encoded against the master entry),
 * the stream metadata, consumer groups with their PEL, and consumers
 * with theirs (types 15, 19 and 21).
 *
 * A node is held whole; an entry's fields and values point into it, or
 * into the arena for integer elements, whose text compact.c keeps only
 * until the next element.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "compact.h"
#include "rdb_int.h"

/* ------------------------------------------------------------ streams */

static int
arena_ref(struct rdb *r, struct kctx *k, const char *p, size_t len, int isint)
{
	struct sref *s;

	if (k->nrefs == k->caprefs) {
		size_t cap = k->caprefs ? k->caprefs * 2 : 32;

		if ((s = reallocarray(k->refs, cap, sizeof(*s))) == NULL)
			return rdb_oom(r);
		k->refs = s;
		k->caprefs = cap;
	}
	s = &k->refs[k->nrefs++];
	s->len = len;
	if (!isint) {
		s->p = p;
		return S_OK;
	}
	s->p = NULL;
	s->off = k->arena.len;
	if (buf_add(&k->arena, p, len) == -1)
		return rdb_oom(r);
	return S_OK;
}

static int
lp_elem(struct rdb *r, struct kctx *k, const char **p, size_t *len)
{
	int rc;

	if ((rc = compact_next(&k->it, p, len)) == -1)
		return rdb_fail(r, "stream node: %s", k->it.err);
	if (rc == 0)
		return rdb_fail(r, "stream node listpack ends inside an entry");
	return S_OK;
}

static int
lp_int(struct rdb *r, struct kctx *k, int64_t *v)
{
	const char *p;
	size_t len;

	TRY(lp_elem(r, k, &p, &len));
	if (!k->it.isint && rdb_parse_int(p, len, v) == -1)
		return rdb_fail(r, "stream node: element %llu is not an "
		    "integer", (unsigned long long)k->it.index - 1);
	if (k->it.isint)
		*v = k->it.ival;
	return S_OK;
}

/* Open a node listpack and read its master entry. */
static int
stream_node_open(struct rdb *r, struct kctx *k)
{
	int64_t count, deleted, nf, i, zero;
	const char *p;
	size_t len;

	if (lp_open(&k->it, k->cp, k->clen) == -1)
		return rdb_fail(r, "stream node: %s", k->it.err);
	k->nrefs = 0;
	k->arena.len = 0;
	TRY(lp_int(r, k, &count));
	TRY(lp_int(r, k, &deleted));
	TRY(lp_int(r, k, &nf));
	if (nf < 0 || (uint64_t)nf > k->clen)
		return rdb_fail(r, "stream node: bad master field count %lld",
		    (long long)nf);
	for (i = 0; i < nf; i++) {
		TRY(lp_elem(r, k, &p, &len));
		TRY(arena_ref(r, k, p, len, k->it.isint));
	}
	TRY(lp_int(r, k, &zero));
	if (zero != 0)
		return rdb_fail(r, "stream node: master entry not terminated "
		    "by 0");
	k->nmaster = k->nrefs;
	return S_OK;
}

/* K_ST_ENT: the next live entry of the node, or the node's end. */
static int
stream_entry(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	int64_t flags, msd, seqd, nf, lpcount, i;
	const char *p;
	size_t len, j, nfields;
	int rc;

	for (;;) {
		if ((rc = compact_next(&k->it, &p, &len)) == -1)
			return rdb_fail(r, "stream node: %s", k->it.err);
		if (rc == 0) {
			k->c[0]--;
			k->st = K_ST_NODE;
			return S_OK;
		}
		if (!k->it.isint)
			return rdb_fail(r, "stream node: entry flags are not "
			    "an integer");
		flags = k->it.ival;
		k->nrefs = k->nmaster;
		TRY(lp_int(r, k, &msd));
		TRY(lp_int(r, k, &seqd));
		if (flags & 2) {
			for (j = 0; j < k->nmaster; j++) {
				TRY(arena_ref(r, k, NULL, 0, 0));
				k->refs[k->nrefs - 1] = k->refs[j];
				TRY(lp_elem(r, k, &p, &len));
				TRY(arena_ref(r, k, p, len, k->it.isint));
			}
		} else {
			TRY(lp_int(r, k, &nf));
			if (nf < 0 || (uint64_t)nf > k->clen)
				return rdb_fail(r, "stream node: bad field "
				    "count %lld", (long long)nf);
			for (i = 0; i < 2 * nf; i++) {
				TRY(lp_elem(r, k, &p, &len));
				TRY(arena_ref(r, k, p, len, k->it.isint));
			}
		}
		TRY(lp_int(r, k, &lpcount));
		if (flags & 1)
			continue;
		nfields = (k->nrefs - k->nmaster) / 2;
		if (k->capfv < 2 * nfields) {
			struct rdb_str *fv;

			if ((fv = reallocarray(k->fv, 2 * nfields,
			    sizeof(*fv))) == NULL)
				return rdb_oom(r);
			k->fv = fv;
			k->capfv = 2 * nfields;
		}
		for (j = 0; j < 2 * nfields; j++) {
			struct sref *s = &k->refs[k->nmaster + j];

			k->fv[j].p = s->p ? s->p : k->arena.p + s->off;
			k->fv[j].len = s->len;
		}
		kev(k, ev, RDB_EV_STREAM_ENTRY);
		ev->u.entry.id.ms = k->node.ms + (uint64_t)msd;
		ev->u.entry.id.seq = k->node.seq + (uint64_t)seqd;
		ev->u.entry.nfields = nfields;
		ev->u.entry.fv = k->fv;
		return S_EV;
	}
}

static int
stream_meta(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t *v = k->v;

	if (k->type == 15)
		TRY(rdb_fields(r, "LLLL", v));
	else
		TRY(rdb_fields(r, "LLLLLLLLL", v));
	kev(k, ev, RDB_EV_STREAM_META);
	ev->u.meta.length = v[0];
	ev->u.meta.last_id.ms = v[1];
	ev->u.meta.last_id.seq = v[2];
	if (k->type == 15) {
		ev->u.meta.has_v2 = 0;
		memset(&ev->u.meta.first_id, 0, sizeof(ev->u.meta.first_id));
		memset(&ev->u.meta.max_deleted_id, 0,
		    sizeof(ev->u.meta.max_deleted_id));
		ev->u.meta.entries_added = 0;
		ev->u.meta.ngroups = v[3];
	} else {
		ev->u.meta.has_v2 = 1;
		ev->u.meta.first_id.ms = v[3];
		ev->u.meta.first_id.seq = v[4];
		ev->u.meta.max_deleted_id.ms = v[5];
		ev->u.meta.max_deleted_id.seq = v[6];
		ev->u.meta.entries_added = v[7];
		ev->u.meta.ngroups = v[8];
	}
	k->c[1] = ev->u.meta.ngroups;
	k->st = K_ST_GROUP;
	return S_EV;
}

/*
 * K_ST_GSCAN: the group event carries the consumer count, which follows
 * the group's PEL; look ahead over the PEL without consuming it.
 */
static int
stream_gscan(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t nc;
	size_t sz;

	while (k->c[3] < k->v[3]) {
		NEED(r, k->scan + 25);
		if ((sz = rdb_len_size(cur(r)[k->scan + 24])) == 0)
			return rdb_fail(r, "bad length encoding in a PEL "
			    "entry");
		k->scan += 24 + sz;
		k->c[3]++;
	}
	TRY(peek_len(r, k->scan, &nc, &sz));
	kev(k, ev, RDB_EV_STREAM_GROUP);
	ev->u.group.name.p = k->name.p;
	ev->u.group.name.len = k->name.len;
	ev->u.group.last_id.ms = k->v[0];
	ev->u.group.last_id.seq = k->v[1];
	ev->u.group.entries_read = (int64_t)k->v[2];
	ev->u.group.npel = k->v[3];
	ev->u.group.nconsumers = nc;
	k->c[2] = k->v[3];
	k->st = K_ST_PEL;
	return S_EV;
}

int
rdb_stream_step(struct rdb *r, struct kctx *k, struct rdb_event *ev)
{
	uint64_t v[4];

	switch (k->st) {
	case K_ST_NODE:
		if (k->c[0] == 0) {
			k->st = K_ST_META;
			return S_OK;
		}
		TRY(rdb_read_copy(r, k, 16, "stream node key", &k->name));
		if (k->name.len != 16)
			return rdb_fail(r, "stream node key of %zu bytes, not "
			    "16", k->name.len);
		k->node.ms = be64((unsigned char *)k->name.p);
		k->node.seq = be64((unsigned char *)k->name.p + 8);
		k->st = K_ST_LP;
		return S_OK;
	case K_ST_LP:
		/* entries point into the node: it must not move */
		TRY(rdb_read_copy(r, k, r->lim.max_blob, "container",
		    &k->cbuf));
		k->cp = k->cbuf.p;
		k->clen = k->cbuf.len;
		TRY(stream_node_open(r, k));
		k->st = K_ST_ENT;
		return S_OK;
	case K_ST_ENT:
		return stream_entry(r, k, ev);
	case K_ST_META:
		return stream_meta(r, k, ev);
	case K_ST_GROUP:
		if (k->c[1] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(rdb_read_copy(r, k, r->lim.max_blob, "group name",
		    &k->name));
		k->st = K_ST_GHDR;
		return S_OK;
	case K_ST_GHDR:
		if (k->type == 15) {
			TRY(rdb_fields(r, "LLL", v));
			k->v[0] = v[0];
			k->v[1] = v[1];
			k->v[2] = (uint64_t)-1;
			k->v[3] = v[2];
		} else
			TRY(rdb_fields(r, "LLLL", k->v));
		k->scan = 0;
		k->c[3] = 0;
		k->st = K_ST_GSCAN;
		return S_OK;
	case K_ST_GSCAN:
		return stream_gscan(r, k, ev);
	case K_ST_PEL:
		if (k->c[2] == 0) {
			TRY(read_len(r, v));
			k->c[4] = v[0];
			k->st = K_ST_CONS;
			return S_OK;
		}
		TRY(rdb_fields(r, "I8L", v));
		k->c[2]--;
		kev(k, ev, RDB_EV_STREAM_PEL);
		ev->u.pel.id.ms = v[0];
		ev->u.pel.id.seq = v[1];
		ev->u.pel.delivery_ms = (int64_t)v[2];
		ev->u.pel.delivery_count = v[3];
		return S_EV;
	case K_ST_CONS:
		if (k->c[4] == 0) {
			k->c[1]--;
			k->st = K_ST_GROUP;
			return S_OK;
		}
		TRY(rdb_read_copy(r, k, r->lim.max_blob, "consumer name",
		    &k->name));
		k->st = K_ST_CHDR;
		return S_OK;
	case K_ST_CHDR:
		if (k->type == 21)
			TRY(rdb_fields(r, "88L", v));
		else {
			TRY(rdb_fields(r, "8L", v));
			v[2] = v[1];
			v[1] = (uint64_t)-1;
		}
		kev(k, ev, RDB_EV_STREAM_CONSUMER);
		ev->u.consumer.name.p = k->name.p;
		ev->u.consumer.name.len = k->name.len;
		ev->u.consumer.seen_ms = (int64_t)v[0];
		ev->u.consumer.active_ms = (int64_t)v[1];
		ev->u.consumer.npel = v[2];
		k->c[5] = v[2];
		k->st = K_ST_CPEL;
		return S_EV;
	case K_ST_CPEL:
		if (k->c[5] == 0) {
			k->c[4]--;
			k->st = K_ST_CONS;
			return S_OK;
		}
		TRY(rdb_fields(r, "I", v));
		k->c[5]--;
		kev(k, ev, RDB_EV_STREAM_CPEL);
		ev->u.cpel.ms = v[0];
		ev->u.cpel.seq = v[1];
		return S_EV;
	}
	return rdb_fail(r, "internal: bad stream state %d", k->st);
}

