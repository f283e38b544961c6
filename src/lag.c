/*
 * lag.c - the lag in records and the apply latency of a flow (lag.h).
 */
#include <string.h>

#include "lag.h"

const uint64_t lat_bound_us[LAT_NBOUNDS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

/* journal.md 2: the opcodes */
enum { OP_SELECT = 6, OP_EXPIRED = 9, OP_COMMAND = 10,
	OP_MULTI_COMMAND = 11, OP_EXEC = 12, OP_PING = 13, OP_LSN = 15 };

/* What the packed uint being read is. */
enum { S_OP, S_DB, S_TXID, S_SHARDS, S_NARGS, S_TOTAL, S_ARGLEN, S_ARG,
	S_EXEC_TXID, S_EXEC_SHARDS, S_LSN };

void
jscan_init(struct jscan *s)
{
	memset(s, 0, sizeof(*s));
	s->state = S_OP;
}

/* The packed uint of the current state is whole: 1 a record ended. */
static int
jscan_value(struct jscan *s)
{
	uint64_t v = s->pu;

	switch (s->state) {
	case S_OP:
		s->op = (int)v;
		switch (v) {
		case OP_SELECT:
			s->state = S_DB;
			return 0;
		case OP_EXPIRED:
		case OP_COMMAND:
		case OP_MULTI_COMMAND:
			s->state = S_TXID;
			return 0;
		case OP_EXEC:
			s->state = S_EXEC_TXID;
			return 0;
		case OP_PING:
			return 1;
		case OP_LSN:
			s->state = S_LSN;
			return 0;
		}
		s->broken = 1;
		return 0;
	case S_LSN:
	case S_EXEC_SHARDS:
		s->state = S_OP;
		return s->op == OP_EXEC;
	case S_TXID:
	case S_EXEC_TXID:
	case S_NARGS:
		if (s->state == S_NARGS) {
			s->nargs = v;
			s->state = S_TOTAL;
		} else
			s->state++;
		return 0;
	case S_SHARDS:
		s->state = S_NARGS;
		return 0;
	case S_TOTAL:
		if (s->nargs == 0) {
			s->broken = 1;
			return 0;
		}
		s->state = S_ARGLEN;
		return 0;
	case S_ARGLEN:
		s->skip = v;
		if (v > 0) {
			s->state = S_ARG;
			return 0;
		}
		s->state = --s->nargs == 0 ? S_OP : S_ARGLEN;
		return s->nargs == 0;
	}
	s->broken = 1;
	return 0;
}

uint64_t
jscan_feed(struct jscan *s, const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len;
	uint64_t recs = 0, n;

	while (p < end && !s->broken) {
		if (s->state == S_ARG) {
			n = (uint64_t)(end - p) < s->skip ?
			    (uint64_t)(end - p) : s->skip;
			p += n;
			if ((s->skip -= n) > 0)
				break;
			if (--s->nargs == 0) {
				s->state = S_OP;
				recs++;
			} else
				s->state = S_ARGLEN;
			continue;
		}
		if (s->pu_left > 0) {
			s->pu = s->pu << 8 | *p++;
			if (--s->pu_left > 0)
				continue;
		} else {
			/* the first byte of a packed uint (journal.md 1) */
			switch (*p & 0xc0) {
			case 0x00:
				s->pu = *p++;
				break;
			case 0x40:
				s->pu = *p++ & 0x3f;
				s->pu_left = 1;
				continue;
			default:
				if (*p != 0x80 && *p != 0x81) {
					s->broken = 1;
					continue;
				}
				s->pu_left = *p++ == 0x80 ? 4 : 8;
				s->pu = 0;
				continue;
			}
		}
		if (s->state == S_DB && s->op == OP_SELECT) {
			/* SELECT and the entry after it are one record */
			s->state = S_OP;
			continue;
		}
		recs += jscan_value(s);
	}
	return recs;
}

void
lag_reset(struct lag *l, uint64_t lsn)
{
	jscan_init(&l->scan);
	l->recv = l->acked = lsn;
	l->head = l->n = 0;
}

void
lag_received(struct lag *l, const void *p, size_t len, int64_t now)
{
	struct lag_arrival *a;
	uint64_t recs;

	if ((recs = jscan_feed(&l->scan, p, len)) == 0)
		return;
	l->recv += recs;
	/* full: the newest entry takes them, an upper bound for its age */
	if (l->n == LAG_RING) {
		l->ring[(l->head + l->n - 1) % LAG_RING].end = l->recv;
		return;
	}
	a = &l->ring[(l->head + l->n++) % LAG_RING];
	a->end = l->recv;
	a->us = now;
}

void
lag_acked(struct lag *l, uint64_t lsn, int64_t now)
{
	struct lag_arrival *a;
	uint64_t n;

	if (lsn > l->recv)	/* records the scanner could not count */
		lsn = l->recv;
	while (l->acked < lsn && l->n > 0) {
		a = &l->ring[l->head];
		n = (a->end < lsn ? a->end : lsn) - l->acked;
		lat_observe(&l->hist, now > a->us ? (uint64_t)(now - a->us) :
		    0, n);
		l->acked += n;
		if (l->acked >= a->end) {
			l->head = (l->head + 1) % LAG_RING;
			l->n--;
		}
	}
	if (l->acked < lsn)
		l->acked = lsn;
}

uint64_t
lag_records(const struct lag *l)
{
	return l->recv > l->acked ? l->recv - l->acked : 0;
}

void
lat_observe(struct lat_hist *h, uint64_t us, uint64_t n)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < LAT_NBOUNDS && us > lat_bound_us[i]; i++)
		;
	h->bucket[i] += n;
	h->count += n;
	h->sum_us += us * n;
}
