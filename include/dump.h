/*
 * dump.h - the DUMP payload encoder: values in the serialized form that
 * RESTORE loads (redis-rdb.md section 7).
 *
 * A payload is a type byte, the value in RDB encoding (lengths, strings,
 * binary doubles), a 2-byte RDB version and a CRC-64 of everything
 * before it.  The writer builds payloads of types 0 (string), 1 (list),
 * 2 (set), 4 (hash) and 5 (zset with binary scores), which every Redis
 * since 4.0 loads, with version 9 in the footer, which every Redis since
 * 5.0 accepts.
 */
#ifndef DF2REDIS_DUMP_H
#define DF2REDIS_DUMP_H

#include <stdint.h>

#include "buf.h"
#include "rdb.h"

/* The type byte of a value of this type, -1 when not one of the above. */
int	dump_type(enum rdb_vtype);
/* An RDB length (1, 2, 5 or 9 bytes); 0 ok, -1 out of memory. */
int	dump_len(struct buf *, uint64_t);
/* A length-prefixed string. */
int	dump_str(struct buf *, const char *, size_t);
/* A zset score as a little-endian binary double. */
int	dump_score(struct buf *, double);
/* The footer over everything in the buffer: the version, then the CRC. */
int	dump_finish(struct buf *);
/* The highest type byte a Redis version loads (0: assume the newest). */
int	dump_max_type(int version);

#endif
