/*
 * lag.h - how far a flow's target is behind what the master sent, in
 * records, and how long records wait: the lag in records and the apply
 * latency histogram of stable sync, kept by the worker and reported in
 * struct msg_stats (imsg.h).
 *
 * Records are counted as they arrive on the FLOW socket, before they are
 * spooled or decoded, by a scanner of the journal's framing (journal.md
 * 2-4) that only counts: it keeps no record, so its memory is constant
 * whatever a record holds.  A record is received once its last byte is.
 * The journal carries no write time of the master's, so the latency is
 * measured from a record's arrival on the FLOW socket to the moment the
 * worker sees the target acknowledge it: the worker learns that when the
 * target has acknowledged every command sent (lag_acked()), which under a
 * steady load happens at each checkpoint (checkpoint-ms), so the value is
 * an upper bound by at most that interval.
 */
#ifndef DF2REDIS_LAG_H
#define DF2REDIS_LAG_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the histogram's buckets, in microseconds; then +Inf. */
#define LAT_NBOUNDS	15
#define LAT_NBUCKETS	(LAT_NBOUNDS + 1)
extern const uint64_t	 lat_bound_us[LAT_NBOUNDS];

/* Plain (not cumulative) bucket counts, as sent in struct msg_stats. */
struct lat_hist {
	uint64_t	 bucket[LAT_NBUCKETS];
	uint64_t	 count;
	uint64_t	 sum_us;
};

/* The journal's framing, record by record; sans-I/O. */
struct jscan {
	int		 state;
	int		 op;		/* the entry being read */
	int		 pu_left;	/* bytes of a packed uint still due */
	uint64_t	 pu;		/* its value so far */
	uint64_t	 nargs;		/* COMMAND: arguments left */
	uint64_t	 skip;		/* bytes of an argument left */
	int		 broken;	/* not journal framing: stops counting */
};

/* Records and their arrival times: a bounded ring of read chunks. */
#define LAG_RING	256

struct lag_arrival {
	uint64_t	 end;		/* records below this LSN arrived */
	int64_t		 us;		/* mono us of their arrival */
};

struct lag {
	struct jscan		 scan;
	uint64_t		 recv;		/* next LSN after the last
						   whole record received */
	uint64_t		 acked;		/* records below it were
						   acknowledged by the target */
	struct lag_arrival	 ring[LAG_RING];
	size_t			 head, n;
	struct lat_hist		 hist;		/* since the worker started */
};

void		 jscan_init(struct jscan *);
/* The records the bytes completed (none past a break of the framing). */
uint64_t	 jscan_feed(struct jscan *, const void *, size_t);

/* A new journal stream whose first record is LSN lsn (history kept). */
void		 lag_reset(struct lag *, uint64_t lsn);
/* Bytes of the journal read from the FLOW at mono us now. */
void		 lag_received(struct lag *, const void *, size_t, int64_t now);
/* Every record below lsn is acknowledged by the target, at mono us now. */
void		 lag_acked(struct lag *, uint64_t lsn, int64_t now);
/* Records received and not acknowledged. */
uint64_t	 lag_records(const struct lag *);
/* Add one observation of us microseconds, n times. */
void		 lat_observe(struct lat_hist *, uint64_t us, uint64_t n);

#endif
