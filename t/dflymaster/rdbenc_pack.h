/*
 * rdbenc_pack.h - encoders for the packed values inside the FLOW stream:
 * listpacks, ziplists and intsets (snapshot.md 10), stream nodes and
 * metadata (6.11) and Dragonfly's probabilistic types (6.13, 6.15-6.17).
 * They append to a struct enc like everything in rdbenc.h.
 */
#ifndef DF2REDIS_RDBENC_PACK_H
#define DF2REDIS_RDBENC_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "rdbenc.h"

/* --- compact containers (10): build into their own struct enc --- */
struct enc_lp {
	struct enc	 b;
	uint32_t	 count;
};
void	enc_lp_init(struct enc_lp *);		/* 10.1 empty listpack under construction */
void	enc_lp_free(struct enc_lp *);
void	enc_lp_str(struct enc_lp *, const void *, size_t);	/* 10.1 int form if canonical int (<= 20 chars) */
void	enc_lp_rawstr(struct enc_lp *, const void *, size_t);	/* 10.1 always a string form */
void	enc_lp_int(struct enc_lp *, int64_t);	/* 10.1 smallest int form */
void	enc_lp_int_form(struct enc_lp *, int64_t, int);	/* 10.1 forced: 7, 13, 16, 24, 32, 64 */
void	enc_lp_str_form(struct enc_lp *, const void *, size_t, int);	/* 10.1 forced: 6, 12, 32 bit length */
const uint8_t *enc_lp_finish(struct enc_lp *, size_t *);	/* header + 0xFF; the listpack bytes */
size_t	enc_lp_backlen_size(size_t);		/* 10.1 backlen bytes for L */

struct enc_zl {
	struct enc	 b;
	uint32_t	 count;
	uint32_t	 tail;
	size_t		 prevlen;
};
void	enc_zl_init(struct enc_zl *);		/* 10.4 */
void	enc_zl_free(struct enc_zl *);
void	enc_zl_str(struct enc_zl *, const void *, size_t);	/* 10.4 int form when canonical */
void	enc_zl_int(struct enc_zl *, int64_t);	/* 10.4 smallest int form */
const uint8_t *enc_zl_finish(struct enc_zl *, size_t *);

/* 10.3 intset of n values (sorted copy, smallest width); appends to the buffer */
void	enc_intset(struct enc *, const int64_t *, size_t);

/* --- streams (6.11, 10.2) --- */
/* node listpack: master entry, then entries */
void	enc_stream_lp_begin(struct enc_lp *, uint64_t, uint64_t, const char *const *, const size_t *, size_t);	/* count deleted fields */
void	enc_stream_lp_entry(struct enc_lp *, int, int64_t, int64_t, const char *const *, const size_t *, size_t);	/* flags, deltas, fv (fields+values, or values if SAMEFIELDS), n strings */
void	enc_stream_node(struct enc *, struct enc_id, const void *, size_t);	/* str(16-byte BE key) str(lp) */
void	enc_stream_meta(struct enc *, int, uint64_t, struct enc_id, struct enc_id, struct enc_id, uint64_t, uint64_t);	/* type, length, last, first, maxdel, added, ngroups */
void	enc_stream_group(struct enc *, int, const void *, size_t, struct enc_id, uint64_t, uint64_t);	/* type, name, last_delivered, entries_read, npel */
void	enc_stream_pel(struct enc *, struct enc_id, int64_t, uint64_t);	/* raw id, delivery ms, count */
void	enc_stream_consumer(struct enc *, int, const void *, size_t, int64_t, int64_t, uint64_t);	/* type, name, seen, active, npel */
void	enc_stream_rawid(struct enc *, struct enc_id);	/* 16-byte BE id (consumer PEL) */

/* --- Dragonfly probabilistic types (6.13, 6.15-6.17) --- */
void	enc_sbf_begin(struct enc *, double, double, uint64_t, uint64_t, uint64_t, uint64_t);	/* grow, fp, prev, cur, max, nfilters */
void	enc_sbf_filter(struct enc *, int, uint64_t, const void *, size_t, size_t);	/* type 33/34, hash_count, bits, chunk size (34) */
void	enc_cms(struct enc *, uint64_t, uint64_t, uint64_t, const int64_t *);	/* width depth total counters[w*d] */
void	enc_topk_begin(struct enc *, uint64_t, uint64_t, uint64_t, double, uint64_t);	/* k width depth decay heap_count */
void	enc_topk_heap(struct enc *, const void *, size_t, uint64_t);	/* item, count */
void	enc_topk_counters(struct enc *, const uint32_t *, size_t);	/* width*depth u32 LE as a plain string */
void	enc_cuckoo_begin(struct enc *, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);	/* spb maxit expansion nbuckets nitems ndeletes nfilters */
void	enc_cuckoo_filter(struct enc *, const void *, size_t, size_t);	/* total, chunks of at most the given size */

#endif
