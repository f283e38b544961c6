/*
 * snapshot.c - a shard's full sync on its flow, in Dragonfly's dialect
 * (snapshot.md): header and AUX fields, then the shard's buckets db by db,
 * a few per event-loop turn, values written element by element so that a
 * value bigger than --chunk-size is cut at element boundaries into
 * TAGGED_CHUNKs (8.2) while other entries and JOURNAL_BLOBs (5) go out
 * between its pieces; every flushed buffer of 256 B..1 MiB is compressed
 * when that saves at least 5 % (7); then FULLSYNC_END, and at STARTSTABLE
 * JOURNAL_OFFSET, EOF and the token (replication.md 4.3-4.4).
 *
 * Consistency (replication.md 4.2): every key carries the version of the
 * last snapshot that serialized it.  A write to a key the traversal has not
 * reached yet serializes the key first (snap_touch), and a write to a key
 * whose value is being cut into chunks completes that value first, so no
 * journal record for a key can precede its snapshot entry.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "crc64.h"
#include "rdbenc.h"
#include "dflymaster.h"
#include "options.h"
#include "obuf.h"
#include "obj.h"
#include "keyspace.h"
#include "stats.h"
#include "flow.h"
#include "text.h"
#include "snapshot.h"

#define FLUSH_MIN	8192	/* buffer size that triggers a flush after a bucket */

#define BLOB_MIN	256	/* snapshot.md 7: compress 256 B .. 1 MiB */

#define BLOB_MAX	(1024 * 1024)

#define LIST_NODE_MAX	8192	/* quicklist node size (list-max-listpack-size -2) */

#define STREAM_NODE_MAX	100	/* stream-node-max-entries */

#define MAX_INPROG	2	/* values being chunked at the same time */

#define STEP_BUCKETS	64

#define STEP_ELEMENTS	256

struct vser {
	const struct obj *o;
	int		  rtype;
	int		  started;
	size_t		  pos;
	struct dent	**arr;		/* members of sets, hashes, zsets */
	size_t		  narr;
	size_t		 *nodes;	/* list: first element of each node */
	size_t		  nnodes;
};

struct inprog {
	struct dent	*e;
	int		 db;
	uint32_t	 sid;
	int		 split;
	struct enc	 eb;
	struct vser	 v;
};

struct snapshot {
	struct flow	*f;
	struct shard	*sh;
	uint64_t	 ver;
	int		 db;		/* traversal cursor */
	size_t		 bucket;
	struct enc	 sb;		/* complete items not yet flushed */
	int		 sb_db;		/* db selected in this flush, -1: none */
	uint32_t	 next_sid;
	struct inprog	*ip[MAX_INPROG];
	int		 nip;
	int		 traversed;
	int		 end_written;
};

static uint64_t	snapshot_versions;

/* ---------------------------------------------------------------- values */

static int
cmp_zmember(const void *a, const void *b)
{
	const struct dent	*x = *(struct dent *const *)a;
	const struct dent	*y = *(struct dent *const *)b;
	size_t			 n = x->klen < y->klen ? x->klen : y->klen;
	int			 r;

	if (x->score < y->score)
		return -1;
	if (x->score > y->score)
		return 1;
	if ((r = memcmp(x->key, y->key, n)) != 0)
		return r;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static void
collect(struct vser *v, struct dict *d, int sorted)
{
	size_t		 i, n = 0;
	struct dent	*e;

	if ((v->arr = reallocarray(NULL, d->count + 1, sizeof(*v->arr))) ==
	    NULL)
		fatal("reallocarray");
	for (i = 0; i < dict_buckets(d); i++)
		for (e = d->b[i]; e != NULL; e = e->next)
			v->arr[n++] = e;
	v->narr = n;
	if (sorted)
		qsort(v->arr, n, sizeof(*v->arr), cmp_zmember);
}

static size_t
lp_elem_size(const struct str *s)
{
	long long	 x;

	if (s->len <= 20 && parse_ll(s->p, s->len, &x) == 0)
		return 10;
	return s->len + (s->len < 64 ? 1 : s->len < 4096 ? 2 : 5) +
	    enc_lp_backlen_size(s->len + 5);
}

/* quicklist nodes of at most LIST_NODE_MAX bytes (snapshot.md 6.2) */
static void
list_nodes(struct vser *v, struct list *l)
{
	size_t	 i, sz = 0;

	if ((v->nodes = reallocarray(NULL, l->n + 1, sizeof(*v->nodes))) ==
	    NULL)
		fatal("reallocarray");
	v->nnodes = 0;
	for (i = 0; i < l->n; i++) {
		size_t	 es = lp_elem_size(list_at(l, i));

		if (v->nnodes == 0 || sz + es > LIST_NODE_MAX) {
			v->nodes[v->nnodes++] = i;
			sz = 7;
		}
		sz += es;
	}
	v->nodes[v->nnodes] = l->n;
}

static void
vser_init(struct vser *v, const struct obj *o)
{
	memset(v, 0, sizeof(*v));
	v->o = o;
	v->rtype = obj_rdb_type(o);
	switch (v->rtype) {
	case ENC_T_SET:
	case ENC_T_HASH:
	case ENC_T_SET_WITH_EXPIRY:
	case ENC_T_HASH_WITH_EXPIRY:
	case ENC_T_HASH_LISTPACK:
	case ENC_T_SET_INTSET:
		collect(v, o->d, 0);
		break;
	case ENC_T_ZSET_2:
	case ENC_T_ZSET_LISTPACK:
		collect(v, o->d, 1);
		break;
	case ENC_T_LIST_QUICKLIST_2:
		list_nodes(v, (struct list *)&o->l);
		break;
	default:
		break;
	}
}

static void
vser_free(struct vser *v)
{
	free(v->arr);
	free(v->nodes);
	v->arr = NULL;
	v->nodes = NULL;
}

static void
put_listpack(struct enc *e, struct enc_lp *lp)
{
	const uint8_t	*p;
	size_t		 n;

	p = enc_lp_finish(lp, &n);
	enc_str_plain(e, p, n);
	enc_lp_free(lp);
}

static void
compact_value(struct vser *v, struct enc *e)
{
	struct enc_lp	 lp;
	struct enc	 tmp;
	int64_t		*ints;
	size_t		 i;
	char		 num[64];

	switch (v->rtype) {
	case ENC_T_SET_INTSET:
		if ((ints = reallocarray(NULL, v->narr + 1, sizeof(*ints))) ==
		    NULL)
			fatal("reallocarray");
		for (i = 0; i < v->narr; i++) {
			long long	 x = 0;

			parse_ll(v->arr[i]->key, v->arr[i]->klen, &x);
			ints[i] = x;
		}
		enc_init(&tmp);
		enc_intset(&tmp, ints, v->narr);
		enc_str_plain(e, tmp.p, tmp.len);
		enc_free(&tmp);
		free(ints);
		break;
	case ENC_T_HASH_LISTPACK:
		enc_lp_init(&lp);
		for (i = 0; i < v->narr; i++) {
			struct str	*val = v->arr[i]->val;

			enc_lp_str(&lp, v->arr[i]->key, v->arr[i]->klen);
			enc_lp_str(&lp, val->p, val->len);
		}
		put_listpack(e, &lp);
		break;
	case ENC_T_ZSET_LISTPACK:
		enc_lp_init(&lp);
		for (i = 0; i < v->narr; i++) {
			size_t	 n = fmt_double(num, sizeof(num),
			    v->arr[i]->score);

			enc_lp_str(&lp, v->arr[i]->key, v->arr[i]->klen);
			enc_lp_str(&lp, num, n);
		}
		put_listpack(e, &lp);
		break;
	}
}

static void
stream_node(const struct stream *x, size_t node, struct enc *e)
{
	size_t		 first = node * STREAM_NODE_MAX, end, i, j, nf;
	const struct sentry *m = &x->e[first];
	const char	**pv;
	size_t		*pl;
	struct enc_lp	 lp;
	struct enc_id	 key = { m->id.ms, m->id.seq };

	end = first + STREAM_NODE_MAX < x->n ? first + STREAM_NODE_MAX : x->n;
	nf = m->nfv / 2;
	if ((pv = reallocarray(NULL, m->nfv + 1, sizeof(*pv))) == NULL ||
	    (pl = reallocarray(NULL, m->nfv + 1, sizeof(*pl))) == NULL)
		fatal("reallocarray");
	/* snapshot.md 10.2: master entry = fields of the node's first entry */
	for (j = 0; j < nf; j++) {
		pv[j] = m->fv[2 * j].p;
		pl[j] = m->fv[2 * j].len;
	}
	enc_lp_init(&lp);
	enc_stream_lp_begin(&lp, end - first, 0, pv, pl, nf);
	free(pv);
	free(pl);
	for (i = first; i < end; i++) {
		const struct sentry *se = &x->e[i];
		int		 same = se->nfv == m->nfv;
		size_t		 k = 0;

		for (j = 0; same && j < nf; j++)
			same = se->fv[2 * j].len == m->fv[2 * j].len &&
			    memcmp(se->fv[2 * j].p, m->fv[2 * j].p,
			    se->fv[2 * j].len) == 0;
		if ((pv = reallocarray(NULL, se->nfv + 1, sizeof(*pv))) ==
		    NULL || (pl = reallocarray(NULL, se->nfv + 1,
		    sizeof(*pl))) == NULL)
			fatal("reallocarray");
		for (j = 0; j < se->nfv; j++)
			if (!same || j % 2 == 1) {
				pv[k] = se->fv[j].p;
				pl[k++] = se->fv[j].len;
			}
		enc_stream_lp_entry(&lp, same ? ENC_STREAM_SAMEFIELDS : 0,
		    (int64_t)(se->id.ms - m->id.ms),
		    (int64_t)(se->id.seq - m->id.seq), pv, pl, k);
		free(pv);
		free(pl);
	}
	{
		const uint8_t	*p;
		size_t		 n;

		p = enc_lp_finish(&lp, &n);
		enc_stream_node(e, key, p, n);
		enc_lp_free(&lp);
	}
}

static struct enc_id
eid(struct sid s)
{
	struct enc_id	 id = { s.ms, s.seq };

	return id;
}

/* snapshot.md 6.11: everything after the last node travels together */
static void
stream_tail(const struct stream *x, struct enc *e)
{
	struct sid	 first = x->n ? x->e[0].id : (struct sid){ 0, 0 };
	size_t		 g, i, j, npel;

	enc_stream_meta(e, ENC_T_STREAM_LISTPACKS_3, x->n, eid(x->last),
	    eid(first), eid(x->maxdel), x->added, x->ng);
	for (g = 0; g < x->ng; g++) {
		const struct group *gr = &x->g[g];

		enc_stream_group(e, ENC_T_STREAM_LISTPACKS_3, gr->name.p,
		    gr->name.len, eid(gr->last), gr->entries_read, gr->npel);
		for (i = 0; i < gr->npel; i++)
			enc_stream_pel(e, eid(gr->pel[i].id),
			    gr->pel[i].delivery_ms, gr->pel[i].count);
		enc_count(e, gr->ncons);
		for (j = 0; j < gr->ncons; j++) {
			const struct consumer *cn = &gr->cons[j];

			for (i = 0, npel = 0; i < gr->npel; i++)
				npel += gr->pel[i].consumer == j;
			enc_stream_consumer(e, ENC_T_STREAM_LISTPACKS_3,
			    cn->name.p, cn->name.len, cn->seen_ms,
			    cn->active_ms, npel);
			for (i = 0; i < gr->npel; i++)
				if (gr->pel[i].consumer == j)
					enc_stream_rawid(e,
					    eid(gr->pel[i].id));
		}
	}
}

static void
list_node(struct vser *v, size_t node, struct enc *e)
{
	struct enc_lp	 lp;
	const uint8_t	*p;
	size_t		 i, n;
	struct list	*l = (struct list *)&v->o->l;

	enc_lp_init(&lp);
	for (i = v->nodes[node]; i < v->nodes[node + 1]; i++)
		enc_lp_str(&lp, list_at(l, i)->p, list_at(l, i)->len);
	p = enc_lp_finish(&lp, &n);
	enc_ql_node(e, ENC_QL_PACKED, p, n, 0);
	enc_lp_free(&lp);
}

/*
 * Write the next element of the value (the header with the first one).
 * Returns 1 while elements remain: the caller may cut the value here.
 */
static int
vser_step(struct vser *v, struct enc *e)
{
	const struct obj *o = v->o;
	struct dent	 *m;
	int		  first = !v->started;

	v->started = 1;
	switch (v->rtype) {
	case ENC_T_STRING:
	case ENC_T_JSON:
		enc_str(e, o->s.p, o->s.len);
		return 0;
	case ENC_T_SET_INTSET:
	case ENC_T_HASH_LISTPACK:
	case ENC_T_ZSET_LISTPACK:
		compact_value(v, e);
		return 0;
	case ENC_T_SET:
	case ENC_T_HASH:
	case ENC_T_SET_WITH_EXPIRY:
	case ENC_T_HASH_WITH_EXPIRY:
	case ENC_T_ZSET_2:
		if (first)
			enc_count(e, v->narr);
		if (v->pos == v->narr)
			return 0;
		m = v->arr[v->pos++];
		if (v->rtype == ENC_T_SET)
			enc_set_member(e, m->key, m->klen);
		else if (v->rtype == ENC_T_HASH)
			enc_hash_field(e, m->key, m->klen,
			    ((struct str *)m->val)->p,
			    ((struct str *)m->val)->len);
		else if (v->rtype == ENC_T_SET_WITH_EXPIRY)
			/* rdb_save.cc: -1, or the time since the base */
			enc_set_member_ttl(e, m->key, m->klen,
			    m->mexp ? (long long)m->mexp : -1);
		else if (v->rtype == ENC_T_HASH_WITH_EXPIRY)
			enc_hash_field_ttl(e, m->key, m->klen,
			    ((struct str *)m->val)->p,
			    ((struct str *)m->val)->len,
			    m->mexp ? (long long)m->mexp : -1);
		else
			enc_zset_member(e, m->key, m->klen, m->score);
		return v->pos < v->narr;
	case ENC_T_LIST_QUICKLIST_2:
		if (first)
			enc_count(e, v->nnodes);
		if (v->pos == v->nnodes)
			return 0;
		list_node(v, v->pos++, e);
		return v->pos < v->nnodes;
	case ENC_T_STREAM_LISTPACKS_3: {
		size_t	 nn = (o->x.n + STREAM_NODE_MAX - 1) / STREAM_NODE_MAX;

		if (first)
			enc_count(e, nn);
		if (v->pos < nn)
			stream_node(&o->x, v->pos++, e);
		if (v->pos < nn)
			return 1;
		stream_tail(&o->x, e);
		return 0;
	}
	}
	fatalx("snapshot: no RDB type for object type %d", o->type);
}

/* DUMP payload (redis-rdb.md): type, value, RDB version 9, CRC-64 */
int
snap_dump(const struct obj *o, struct obuf *out)
{
	struct vser	 v;
	struct enc	 e;
	uint64_t	 crc;
	uint8_t		 le[8];
	int		 i;

	enc_init(&e);
	vser_init(&v, o);
	enc_u8(&e, (uint8_t)v.rtype);
	while (vser_step(&v, &e))
		;
	vser_free(&v);
	enc_u16le(&e, 9);
	crc = crc64(0, e.p, e.len);
	for (i = 0; i < 8; i++)
		le[i] = (uint8_t)(crc >> (8 * i));
	enc_bytes(&e, le, 8);
	obuf_add(out, e.p, e.len);
	enc_free(&e);
	return 0;
}

/* ---------------------------------------------------------------- flushes */

static void
snap_flush(struct snapshot *s)
{
	struct enc	 blob;
	int		 r = 0;

	if (s->sb.len == 0)
		return;
	if (options()->compression != COMP_NONE && s->sb.len >= BLOB_MIN &&
	    s->sb.len <= BLOB_MAX) {
		enc_init(&blob);
		r = enc_blob(&blob, options()->compression == COMP_LZ4 ?
		    ENC_BLOB_LZ4 : ENC_BLOB_ZSTD, s->sb.p, s->sb.len, 2);
		if (r == 1)
			flow_emit(s->f, blob.p, blob.len);
		enc_free(&blob);
	}
	if (r != 1)
		flow_emit(s->f, s->sb.p, s->sb.len);
	enc_reset(&s->sb);
	s->sb_db = -1;		/* snapshot.md 4.1: forgotten after a flush */
}

static void
select_db(struct snapshot *s, int db)
{
	if (s->sb_db != db) {
		enc_selectdb(&s->sb, (uint64_t)db);
		s->sb_db = db;
	}
}

/* snapshot.md 8.2: the bytes so far become one tagged piece, then flush */
static void
emit_piece(struct snapshot *s, struct inprog *p)
{
	if (p->eb.len == 0)
		return;
	if (!p->split)
		select_db(s, p->db);
	enc_tagged_chunk(&s->sb, p->sid, p->eb.p, p->eb.len);
	enc_reset(&p->eb);
	p->split = 1;
	snap_flush(s);
}

static struct inprog *
entry_begin(struct snapshot *s, int db, struct dent *e)
{
	struct inprog	*p;
	struct obj	*o = e->val;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	e->ver = s->ver;
	p->e = e;
	p->db = db;
	/* snapshot.md 8.2: a stream id per entry, 1, 2, ..., never 0 */
	if (++s->next_sid == 0)
		s->next_sid = 1;
	p->sid = s->next_sid;
	enc_init(&p->eb);
	if (o->expire_ms >= 0)
		enc_expire_ms(&p->eb, o->expire_ms);
	vser_init(&p->v, o);
	enc_key(&p->eb, (uint8_t)p->v.rtype, e->key, e->klen);
	return p;
}

static void
entry_end(struct snapshot *s, struct inprog *p)
{
	if (p->split)
		emit_piece(s, p);
	else {
		select_db(s, p->db);
		enc_bytes(&s->sb, p->eb.p, p->eb.len);
	}
	enc_free(&p->eb);
	vser_free(&p->v);
	free(p);
}

/*
 * Advance a value by up to `budget` elements, or until one tagged piece went
 * out when `yield` is set (the event loop then runs, so client writes and
 * other entries land between the pieces); 1 when the value is complete.
 */
static int
entry_run(struct snapshot *s, struct inprog *p, size_t budget, int yield)
{
	while (budget-- > 0) {
		if (!vser_step(&p->v, &p->eb)) {
			entry_end(s, p);
			return 1;
		}
		if (options()->chunk_size > 0 &&
		    s->sb.len + p->eb.len > options()->chunk_size) {
			emit_piece(s, p);
			if (yield)
				return 0;
		}
	}
	return 0;
}

static void
inprog_remove(struct snapshot *s, int i)
{
	s->ip[i] = s->ip[--s->nip];
}

static void
serialize_entry(struct snapshot *s, int db, struct dent *e)
{
	struct inprog	*p = entry_begin(s, db, e);

	if (entry_run(s, p, STEP_ELEMENTS, 1))
		return;
	if (s->nip < MAX_INPROG) {
		s->ip[s->nip++] = p;
		return;
	}
	entry_run(s, p, SIZE_MAX, 0);
}

/* ---------------------------------------------------------------- API */

struct snapshot *
snap_start(struct flow *f)
{
	struct snapshot	*s;
	struct enc	 h;
	char		 num[32];
	size_t		 used = 0;
	int		 db;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->f = f;
	s->sh = ks_shard(f->shard);
	s->ver = ++snapshot_versions;
	s->sb_db = -1;
	enc_init(&s->sb);
	s->sh->snap = s;
	s->sh->snap_ver = s->ver;
	for (db = 0; db < NDBS; db++)
		if (s->sh->db[db] != NULL)
			used += s->sh->db[db]->count * 64;
	/* snapshot.md 2.3, in Dragonfly's order; never compressed */
	enc_init(&h);
	enc_header(&h, 9);
	enc_aux(&h, "redis-ver", "6.2.11");
	enc_aux(&h, "df-ver", "df-v1.40.0-dflymaster");
	enc_aux(&h, "redis-bits", "64");
	snprintf(num, sizeof(num), "%lld", (long long)time(NULL));
	enc_aux(&h, "ctime", num);
	snprintf(num, sizeof(num), "%zu", used + 1048576);
	enc_aux(&h, "used-mem", num);
	enc_aux(&h, "aof-preamble", "0");
	if (f->shard == 0) {
		snprintf(num, sizeof(num), "%d", options()->shards);
		enc_aux(&h, "shard-count", num);
		snprintf(num, sizeof(num), "%zu", used);
		enc_aux(&h, "table-mem", num);
	}
	snprintf(num, sizeof(num), "%d", f->shard);
	enc_aux(&h, "shard-id", num);
	flow_emit(f, h.p, h.len);
	enc_free(&h);
	return s;
}

void
snap_free(struct snapshot *s)
{
	int	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nip; i++) {
		enc_free(&s->ip[i]->eb);
		vser_free(&s->ip[i]->v);
		free(s->ip[i]);
	}
	if (s->sh->snap == s) {
		s->sh->snap = NULL;
		/* keys created from now on are ordinary again */
		s->sh->snap_ver = 0;
	}
	enc_free(&s->sb);
	free(s);
}

int
snap_done(const struct snapshot *s)
{
	return s->end_written;
}

static void
traverse(struct snapshot *s)
{
	int	 buckets = 0;

	while (s->db < NDBS && buckets < STEP_BUCKETS) {
		struct dict	*d = s->sh->db[s->db];
		struct dent	*e, *next;

		if (d == NULL || s->bucket > d->mask) {
			s->db++;
			s->bucket = 0;
			continue;
		}
		for (e = d->b[s->bucket]; e != NULL; e = next) {
			next = e->next;
			if (e->ver < s->ver)
				serialize_entry(s, s->db, e);
		}
		s->bucket++;
		buckets++;
		if (s->sb.len >= FLUSH_MIN)
			snap_flush(s);
	}
	if (s->db == NDBS)
		s->traversed = 1;
}

/* One slice of work; returns 1 while the traversal is not finished. */
int
snap_step(struct snapshot *s)
{
	int	 i;

	if (s->end_written)
		return 0;
	for (i = 0; i < s->nip; i++)
		if (entry_run(s, s->ip[i], STEP_ELEMENTS, 1))
			inprog_remove(s, i--);
	if (!s->traversed)
		traverse(s);
	if (!s->traversed || s->nip > 0)
		return 1;
	/* snapshot.md 1: FULLSYNC_END, uncompressed after the last flush */
	snap_flush(s);
	{
		struct enc	 e;

		enc_init(&e);
		enc_fullsync_end(&e);
		flow_emit(s->f, e.p, e.len);
		enc_free(&e);
	}
	s->end_written = 1;
	s->f->fullsync_end_at = s->f->stream_queued;
	log_info("flow %d: FULLSYNC_END after %llu bytes", s->f->shard,
	    (unsigned long long)s->f->stream_queued);
	return 0;
}

/* snapshot.md 5: one record per blob, in journal order */
void
snap_journal(struct snapshot *s, const uint8_t *p, size_t len)
{
	enc_journal_blob(&s->sb, 1, p, len, 0);
	stat_inc(STAT_JOURNAL_BLOBS);
	if (s->sb.len >= FLUSH_MIN)
		snap_flush(s);
}

void
snap_touch(struct shard *sh, int db, struct dent *e)
{
	struct snapshot	*s = sh->snap;
	int		 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nip; i++)
		if (s->ip[i]->e == e) {
			entry_run(s, s->ip[i], SIZE_MAX, 0);
			inprog_remove(s, i);
			return;
		}
	if (e->ver < s->ver) {
		struct inprog	*p = entry_begin(s, db, e);

		entry_run(s, p, SIZE_MAX, 0);
	}
}

/* replication.md 4.3 steps 2-4 */
void
snap_finish(struct snapshot *s, uint64_t lsn)
{
	struct enc	 e;

	enc_journal_offset(&s->sb, lsn);
	snap_flush(s);
	enc_init(&e);
	enc_eof(&e);
	enc_bytes(&e, s->f->token, 40);
	flow_emit(s->f, e.p, e.len);
	enc_free(&e);
}
