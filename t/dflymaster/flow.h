/*
 * flow.h - a flow: one connection carrying one shard's data stream
 * (replication.md 3-5), and the fault switches that act on its bytes.
 */
#ifndef DFLYMASTER_FLOW_H
#define DFLYMASTER_FLOW_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct session;
struct snapshot;

enum fstate { F_REGISTERED, F_FULL, F_STABLE };

struct flow {
	struct session	*sess;
	struct client	*c;
	int		 shard;
	char		 token[41];
	int		 partial;
	uint64_t	 start_lsn;	/* PARTIAL: first LSN to send */
	uint64_t	 acked;		/* last REPLCONF ACK */
	uint64_t	 nacks;		/* REPLCONF ACKs received */
	enum fstate	 state;
	uint64_t	 reply_len;	/* bytes queued before the data stream */
	uint64_t	 stream_queued;	/* data stream bytes queued */
	uint64_t	 fullsync_end_at; /* stream offset after FULLSYNC_END, 0: not yet */
	int64_t		 last_lsn_ms;	/* replication.md 5 */
	uint64_t	 last_rec_lsn;
	int		 records_since_lsn;
	int64_t		 blocked_since;
	int		 opcode_faulted; /* --fault-bad-opcode done */
	int		 stall_counted;	/* --fault-stall-flow reached */
	struct snapshot	*snap;
};

void		 flow_free(struct flow *);
uint64_t	 flow_stream_sent(const struct flow *);
void		 flow_emit(struct flow *, const void *, size_t);
size_t		 flow_write_limit(struct client *, int *);
void		 flow_journal(struct flow *, uint64_t, const uint8_t *, size_t);

#endif
