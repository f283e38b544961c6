/*
 * journal.h - sans-I/O decoder for Dragonfly's journal (journal.md): the
 * records inside JOURNAL_BLOB items during full sync and the stable-sync
 * stream on a FLOW.  Feed bytes, then call journal_next() until
 * JOURNAL_AGAIN.
 */
#ifndef DF2REDIS_JOURNAL_H
#define DF2REDIS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct error;

#define JOURNAL_OK	0
#define JOURNAL_AGAIN	1
#define JOURNAL_ERR	(-1)

enum journal_op {
	JOURNAL_COMMAND = 10,	/* also EXPIRED (9) and MULTI_COMMAND (11) */
	JOURNAL_EXEC = 12,	/* legacy masters <= v1.20 */
	JOURNAL_PING = 13,
	JOURNAL_LSN = 15,	/* not a record: consumes no LSN */
};

struct journal_rec {
	enum journal_op	 op;
	uint8_t		 wire_op;	/* opcode as read (9, 10, 11, ...) */
	uint32_t	 db;		/* from the SELECT prefix, else last db */
	uint64_t	 txid;
	uint32_t	 shard_cnt;
	uint64_t	 lsn;		/* JOURNAL_LSN: the value carried */
	size_t		 argc;
	const char	**argv;		/* argv[0] is the command name */
	const size_t	*argvlen;
	uint64_t	 offset;	/* byte offset of the record's first byte */
};

struct journal_limits {
	size_t	max_record;	/* bytes of one record's arguments (512 MiB) */
	size_t	max_args;	/* arguments of one record (16 M) */
};

#define JOURNAL_MAX_RECORD	(512UL << 20)
#define JOURNAL_MAX_ARGS	(16UL << 20)

struct journal;

/* NULL limits, or a zero field, take the defaults above. */
struct journal	*journal_new(const struct journal_limits *);
void		 journal_free(struct journal *);
int		 journal_feed(struct journal *, const void *, size_t);
/* argv points into the decoder, valid until the next call. */
int		 journal_next(struct journal *, struct journal_rec *);
/* "byte 812: unknown journal opcode 0x21"; NULL while there is none. */
const char	*journal_error(const struct journal *);
/* The first error: ERR_DATA for corrupt input and limits crossed,
   ERR_SYS when memory ran out; kind ERR_NONE while there is none. */
const struct error *journal_err(const struct journal *);
/* Offset of the first byte not yet consumed. */
uint64_t	 journal_offset(const struct journal *);
/* Bytes fed but not yet consumed (a partial record). */
size_t		 journal_pending(const struct journal *);
/*
 * Number the next byte fed as offset (e.g. its position in the FLOW), so
 * that rec.offset, journal_offset() and error messages use that numbering.
 * Only while nothing is pending; 0 ok, -1 otherwise.
 */
int		 journal_set_offset(struct journal *, uint64_t offset);

#endif
