/*
 * dflyrdb.c - the Dragonfly dialect of the RDB decoder (rdb_int.h,
 * snapshot.md): the opcodes a FLOW adds between keys (tagged chunks,
 * LZ4/ZSTD compressed blobs, JOURNAL_BLOB, FULLSYNC_END, JOURNAL_OFFSET,
 * search index data), and the value types that are skipped (bloom
 * filters, count-min sketches, top-k, cuckoo filters, HNSW and document
 * indexes).
 *
 * A tagged chunk (opcode 224) feeds its payload to the key context of
 * its stream id, which lives until the key ends; the payload's length is
 * a budget that no read may cross.  A compressed blob is decompressed
 * whole and then read as if it were the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zstd.h>

#include "rdb_int.h"

#define MAX_OPEN_CHUNKS		4096

/* ------------------------------------------------------- tagged chunks */

static struct kctx *
chunk_find(struct rdb *r, uint32_t id, size_t *slot)
{
	size_t i;

	for (i = 0; i < r->nopen; i++)
		if (r->open[i]->eid == id) {
			*slot = i;
			return r->open[i];
		}
	return NULL;
}

static int
chunk_begin(struct rdb *r, uint32_t id, size_t len)
{
	struct kctx *k, **a;
	size_t slot;

	if ((k = chunk_find(r, id, &slot)) == NULL) {
		if (r->nopen == MAX_OPEN_CHUNKS)
			return rdb_fail(r, "more than %d tagged chunk streams "
			    "open", MAX_OPEN_CHUNKS);
		if (r->nspare > 0)
			k = r->spare[--r->nspare];
		else if ((k = calloc(1, sizeof(*k))) == NULL)
			return rdb_oom(r);
		if (r->nopen == r->capopen) {
			size_t cap = r->capopen ? r->capopen * 2 : 8;

			if ((a = reallocarray(r->open, cap, sizeof(*a))) ==
			    NULL) {
				rdb_kctx_release(k);
				free(k);
				return rdb_oom(r);
			}
			r->open = a;
			r->capopen = cap;
		}
		r->open[r->nopen++] = k;
		rdb_kctx_reset(k, id, r->db, NK_KEY, K_PREFIX);
	}
	r->chunk = k;
	r->budget = len;
	r->top = T_CHUNK;
	return S_OK;
}

static int
chunk_close(struct rdb *r, struct kctx *k)
{
	struct kctx **a;
	size_t slot;

	if (chunk_find(r, k->eid, &slot) == NULL)
		return S_OK;
	r->open[slot] = r->open[--r->nopen];
	rdb_kctx_trim(k);
	if (r->nspare == r->capspare) {
		size_t cap = r->capspare ? r->capspare * 2 : 8;

		if ((a = reallocarray(r->spare, cap, sizeof(*a))) == NULL) {
			rdb_kctx_release(k);
			free(k);
			return S_OK;
		}
		r->spare = a;
		r->capspare = cap;
	}
	r->spare[r->nspare++] = k;
	return S_OK;
}


/* ---------------------------------------------------- compressed blobs */

static int
decompress_blob(struct rdb *r, int zstd, const unsigned char *src,
    size_t clen)
{
	unsigned long long csize;
	LZ4F_frameInfo_t fi;
	size_t hsz, rc, dsz, ssz, done;

	if (zstd) {
		csize = ZSTD_getFrameContentSize(src, clen);
		if (csize == ZSTD_CONTENTSIZE_ERROR ||
		    csize == ZSTD_CONTENTSIZE_UNKNOWN)
			return rdb_fail(r, "zstd blob without a valid frame "
			    "content size");
	} else {
		if (r->lz4 == NULL && LZ4F_isError(
		    LZ4F_createDecompressionContext(&r->lz4, LZ4F_VERSION)))
			return rdb_oom(r);
		LZ4F_resetDecompressionContext(r->lz4);
		memset(&fi, 0, sizeof(fi));
		hsz = clen;
		rc = LZ4F_getFrameInfo(r->lz4, &fi, src, &hsz);
		if (LZ4F_isError(rc))
			return rdb_fail(r, "bad LZ4 frame: %s",
			    LZ4F_getErrorName(rc));
		if (fi.contentSize == 0)
			return rdb_fail(r, "LZ4 blob without a frame content "
			    "size");
		csize = fi.contentSize;
	}
	if (csize > r->lim.max_blob)
		return rdb_fail(r, "compressed blob of %llu bytes exceeds the "
		    "%zu-byte limit", csize, r->lim.max_blob);
	if (csize > r->blob.cap) {
		unsigned char *p = realloc(r->blob.buf, csize);

		if (p == NULL)
			return rdb_oom(r);
		r->blob.buf = p;
		r->blob.cap = csize;
	}
	if (zstd) {
		if (r->zstd == NULL && (r->zstd = ZSTD_createDCtx()) == NULL)
			return rdb_oom(r);
		rc = ZSTD_decompressDCtx(r->zstd, r->blob.buf, csize, src,
		    clen);
		if (ZSTD_isError(rc) || rc != csize)
			return rdb_fail(r, "corrupt zstd blob: %s",
			    ZSTD_isError(rc) ? ZSTD_getErrorName(rc) :
			    "short content");
	} else {
		done = 0;
		src += hsz;
		clen -= hsz;
		for (;;) {
			dsz = csize - done;
			ssz = clen;
			rc = LZ4F_decompress(r->lz4, r->blob.buf + done, &dsz,
			    src, &ssz, NULL);
			if (LZ4F_isError(rc))
				return rdb_fail(r, "corrupt LZ4 blob: %s",
				    LZ4F_getErrorName(rc));
			done += dsz;
			src += ssz;
			clen -= ssz;
			if (rc == 0)
				break;
			if (dsz == 0 && ssz == 0)
				return rdb_fail(r, "truncated LZ4 blob");
		}
		if (done != csize || clen != 0)
			return rdb_fail(r, "LZ4 blob: %zu bytes decoded, %llu "
			    "announced, %zu trailing bytes", done, csize, clen);
	}
	r->blob.pos = 0;
	r->blob.len = csize;
	return S_OK;
}

static int
read_cblob(struct rdb *r, int zstd)
{
	struct strhdr h;

	TRY(rdb_peek_strhdr(r, &h));
	if (h.kind != SH_PLAIN)
		return rdb_fail(r, "compressed blob is not a plain string");
	if (h.len > r->lim.max_blob)
		return rdb_fail(r, "compressed blob of %llu bytes exceeds the "
		    "%zu-byte limit", (unsigned long long)h.len,
		    r->lim.max_blob);
	NEED(r, h.hsz + h.len);
	TRY(decompress_blob(r, zstd, cur(r) + h.hsz, h.len));
	adv(r, h.hsz + h.len);
	r->s = &r->blob;
	r->top = T_ITEM;
	return S_OK;
}


/* ------------------------------------------------------------ opcodes */

/* An opcode between keys that only Dragonfly writes (top_item()). */
int
rdb_df_opcode(struct rdb *r, uint8_t op, struct rdb_event *ev)
{
	uint64_t v[4];

	switch (op) {
	case 0xc8:
		TRY(rdb_fields(r, "18", v));
		return top_ev(ev, RDB_EV_FULLSYNC_END);
	case 0xd3:
		TRY(rdb_fields(r, "18", v));
		ev->u.journal_offset = v[1];
		return top_ev(ev, RDB_EV_JOURNAL_OFFSET);
	case 0xd2:
		TRY(rdb_fields(r, "1L", v));
		r->nrec = v[1];
		r->top = T_JBLOB;
		return S_OK;
	case 0xc9:
	case 0xca:
		if (r->s == &r->blob)
			return rdb_fail(r, "compressed blob nested in a "
			    "compressed blob");
		r->blob_off = r->in_base + r->in.pos;
		adv(r, 1);
		r->top = T_CBLOB;
		r->blob_zstd = op == 0xc9;
		return S_OK;
	case 0xe0:
		TRY(rdb_fields(r, "144", v));
		if (v[1] == 0 || v[2] == 0)
			return rdb_fail(r, "tagged chunk with stream id %llu "
			    "and length %llu", (unsigned long long)v[1],
			    (unsigned long long)v[2]);
		if (r->s == &r->blob && v[2] > r->blob.len - r->blob.pos)
			return rdb_fail(r, "tagged chunk of %llu bytes runs "
			    "past the end of the compressed blob",
			    (unsigned long long)v[2]);
		return chunk_begin(r, (uint32_t)v[1], v[2]);
	case 0xde:
		adv(r, 1);
		rdb_start_k0(r, NK_HNSW, K_SKIPSTR);
		r->k0.ret = K_HV_HDR;
		return S_OK;
	case 0xdf:
		adv(r, 1);
		return rdb_start_k0(r, NK_HNSW, K_HD_HDR);
	}
	return rdb_fail(r, "unknown opcode 0x%02x", op);
}

/* The top-level states of the Dragonfly opcodes that read on. */
int
rdb_df_step(struct rdb *r, struct rdb_event *ev)
{
	const char *p;
	size_t len;
	int s;

	switch (r->top) {
	case T_CHUNK:
		if (r->chunk->st == K_DONE) {
			r->cur = r->chunk;
			if (r->budget != 0)
				return rdb_fail(r, "the key ended with %zu "
				    "bytes left in its tagged chunk",
				    r->budget);
			chunk_close(r, r->chunk);
			r->chunk = NULL;
			r->top = T_ITEM;
			return S_OK;
		}
		s = rdb_entry_step(r, r->chunk, ev);
		if (s == S_SUSP) {
			r->top = T_ITEM;
			return S_OK;
		}
		return s;
	case T_JBLOB:
		TRY(read_top(r, "journal blob", &p, &len));
		ev->u.journal.nrec = r->nrec;
		ev->u.journal.p = p;
		ev->u.journal.len = len;
		r->top = T_ITEM;
		return top_ev(ev, RDB_EV_JOURNAL);
	case T_CBLOB:
		return read_cblob(r, r->blob_zstd);
	}
	return rdb_fail(r, "internal: bad top state %d", r->top);
}

/* ------------------------------------------------------- skipped types */

/* The states of the value types that are skipped (rdb_entry_step()). */
int
rdb_df_skip_step(struct rdb *r, struct kctx *k)
{
	uint64_t *v = k->v;
	double d;

	switch (k->st) {
	case K_SBF_HDR:
		TRY(rdb_fields(r, "L88LLLL", v));
		memcpy(&d, &v[1], sizeof(d));
		if (v[0] != 0 || !isfinite(d) || d < 1.0)
			return rdb_fail(r, "bad bloom filter header");
		k->c[0] = v[6];
		k->st = K_SBF_FLT;
		return S_OK;
	case K_SBF_FLT:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		if (k->type == 33) {
			TRY(read_len(r, v));
			k->c[0]--;
			rdb_skip_str(k, K_SBF_FLT);
			return S_OK;
		}
		TRY(rdb_fields(r, "LL", v));
		k->c[0]--;
		if (v[1] == 0)
			return rdb_fail(r, "bloom filter of 0 bytes");
		k->c[1] = v[1];
		k->st = K_SBF_CHUNK;
		return S_OK;
	case K_SBF_CHUNK:
	case K_CF_CHUNK:
		if (k->c[1] == 0) {
			k->st = k->st == K_SBF_CHUNK ? K_SBF_FLT : K_CF_FLT;
			return S_OK;
		}
		TRY(read_len(r, v));
		if (v[0] == 0 || v[0] > k->c[1])
			return rdb_fail(r, "bad filter chunk of %llu bytes "
			    "(%llu left)", (unsigned long long)v[0],
			    (unsigned long long)k->c[1]);
		k->c[1] -= v[0];
		rdb_skip_raw(k, v[0], k->st);
		return S_OK;
	case K_CMS_HDR:
		TRY(rdb_fields(r, "LLL", v));
		if (v[0] == 0 || v[1] == 0 || v[0] > UINT32_MAX ||
		    v[1] > UINT32_MAX)
			return rdb_fail(r, "bad count-min sketch size "
			    "%llux%llu", (unsigned long long)v[0],
			    (unsigned long long)v[1]);
		if (v[0] > UINT64_MAX / 8 / v[1])
			return rdb_fail(r, "count-min sketch too large");
		rdb_skip_raw(k, v[0] * v[1] * 8, K_END);
		return S_OK;
	case K_TOPK_HDR:
		TRY(rdb_fields(r, "LLLL8L", v));
		memcpy(&d, &v[4], sizeof(d));
		if (v[0] != 0 || v[1] == 0 || v[2] == 0 || v[3] == 0 ||
		    !isfinite(d) || d < 0 || d > 1 || v[5] > v[1])
			return rdb_fail(r, "bad top-k header");
		k->c[0] = v[5];
		k->st = K_TOPK_HEAP;
		return S_OK;
	case K_TOPK_HEAP:
		if (k->c[0] == 0) {
			rdb_skip_str(k, K_END);
			return S_OK;
		}
		k->c[0]--;
		rdb_skip_str(k, K_TOPK_CNT);
		return S_OK;
	case K_TOPK_CNT:
		TRY(read_len(r, v));
		k->st = K_TOPK_HEAP;
		return S_OK;
	case K_CF_HDR:
		TRY(rdb_fields(r, "LLLLLLL", v));
		if (v[0] == 0 || v[0] > 255 || v[6] == 0)
			return rdb_fail(r, "bad cuckoo filter header");
		k->c[0] = v[6];
		k->st = K_CF_FLT;
		return S_OK;
	case K_CF_FLT:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(read_len(r, v));
		k->c[0]--;
		if (v[0] == 0)
			return rdb_fail(r, "cuckoo filter of 0 bytes");
		k->c[1] = v[0];
		k->st = K_CF_CHUNK;
		return S_OK;
	case K_HV_HDR:
		/* the index key string was skipped before this state */
		TRY(rdb_fields(r, "LL", v));
		k->c[0] = v[1];
		k->st = K_HV_NODE;
		return S_OK;
	case K_HV_NODE:
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		TRY(rdb_fields(r, "484", v));
		if (v[2] > 64)
			return rdb_fail(r, "HNSW node level %llu",
			    (unsigned long long)v[2]);
		k->c[0]--;
		k->c[1] = v[2] + 1;
		k->st = K_HV_LEVEL;
		return S_OK;
	case K_HV_LEVEL:
		if (k->c[1] == 0) {
			k->st = K_HV_NODE;
			return S_OK;
		}
		TRY(rdb_fields(r, "4", v));
		k->c[1]--;
		rdb_skip_raw(k, v[0] * 4, K_HV_LEVEL);
		return S_OK;
	case K_HD_HDR:
		TRY(read_len(r, v));
		rdb_skip_str(k, K_HD_DOC);
		k->c[0] = (uint64_t)-1;
		return S_OK;
	case K_HD_DOC:
		if (k->c[0] == (uint64_t)-1) {
			TRY(read_len(r, v));
			k->c[0] = v[0];
		}
		if (k->c[0] == 0) {
			k->st = K_END;
			return S_OK;
		}
		k->c[0]--;
		rdb_skip_str(k, K_HD_DOCID);
		return S_OK;
	case K_HD_DOCID:
		TRY(read_len(r, v));
		k->st = K_HD_DOC;
		return S_OK;
	}
	return rdb_fail(r, "internal: bad state %d", k->st);
}


/* ------------------------------------------------------------ memory */

/* The chunks' key contexts and the decompression contexts. */
void
rdb_df_free(struct rdb *r)
{
	size_t i;

	for (i = 0; i < r->nopen; i++) {
		rdb_kctx_release(r->open[i]);
		free(r->open[i]);
	}
	for (i = 0; i < r->nspare; i++) {
		rdb_kctx_release(r->spare[i]);
		free(r->spare[i]);
	}
	free(r->open);
	free(r->spare);
	free(r->blob.buf);
	LZ4F_freeDecompressionContext(r->lz4);
	ZSTD_freeDCtx(r->zstd);
}
