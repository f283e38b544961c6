/*
 * rdbenc.h - byte encoders for Dragonfly's FLOW stream (snapshot.md) and
 * journal records (journal.md), written from the specs alone.
 *
 * Used by the Dragonfly test master and by the test tools as an encoder
 * independent of the decoder in src/.  Everything appends to a growing
 * byte buffer, struct enc; allocation failure is fatal (test code).
 * Values are built element by element, so a caller may cut a value at any
 * element boundary (snapshot.md section 8) by flushing the buffer between
 * two calls.
 */
#ifndef DF2REDIS_RDBENC_H
#define DF2REDIS_RDBENC_H

#include <stddef.h>
#include <stdint.h>

/* RDB type bytes (snapshot.md 6.0, redis-rdb.md) */
#define ENC_T_STRING		0
#define ENC_T_SET		2
#define ENC_T_HASH		4
#define ENC_T_ZSET_2		5
#define ENC_T_SET_INTSET	11
#define ENC_T_ZSET_ZIPLIST	12
#define ENC_T_HASH_ZIPLIST	13
#define ENC_T_STREAM_LISTPACKS	15
#define ENC_T_HASH_LISTPACK	16
#define ENC_T_ZSET_LISTPACK	17
#define ENC_T_LIST_QUICKLIST_2	18
#define ENC_T_STREAM_LISTPACKS_2 19
#define ENC_T_OLD_JSON		20	/* header < 10 only, 6.14 */
#define ENC_T_STREAM_LISTPACKS_3 21
#define ENC_T_JSON		30
#define ENC_T_HASH_WITH_EXPIRY	31
#define ENC_T_SET_WITH_EXPIRY	32
#define ENC_T_SBF		33
#define ENC_T_SBF2		34
#define ENC_T_CMS		35
#define ENC_T_TOPK		36
#define ENC_T_CUCKOO		37

/* top-level opcodes (snapshot.md 4) */
#define ENC_OP_FULLSYNC_END	0xC8
#define ENC_OP_ZSTD_BLOB	0xC9
#define ENC_OP_LZ4_BLOB		0xCA
#define ENC_OP_JOURNAL_BLOB	0xD2
#define ENC_OP_JOURNAL_OFFSET	0xD3
#define ENC_OP_DF_MASK		0xDC
#define ENC_OP_TAGGED_CHUNK	0xE0
#define ENC_OP_AUX		0xFA
#define ENC_OP_EXPIRETIME_MS	0xFC
#define ENC_OP_SELECTDB		0xFE
#define ENC_OP_EOF		0xFF

#define ENC_DF_MASK_STICKY	0x1
#define ENC_DF_MASK_MC_FLAGS	0x2

/* quicklist node containers (6.2) */
#define ENC_QL_PLAIN		1
#define ENC_QL_PACKED		2

/* stream entry flags (10.2) */
#define ENC_STREAM_DELETED	0x1
#define ENC_STREAM_SAMEFIELDS	0x2

/* member expiries of types 31/32 count seconds from this (6.4) */
#define ENC_MEMBER_EXPIRY_BASE	1675209600LL

/* compressed blob kinds (7) */
enum enc_blob { ENC_BLOB_LZ4, ENC_BLOB_ZSTD };

struct enc {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
};

struct enc_id {
	uint64_t ms;
	uint64_t seq;
};

/* --- buffer --- */
void	enc_init(struct enc *);			/* empty buffer */
void	enc_free(struct enc *);			/* release, leaves it empty */
void	enc_reset(struct enc *);		/* len = 0, keep memory */
void	enc_bytes(struct enc *, const void *, size_t);	/* raw bytes */
void	enc_u8(struct enc *, uint8_t);
void	enc_u16le(struct enc *, uint16_t);
void	enc_u32le(struct enc *, uint32_t);	/* 3.3 */
void	enc_u64le(struct enc *, uint64_t);	/* 3.3, also int64 ms times */
void	enc_u64be(struct enc *, uint64_t);	/* raw stream ids, 6.11 */

/* --- building blocks the packed encoders share --- */
void	enc_reserve(struct enc *, size_t);	/* room for n more bytes */
void	enc_le(struct enc *, uint64_t, int);	/* n-byte little-endian */
void	enc_be(struct enc *, uint64_t, int);	/* n-byte big-endian */
int	enc_parse_canonical(const void *, size_t, size_t, long long *);	/* canonical decimal of at most maxlen chars */

/* --- primitives (3) --- */
void	enc_len(struct enc *, uint64_t);	/* 3.1 shortest form (= packed uint) */
void	enc_len_width(struct enc *, uint64_t, int);	/* 3.1 forced 1, 2, 5 or 9 bytes */
void	enc_str(struct enc *, const void *, size_t);	/* 3.2 writer rule: int-encoded when canonical int32 */
void	enc_str_plain(struct enc *, const void *, size_t);	/* 3.2 never int-encoded */
void	enc_str_ll(struct enc *, long long);	/* 3.2 decimal text of v via the writer rule */
int	enc_str_lzf(struct enc *, const void *, size_t);	/* 3.2 0xC3 form; -1 (nothing written) if it would not shrink */
void	enc_str_single_entry(struct enc *, const void *, size_t);	/* 3.2 compression_mode=1 rule: LZF if >20 B and it pays, else enc_str */
int	enc_str_intform(const void *, size_t, long long *);	/* 1 if 3.2's integer rule applies */
void	enc_double(struct enc *, double);	/* 3.3 binary double */
size_t	enc_lzf_compress(const void *, size_t, void *, size_t);	/* 3.2 LZF stream; 0 if it does not fit */

/* --- header and entry framing (2, 4.1) --- */
void	enc_header(struct enc *, int);		/* "REDIS%04d" */
void	enc_aux(struct enc *, const char *, const char *);	/* 2.2 via enc_str */
void	enc_aux_bin(struct enc *, const void *, size_t, const void *, size_t);
void	enc_selectdb(struct enc *, uint64_t);	/* 0xFE len(db) */
void	enc_expire_ms(struct enc *, int64_t);	/* 0xFC int64 LE */
void	enc_df_mask(struct enc *, uint32_t, uint32_t);	/* 0xDC flags [mc_flags if bit1] */
void	enc_key(struct enc *, uint8_t, const void *, size_t);	/* type byte + key str */

/* --- values built element by element (6) --- */
/* 6.3/6.6/6.10/6.4/6.7/6.2: the count, then one call per element */
void	enc_count(struct enc *, uint64_t);	/* len(n) heading 2, 4, 5, 18, 31, 32 */
void	enc_set_member(struct enc *, const void *, size_t);	/* 6.3 */
void	enc_set_member_ttl(struct enc *, const void *, size_t, long long);	/* 6.4 expiry -1 or s since base */
void	enc_hash_field(struct enc *, const void *, size_t, const void *, size_t);	/* 6.6 */
void	enc_hash_field_ttl(struct enc *, const void *, size_t, const void *, size_t, long long);	/* 6.7 */
void	enc_zset_member(struct enc *, const void *, size_t, double);	/* 6.10 */
void	enc_ql_node(struct enc *, int, const void *, size_t, int);	/* 6.2 container, data, lzf? */

/* --- stream framing (5, 7, 8, 11) --- */
/* 7: CA/C9 + str(frame) of in; 1 written, 0 not worth it (> 95 %), -1 error */
int	enc_blob(struct enc *, enum enc_blob, const void *, size_t, int);
void	enc_tagged_chunk(struct enc *, uint32_t, const void *, size_t);	/* 8.2 E0 id len payload */
void	enc_journal_blob(struct enc *, uint64_t, const void *, size_t, int);	/* 5: D2 len(n) str(bytes), LZF if flag */
void	enc_fullsync_end(struct enc *);		/* C8 + 8 zero bytes */
void	enc_journal_offset(struct enc *, uint64_t);	/* D3 u64 LE */
void	enc_eof(struct enc *);			/* FF + 8 zero bytes */

/* --- journal records (journal.md 1, 3) --- */
void	enc_pstr(struct enc *, const void *, size_t);	/* 1: packed string */
void	enc_jr_command(struct enc *, uint64_t, uint64_t, size_t, const char *const *, const size_t *);	/* 3.1+3.2 06 db 0A txid 01 nargs total args */
void	enc_jr_ping(struct enc *);		/* 3.4 0D */
void	enc_jr_lsn(struct enc *, uint64_t);	/* 3.5 0F lsn */

/* the packed values; the tools include this header alone */
#include "rdbenc_pack.h"

#endif
