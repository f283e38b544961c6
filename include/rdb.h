/*
 * rdb.h - streaming, sans-I/O decoder for Redis RDB files (versions 1-12)
 * and for the Dragonfly snapshot dialect carried on a replication FLOW.
 *
 * Like hiredis's reader: feed bytes in any split, then call rdb_next()
 * until it says RDB_AGAIN.  The decoder never does I/O and never holds a
 * whole value: strings longer than the piece size arrive as several
 * RDB_EV_STR events.  Memory is bounded by the limits below, whatever the
 * input; an input that would need more is an error, never a silent skip.
 *
 * Event order for one key:
 *
 *	RDB_EV_KEY                      key, db, type, expiry
 *	{ RDB_EV_STR+ [RDB_EV_STR+] RDB_EV_ITEM }*     one group per element
 *	[stream events]                 streams only, see below
 *	RDB_EV_KEY_END
 *
 * An item is one element of the value: the string value itself (one
 * string), a list or set element (one string), a hash field and value (two
 * strings: part 0 then part 1), a zset member (one string; the score is in
 * the RDB_EV_ITEM event).  Each string is one or more RDB_EV_STR events
 * with the same part number; the last piece has more == 0.
 *
 * Streams: one item per entry is NOT used; instead RDB_EV_STREAM_ENTRY
 * carries a whole entry (entries live inside listpacks that are held whole
 * anyway), followed by RDB_EV_STREAM_META, then per group RDB_EV_STREAM_GROUP,
 * its RDB_EV_STREAM_PEL events, then per consumer RDB_EV_STREAM_CONSUMER and
 * its RDB_EV_STREAM_CPEL events.
 *
 * Dragonfly's tagged chunks (opcode 224) let the pieces of several big keys
 * interleave with each other and with small keys.  Every key event carries
 * ev->eid: 0 for a key decoded in one go, otherwise a nonzero handle (the
 * chunk stream id) that stays the same from RDB_EV_KEY to RDB_EV_KEY_END.
 * Consumers must key their per-key state on eid.  ev->key is valid on every
 * key-related event (not only RDB_EV_KEY).
 *
 * Pointers in an event are valid until the next rdb_next() or rdb_feed().
 *
 * u.k.count on RDB_EV_KEY: the number of items the value header announces
 * (len(n) of lists/sets/zsets/hashes, the element count of a listpack,
 * ziplist, intset or zipmap divided by the item width), 0 where the format
 * announces none (strings, JSON, quicklists, streams, skipped types).
 * In RDB_MODE_FILE a list, set, zset or hash key with no item at all is an
 * error (Redis never writes one); Dragonfly's types 31/32 may be empty.
 * In RDB_MODE_FLOW any of them may be empty (snapshot.md 4.1): RDB_EV_KEY
 * then RDB_EV_KEY_END with no item; consumers treat the key as absent.
 */
#ifndef DF2REDIS_RDB_H
#define DF2REDIS_RDB_H

#include <stddef.h>
#include <stdint.h>

struct error;

enum rdb_mode {
	RDB_MODE_FILE,		/* a Redis RDB file: 0xFF + CRC64 ends it */
	RDB_MODE_FLOW,		/* a Dragonfly FLOW: 0xFF + 8 zero bytes */
};

/* return values of rdb_next() */
#define RDB_OK		0	/* *ev holds an event */
#define RDB_AGAIN	1	/* feed more bytes */
#define RDB_DONE	2	/* the trailer was consumed; nothing more */
#define RDB_ERR		(-1)	/* rdb_error() says what, where, which key */

/* logical value types */
enum rdb_vtype {
	RDB_VT_STRING,
	RDB_VT_LIST,
	RDB_VT_SET,
	RDB_VT_ZSET,
	RDB_VT_HASH,
	RDB_VT_STREAM,
	RDB_VT_JSON,		/* Dragonfly type 30, old type 20, ReJSON-RL */
	RDB_VT_MODULE,		/* other module values: skipped, name reported */
	RDB_VT_SBF,		/* Dragonfly bloom (33, 34): skipped */
	RDB_VT_CMS,		/* Dragonfly count-min sketch (35): skipped */
	RDB_VT_TOPK,		/* Dragonfly top-k (36): skipped */
	RDB_VT_CUCKOO,		/* Dragonfly cuckoo filter (37): skipped */
};

enum rdb_ev_type {
	RDB_EV_AUX,		/* aux.name, aux.value */
	RDB_EV_DB,		/* db: a SELECTDB was read */
	RDB_EV_FUNCTION,	/* func: FUNCTION2 library source */
	RDB_EV_MODULE_AUX,	/* module_name: MODULE_AUX data skipped */
	RDB_EV_KEY,		/* a key begins */
	RDB_EV_STR,		/* a piece of one string of the current item */
	RDB_EV_ITEM,		/* the current item is complete */
	RDB_EV_STREAM_ENTRY,
	RDB_EV_STREAM_META,
	RDB_EV_STREAM_GROUP,
	RDB_EV_STREAM_PEL,	/* a PEL entry of the last group */
	RDB_EV_STREAM_CONSUMER,
	RDB_EV_STREAM_CPEL,	/* an id owned by the last consumer */
	RDB_EV_KEY_END,		/* the key is complete */
	RDB_EV_JOURNAL,		/* JOURNAL_BLOB: journal.nrec, journal.p/len */
	RDB_EV_FULLSYNC_END,	/* Dragonfly: this shard's traversal ended */
	RDB_EV_JOURNAL_OFFSET,	/* journal_offset: first stable-sync LSN */
	RDB_EV_EOF,		/* trailer read (and CRC64 verified) */
};

struct rdb_str {
	const char	*p;
	size_t		 len;
};

struct rdb_stream_id {
	uint64_t	 ms;
	uint64_t	 seq;
};

struct rdb_event {
	enum rdb_ev_type type;
	uint32_t	 eid;		/* 0, or the tagged-chunk handle */
	int		 db;
	struct rdb_str	 key;		/* on every key-related event */
	enum rdb_vtype	 vtype;		/* on every key-related event */
	uint8_t		 enc;		/* the RDB type byte as read */
	union {
		struct {
			struct rdb_str	 name, value;
		} aux;
		struct rdb_str	 func;
		struct rdb_str	 module_name;	/* 9 chars, or the opaque type name */
		struct {
			int64_t		 expire_ms;	/* absolute unix ms, -1 none */
			uint64_t	 count;		/* elements announced, 0 unknown */
			const char	*type_name;	/* "MBbloom--", module name, ... */
		} k;
		struct {
			int		 part;		/* 0 first string, 1 second */
			const char	*p;
			size_t		 len;
			uint64_t	 off;		/* offset of p in the string */
			int		 more;		/* more pieces follow */
		} str;
		struct {
			uint64_t	 index;		/* 0, 1, ... within the key */
			double		 score;		/* zset */
			int64_t		 expire_ms;	/* member/field TTL, -1 none */
		} item;
		struct {
			struct rdb_stream_id	 id;
			size_t			 nfields;	/* pairs */
			const struct rdb_str	*fv;	/* f0 v0 f1 v1 ... */
		} entry;
		struct {
			uint64_t		 length;
			struct rdb_stream_id	 last_id;
			int			 has_v2;	/* fields below valid */
			struct rdb_stream_id	 first_id;
			struct rdb_stream_id	 max_deleted_id;
			uint64_t		 entries_added;
			uint64_t		 ngroups;
		} meta;
		struct {
			struct rdb_str		 name;
			struct rdb_stream_id	 last_id;
			int64_t			 entries_read;	/* -1 unknown */
			uint64_t		 npel, nconsumers;
		} group;
		struct {
			struct rdb_stream_id	 id;
			int64_t			 delivery_ms;
			uint64_t		 delivery_count;
		} pel;
		struct {
			struct rdb_str		 name;
			int64_t			 seen_ms;
			int64_t			 active_ms;	/* -1 unknown */
			uint64_t		 npel;
		} consumer;
		struct rdb_stream_id	 cpel;
		struct {
			uint64_t	 nrec;
			const char	*p;
			size_t		 len;
		} journal;
		uint64_t	 journal_offset;
	} u;
};

struct rdb_limits {
	size_t	piece;		/* max bytes in one RDB_EV_STR (default 64 KiB) */
	size_t	max_blob;	/* max listpack/ziplist/intset/compressed blob,
				   name or journal blob held whole (256 MiB) */
};

struct rdb;

struct rdb	*rdb_new(enum rdb_mode, const struct rdb_limits *);
void		 rdb_free(struct rdb *);
/* Copies the bytes in; returns -1 (rdb_error() set) when out of memory. */
int		 rdb_feed(struct rdb *, const void *, size_t);
int		 rdb_next(struct rdb *, struct rdb_event *);
/* "byte 1234: unknown opcode 0xe5 while decoding key "foo"" */
const char	*rdb_error(const struct rdb *);
/* The first error: ERR_DATA for corrupt or unsupported input and limits
   crossed, ERR_SYS when memory ran out; kind ERR_NONE while there is none. */
const struct error *rdb_err(const struct rdb *);
/* Bytes of the outer input consumed so far. */
uint64_t	 rdb_offset(const struct rdb *);
/* Header version (REDISnnnn), 0 before the header was read. */
int		 rdb_version(const struct rdb *);
/* After RDB_DONE: bytes fed beyond the trailer (FLOW: token + journal). */
void		 rdb_leftover(const struct rdb *, const char **, size_t *);
const char	*rdb_vtype_name(enum rdb_vtype);

#endif
