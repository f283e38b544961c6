/*
 * dump.c - the DUMP payload encoder (dump.h).
 */
#include <stdint.h>
#include <string.h>

#include "crc64.h"
#include "dump.h"

#define DUMP_VERSION	9		/* every Redis >= 5.0 accepts it */

int
dump_type(enum rdb_vtype vtype)
{
	switch (vtype) {
	case RDB_VT_STRING:
		return 0;
	case RDB_VT_LIST:
		return 1;
	case RDB_VT_SET:
		return 2;
	case RDB_VT_HASH:
		return 4;
	case RDB_VT_ZSET:
		return 5;
	default:
		return -1;
	}
}

int
dump_len(struct buf *b, uint64_t n)
{
	unsigned char h[9];
	int i;

	if (n < 64) {
		h[0] = n;
		return buf_add(b, h, 1);
	}
	if (n < 16384) {
		h[0] = 0x40 | (n >> 8);
		h[1] = n & 0xff;
		return buf_add(b, h, 2);
	}
	if (n <= UINT32_MAX) {
		h[0] = 0x80;
		for (i = 0; i < 4; i++)
			h[1 + i] = n >> (24 - 8 * i);
		return buf_add(b, h, 5);
	}
	h[0] = 0x81;
	for (i = 0; i < 8; i++)
		h[1 + i] = n >> (56 - 8 * i);
	return buf_add(b, h, 9);
}

int
dump_str(struct buf *b, const char *p, size_t n)
{
	if (dump_len(b, n) == -1)
		return -1;
	return buf_add(b, p, n);
}

int
dump_score(struct buf *b, double score)
{
	unsigned char d[8];
	uint64_t bits;
	int j;

	memcpy(&bits, &score, 8);
	for (j = 0; j < 8; j++)
		d[j] = bits >> (8 * j);
	return buf_add(b, d, 8);
}

int
dump_finish(struct buf *b)
{
	unsigned char footer[8];
	uint64_t crc;
	int i;

	footer[0] = DUMP_VERSION & 0xff;
	footer[1] = DUMP_VERSION >> 8;
	if (buf_add(b, footer, 2) == -1)
		return -1;
	crc = crc64(0, b->p, b->len);
	for (i = 0; i < 8; i++)
		footer[i] = crc >> (8 * i);
	return buf_add(b, footer, 8);
}

/* redis-rdb.md 7.2 */
int
dump_max_type(int version)
{
	if (version == 0 || version >= 70400)
		return 25;
	if (version >= 70200)
		return 21;
	if (version >= 70000)
		return 19;
	return 15;
}
