/*
 * dflymaster.h - the Dragonfly test master: one process, one thread, a
 * poll() loop serving plain clients and Dragonfly replication sessions
 * (replication.md), a sharded keyspace with a journal per shard
 * (journal.md) and a full-sync serializer per flow (snapshot.md).
 */
#ifndef DFLYMASTER_H
#define DFLYMASTER_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define NDBS		16
#define MAX_SHARDS	64

/* ---------------------------------------------------------------- options */

enum compression { COMP_NONE, COMP_LZ4, COMP_ZSTD };

struct fault {
	int	 flow;		/* -1: unset */
	uint64_t at;		/* byte offset in the flow's data stream */
};

struct options {
	int		 port;
	int		 shards;
	const char	*requirepass;
	const char	*user;
	size_t		 chunk_size;	/* --chunk-size, snapshot.md 8 */
	enum compression compression;
	int64_t		 backlog_ms;	/* replication.md 7.1 */
	size_t		 backlog_records;
	size_t		 output_limit;	/* pending flow bytes that pause a snapshot */
	int64_t		 repl_timeout_ms;
	const char	*replay_dir;
	char		 master_id[41];
	struct fault	 fault_close;
	struct fault	 fault_stall;
	struct fault	 fault_flip;
	int		 fault_once;	/* faults hit the first full sync only */
	int		 refuse_partial;
	int		 startstable_error;	/* one -ERR invalid state left */
	int		 snapshot_slow_us;	/* pause between snapshot steps */
	int		 lsn_interval_ms;	/* replication.md 5: ~3 s */
};

extern struct options opt;

/* ---------------------------------------------------------------- buffers */

struct obuf {
	uint8_t	*p;
	size_t	 off;		/* first unsent byte */
	size_t	 len;
	size_t	 cap;
};

void	 obuf_add(struct obuf *, const void *, size_t);
size_t	 obuf_pending(const struct obuf *);
void	 obuf_free(struct obuf *);

/* ---------------------------------------------------------------- strings */

struct str {
	char	*p;
	size_t	 len;
};

struct str	 str_dup(const void *, size_t);
void		 str_setrange(struct str *, size_t, const void *, size_t);
void		 str_free(struct str *);
int		 str_eq(const struct str *, const void *, size_t);

/* ---------------------------------------------------------------- dict */

struct dent {
	struct dent	*next;
	uint64_t	 hash;
	void		*val;
	double		 score;		/* zset members */
	uint64_t	 ver;		/* snapshot version (keyspace entries) */
	size_t		 klen;
	char		 key[];
};

struct dict {
	struct dent	**b;
	size_t		  mask;		/* buckets - 1, power of two */
	size_t		  count;
};

struct dict	*dict_new(void);
void		 dict_free(struct dict *, void (*)(void *));
struct dent	*dict_find(struct dict *, const void *, size_t);
/* Returns the entry; *created tells whether it is new (val NULL). */
struct dent	*dict_add(struct dict *, const void *, size_t, int *);
int		 dict_del(struct dict *, const void *, size_t, void (*)(void *));
size_t		 dict_buckets(const struct dict *);
uint64_t	 dict_hash(const void *, size_t);

/* ---------------------------------------------------------------- objects */

enum otype { OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM,
    OBJ_JSON };

struct sid {
	uint64_t ms;
	uint64_t seq;
};

struct sentry {
	struct sid	 id;
	size_t		 nfv;		/* fields + values */
	struct str	*fv;
};

struct consumer {
	struct str	 name;
	int64_t		 seen_ms;
	int64_t		 active_ms;
};

struct pel {
	struct sid	 id;
	int64_t		 delivery_ms;
	uint64_t	 count;
	size_t		 consumer;	/* index in group's consumers */
};

struct group {
	struct str	 name;
	struct sid	 last;
	uint64_t	 entries_read;
	struct pel	*pel;
	size_t		 npel;
	struct consumer	*cons;
	size_t		 ncons;
};

struct stream {
	struct sentry	*e;
	size_t		 n;
	size_t		 cap;
	struct sid	 last;
	struct sid	 maxdel;
	uint64_t	 added;
	struct group	*g;
	size_t		 ng;
};

struct list {
	struct str	*a;
	size_t		 head;		/* first used slot */
	size_t		 n;
	size_t		 cap;
};

struct obj {
	enum otype	 type;
	int		 big;		/* left the compact encoding (sticky) */
	int64_t		 expire_ms;	/* -1: none */
	union {
		struct str	 s;		/* string, json */
		struct list	 l;
		struct dict	*d;		/* set, hash (val struct str *), zset */
		struct stream	 x;
	};
};

struct obj	*obj_new(enum otype);
void		 obj_free(void *);
int		 obj_rdb_type(const struct obj *);	/* snapshot.md 6.0 */
void		 obj_update_encoding(struct obj *);

/* list helpers */
void		 list_push(struct list *, int, const void *, size_t);
struct str	 list_pop(struct list *, int);
struct str	*list_at(struct list *, size_t);

/* ---------------------------------------------------------------- shards */

struct snapshot;

struct shard {
	int		 id;
	struct dict	*db[NDBS];
	uint64_t	 snap_ver;	/* version of the running snapshot */
	struct snapshot	*snap;		/* the full sync serializing this shard */
	/* journal.md 4, replication.md 7.1 */
	uint64_t	 lsn;		/* LSN the next record gets */
	struct jrec	*ring;
	size_t		 ring_head;
	size_t		 ring_n;
	size_t		 ring_cap;
	size_t		 expire_cursor[NDBS];
};

struct jrec {
	uint64_t	 lsn;
	int64_t		 time_ms;
	uint8_t		*p;
	size_t		 len;
};

extern struct shard	shards[MAX_SHARDS];
extern uint64_t		next_txid;

int		 key_shard(const void *, size_t);
int64_t		 now_ms(void);

/* keyspace.c */
struct dent	*ks_lookup(int, const void *, size_t);		/* read */
struct dent	*ks_lookup_write(int, const void *, size_t);	/* before a write */
struct dent	*ks_create(int, const void *, size_t, struct obj *);
void		 ks_delete(int, const void *, size_t);
void		 ks_flushdb(int);
size_t		 ks_dbsize(int);
void		 ks_active_expire(void);
void		 ks_load_sample(void);
void		 ks_populate(int, uint64_t, const char *, size_t, uint64_t);

/* ---------------------------------------------------------------- journal */

/* journal.c: journal.md 3-4 */
void		 journal_init(void);
void		 journal_cmd(int shard, int db, uint64_t txid, size_t argc,
		     const char *const *argv, const size_t *lens);
void		 journal_ping(int shard);
int		 journal_has(int shard, uint64_t lsn);
void		 journal_replay(int shard, uint64_t from, struct obuf *);
void		 journal_evict(int shard);

/* ---------------------------------------------------------------- clients */

enum ckind { C_PLAIN, C_CTRL, C_FLOW };

struct session;
struct flow;

struct mcmd {
	size_t		 argc;
	char		**argv;
	size_t		*lens;
};

struct client {
	TAILQ_ENTRY(client) entry;
	int		 fd;
	uint64_t	 id;
	enum ckind	 kind;
	uint8_t		*in;
	size_t		 inlen;
	size_t		 incap;
	struct obuf	 out;
	uint64_t	 sent;		/* bytes written to the socket */
	int		 db;
	int		 authed;
	int		 closing;	/* close once out is flushed */
	int		 dead;
	int		 in_multi;
	int		 multi_err;
	struct mcmd	*mq;
	size_t		 nmq;
	struct session	*sess;		/* control connection's session */
	struct flow	*flow;
	void		*replay;	/* replay.c per-connection state */
};

TAILQ_HEAD(clientq, client);
extern struct clientq clients;

void		 client_close(struct client *);

/* resp.c */
#define PARSE_AGAIN	0
#define PARSE_OK	1
#define PARSE_ERR	(-1)
int		 resp_parse(struct client *, size_t *, char ***, size_t **,
		     size_t *, const char **);
void		 reply_raw(struct client *, const void *, size_t);
void		 reply_simple(struct client *, const char *);
void		 reply_error(struct client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 reply_int(struct client *, long long);
void		 reply_bulk(struct client *, const void *, size_t);
void		 reply_cstr(struct client *, const char *);
void		 reply_null(struct client *);
void		 reply_array(struct client *, long long);
void		 reply_null_array(struct client *);
void		 reply_double(struct client *, double);
void		 reply_ok(struct client *);

/* commands.c */
void		 cmd_dispatch(struct client *, size_t, char **, size_t *);
int		 arg_is(const char *, size_t, const char *);
int		 parse_ll(const char *, size_t, long long *);
int		 parse_double(const char *, size_t, double *);
size_t		 fmt_double(char *, size_t, double);
extern int	 writes_blocked;	/* DFLY TAKEOVER */

/* ---------------------------------------------------------------- repl */

enum sstate { S_PREPARATION, S_FULL_SYNC, S_STABLE_SYNC, S_CANCELLED };
enum fstate { F_REGISTERED, F_FULL, F_STABLE };

struct flow {
	struct session	*sess;
	struct client	*c;
	int		 shard;
	char		 token[41];
	int		 partial;
	uint64_t	 start_lsn;	/* PARTIAL: first LSN to send */
	uint64_t	 acked;		/* last REPLCONF ACK */
	enum fstate	 state;
	uint64_t	 reply_len;	/* bytes queued before the data stream */
	uint64_t	 stream_queued;	/* data stream bytes queued */
	uint64_t	 fullsync_end_at; /* stream offset after FULLSYNC_END, 0: not yet */
	int64_t		 last_lsn_ms;	/* replication.md 5 */
	uint64_t	 last_rec_lsn;
	int		 records_since_lsn;
	int64_t		 blocked_since;
	int		 stall_counted;	/* --fault-stall-flow reached */
	struct snapshot	*snap;
};

struct session {
	TAILQ_ENTRY(session) entry;
	int		 id;
	enum sstate	 state;
	int		 nflows;
	struct client	*ctl;
	struct flow	*flows[MAX_SHARDS];
	int		 client_version;
	int		 faulty;	/* the fault switches act on it */
	/* DFLY TAKEOVER */
	int		 takeover;
	int64_t		 takeover_deadline;
	uint64_t	 takeover_lsn[MAX_SHARDS];
};

TAILQ_HEAD(sessionq, session);
extern struct sessionq sessions;

struct stats {
	uint64_t	 sessions;
	uint64_t	 full_syncs;
	uint64_t	 partial_syncs;
	uint64_t	 cancelled;
	uint64_t	 journal_records;
	uint64_t	 faults;	/* fault switches that took effect */
	uint64_t	 journal_blobs;	/* JOURNAL_BLOBs sent during full syncs */
};
extern struct stats stats;
extern char master_id[41];

void		 repl_replconf(struct client *, size_t, char **, size_t *);
void		 repl_dfly(struct client *, size_t, char **, size_t *);
void		 repl_cancel(struct session *, const char *);
void		 repl_client_closed(struct client *);
void		 repl_tick(void);
void		 repl_wrote(struct client *);
size_t		 flow_write_limit(struct client *, int *);
void		 flow_emit(struct flow *, const void *, size_t);
void		 flow_journal(struct flow *, uint64_t, const uint8_t *, size_t);
int		 repl_throttled(void);
void		 repl_stats(struct client *);
void		 random_hex(char *, size_t);

/* snapshot.c */
struct snapshot	*snap_start(struct flow *);
void		 snap_free(struct snapshot *);
int		 snap_step(struct snapshot *);	/* 1: more work */
void		 snap_journal(struct snapshot *, const uint8_t *, size_t);
void		 snap_touch(struct shard *, int, struct dent *);
void		 snap_finish(struct snapshot *, uint64_t);
int		 snap_done(const struct snapshot *);
int		 snap_dump(const struct obj *, struct obuf *);

/* replay.c */
int		 replay_load(const char *);
void		 replay_command(struct client *, size_t, char **, size_t *);
void		 replay_closed(struct client *);

#endif
