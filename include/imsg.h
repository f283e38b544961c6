/*
 * imsg.h - typed messages between the supervisor and its flow workers.
 *
 * Each worker has one SOCK_SEQPACKET socketpair to the supervisor: every
 * message is one packet of a header (type, payload length) and a payload
 * whose size is checked against the type on receipt, in the spirit of
 * OpenBSD's imsg.  A worker sends MSG_FULLSYNC_DONE right after it passed
 * the full-sync barrier (worker.h): that message is what wakes the
 * supervisor.  A worker that is done keeps its flow open (closing any
 * connection of a session cancels it on the master, replication.md 9,
 * which could cut the trailer of a flow still draining) until the
 * supervisor sends MSG_ALLDONE, once every flow is done, or closes the
 * socket.  Under `replicate` a done worker goes on in stable sync and
 * reports MSG_STATS (phase stable, its next and acknowledged LSN) until
 * SIGTERM or the end of the socket.
 *
 * Resume (replication.md 7.2): a worker started with a stored LSN asks
 * for it in its FLOW and, on PARTIAL, goes straight to stable sync.  When
 * the master closes a flow in stable sync (it cancels the whole session
 * when any connection of it closes), the worker drains its target,
 * stores its LSN and sends MSG_FLOW_LOST; the supervisor handshakes a new
 * session and sends MSG_REFLOW to every live worker, which registers a
 * new flow from the LSN it applied and answers MSG_FLOW_REPLY.  A worker
 * told FULL waits to be ended: a full resync starts with new workers.
 */
#ifndef DF2REDIS_IMSG_H
#define DF2REDIS_IMSG_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "dfly.h"
#include "error.h"
#include "lag.h"

enum msg_type {
	MSG_FLOW_REPLY = 1,	/* struct msg_flow_reply */
	MSG_FULLSYNC_DONE,	/* struct msg_stats */
	MSG_STATS,		/* struct msg_stats */
	MSG_DONE,		/* struct msg_stats, lsn = JOURNAL_OFFSET */
	MSG_ERROR,		/* struct msg_error, text truncated to fit */
	MSG_ALLDONE,		/* supervisor to worker, no payload */
	MSG_FLUSHED,		/* struct msg_flushed, before its MSG_ERROR */
	MSG_FLOW_LOST,		/* struct msg_stats: flow closed, LSN stored */
	MSG_REFLOW,		/* supervisor to worker, struct msg_reflow */
	MSG_SWEPT,		/* struct msg_swept: the sweeper's result;
				   supervisor to worker: apply the journal */
	MSG_VERBOSE,		/* supervisor to worker, struct msg_verbose:
				   the log level after a SIGHUP */
	MSG_NODE,		/* struct msg_node: one target node's
				   counters, after each MSG_STATS */
};

enum flow_phase {
	PHASE_START,		/* connecting, FLOW registration */
	PHASE_WAIT_SYNC,	/* FLOW answered, waiting for DFLY SYNC */
	PHASE_FULL_SYNC,	/* reading and applying the snapshot */
	PHASE_BARRIER,		/* FULLSYNC_END applied, waiting STARTSTABLE */
	PHASE_TRAILER,		/* after JOURNAL_OFFSET, reading the trailer */
	PHASE_DONE,		/* everything up to the trailer applied */
	PHASE_STABLE,		/* replaying the journal (replicate) */
	PHASE_SWEEP,		/* stable sync, the journal held while the
				   full resync's sweep runs (sweep.h), then
				   the snapshot's part of it applied */
	PHASE_FAILED,
};

struct msg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* payload bytes */
};

struct msg_flow_reply {
	int32_t		 partial;
	uint64_t	 lsn;		/* asked for, 0: a full sync */
	char		 token[DFLY_ID_LEN + 1];
};

/* Register the flow again, in this new session, from the applied LSN. */
struct msg_reflow {
	struct dfly_master	 m;
};

struct msg_stats {
	int32_t		 phase;
	uint64_t	 keys;		/* keys decoded */
	uint64_t	 written;	/* keys written to the target */
	uint64_t	 skipped;	/* unsupported or expired, not written */
	uint64_t	 journal;	/* journal commands applied */
	uint64_t	 bytes;		/* bytes read on the FLOW socket */
	uint64_t	 offset;	/* snapshot decoder byte offset */
	uint64_t	 lsn;		/* JOURNAL_OFFSET once seen, else 0;
					   in stable sync the next LSN */
	uint64_t	 acked;		/* stable sync: LSN sent in the last
					   REPLCONF ACK */
	int64_t		 behind_since;	/* stable sync: 0 if every record
					   received is acknowledged by the
					   target, else mono ms it last was */
	uint64_t	 spool;		/* stable sync: bytes read, waiting
					   for the target (spool.h) */
	int64_t		 drain_ms;	/* the spool at the current apply
					   rate; -1 while nothing applies */
	uint32_t	 spool_full;	/* MSG_FLOW_LOST: the spool filled up
					   (the supervisor counts them) */
	uint64_t	 commands;	/* commands sent to the target */
	uint64_t	 sent_bytes;	/* their payload bytes */
	uint64_t	 lag_records;	/* stable sync: records received and
					   not acknowledged by the target */
	struct lat_hist	 lat;		/* stable sync: apply latency (lag.h) */
};

/* A target node's counters in the worker (target.h), since it started. */
struct msg_node {
	uint64_t	 inflight;	/* commands sent, not acknowledged */
	uint64_t	 reconnects;
	uint64_t	 moved;		/* MOVED replies it gave */
	uint64_t	 ask;		/* ASK replies it gave */
	char		 name[CLUSTER_HOSTLEN + 16];	/* host:port */
};

/* A full resync's sweep (sweep.h): what it found; kind ERR_NONE ok. */
struct msg_swept {
	int32_t		 kind;
	uint64_t	 marks;		/* distinct marks of every flow */
	uint64_t	 scanned;	/* target keys looked at */
	uint64_t	 swept;		/* deleted: no flow wrote them */
	int64_t		 ms;		/* how long it took */
	char		 text[ERR_MSGLEN];
};

/* The master was flushed during the full sync: the target must be too. */
struct msg_flushed {
	int32_t		 db;		/* FLUSHDB's source db, -1 FLUSHALL */
};

/*
 * A worker's last word: the kind of its error says whether a new full
 * sync may succeed (err_retryable()); the supervisor decides by it alone.
 */
struct msg_error {
	int32_t		 kind;		/* enum err_kind */
	char		 text[ERR_MSGLEN];
};

#define MSG_MAXPAYLOAD	sizeof(struct msg_swept)
_Static_assert(sizeof(struct msg_stats) <= MSG_MAXPAYLOAD, "MSG_STATS fits");

struct msg_verbose {
	int32_t		 verbose;
};

struct msg {
	struct msg_hdr	 hdr;
	union {
		struct msg_flow_reply	 reply;
		struct msg_reflow	 reflow;
		struct msg_stats	 stats;
		struct msg_flushed	 flushed;
		struct msg_swept	 swept;
		struct msg_verbose	 verbose;
		struct msg_node		 node;
		struct msg_error	 error;
		char			 raw[MSG_MAXPAYLOAD];
	} u;
};

/* 0 sent, -1 error (ERR_SYS, or ERR_PROTO for a payload of a wrong size). */
int	msg_send(int fd, enum msg_type, const void *, size_t, struct error *);
/*
 * 1 message read, 0 peer closed, -1 error: ERR_SYS for the socket,
 * ERR_PROTO for a malformed message.
 */
int	msg_recv(int fd, struct msg *, struct error *);
const char *msg_phase_name(enum flow_phase);

#endif
