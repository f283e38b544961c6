/*
 * writer_int.h - the writer's insides, shared by its files and included
 * by nothing else (the API is writer.h):
 *
 *   writer.c	 sending, matching replies to keys, counts, the first
 *		 error, and the writer's life (open, sync, abort, close)
 *   keybuild.c	 snapshot keys (rdb.h events) become commands: temporary
 *		 names, batches, small values as SET or RESTORE
 *   keystream.c a stream key's entries, metadata, groups and PELs
 *   jcmd.c	 journal records become commands: translations, plain or
 *		 guarded by a sequence marker
 *   jfilter.c	 journal records against the filter and the keys
 *		 --unsupported skip left out
 *
 * It lives in include/ with the other headers; the _int says it is not a
 * module's interface.
 *
 * Replies are matched to their key through the command's tag: a pointer
 * to a reference-counted struct keyref with a command code in its low 4
 * bits.
 */
#ifndef DF2REDIS_WRITER_INT_H
#define DF2REDIS_WRITER_INT_H

#include <sys/queue.h>

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "writer.h"

#define SMALL_BYTES	(512 * 1024)	/* a key held whole up to this */
#define LUA_MAXARGS	6000		/* unpack() stays below Lua's C stack */
#define NSLOTS		16384

/* command codes, kept in the low 4 bits of a tag */
enum code {
	C_JOURNAL,	/* a journal command or a keyless control command */
	C_SET,		/* final: SET k v [PXAT] [NX]; nil = key existed */
	C_RESTORE,	/* final: BUSYKEY = key existed */
	C_APPEND,	/* SET tmp / checked APPEND */
	C_RPUSH,	/* checked RPUSH */
	C_ADD,		/* SADD / HSET / ZADD on tmp */
	C_DEL,
	C_EMPTY,	/* creates an empty stream */
	C_PEXPIREAT,
	C_FINISH,	/* final: rename script; 0 = key existed */
	C_XADD,
	C_XSETID,
	C_XGROUP,	/* BUSYGROUP = already created by an earlier send */
	C_XCLAIM,
	C_HPEXPIREAT,
	C_JSON,		/* final: JSON.SET script; 0 = key existed */
};

struct keyref {
	TAILQ_ENTRY(keyref)	 entry;
	int			 refs;
	int			 db;		/* destination db, -1 any */
	enum rdb_vtype		 vtype;
	char			 cmd[24];	/* journal commands: argv[0] */
	uint64_t		 tmpno;		/* temporary name until renamed */
	int			 pslot;		/* plain: slot counted in
						   w->plain, NSLOTS any, -1 no */
	int			 control;	/* SELECT, marker cleanup */
	uint64_t		 seq;		/* guarded: its sequence number */
	int			 lsnmark;	/* seq is an LSN (jcmd.c) */
	size_t			 keylen;
	char			 key[];
};
TAILQ_HEAD(keyrefs, keyref);

struct mslot {
	int		 db;
	unsigned int	 slot;
};

struct arg {
	size_t	 off, len;
};

struct pelent {
	struct rdb_stream_id	 id;
	int64_t			 ms;
	uint64_t		 count;
};

/* one snapshot key being written (keytab's state of an open key) */
struct kstate {
	struct keyref	*ref;
	enum rdb_vtype	 vtype;
	int		 dropped;	/* expired or skipped: ignore the rest */
	int		 big;		/* being built under tmp */
	int		 lossy;		/* member TTLs were dropped */
	int		 fieldttl;	/* hash field TTLs were sent */
	char		 tmp[80];
	size_t		 tmplen;
	int64_t		 expire_ms;
	struct buf	 arena;		/* element bytes */
	struct arg	*args;
	size_t		 nargs, argcap;
	double		*scores;
	size_t		 nscores, scorecap;
	uint64_t	 nitems;	/* items in args */
	uint64_t	 sent;		/* elements or bytes already in tmp */
	size_t		 part_start[2];
	/* streams */
	uint64_t	 nentries;	/* entries in args */
	uint64_t	 entries_sent;
	struct pelent	*pel;
	size_t		 npel, pelcap;
	struct buf	 group, consumer;
};

struct writer {
	struct target		*t;
	struct writer_opts	 opts;
	int			 cluster;
	int			 version;
	int			 has_json;
	long			 pid;
	uint64_t		 ntmp;
	int			 curdb;		/* SELECTed db, -1 unknown */
	int			 jdb;		/* db of the journal record */
	struct keytab		*keys;		/* open snapshot keys */
	struct keyrefs		 refs;
	struct buf		 scratch;
	const char		**argv;
	size_t			*argvlen;
	size_t			 argvcap;
	struct buf		 numbuf;	/* scores / ids formatted for argv */
	uint64_t		 counts[WC_MAX];
	/* journal commands guarded by a sequence marker (see jguard()) */
	char			 wid[48];	/* this writer's marker suffix */
	uint64_t		 seq;		/* last sequence number sent */
	uint64_t		*lastseq[WRITER_MAXDB];	/* per db, slot: last
						   guarded seq sent */
	uint32_t		*plain;		/* per slot: plain commands
						   unacknowledged */
	uint64_t		 plain_any;	/* keyless or multi-key ones */
	/* stable sync: LSN markers (jcmd.c) */
	int			 lsnmode;	/* the record has an LSN */
	uint64_t		 jlsn;		/* its LSN */
	uint64_t		*marked[WRITER_MAXDB];	/* per db, slot: LSN
						   in the marker, 0 none */
	struct mslot		*mslots;	/* markers not yet deleted */
	size_t			 nmslots, mslotcap;
	int			 have_applied;	/* markers loaded on resume */
	uint64_t		 applied_max;	/* the highest of them */
	uint64_t		 plain_all;	/* all of them */
	int			 in_cb;		/* inside the reply callback */
	int			 jplain;	/* jsend(): a translation, plain */
	struct skipset		*skipped;	/* keys skipped (skipset.h) */
	/* a journal record cut by the filter (jfilter.c) */
	struct journal_rec	 frec;
	const char		**fargv;
	size_t			*fargvlen;
	unsigned char		*fkeep;
	size_t			 fcap;
	int			 failed;
	int			 refused;	/* a journal command got an
						   error reply (writer_refused) */
	struct error		 err;
};

/* writer.c: errors; the first is kept, prefixed with opts.label */
void		 werr(struct writer *, enum err_kind, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* ... naming the key of ref (journal: its command) */
void		 kerr(struct writer *, enum err_kind, const struct keyref *,
		    const char *, ...)
		    __attribute__((format(printf, 4, 5)));
/* The target's error as the writer's (ERR_TARGET); returns -1. */
int		 werr_target(struct writer *);
/* A key as printable text: "\xNN" for anything else, cut after 200. */
const char	*keytext(const char *, size_t, char *, size_t);

/* writer.c: references and sending */
struct keyref	*keyref_new(struct writer *, const char *, size_t,
		    enum rdb_vtype, const char *cmd);
void		 keyref_put(struct writer *, struct keyref *);
/* Room for n arguments in w->argv (ERR_SYS when memory ran out). */
int		 av_reserve(struct writer *, size_t n);
/* Send argv (w->argv: wsend_av) on ref's behalf; keyidx -1: no key. */
int		 wsend(struct writer *, struct keyref *, enum code, int argc,
		    const char **argv, const size_t *argvlen, int keyidx);
int		 wsend_av(struct writer *, struct keyref *, enum code,
		    int argc, int keyidx);
/* Send w->argv to every master (FLUSHALL, FUNCTION LOAD, ...). */
int		 wsend_all(struct writer *, struct keyref *, enum code,
		    int argc);
/* Format a number into w->numbuf: its offset, (size_t)-1 on error. */
size_t		 num_add(struct writer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* The destination db of a source db; -1 when a cluster cannot hold it. */
int		 map_db(struct writer *, int srcdb, int *dst);
/* A plain command of ref sent (+1) or answered (-1). */
void		 plain_count(struct writer *, const struct keyref *, int);

static inline void
av_set(struct writer *w, int i, const char *p, size_t n)
{
	w->argv[i] = p;
	w->argvlen[i] = n;
}

static inline void
av_str(struct writer *w, int i, const char *s)
{
	av_set(w, i, s, strlen(s));
}

/* "EVAL script nkeys" as the first arguments; returns how many. */
static inline int
av_eval(struct writer *w, const char *script, const char *nkeys)
{
	av_str(w, 0, "EVAL");
	av_str(w, 1, script);
	av_str(w, 2, nkeys);
	return 3;
}

/*
 * jcmd.c: --unsupported skip: the key (target db, name) leaves the
 * target: DEL sent, its later records dropped (skipset.h); why is logged
 * with it.  0 ok, -1 error.
 */
int		 jskip_key(struct writer *, int db, const char *, size_t,
		    const char *why);
/* "flow 3: " or "" */
const char	*wlabel(const struct writer *, char *, size_t);
/* "journal record at byte N (LSN M)" */
const char	*jwhere(const struct writer *, const struct journal_rec *,
		    char *, size_t);
/*
 * jfilter.c: the record against the filter and the skipped keys: 0 go on
 * with *rec (a cut copy when the filter split it), 1 dropped, -1 error.
 */
int		 jfilter(struct writer *, const struct journal_rec **rec);
/* FLUSHALL (all) or FLUSHDB: 0 send it verbatim, 1 done or dropped, -1 */
int		 jfilter_flush(struct writer *, const struct journal_rec *,
		    int all);

/* keybuild.c */
int		 kb_open(struct writer *);
void		 kb_close(struct writer *);
/* Abandon the open keys: their temporary names are deleted. */
void		 kb_abort(struct writer *);
/* DEL the temporary name of ref; nothing more of that key is sent. */
int		 kb_del_tmp(struct writer *, struct keyref *);
/* The reply to a command of a snapshot key (any code but C_JOURNAL). */
int		 kb_reply(struct writer *, struct keyref *, enum code,
		    const redisReply *);
/* An element of st held in st->arena at off. */
int		 kb_arg_push(struct writer *, struct kstate *, size_t off,
		    size_t len);

/* keystream.c: a stream key's pieces (keyev_ops.stream: writer, kstate);
   the entries held are sent */
int		 ks_stream(void *, void *, const struct rdb_event *);
int		 ks_flush_entries(struct writer *, struct kstate *);
/* XCLAIM of a pending entry whose message is gone */
int		 ks_pel_missing(struct writer *, struct keyref *,
		    const redisReply *);

/* jcmd.c: the reply to a journal command; a guarded one acknowledged */
int		 jcmd_reply(struct writer *, struct keyref *,
		    const redisReply *);
int		 jcmd_seq_acked(struct writer *, const struct keyref *);

#endif
