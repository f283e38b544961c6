/* crc64.h - Redis's CRC-64/Jones (redis-rdb.md section 6). */
#ifndef DF2REDIS_CRC64_H
#define DF2REDIS_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU has. */
uint64_t	crc64(uint64_t crc, const void *, size_t);
/* The table-driven one, always: for tests against crc64(). */
uint64_t	crc64_portable(uint64_t crc, const void *, size_t);
/* 1 when crc64() uses carry-less multiplication (PCLMULQDQ). */
int		crc64_accelerated(void);

#endif
