/* crc64.h - Redis's CRC-64/Jones (redis-rdb.md section 6). */
#ifndef DF2REDIS_CRC64_H
#define DF2REDIS_CRC64_H

#include <stddef.h>
#include <stdint.h>

uint64_t	crc64(uint64_t crc, const void *, size_t);

#endif
