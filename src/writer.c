/*
 * writer.c - decoded keys and journal commands become commands on a target.
 *
 * A key is held in memory while it is small (at most opts.batch members and
 * SMALL_BYTES bytes) and then written with one atomic command: SET for a
 * string, RESTORE ... ABSTTL with a DUMP payload built here for a
 * collection.  A bigger key is built under a temporary name in the key's
 * hash slot, batch after batch, and moved into place by a script that
 * renames it (or, for --conflict skip/panic, only when the key is absent),
 * so a reader never sees half a key.
 *
 * The target may resend any unacknowledged command after a reconnect, so
 * every command here is idempotent: the temporary name is deleted before
 * a build, SADD/HSET/ZADD are naturally so, and RPUSH, APPEND and XADD run
 * inside small scripts that check the length or last id first.  Journal
 * commands that are not safe to run twice run under a per-slot sequence
 * marker (lua_seq).
 *
 * Replies are matched to their key through the command's tag: a pointer to
 * a reference-counted struct keyref with a command code in its low 4 bits.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "crc64.h"
#include "log.h"
#include "writer.h"

#define SMALL_BYTES	(512 * 1024)	/* a key held whole up to this */
#define CHUNK_BYTES	(1024 * 1024)	/* string bytes per APPEND */
#define ITEM_MAX	(64 * 1024 * 1024) /* largest element held */
#define LUA_MAXARGS	6000		/* unpack() stays below Lua's C stack */
#define PEL_MAX		(8 * 1024 * 1024) /* pending entries held per group */
#define INFLIGHT_BYTES	(8 * 1024 * 1024) /* sent, then wait for acks */
#define NSLOTS		16384
#define DUMP_VERSION	9		/* every Redis >= 5.0 accepts it */

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

static const char *code_names[] = {
	"command", "SET", "RESTORE", "APPEND", "RPUSH", "add", "DEL",
	"XADD", "PEXPIREAT", "RENAME", "XADD", "XSETID", "XGROUP", "XCLAIM",
	"HPEXPIREAT", "JSON.SET",
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
	size_t			 keylen;
	char			 key[];
};
TAILQ_HEAD(keyrefs, keyref);

struct buf {
	char	*p;
	size_t	 len, cap;
};

struct arg {
	size_t	 off, len;
};

struct pelent {
	struct rdb_stream_id	 id;
	int64_t			 ms;
	uint64_t		 count;
};

/* one key being written; several at once with Dragonfly's tagged chunks */
struct kstate {
	int		 active;
	uint32_t	 eid;
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
	char			*slottags;	/* NSLOTS x 8: a tag per slot */
	struct kstate		 k0;		/* eid 0 */
	struct kstate		**ks;		/* eid != 0 */
	size_t			 nks;
	struct keyrefs		 refs;
	struct buf		 scratch;
	const char		**argv;
	size_t			*argvlen;
	size_t			 argvcap;
	struct buf		 numbuf;	/* scores / ids formatted for argv */
	uint64_t		 counts[WC_MAX];
	size_t			 inflight;	/* bytes sent since the last wait */
	/* journal commands guarded by a sequence marker (see jguard()) */
	char			 wid[48];	/* this writer's marker suffix */
	uint64_t		 seq;		/* last sequence number sent */
	uint64_t		*lastseq[WRITER_MAXDB];	/* per db, slot: last
						   guarded seq sent */
	uint32_t		*plain;		/* per slot: plain commands
						   unacknowledged */
	uint64_t		 plain_any;	/* keyless or multi-key ones */
	uint64_t		 plain_all;	/* all of them */
	int			 in_cb;		/* inside the reply callback */
	int			 jplain;	/* jsend(): a translation, plain */
	int			 failed;
	int			 errkind;	/* WERR_* of err */
	char			 err[1024];
};

/*
 * The checked scripts answer an integer when they wrote, else a table
 * { status, found, expected } (enum check): the target may resend a
 * command after a reconnect, so finding its work done is no error, but
 * finding anything else is.  A temporary key that is gone half-way was
 * renamed by an earlier send of the finish script, or deleted by someone
 * else: the finish script tells which.  found and expected count elements,
 * bytes, entries, members or fields.
 */
enum check {
	CK_DIVERGED,	/* the target holds what the writer did not write */
	CK_APPLIED,	/* an earlier send of this command did it */
	CK_GONE,	/* tmp is gone: the finish script judges */
	CK_EXPIRED,	/* finish: tmp expired before the rename */
};

/* KEYS: tmp; ARGV: elements in tmp before, element... */
static const char lua_rpush[] =
    "local n=redis.call('LLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "if n==e then return redis.call('RPUSH',KEYS[1],unpack(ARGV,2)) end "
    "if n==0 then return {2,n,e} end "
    "if n>=e+#ARGV-1 then return {1,n,e} end return {0,n,e}";
/* KEYS: tmp; ARGV: bytes in tmp before, bytes */
static const char lua_append[] =
    "local n=redis.call('STRLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "if n==e then return redis.call('APPEND',KEYS[1],ARGV[2]) end "
    "if n==0 then return {2,n,e} end "
    "if n>=e+#ARGV[2] then return {1,n,e} end return {0,n,e}";
/* KEYS: tmp; ARGV: entries in tmp before, { id nfields f v ... }* */
static const char lua_xadd[] =
    "local n=redis.call('XLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "local i,c=2,0 while i<=#ARGV do c=c+1 i=i+2+2*tonumber(ARGV[i+1]) end "
    "if n~=e then if n==0 then return {2,n,e} end "
    "if n>=e+c then return {1,n,e} end return {0,n,e} end "
    "i=2 while i<=#ARGV do local k=tonumber(ARGV[i+1]) "
    "redis.call('XADD',KEYS[1],ARGV[i],unpack(ARGV,i+2,i+1+2*k)) "
    "i=i+2+2*k end return n+c";
/*
 * KEYS: tmp, key; ARGV: overwrite (1|0), the command that counts the
 * value, its expected count (-1 unknown), expiry (ms, -1 none).
 * 1 renamed, 0 key existed (tmp dropped), else a check table.  Without
 * tmp: a key in place with the expected count was renamed by an earlier
 * send of this script; an expiry passed explains a tmp gone; anything
 * else is a tmp deleted behind the writer's back.  A tmp short of the
 * count next to a key in place that has it: SADD/HSET/ZADD resent after
 * an earlier send of this script renamed tmp started a stray (those are
 * not worth a script each).
 */
static const char lua_finish[] =
    "local e=tonumber(ARGV[3]) "
    "if redis.call('EXISTS',KEYS[1])==0 then "
    "if redis.call('EXISTS',KEYS[2])==1 then "
    "if ARGV[1]=='0' then return 0 end "
    "local d=redis.pcall(ARGV[2],KEYS[2]) "
    "if type(d)=='number' and (e<0 or d==e) then return {1,d,e} end end "
    "if ARGV[4]~='-1' then local t=redis.call('TIME') "
    "if tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)>="
    "tonumber(ARGV[4]) then return {3,0,e} end end "
    "return {2,0,e} end "
    "local n=redis.call(ARGV[2],KEYS[1]) "
    "if e>=0 and n~=e then "
    "if n<e and redis.call('EXISTS',KEYS[2])==1 and "
    "redis.pcall(ARGV[2],KEYS[2])==e then "
    "redis.call('DEL',KEYS[1]) return {1,e,e} end return {0,n,e} end "
    "if ARGV[1]=='0' and redis.call('EXISTS',KEYS[2])==1 then "
    "redis.call('DEL',KEYS[1]) return 0 end "
    "redis.call('RENAME',KEYS[1],KEYS[2]) return 1";
/*
 * KEYS: tmp; ARGV: a command on tmp (XSETID, XGROUP, XCLAIM).  Resent after
 * an earlier send of the finish script renamed tmp, it must not recreate
 * or fail on it: tmp gone is CK_GONE, and the finish judges.  An XCLAIM
 * that claims nothing names the entry whose message was deleted.
 */
static const char lua_ontmp[] =
    "if redis.call('EXISTS',KEYS[1])==0 then return {2,0,0} end "
    "local r=redis.pcall(unpack(ARGV)) "
    "if ARGV[1]=='XCLAIM' and type(r)=='table' and r.err==nil and #r==0 "
    "then return {'missing',ARGV[3],ARGV[4],ARGV[6]} end return r";
/*
 * An empty stream with no history: an entry added and trimmed would leave
 * entries-added 1 (and, before 7.0, no way to reset it), a group created
 * with MKSTREAM and destroyed leaves entries-added 0, max-deleted-id 0-0.
 */
static const char lua_empty[] =
    "if redis.call('EXISTS',KEYS[1])==0 then "
    "redis.call('XGROUP','CREATE',KEYS[1],'df2redis','$','MKSTREAM') "
    "redis.call('XGROUP','DESTROY',KEYS[1],'df2redis') end return 1";
static const char lua_json[] =
    "if redis.call('EXISTS',KEYS[1])==1 then "
    "if ARGV[2]=='0' then return 0 end redis.call('DEL',KEYS[1]) end "
    "redis.call('JSON.SET',KEYS[1],'$',ARGV[1]) "
    "if ARGV[3]~='-1' then redis.call('PEXPIREAT',KEYS[1],ARGV[3]) end "
    "return 1";

/* what counts a value of each type, and what it counts */
static const char *count_cmd[] = {
	[RDB_VT_STRING] = "STRLEN", [RDB_VT_LIST] = "LLEN",
	[RDB_VT_SET] = "SCARD", [RDB_VT_ZSET] = "ZCARD",
	[RDB_VT_HASH] = "HLEN", [RDB_VT_STREAM] = "XLEN",
};
static const char *count_unit[] = {
	[RDB_VT_STRING] = "bytes", [RDB_VT_LIST] = "elements",
	[RDB_VT_SET] = "members", [RDB_VT_ZSET] = "members",
	[RDB_VT_HASH] = "fields", [RDB_VT_STREAM] = "entries",
};

static int	reply_cb(void *, uint64_t, const redisReply *);

/* ------------------------------------------------------------ helpers */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A key as printable text: "\xNN" for anything else, cut after 200. */
static const char *
keytext(const char *k, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 8 < outlen; i++) {
		unsigned char c = k[i];

		if (i == 200) {
			o += snprintf(out + o, outlen - o, "...");
			break;
		}
		if (isprint(c) && c != '"' && c != '\\')
			out[o++] = c;
		else
			o += snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* The first error is kept, with its kind (writer.h). */
static void
werr(struct writer *w, int kind, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->failed)
		return;
	w->failed = 1;
	w->errkind = kind;
	if (w->opts.label != NULL)
		snprintf(w->err, sizeof(w->err), "%s: %s", w->opts.label, msg);
	else
		strlcpy(w->err, msg, sizeof(w->err));
}

static void
kerr(struct writer *w, int kind, const struct keyref *ref, const char *fmt,
    ...)
{
	char msg[700], kt[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ref == NULL || (ref->keylen == 0 && ref->cmd[0] != '\0'))
		werr(w, kind, "%s", msg);
	else
		werr(w, kind, "key \"%s\": %s",
		    keytext(ref->key, ref->keylen, kt, sizeof(kt)), msg);
}

/* ------------------------------------------------------------ key refs */

static struct keyref *
keyref_new(struct writer *w, const char *key, size_t keylen,
    enum rdb_vtype vtype, const char *cmd)
{
	struct keyref *ref;

	if ((ref = malloc(sizeof(*ref) + keylen + 1)) == NULL) {
		werr(w, WERR_TARGET, "out of memory");
		return NULL;
	}
	if ((uintptr_t)ref & 15)
		fatalx("%s: malloc returned a pointer not 16-byte aligned",
		    __func__);
	ref->refs = 1;
	ref->db = -1;
	ref->vtype = vtype;
	ref->tmpno = 0;
	ref->pslot = keylen > 0 ? (int)target_slot(key, keylen) : NSLOTS;
	ref->control = 0;
	ref->seq = 0;
	strlcpy(ref->cmd, cmd ? cmd : "", sizeof(ref->cmd));
	ref->keylen = keylen;
	memcpy(ref->key, key, keylen);
	ref->key[keylen] = '\0';
	TAILQ_INSERT_TAIL(&w->refs, ref, entry);
	return ref;
}

static void
keyref_put(struct writer *w, struct keyref *ref)
{
	if (ref == NULL || --ref->refs > 0)
		return;
	TAILQ_REMOVE(&w->refs, ref, entry);
	free(ref);
}

/* ------------------------------------------------------------ sending */

static int
argv_reserve(struct writer *w, size_t n)
{
	const char **av;
	size_t *al;

	if (n <= w->argvcap)
		return 0;
	if ((av = reallocarray(w->argv, n, sizeof(*av))) == NULL)
		return -1;
	w->argv = av;
	if ((al = reallocarray(w->argvlen, n, sizeof(*al))) == NULL)
		return -1;
	w->argvlen = al;
	w->argvcap = n;
	return 0;
}

/*
 * The target bounds the commands in flight, not their bytes: with 1 MB
 * chunks or a large --batch that could be a gigabyte.  Once INFLIGHT_BYTES
 * were sent, wait until half the commands in flight are answered and count
 * half the bytes as gone; the target never idles, as a full flush would
 * make it.
 */
static int
wait_acks(struct writer *w)
{
	size_t goal = target_pending(w->t) / 2;

	while (target_pending(w->t) > goal)
		if (target_poll(w->t, 1000) == -1) {
			werr(w, WERR_TARGET, "%s", target_error(w->t));
			return -1;
		}
	w->inflight /= 2;
	return 0;
}

static int	use_db(struct writer *, int);

/* A plain (unguarded) command of ref sent (+1) or answered (-1). */
static void
plain_count(struct writer *w, const struct keyref *ref, int d)
{
	if (ref->pslot < 0)
		return;
	if (ref->pslot == NSLOTS)
		w->plain_any += d;
	else
		w->plain[ref->pslot] += d;
	w->plain_all += d;
}

static int
send_cmd(struct writer *w, struct keyref *ref, enum code code, int argc,
    const char **argv, const size_t *argvlen, int keyidx)
{
	int i;

	if (w->failed)
		return -1;
	if (use_db(w, ref->db) == -1)
		return -1;
	ref->refs++;
	plain_count(w, ref, 1);
	w->counts[WC_COMMANDS]++;
	for (i = 0; i < argc; i++) {
		w->counts[WC_BYTES] += argvlen[i];
		w->inflight += argvlen[i];
	}
	if (target_send(w->t, argc, argv, argvlen, keyidx,
	    (uint64_t)(uintptr_t)ref | code) == -1) {
		werr(w, WERR_TARGET, "%s", target_error(w->t));
		return -1;
	}
	if (w->inflight >= INFLIGHT_BYTES && !w->in_cb)
		return wait_acks(w);
	return 0;
}

/* Send the w->argv vector built by the caller. */
static int
send_av(struct writer *w, struct keyref *ref, enum code code, int argc,
    int keyidx)
{
	return send_cmd(w, ref, code, argc, w->argv, w->argvlen, keyidx);
}

static void
av_set(struct writer *w, int i, const char *p, size_t n)
{
	w->argv[i] = p;
	w->argvlen[i] = n;
}

static void
av_str(struct writer *w, int i, const char *s)
{
	av_set(w, i, s, strlen(s));
}

/* Format numbers into numbuf; returned offsets stay valid as it grows. */
static size_t
num_add(struct writer *w, const char *fmt, ...)
{
	char tmp[64];
	size_t off = w->numbuf.len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (buf_add(&w->numbuf, tmp, n) == -1)
		return (size_t)-1;
	return off;
}

/* The destination db of a source db; a cluster has only db 0. */
static int
map_db(struct writer *w, int srcdb, int *dst)
{
	int db = -1;

	if (srcdb >= 0 && srcdb < WRITER_MAXDB)
		db = w->opts.db_map[srcdb];
	if (db < 0)
		db = w->cluster ? 0 : srcdb;
	*dst = db;
	if (w->cluster && db != 0) {
		werr(w, WERR_DATA,
		    "db %d maps to db %d, but a cluster has only db 0 (use "
		    "--db-map %d:0)", srcdb, db, srcdb);
		return -1;
	}
	return 0;
}

/*
 * Keys of different dbs interleave (Dragonfly's tagged chunks, journal
 * records between them) on one connection: every command of a key is
 * preceded by SELECT when the connection's db is another.  The SELECT
 * goes through the target, which restores it after a reconnect.
 */
static int
use_db(struct writer *w, int db)
{
	struct keyref *ref;
	const char *argv[2];
	size_t argvlen[2];
	char num[16];
	int rv;

	if (w->cluster || db < 0 || db == w->curdb)
		return 0;
	if ((ref = keyref_new(w, "", 0, RDB_VT_STRING, "SELECT")) == NULL)
		return -1;
	ref->pslot = -1;
	ref->control = 1;
	argv[0] = "SELECT";
	argvlen[0] = 6;
	argv[1] = num;
	argvlen[1] = snprintf(num, sizeof(num), "%d", db);
	/* set first: send_cmd() calls back here for the SELECT itself */
	w->curdb = db;
	rv = send_cmd(w, ref, C_JOURNAL, 2, argv, argvlen, -1);
	keyref_put(w, ref);
	if (rv == -1)
		w->curdb = -1;
	return rv;
}

/* ------------------------------------------------------------ replies */

static void
count_written(struct writer *w, const struct keyref *ref)
{
	static const int bytype[] = {
		[RDB_VT_STRING] = WC_STRING, [RDB_VT_LIST] = WC_LIST,
		[RDB_VT_SET] = WC_SET, [RDB_VT_ZSET] = WC_ZSET,
		[RDB_VT_HASH] = WC_HASH, [RDB_VT_STREAM] = WC_STREAM,
		[RDB_VT_JSON] = WC_JSON,
	};

	if (ref->vtype <= RDB_VT_JSON)
		w->counts[bytype[ref->vtype]]++;
	w->counts[WC_WRITTEN]++;
}

/* The key existed on the target and the command did not touch it. */
static int
existed(struct writer *w, struct keyref *ref)
{
	char kt[900];

	switch (w->opts.conflict) {
	case CONFLICT_OVERWRITE:
		count_written(w, ref);
		return 0;
	case CONFLICT_SKIP:
		w->counts[WC_SKIPPED_EXISTING]++;
		log_debug("key \"%s\" exists on the target, skipped",
		    keytext(ref->key, ref->keylen, kt, sizeof(kt)));
		return 0;
	case CONFLICT_PANIC:
		kerr(w, WERR_DIVERGED, ref,
		    "already exists on the target (--conflict panic)");
		return -1;
	}
	return 0;
}

static const char *
ref_cmd(const struct keyref *ref, enum code code)
{
	if (ref->cmd[0] != '\0')
		return ref->cmd;
	if (code == C_ADD)
		switch (ref->vtype) {
		case RDB_VT_SET:
			return "SADD";
		case RDB_VT_HASH:
			return "HSET";
		case RDB_VT_ZSET:
			return "ZADD";
		default:
			break;
		}
	return code_names[code];
}

static size_t	tmp_fmt(struct writer *, const struct keyref *, char *, size_t);

/*
 * The table a checked script answers when it did not write (enum check).
 * Its work done by an earlier send, or its tmp gone half-way (the finish
 * judges that), is no error; anything else is a divergence, named with
 * the key, the command and the counts.
 */
static int
on_check(struct writer *w, struct keyref *ref, enum code code,
    const redisReply *r)
{
	long long st, found, expected;
	const char *unit;
	char tmp[80], kt[900];

	if (r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER ||
	    r->element[2]->type != REDIS_REPLY_INTEGER) {
		kerr(w, WERR_TARGET, ref, "%s: unexpected reply from the "
		    "target's script", ref_cmd(ref, code));
		return -1;
	}
	st = r->element[0]->integer;
	found = r->element[1]->integer;
	expected = r->element[2]->integer;
	unit = ref->vtype <= RDB_VT_STREAM ? count_unit[ref->vtype] : "items";
	tmp_fmt(w, ref, tmp, sizeof(tmp));
	if (code == C_FINISH)
		ref->tmpno = 0;
	switch (st) {
	case CK_APPLIED:
		log_debug("key \"%s\": %s already applied by an earlier send "
		    "(%lld %s)", keytext(ref->key, ref->keylen, kt, sizeof(kt)),
		    ref_cmd(ref, code), found, unit);
		if (code == C_FINISH)
			count_written(w, ref);
		return 0;
	case CK_GONE:
		if (code != C_FINISH) {
			log_debug("key \"%s\": %s found %s gone (renamed by "
			    "an earlier send?)", keytext(ref->key, ref->keylen,
			    kt, sizeof(kt)), ref_cmd(ref, code), tmp);
			return 0;
		}
		kerr(w, WERR_DIVERGED, ref, "its temporary key %s vanished "
		    "before the rename, and the key does not hold the %lld "
		    "%s written (deleted by someone else?)", tmp, expected,
		    unit);
		return -1;
	case CK_EXPIRED:
		if (code == C_FINISH) {
			w->counts[WC_EXPIRED]++;
			return 0;
		}
		break;
	case CK_DIVERGED:
		kerr(w, WERR_DIVERGED, ref, "%s: its temporary key %s holds "
		    "%lld %s where %lld were expected (written by someone "
		    "else?)", code == C_FINISH ? "before the rename" :
		    ref_cmd(ref, code), tmp, found, unit, expected);
		return -1;
	}
	kerr(w, WERR_TARGET, ref, "%s: unexpected status %lld from the "
	    "target's script", ref_cmd(ref, code), st);
	return -1;
}

/*
 * A pending entry whose message was deleted (XDEL): Redis claims only
 * entries whose message exists, so it cannot be restored.
 */
static int
pel_missing(struct writer *w, struct keyref *ref, const redisReply *r)
{
	char kt[900];
	int i;

	for (i = 1; i < 4; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			kerr(w, WERR_TARGET, ref, "XCLAIM: unexpected reply "
			    "from the target's script");
			return -1;
		}
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, WERR_DATA, ref, "pending entry %s of group \"%s\" "
		    "(consumer \"%s\") refers to a deleted message, which "
		    "Redis cannot hold in a PEL (--unsupported skip drops it)",
		    r->element[3]->str, r->element[1]->str,
		    r->element[2]->str);
		return -1;
	}
	w->counts[WC_LOSSY]++;
	log_warnx("%s%skey \"%s\": pending entry %s of group \"%s\" "
	    "(consumer \"%s\") refers to a deleted message: dropped",
	    w->opts.label ? w->opts.label : "", w->opts.label ? ": " : "",
	    keytext(ref->key, ref->keylen, kt, sizeof(kt)),
	    r->element[3]->str, r->element[1]->str, r->element[2]->str);
	return 0;
}

/*
 * A journal command the target refused.  One it can never run (unknown
 * command, a syntax it lacks, keys in several slots) fails every time:
 * WERR_DATA, or counted and logged under --unsupported skip.  A key of
 * another type than on the master is a divergence.  Anything else (OOM,
 * READONLY, ...) may pass later.
 */
static int
journal_refused(struct writer *w, struct keyref *ref, const char *msg)
{
	static const char *never[] = {
		"ERR unknown command", "ERR unknown subcommand",
		"ERR syntax error", "ERR wrong number of arguments",
		"CROSSSLOT", "ERR Unknown", "ERR unsupported",
		"ERR Script attempted to access a non local key",
	};
	char kt[900];
	size_t i;

	if (strncmp(msg, "WRONGTYPE", 9) == 0 ||
	    strncmp(msg, "ERR value is not", 16) == 0) {
		kerr(w, WERR_DIVERGED, ref, "%s: %s (the key has another type "
		    "than on the master)", ref->cmd, msg);
		return -1;
	}
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strncasecmp(msg, never[i], strlen(never[i])) == 0)
			break;
	if (i == sizeof(never) / sizeof(never[0])) {
		kerr(w, WERR_TARGET, ref, "%s (%s)", msg, ref->cmd);
		return -1;
	}
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, WERR_DATA, ref, "%s: the target cannot run it: %s "
		    "(--unsupported skip to skip it)", ref->cmd, msg);
		return -1;
	}
	w->counts[WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%s%skey \"%s\": journal command %s skipped: %s",
	    w->opts.label ? w->opts.label : "", w->opts.label ? ": " : "",
	    keytext(ref->key, ref->keylen, kt, sizeof(kt)), ref->cmd, msg);
	return 0;
}

static int
on_reply(struct writer *w, struct keyref *ref, enum code code,
    const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && (code == C_RPUSH ||
	    code == C_APPEND || code == C_XADD ||
	    code == C_FINISH))
		return on_check(w, ref, code, r);
	if (r->type == REDIS_REPLY_ARRAY && code == C_XCLAIM &&
	    r->elements == 4 && r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "missing") == 0)
		return pel_missing(w, ref, r);
	if (r->type == REDIS_REPLY_ARRAY && (code == C_XSETID ||
	    code == C_XGROUP || code == C_XCLAIM) && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		return on_check(w, ref, code, r);
	if (r->type == REDIS_REPLY_ERROR) {
		if (code == C_RESTORE && strncmp(r->str, "BUSYKEY", 7) == 0)
			return existed(w, ref);
		if (code == C_XGROUP && strncmp(r->str, "BUSYGROUP", 9) == 0)
			return 0;
		if (code == C_JOURNAL && !ref->control)
			return journal_refused(w, ref, r->str);
		kerr(w, WERR_TARGET, ref,
		    "%s (%s)", r->str, ref_cmd(ref, code));
		return -1;
	}
	switch (code) {
	case C_SET:
		if (r->type == REDIS_REPLY_NIL)
			return existed(w, ref);
		count_written(w, ref);
		break;
	case C_RESTORE:
		count_written(w, ref);
		break;
	case C_FINISH:
		ref->tmpno = 0;
		/* FALLTHROUGH */
	case C_JSON:
		if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
			return existed(w, ref);
		count_written(w, ref);
		break;
	case C_JOURNAL:
		if ((r->type == REDIS_REPLY_STATUS ||
		    r->type == REDIS_REPLY_STRING) &&
		    strcmp(r->str, "df2redis:lossy") == 0) {
			/* lua_fieldexpire: field TTLs on a set */
			if (w->opts.unsupported == UNSUPPORTED_FAIL) {
				kerr(w, WERR_DATA, ref, "%s: member TTLs of a "
				    "set have no Redis equivalent "
				    "(--unsupported skip drops them)",
				    ref->cmd);
				return -1;
			}
			w->counts[WC_LOSSY]++;
		}
		if (!ref->control)
			w->counts[WC_JOURNAL]++;
		break;
	default:
		break;
	}
	return 0;
}

static int	seq_acked(struct writer *, const struct keyref *);

static int
reply_cb(void *arg, uint64_t tag, const redisReply *r)
{
	struct writer *w = arg;
	struct keyref *ref = (struct keyref *)(uintptr_t)(tag & ~(uint64_t)15);
	int rv;

	plain_count(w, ref, -1);
	w->in_cb = 1;
	rv = on_reply(w, ref, (enum code)(tag & 15), r);
	if (rv == 0 && ref->seq != 0)
		rv = seq_acked(w, ref);
	w->in_cb = 0;
	keyref_put(w, ref);
	if (rv == -1)
		target_seterr(w->t, "%s", w->err);
	return rv;
}

/* ------------------------------------------------------------ key state */

static struct kstate *
kstate_get(struct writer *w, uint32_t eid, int create)
{
	struct kstate **ks, *st;
	size_t i;

	if (eid == 0)
		return &w->k0;
	for (i = 0; i < w->nks; i++)
		if (w->ks[i]->active && w->ks[i]->eid == eid)
			return w->ks[i];
	if (!create)
		return NULL;
	for (i = 0; i < w->nks; i++)
		if (!w->ks[i]->active)
			return w->ks[i];
	if ((ks = reallocarray(w->ks, w->nks + 1, sizeof(*ks))) == NULL)
		return NULL;
	w->ks = ks;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	w->ks[w->nks++] = st;
	return st;
}

static void
kstate_clear(struct writer *w, struct kstate *st)
{
	keyref_put(w, st->ref);
	st->ref = NULL;
	st->active = st->dropped = st->big = st->lossy = st->fieldttl = 0;
	st->arena.len = 0;
	st->nargs = st->nscores = 0;
	st->nitems = st->sent = 0;
	st->nentries = st->entries_sent = 0;
	st->npel = 0;
	st->group.len = st->consumer.len = 0;
	/* do not keep a big key's buffers around */
	if (st->arena.cap > 4 * SMALL_BYTES)
		buf_free(&st->arena);
	if (st->pelcap > 65536) {
		free(st->pel);
		st->pel = NULL;
		st->pelcap = 0;
	}
}

static void
kstate_free(struct kstate *st)
{
	buf_free(&st->arena);
	buf_free(&st->group);
	buf_free(&st->consumer);
	free(st->args);
	free(st->scores);
	free(st->pel);
}

static int
arg_push(struct writer *w, struct kstate *st, size_t off, size_t len)
{
	struct arg *a;
	size_t cap;

	if (st->nargs == st->argcap) {
		cap = st->argcap ? st->argcap * 2 : 1024;
		if ((a = reallocarray(st->args, cap, sizeof(*a))) == NULL) {
			werr(w, WERR_TARGET, "out of memory");
			return -1;
		}
		st->args = a;
		st->argcap = cap;
	}
	st->args[st->nargs].off = off;
	st->args[st->nargs].len = len;
	st->nargs++;
	return 0;
}

static int
score_push(struct writer *w, struct kstate *st, double score)
{
	double *s;
	size_t cap;

	if (st->nscores == st->scorecap) {
		cap = st->scorecap ? st->scorecap * 2 : 1024;
		if ((s = reallocarray(st->scores, cap, sizeof(*s))) == NULL) {
			werr(w, WERR_TARGET, "out of memory");
			return -1;
		}
		st->scores = s;
		st->scorecap = cap;
	}
	st->scores[st->nscores++] = score;
	return 0;
}

/* ------------------------------------------------------------ temp names */

/*
 * For every slot, a short string that hashes to it: a temporary name
 * "{<tag>}df2redis:tmp:..." then lives in the slot of its key whatever
 * braces the key itself contains.
 */
static int
slottags_build(struct writer *w)
{
	unsigned int slot, filled = 0;
	uint64_t i;
	char s[8];
	int n;

	if ((w->slottags = calloc(NSLOTS, 8)) == NULL)
		return -1;
	for (i = 0; filled < NSLOTS && i < 10000000; i++) {
		n = snprintf(s, sizeof(s), "%" PRIu64, i);
		slot = target_slot(s, n);
		if (w->slottags[slot * 8] != '\0')
			continue;
		memcpy(w->slottags + slot * 8, s, n + 1);
		filled++;
	}
	return filled == NSLOTS ? 0 : -1;
}

static size_t
tmp_fmt(struct writer *w, const struct keyref *ref, char *out, size_t len)
{
	unsigned int slot;

	slot = target_slot(ref->key, ref->keylen);
	return snprintf(out, len, "{%s}df2redis:tmp:%ld:%" PRIu64,
	    w->slottags + slot * 8, w->pid, ref->tmpno);
}

static void
tmp_name(struct writer *w, struct kstate *st)
{
	st->ref->tmpno = ++w->ntmp;
	st->tmplen = tmp_fmt(w, st->ref, st->tmp, sizeof(st->tmp));
}

/* Switch a key to building under its temporary name. */
static int
go_big(struct writer *w, struct kstate *st)
{
	if (st->big)
		return 0;
	st->big = 1;
	tmp_name(w, st);
	if (argv_reserve(w, 2) == -1)
		return -1;
	av_str(w, 0, "DEL");
	av_set(w, 1, st->tmp, st->tmplen);
	return send_av(w, st->ref, C_DEL, 2, 1);
}

/* ------------------------------------------------------------ batches */

static int
flush_string(struct writer *w, struct kstate *st)
{
	size_t off;

	if (argv_reserve(w, 6) == -1)
		return -1;
	if (st->sent == 0) {
		av_str(w, 0, "SET");
		av_set(w, 1, st->tmp, st->tmplen);
		av_set(w, 2, st->arena.p, st->arena.len);
		if (send_av(w, st->ref, C_APPEND, 3, 1) == -1)
			return -1;
	} else {
		w->numbuf.len = 0;
		if ((off = num_add(w, "%" PRIu64, st->sent)) == (size_t)-1)
			return -1;
		av_str(w, 0, "EVAL");
		av_str(w, 1, lua_append);
		av_str(w, 2, "1");
		av_set(w, 3, st->tmp, st->tmplen);
		av_set(w, 4, w->numbuf.p + off, w->numbuf.len - off);
		av_set(w, 5, st->arena.p, st->arena.len);
		if (send_av(w, st->ref, C_APPEND, 6, 3) == -1)
			return -1;
	}
	st->sent += st->arena.len;
	st->arena.len = 0;
	return 0;
}

/* Send the held elements of a collection to tmp in commands of <= batch. */
static int
flush_items(struct writer *w, struct kstate *st)
{
	size_t i, j, n, per, lim, a, argc, off, *offs;
	enum code code;

	if (st->nargs == 0)
		return 0;
	per = st->vtype == RDB_VT_HASH ? 2 : 1;
	lim = w->opts.batch;
	if (st->vtype == RDB_VT_LIST && lim > LUA_MAXARGS)
		lim = LUA_MAXARGS;
	if (argv_reserve(w, lim * 2 + 8) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	offs = NULL;
	for (i = 0; i < st->nargs; i += n * per) {
		n = (st->nargs - i) / per;
		if (n > lim)
			n = lim;
		argc = 0;
		w->numbuf.len = 0;
		switch (st->vtype) {
		case RDB_VT_LIST:
			if ((off = num_add(w, "%" PRIu64, st->sent)) ==
			    (size_t)-1)
				goto oom;
			av_str(w, argc++, "EVAL");
			av_str(w, argc++, lua_rpush);
			av_str(w, argc++, "1");
			av_set(w, argc++, st->tmp, st->tmplen);
			av_set(w, argc++, w->numbuf.p + off,
			    w->numbuf.len - off);
			code = C_RPUSH;
			break;
		case RDB_VT_SET:
		case RDB_VT_HASH:
		case RDB_VT_ZSET:
			av_str(w, argc++, ref_cmd(st->ref, C_ADD));
			av_set(w, argc++, st->tmp, st->tmplen);
			code = C_ADD;
			break;
		default:
			werr(w, WERR_DATA, "%s: unexpected type %d", __func__,
			    st->vtype);
			return -1;
		}
		if (st->vtype == RDB_VT_ZSET) {
			/* numbuf may move while growing: offsets first */
			if ((offs = reallocarray(NULL, n, sizeof(*offs))) ==
			    NULL)
				goto oom;
			for (j = 0; j < n; j++)
				if ((offs[j] = num_add(w, "%.17g",
				    st->scores[i + j])) == (size_t)-1)
					goto oom;
			for (j = 0; j < n; j++) {
				size_t end = j + 1 < n ? offs[j + 1] :
				    w->numbuf.len;

				av_set(w, argc++, w->numbuf.p + offs[j],
				    end - offs[j]);
				a = i + j;
				av_set(w, argc++, st->arena.p + st->args[a].off,
				    st->args[a].len);
			}
			free(offs);
			offs = NULL;
		} else {
			for (a = i; a < i + n * per; a++)
				av_set(w, argc++, st->arena.p + st->args[a].off,
				    st->args[a].len);
		}
		if (send_av(w, st->ref, code, argc,
		    st->vtype == RDB_VT_LIST ? 3 : 1) == -1)
			return -1;
		st->sent += n;
	}
	st->nargs = st->nscores = 0;
	st->nitems = 0;
	st->arena.len = 0;
	return 0;
oom:
	free(offs);
	werr(w, WERR_TARGET, "out of memory");
	return -1;
}

/* Send the held stream entries to tmp, one checked script per batch. */
static int
flush_entries(struct writer *w, struct kstate *st)
{
	size_t i, argc, off;

	if (st->nentries == 0)
		return 0;
	if (argv_reserve(w, st->nargs + 5) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRIu64, st->entries_sent)) == (size_t)-1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	argc = 0;
	av_str(w, argc++, "EVAL");
	av_str(w, argc++, lua_xadd);
	av_str(w, argc++, "1");
	av_set(w, argc++, st->tmp, st->tmplen);
	av_set(w, argc++, w->numbuf.p + off, w->numbuf.len - off);
	for (i = 0; i < st->nargs; i++)
		av_set(w, argc++, st->arena.p + st->args[i].off,
		    st->args[i].len);
	if (send_av(w, st->ref, C_XADD, argc, 3) == -1)
		return -1;
	st->entries_sent += st->nentries;
	st->nentries = 0;
	st->nargs = 0;
	st->arena.len = 0;
	return 0;
}

/* ------------------------------------------------------------ payloads */

static int
pl_len(struct buf *b, uint64_t n)
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

static int
pl_str(struct buf *b, const char *p, size_t n)
{
	if (pl_len(b, n) == -1)
		return -1;
	return buf_add(b, p, n);
}

/*
 * A DUMP payload of a held collection: types 1, 2, 4 and 5 load on every
 * Redis since 4.0 and the footer says version 9 (redis-rdb.md section 7).
 */
static int
build_payload(struct writer *w, struct kstate *st)
{
	struct buf *b = &w->scratch;
	unsigned char type, footer[10];
	uint64_t crc, n;
	size_t i;
	int rv = 0;

	b->len = 0;
	switch (st->vtype) {
	case RDB_VT_STRING:
		type = 0;
		break;
	case RDB_VT_LIST:
		type = 1;
		break;
	case RDB_VT_SET:
		type = 2;
		break;
	case RDB_VT_HASH:
		type = 4;
		break;
	case RDB_VT_ZSET:
		type = 5;
		break;
	default:
		return -1;
	}
	n = st->vtype == RDB_VT_HASH ? st->nargs / 2 : st->nargs;
	rv |= buf_add(b, &type, 1);
	if (st->vtype == RDB_VT_STRING)
		rv |= pl_str(b, st->arena.p, st->arena.len);
	else
		rv |= pl_len(b, n);
	for (i = 0; st->vtype != RDB_VT_STRING && i < st->nargs && rv == 0;
	    i++) {
		rv |= pl_str(b, st->arena.p + st->args[i].off, st->args[i].len);
		if (st->vtype == RDB_VT_ZSET) {
			unsigned char d[8];
			uint64_t bits;
			int j;

			memcpy(&bits, &st->scores[i], 8);
			for (j = 0; j < 8; j++)
				d[j] = bits >> (8 * j);
			rv |= buf_add(b, d, 8);
		}
	}
	if (rv != 0)
		return -1;
	footer[0] = DUMP_VERSION & 0xff;
	footer[1] = DUMP_VERSION >> 8;
	if (buf_add(b, footer, 2) == -1)
		return -1;
	crc = crc64(0, b->p, b->len);
	for (i = 0; i < 8; i++)
		footer[i] = crc >> (8 * i);
	return buf_add(b, footer, 8);
}

/* ------------------------------------------------------------ finishing */

static int
finish_small_string(struct writer *w, struct kstate *st)
{
	size_t off = 0;
	int argc = 0;

	if (argv_reserve(w, 8) == -1)
		return -1;
	w->numbuf.len = 0;
	if (st->expire_ms >= 0 &&
	    (off = num_add(w, "%" PRId64, st->expire_ms)) == (size_t)-1)
		return -1;
	av_str(w, argc++, "SET");
	av_set(w, argc++, st->ref->key, st->ref->keylen);
	av_set(w, argc++, st->arena.p, st->arena.len);
	if (st->expire_ms >= 0) {
		av_str(w, argc++, "PXAT");
		av_set(w, argc++, w->numbuf.p + off, w->numbuf.len - off);
	}
	if (w->opts.conflict != CONFLICT_OVERWRITE)
		av_str(w, argc++, "NX");
	return send_av(w, st->ref, C_SET, argc, 1);
}

static int
finish_small(struct writer *w, struct kstate *st)
{
	size_t off;
	int argc = 0;

	if (st->vtype == RDB_VT_STRING &&
	    (st->expire_ms < 0 || w->version == 0 || w->version >= 60200))
		return finish_small_string(w, st);
	if (st->vtype == RDB_VT_STRING) {
		/* no SET PXAT before 6.2: a type 0 payload */
		if (build_payload(w, st) == -1)
			goto oom;
	} else if (st->nargs == 0) {
		char kt[900];

		/* Redis cannot hold an empty collection; it skips them too */
		log_warnx("key \"%s\": empty %s not written",
		    keytext(st->ref->key, st->ref->keylen, kt, sizeof(kt)),
		    rdb_vtype_name(st->vtype));
		return 0;
	} else if (build_payload(w, st) == -1)
		goto oom;
	if (argv_reserve(w, 8) == -1)
		goto oom;
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, st->expire_ms < 0 ? 0 :
	    st->expire_ms)) == (size_t)-1)
		goto oom;
	av_str(w, argc++, "RESTORE");
	av_set(w, argc++, st->ref->key, st->ref->keylen);
	av_set(w, argc++, w->numbuf.p + off, w->numbuf.len - off);
	av_set(w, argc++, w->scratch.p, w->scratch.len);
	if (w->opts.conflict == CONFLICT_OVERWRITE)
		av_str(w, argc++, "REPLACE");
	av_str(w, argc++, "ABSTTL");
	return send_av(w, st->ref, C_RESTORE, argc, 1);
oom:
	werr(w, WERR_TARGET, "out of memory");
	return -1;
}

static int
finish_json(struct writer *w, struct kstate *st)
{
	size_t off;

	if (argv_reserve(w, 8) == -1)
		return -1;
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, st->expire_ms)) == (size_t)-1)
		return -1;
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_json);
	av_str(w, 2, "1");
	av_set(w, 3, st->ref->key, st->ref->keylen);
	av_set(w, 4, st->arena.p, st->arena.len);
	av_str(w, 5, w->opts.conflict == CONFLICT_OVERWRITE ? "1" : "0");
	av_set(w, 6, w->numbuf.p + off, w->numbuf.len - off);
	return send_av(w, st->ref, C_JSON, 7, 3);
}

/* What tmp must hold when complete; -1 when field TTLs may shrink it. */
static int64_t
expected_count(const struct kstate *st)
{
	if (st->fieldttl)
		return -1;
	if (st->vtype == RDB_VT_STREAM)
		return st->entries_sent;
	return st->sent;
}

/* PEXPIREAT tmp, then the script that moves tmp into place. */
static int
finish_big(struct writer *w, struct kstate *st)
{
	size_t off, exp;

	if (argv_reserve(w, 10) == -1)
		return -1;
	if (st->expire_ms >= 0) {
		w->numbuf.len = 0;
		if ((off = num_add(w, "%" PRId64, st->expire_ms)) ==
		    (size_t)-1)
			return -1;
		av_str(w, 0, "PEXPIREAT");
		av_set(w, 1, st->tmp, st->tmplen);
		av_set(w, 2, w->numbuf.p + off, w->numbuf.len - off);
		if (send_av(w, st->ref, C_PEXPIREAT, 3, 1) == -1)
			return -1;
	}
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, expected_count(st))) ==
	    (size_t)-1 || (exp = num_add(w, "%" PRId64, st->expire_ms)) ==
	    (size_t)-1)
		return -1;
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_finish);
	av_str(w, 2, "2");
	av_set(w, 3, st->tmp, st->tmplen);
	av_set(w, 4, st->ref->key, st->ref->keylen);
	av_str(w, 5, w->opts.conflict == CONFLICT_OVERWRITE ? "1" : "0");
	av_str(w, 6, count_cmd[st->vtype]);
	av_set(w, 7, w->numbuf.p + off, exp - off);
	av_set(w, 8, w->numbuf.p + exp, w->numbuf.len - exp);
	return send_av(w, st->ref, C_FINISH, 9, 3);
}

static int
key_end(struct writer *w, struct kstate *st)
{
	int rv = 0;

	if (st->dropped)
		goto out;
	if (st->vtype == RDB_VT_JSON)
		rv = finish_json(w, st);
	else if (!st->big)
		rv = finish_small(w, st);
	else if (st->vtype == RDB_VT_STRING) {
		if (st->arena.len > 0 || st->sent == 0)
			rv = flush_string(w, st);
		if (rv == 0)
			rv = finish_big(w, st);
	} else if (st->vtype == RDB_VT_STREAM) {
		rv = flush_entries(w, st);
		if (rv == 0)
			rv = finish_big(w, st);
	} else {
		rv = flush_items(w, st);
		if (rv == 0)
			rv = finish_big(w, st);
	}
	if (st->lossy)
		w->counts[WC_LOSSY]++;
out:
	kstate_clear(w, st);
	return rv;
}

/* ------------------------------------------------------------ events */

static int
unsupported(struct writer *w, struct kstate *st, const char *why)
{
	char kt[900];

	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, WERR_DATA, st->ref,
		    "%s (--unsupported skip to skip it)", why);
		return -1;
	}
	w->counts[WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%s%skey \"%s\" skipped: %s",
	    w->opts.label ? w->opts.label : "", w->opts.label ? ": " : "",
	    keytext(st->ref->key, st->ref->keylen, kt, sizeof(kt)), why);
	st->dropped = 1;
	return 0;
}

static int
key_begin(struct writer *w, const struct rdb_event *ev)
{
	struct kstate *st;
	char why[160];
	int db;

	if ((st = kstate_get(w, ev->eid, 1)) == NULL) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	if (st->active) {
		werr(w, WERR_DATA,
		    "decoder started a key while key %u was open",
		    ev->eid);
		return -1;
	}
	st->active = 1;
	st->eid = ev->eid;
	st->vtype = ev->vtype;
	st->expire_ms = ev->u.k.expire_ms;
	if ((st->ref = keyref_new(w, ev->key.p, ev->key.len, ev->vtype,
	    NULL)) == NULL)
		return -1;
	if (map_db(w, ev->db, &db) == -1)
		return -1;
	st->ref->db = db;
	if (st->expire_ms >= 0 && st->expire_ms <= now_ms()) {
		w->counts[WC_EXPIRED]++;
		st->dropped = 1;
		return 0;
	}
	switch (ev->vtype) {
	case RDB_VT_STRING:
	case RDB_VT_LIST:
	case RDB_VT_SET:
	case RDB_VT_ZSET:
	case RDB_VT_HASH:
		return 0;
	case RDB_VT_STREAM:
		return go_big(w, st);
	case RDB_VT_JSON:
		if (w->has_json)
			return 0;
		return unsupported(w, st, "a JSON value and the target has "
		    "no JSON module");
	default:
		snprintf(why, sizeof(why), "%s value%s%s%s cannot be stored "
		    "on the target", rdb_vtype_name(ev->vtype),
		    ev->u.k.type_name ? " (" : "",
		    ev->u.k.type_name ? ev->u.k.type_name : "",
		    ev->u.k.type_name ? ")" : "");
		return unsupported(w, st, why);
	}
}

static int
on_str(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	int part = ev->u.str.part ? 1 : 0;

	if (ev->u.str.off == 0)
		st->part_start[part] = st->arena.len;
	if (st->vtype != RDB_VT_STRING &&
	    st->arena.len - st->part_start[part] + ev->u.str.len > ITEM_MAX) {
		kerr(w, WERR_DATA, st->ref,
		    "an element is larger than %d MiB, the most "
		    "df2redis holds in memory", ITEM_MAX >> 20);
		return -1;
	}
	if (buf_add(&st->arena, ev->u.str.p, ev->u.str.len) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	if (st->vtype == RDB_VT_STRING && st->arena.len >= CHUNK_BYTES) {
		if (go_big(w, st) == -1)
			return -1;
		return flush_string(w, st);
	}
	return 0;
}

static int
field_ttl(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	struct buf *f = &w->scratch;
	size_t off;

	if (w->version != 0 && w->version < 70400) {
		if (w->opts.unsupported == UNSUPPORTED_FAIL) {
			kerr(w, WERR_DATA, st->ref,
			    "hash field TTLs need Redis 7.4 "
			    "(--unsupported skip writes the fields without "
			    "them)");
			return -1;
		}
		st->lossy = 1;
		return 0;
	}
	/* this field must be in tmp before its TTL */
	f->len = 0;
	if (buf_add(f, st->arena.p + st->args[st->nargs - 2].off,
	    st->args[st->nargs - 2].len) == -1)
		return -1;
	if (go_big(w, st) == -1 || flush_items(w, st) == -1)
		return -1;
	if (argv_reserve(w, 8) == -1)
		return -1;
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, ev->u.item.expire_ms)) ==
	    (size_t)-1)
		return -1;
	st->fieldttl = 1;
	av_str(w, 0, "HPEXPIREAT");
	av_set(w, 1, st->tmp, st->tmplen);
	av_set(w, 2, w->numbuf.p + off, w->numbuf.len - off);
	av_str(w, 3, "FIELDS");
	av_str(w, 4, "1");
	av_set(w, 5, f->p, f->len);
	return send_av(w, st->ref, C_HPEXPIREAT, 6, 1);
}

static int
on_item(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	int64_t ttl = ev->u.item.expire_ms;
	size_t start;

	if (st->vtype == RDB_VT_STRING || st->vtype == RDB_VT_JSON)
		return 0;
	start = st->part_start[0];
	if (ttl >= 0 && ttl <= now_ms()) {
		/* a member already expired: drop it */
		st->arena.len = start;
		return 0;
	}
	if (arg_push(w, st, start, (st->vtype == RDB_VT_HASH ?
	    st->part_start[1] : st->arena.len) - start) == -1)
		return -1;
	if (st->vtype == RDB_VT_HASH &&
	    arg_push(w, st, st->part_start[1],
	    st->arena.len - st->part_start[1]) == -1)
		return -1;
	if (st->vtype == RDB_VT_ZSET) {
		if (isnan(ev->u.item.score)) {
			kerr(w, WERR_DATA, st->ref,
			    "member %" PRIu64 " has a NaN score",
			    ev->u.item.index);
			return -1;
		}
		if (score_push(w, st, ev->u.item.score) == -1)
			return -1;
	}
	st->nitems++;
	if (ttl >= 0 && st->vtype == RDB_VT_HASH) {
		if (field_ttl(w, st, ev) == -1)
			return -1;
	} else if (ttl >= 0) {
		if (w->opts.unsupported == UNSUPPORTED_FAIL) {
			kerr(w, WERR_DATA, st->ref,
			    "%s member TTLs have no Redis "
			    "equivalent (--unsupported skip writes the members "
			    "without them)", rdb_vtype_name(st->vtype));
			return -1;
		}
		st->lossy = 1;
	}
	if (st->nitems >= w->opts.batch || st->arena.len >= SMALL_BYTES) {
		if (go_big(w, st) == -1)
			return -1;
		return flush_items(w, st);
	}
	return 0;
}

static int
id_arg(struct writer *w, struct kstate *st, const struct rdb_stream_id *id)
{
	char s[48];
	size_t off = st->arena.len;
	int n;

	n = snprintf(s, sizeof(s), "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
	if (buf_add(&st->arena, s, n) == -1)
		return -1;
	return arg_push(w, st, off, n);
}

static int
on_entry(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	size_t i, off;
	char s[24];
	int n;

	if (ev->u.entry.nfields * 2 + 2 > LUA_MAXARGS) {
		kerr(w, WERR_DATA, st->ref,
		    "stream entry %" PRIu64 "-%" PRIu64 " has %zu "
		    "fields, more than df2redis can replay (%d)",
		    ev->u.entry.id.ms, ev->u.entry.id.seq,
		    ev->u.entry.nfields, LUA_MAXARGS / 2 - 1);
		return -1;
	}
	if (st->nargs + ev->u.entry.nfields * 2 + 2 > LUA_MAXARGS &&
	    flush_entries(w, st) == -1)
		return -1;
	if (id_arg(w, st, &ev->u.entry.id) == -1)
		goto oom;
	n = snprintf(s, sizeof(s), "%zu", ev->u.entry.nfields);
	off = st->arena.len;
	if (buf_add(&st->arena, s, n) == -1 || arg_push(w, st, off, n) == -1)
		goto oom;
	for (i = 0; i < ev->u.entry.nfields * 2; i++) {
		off = st->arena.len;
		if (buf_add(&st->arena, ev->u.entry.fv[i].p,
		    ev->u.entry.fv[i].len) == -1 ||
		    arg_push(w, st, off, ev->u.entry.fv[i].len) == -1)
			goto oom;
	}
	st->nentries++;
	if (st->nentries >= w->opts.batch || st->arena.len >= SMALL_BYTES)
		return flush_entries(w, st);
	return 0;
oom:
	werr(w, WERR_TARGET, "out of memory");
	return -1;
}

/* Send the argc arguments in w->argv through lua_ontmp. */
static int
send_on_tmp(struct writer *w, struct kstate *st, enum code code, int argc)
{
	int i;

	if (argv_reserve(w, argc + 4) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	for (i = argc - 1; i >= 0; i--)
		av_set(w, i + 4, w->argv[i], w->argvlen[i]);
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_ontmp);
	av_str(w, 2, "1");
	av_set(w, 3, st->tmp, st->tmplen);
	return send_av(w, st->ref, code, argc + 4, 3);
}

static int
on_meta(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	char last[48], md[48], ea[24];
	int argc = 0;

	if (flush_entries(w, st) == -1 || argv_reserve(w, 8) == -1)
		return -1;
	if (st->entries_sent == 0) {
		av_str(w, 0, "EVAL");
		av_str(w, 1, lua_empty);
		av_str(w, 2, "1");
		av_set(w, 3, st->tmp, st->tmplen);
		if (send_av(w, st->ref, C_EMPTY, 4, 3) == -1)
			return -1;
	}
	snprintf(last, sizeof(last), "%" PRIu64 "-%" PRIu64,
	    ev->u.meta.last_id.ms, ev->u.meta.last_id.seq);
	av_str(w, argc++, "XSETID");
	av_set(w, argc++, st->tmp, st->tmplen);
	av_str(w, argc++, last);
	if (ev->u.meta.has_v2 && (w->version == 0 || w->version >= 70000)) {
		snprintf(ea, sizeof(ea), "%" PRIu64, ev->u.meta.entries_added);
		snprintf(md, sizeof(md), "%" PRIu64 "-%" PRIu64,
		    ev->u.meta.max_deleted_id.ms,
		    ev->u.meta.max_deleted_id.seq);
		av_str(w, argc++, "ENTRIESADDED");
		av_str(w, argc++, ea);
		av_str(w, argc++, "MAXDELETEDID");
		av_str(w, argc++, md);
	}
	return send_on_tmp(w, st, C_XSETID, argc);
}

static int
on_group(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	char last[48], er[24];
	int argc = 0;

	st->group.len = 0;
	st->npel = 0;
	if (buf_add(&st->group, ev->u.group.name.p, ev->u.group.name.len) ==
	    -1 || argv_reserve(w, 8) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	snprintf(last, sizeof(last), "%" PRIu64 "-%" PRIu64,
	    ev->u.group.last_id.ms, ev->u.group.last_id.seq);
	av_str(w, argc++, "XGROUP");
	av_str(w, argc++, "CREATE");
	av_set(w, argc++, st->tmp, st->tmplen);
	av_set(w, argc++, st->group.p, st->group.len);
	av_str(w, argc++, last);
	if (ev->u.group.entries_read >= 0 &&
	    (w->version == 0 || w->version >= 70000)) {
		snprintf(er, sizeof(er), "%" PRId64, ev->u.group.entries_read);
		av_str(w, argc++, "ENTRIESREAD");
		av_str(w, argc++, er);
	}
	return send_on_tmp(w, st, C_XGROUP, argc);
}

static int
on_pel(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	struct pelent *p;
	size_t cap;

	if (st->npel == st->pelcap) {
		if (st->pelcap >= PEL_MAX) {
			kerr(w, WERR_DATA, st->ref,
			    "a consumer group has more than %d "
			    "pending entries, the most df2redis holds",
			    PEL_MAX);
			return -1;
		}
		cap = st->pelcap ? st->pelcap * 2 : 256;
		if ((p = reallocarray(st->pel, cap, sizeof(*p))) == NULL) {
			werr(w, WERR_TARGET, "out of memory");
			return -1;
		}
		st->pel = p;
		st->pelcap = cap;
	}
	p = &st->pel[st->npel++];
	p->id = ev->u.pel.id;
	p->ms = ev->u.pel.delivery_ms;
	p->count = ev->u.pel.delivery_count;
	return 0;
}

static int
on_consumer(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	st->consumer.len = 0;
	if (buf_add(&st->consumer, ev->u.consumer.name.p,
	    ev->u.consumer.name.len) == -1 || argv_reserve(w, 8) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	av_str(w, 0, "XGROUP");
	av_str(w, 1, "CREATECONSUMER");
	av_set(w, 2, st->tmp, st->tmplen);
	av_set(w, 3, st->group.p, st->group.len);
	av_set(w, 4, st->consumer.p, st->consumer.len);
	return send_on_tmp(w, st, C_XGROUP, 5);
}

static int
idcmp(const struct rdb_stream_id *a, const struct rdb_stream_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

static int
on_cpel(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	const struct rdb_stream_id *id = &ev->u.cpel;
	struct pelent *p = NULL;
	size_t lo = 0, hi = st->npel, mid;
	char sid[48], ms[24], cnt[24];
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = idcmp(&st->pel[mid].id, id)) == 0) {
			p = &st->pel[mid];
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (p == NULL) {
		kerr(w, WERR_DATA, st->ref,
		    "consumer PEL id %" PRIu64 "-%" PRIu64
		    " is not in its group's PEL", id->ms, id->seq);
		return -1;
	}
	if (argv_reserve(w, 16) == -1)
		return -1;
	snprintf(sid, sizeof(sid), "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
	snprintf(ms, sizeof(ms), "%" PRId64, p->ms);
	snprintf(cnt, sizeof(cnt), "%" PRIu64, p->count);
	av_str(w, 0, "XCLAIM");
	av_set(w, 1, st->tmp, st->tmplen);
	av_set(w, 2, st->group.p, st->group.len);
	av_set(w, 3, st->consumer.p, st->consumer.len);
	av_str(w, 4, "0");
	av_str(w, 5, sid);
	av_str(w, 6, "TIME");
	av_str(w, 7, ms);
	av_str(w, 8, "RETRYCOUNT");
	av_str(w, 9, cnt);
	av_str(w, 10, "FORCE");
	av_str(w, 11, "JUSTID");
	return send_on_tmp(w, st, C_XCLAIM, 12);
}

static int
on_function(struct writer *w, const struct rdb_event *ev)
{
	struct keyref *ref;
	int rv;

	if ((ref = keyref_new(w, "", 0, RDB_VT_STRING, "FUNCTION LOAD")) ==
	    NULL || argv_reserve(w, 4) == -1)
		return -1;
	av_str(w, 0, "FUNCTION");
	av_str(w, 1, "LOAD");
	av_str(w, 2, "REPLACE");
	av_set(w, 3, ev->u.func.p, ev->u.func.len);
	ref->refs++;
	plain_count(w, ref, 1);
	w->counts[WC_COMMANDS]++;
	rv = target_send_all(w->t, 4, w->argv, w->argvlen,
	    (uint64_t)(uintptr_t)ref | C_JOURNAL);
	if (rv == -1)
		werr(w, WERR_TARGET, "%s", target_error(w->t));
	keyref_put(w, ref);
	return rv;
}

int
writer_event(struct writer *w, const struct rdb_event *ev)
{
	struct kstate *st;

	if (w->failed)
		return -1;
	switch (ev->type) {
	case RDB_EV_KEY:
		return key_begin(w, ev);
	case RDB_EV_FUNCTION:
		return on_function(w, ev);
	case RDB_EV_STR:
	case RDB_EV_ITEM:
	case RDB_EV_STREAM_ENTRY:
	case RDB_EV_STREAM_META:
	case RDB_EV_STREAM_GROUP:
	case RDB_EV_STREAM_PEL:
	case RDB_EV_STREAM_CONSUMER:
	case RDB_EV_STREAM_CPEL:
	case RDB_EV_KEY_END:
		break;
	default:
		return 0;
	}
	if ((st = kstate_get(w, ev->eid, 0)) == NULL || !st->active) {
		werr(w, WERR_DATA,
		    "decoder sent an event for key %u that is not open",
		    ev->eid);
		return -1;
	}
	if (ev->type == RDB_EV_KEY_END)
		return key_end(w, st);
	if (st->dropped)
		return 0;
	switch (ev->type) {
	case RDB_EV_STR:
		return on_str(w, st, ev);
	case RDB_EV_ITEM:
		return on_item(w, st, ev);
	case RDB_EV_STREAM_ENTRY:
		return on_entry(w, st, ev);
	case RDB_EV_STREAM_META:
		return on_meta(w, st, ev);
	case RDB_EV_STREAM_GROUP:
		return on_group(w, st, ev);
	case RDB_EV_STREAM_PEL:
		return on_pel(w, st, ev);
	case RDB_EV_STREAM_CONSUMER:
		return on_consumer(w, st, ev);
	case RDB_EV_STREAM_CPEL:
		return on_cpel(w, st, ev);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------ journal */

static int
is(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/*
 * A journal command that is not safe to run twice (INCR, RPUSH, XADD with
 * its id, RENAME, ...) runs inside lua_seq, at most once per sequence
 * number: the target resends what it did not see acknowledged, and the
 * marker "{tag}df2redis:seq:<wid>" in the command's slot and db holds the
 * last number that ran there.  Commands whose second run changes nothing
 * (SET, DEL, HSET, SADD, PEXPIREAT, ...) stay plain; but a plain command
 * resent after a guarded one that ran later on the same key would undo
 * it (SET c 0 resent after an INCR c that is then skipped), so a guarded
 * command is sent only when no plain command of its slot, keyless or
 * multi-key, is unacknowledged.  A marker is deleted once the last
 * guarded command of its slot is acknowledged (nothing can resend it any
 * more) and expires after SEQ_TTL_MS should the writer die first;
 * writer_cleanup() deletes those of killed runs.
 */
#define SEQ_TTL_MS	"3600000"

/* KEYS: marker, key; ARGV: seq, ttl, command... (PREPEND emulated) */
static const char lua_seq[] =
    "if tonumber(redis.call('GET',KEYS[1]) or '-1')>=tonumber(ARGV[1]) "
    "then return 'applied' end "
    "redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[2]) "
    "if ARGV[3]=='PREPEND' then return redis.call('SET',KEYS[2],"
    "ARGV[5]..(redis.call('GET',KEYS[2]) or '')) end "
    "return redis.pcall(unpack(ARGV,3))";
/* KEYS: marker; ARGV: seq.  A later guarded command moved it on: keep. */
static const char lua_seqdel[] =
    "if redis.call('GET',KEYS[1])==ARGV[1] then "
    "return redis.call('DEL',KEYS[1]) end return 0";

/* Single-key journal commands that are the same when run twice. */
static const char *plain_cmds[] = {
	"SET", "SETEX", "PSETEX", "SETNX", "GETSET", "GETDEL", "GETEX",
	"SETRANGE", "SETBIT", "PEXPIREAT", "EXPIREAT", "PEXPIRE", "EXPIRE",
	"PERSIST", "HSET", "HMSET", "HSETNX", "HDEL", "SADD", "SREM", "ZADD",
	"ZREM", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX", "LSET", "XDEL", "XACK",
	"XTRIM", "XCLAIM", "XSETID", "PFADD", "RESTORE", "JSON.SET",
	"JSON.DEL", "JSON.FORGET", "HPEXPIREAT", "HEXPIREAT", "HPERSIST",
	"MSET", "MSETNX", "DEL", "UNLINK", "TOUCH", NULL,
};
/* Guarded commands that touch only the key at their key index. */
static const char *guard_single[] = {
	"INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT", "APPEND",
	"PREPEND", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP",
	"LINSERT", "LREM", "LTRIM", "ZINCRBY", "ZPOPMIN", "ZPOPMAX",
	"ZREMRANGEBYRANK", "ZADD", "HINCRBY", "HINCRBYFLOAT", "SPOP",
	"BITFIELD", "XADD", "XAUTOCLAIM", "XGROUP", NULL,
};

static int
in_list(const char **list, const char *p, size_t n)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && strncasecmp(*list, p, n) == 0)
			return 1;
	return 0;
}

enum jkind {
	J_PLAIN,	/* plain, one key */
	J_PLAIN_MULTI,	/* plain, several keys or none */
	J_GUARD,	/* guarded, one key */
	J_GUARD_MULTI,	/* guarded, maybe several keys */
};

/* How the command in w->argv is sent. */
static enum jkind
jkind(struct writer *w, int argc, int keyidx)
{
	const char *name = w->argv[0];
	size_t n = w->argvlen[0];
	int i;

	if (keyidx <= 0)
		return J_PLAIN_MULTI;
	if (in_list(plain_cmds, name, n)) {
		if (is(name, n, "ZADD"))
			for (i = 2; i < argc; i++)
				if (is(w->argv[i], w->argvlen[i], "INCR"))
					return J_GUARD;
		if (((is(name, n, "MSET") || is(name, n, "MSETNX")) &&
		    argc > 3) || ((is(name, n, "DEL") || is(name, n, "UNLINK") ||
		    is(name, n, "TOUCH")) && argc > 2))
			return J_PLAIN_MULTI;
		return J_PLAIN;
	}
	return in_list(guard_single, name, n) ? J_GUARD : J_GUARD_MULTI;
}

static size_t
marker_fmt(struct writer *w, unsigned int slot, char *out, size_t len)
{
	return snprintf(out, len, "{%s}df2redis:seq:%s",
	    w->slottags + slot * 8, w->wid);
}

/*
 * Wait until no plain command that a resend could replay after this
 * guarded one is unacknowledged.
 */
static int
plain_barrier(struct writer *w, enum jkind kind, unsigned int slot)
{
	while (kind == J_GUARD_MULTI ? w->plain_all > 0 :
	    w->plain[slot] > 0 || w->plain_any > 0) {
		if (target_poll(w->t, 1000) == -1) {
			werr(w, WERR_TARGET, "%s", target_error(w->t));
			return -1;
		}
		if (w->failed)
			return -1;
	}
	return 0;
}

/* The command in w->argv through lua_seq; ref is its own. */
static int
jguard(struct writer *w, struct keyref *ref, enum jkind kind, int argc,
    int keyidx)
{
	unsigned int slot = target_slot(w->argv[keyidx], w->argvlen[keyidx]);
	char marker[96], seq[24];
	uint64_t **ls;
	int i;

	if (argc + 7 > LUA_MAXARGS) {
		kerr(w, WERR_DATA, ref, "%s with %d arguments, more than "
		    "df2redis can replay safely (%d)", ref->cmd, argc,
		    LUA_MAXARGS - 7);
		return -1;
	}
	if (ref->db < 0 || ref->db >= WRITER_MAXDB) {
		kerr(w, WERR_DATA, ref, "db %d is out of range", ref->db);
		return -1;
	}
	ls = &w->lastseq[ref->db];
	if (*ls == NULL && (*ls = calloc(NSLOTS, sizeof(**ls))) == NULL) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	if (plain_barrier(w, kind, slot) == -1 ||
	    argv_reserve(w, argc + 7) == -1)
		return -1;
	ref->pslot = -1;
	ref->seq = ++w->seq;
	(*ls)[slot] = ref->seq;
	for (i = argc - 1; i >= 0; i--)
		av_set(w, i + 7, w->argv[i], w->argvlen[i]);
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_seq);
	av_str(w, 2, "2");
	av_set(w, 3, marker, marker_fmt(w, slot, marker, sizeof(marker)));
	av_set(w, 4, w->argv[keyidx + 7], w->argvlen[keyidx + 7]);
	av_set(w, 5, seq, snprintf(seq, sizeof(seq), "%" PRIu64, ref->seq));
	av_str(w, 6, SEQ_TTL_MS);
	return send_av(w, ref, C_JOURNAL, argc + 7, 4);
}

/*
 * The guarded command of ref was acknowledged: when it is the last one of
 * its slot in flight, nothing can resend it or an earlier one, and the
 * marker goes.  Runs in the reply callback.
 */
static int
seq_acked(struct writer *w, const struct keyref *ref)
{
	unsigned int slot = target_slot(ref->key, ref->keylen);
	const char *argv[5];
	size_t argvlen[5];
	char marker[96], seq[24];
	struct keyref *c;
	uint64_t *ls;
	int rv;

	if (ref->db < 0 || ref->db >= WRITER_MAXDB ||
	    (ls = w->lastseq[ref->db]) == NULL || ls[slot] != ref->seq)
		return 0;
	ls[slot] = 0;
	if ((c = keyref_new(w, ref->key, ref->keylen, RDB_VT_STRING,
	    "marker DEL")) == NULL)
		return -1;
	c->pslot = -1;
	c->control = 1;
	c->db = ref->db;
	argv[0] = "EVAL";
	argv[1] = lua_seqdel;
	argv[2] = "1";
	argv[3] = marker;
	argv[4] = seq;
	argvlen[0] = 4;
	argvlen[1] = sizeof(lua_seqdel) - 1;
	argvlen[2] = 1;
	argvlen[3] = marker_fmt(w, slot, marker, sizeof(marker));
	argvlen[4] = snprintf(seq, sizeof(seq), "%" PRIu64, ref->seq);
	rv = send_cmd(w, c, C_JOURNAL, 5, argv, argvlen, 3);
	keyref_put(w, c);
	return rv;
}

/* Highest DUMP type byte a Redis version loads (redis-rdb.md 7.2). */
static int
max_dump_type(int version)
{
	if (version == 0 || version >= 70400)
		return 25;
	if (version >= 70200)
		return 21;
	if (version >= 70000)
		return 19;
	return 15;
}

/* Send the journal command in w->argv: guarded, plain or to all. */
static int
jsend(struct writer *w, const struct journal_rec *rec, enum code code,
    int argc, int keyidx)
{
	struct keyref *ref;
	enum jkind kind;
	char cmd[24];
	int rv;

	snprintf(cmd, sizeof(cmd), "%.*s", (int)(rec->argvlen[0] < 23 ?
	    rec->argvlen[0] : 23), rec->argv[0]);
	if ((ref = keyref_new(w, keyidx > 0 ? w->argv[keyidx] : "",
	    keyidx > 0 ? w->argvlen[keyidx] : 0, RDB_VT_STRING, cmd)) ==
	    NULL)
		return -1;
	ref->db = w->jdb;
	kind = w->jplain ? J_PLAIN : jkind(w, argc, keyidx);
	w->jplain = 0;
	if (kind == J_PLAIN_MULTI)
		ref->pslot = NSLOTS;
	if (kind == J_GUARD || kind == J_GUARD_MULTI) {
		rv = jguard(w, ref, kind, argc, keyidx);
		keyref_put(w, ref);
		return rv;
	}
	if (keyidx == -2) {
		if (use_db(w, ref->db) == -1) {
			keyref_put(w, ref);
			return -1;
		}
		ref->refs++;
		plain_count(w, ref, 1);
		w->counts[WC_COMMANDS]++;
		if ((rv = target_send_all(w->t, argc, w->argv, w->argvlen,
		    (uint64_t)(uintptr_t)ref | code)) == -1)
			werr(w, WERR_TARGET, "%s", target_error(w->t));
	} else
		rv = send_av(w, ref, code, argc, keyidx);
	keyref_put(w, ref);
	return rv;
}

static int
jverbatim(struct writer *w, const struct journal_rec *rec, int keyidx)
{
	size_t i;

	for (i = 0; i < rec->argc; i++)
		av_set(w, i, rec->argv[i], rec->argvlen[i]);
	return jsend(w, rec, C_JOURNAL, rec->argc, keyidx);
}

/*
 * A journal command the target cannot run: an error (WERR_DATA), or under
 * --unsupported skip counted (lossy: only TTLs were lost) and logged.
 */
static int
junsupported(struct writer *w, const struct journal_rec *rec, int lossy,
    const char *why)
{
	char kt[900];

	keytext(rec->argc > 1 ? rec->argv[1] : "", rec->argc > 1 ?
	    rec->argvlen[1] : 0, kt, sizeof(kt));
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		werr(w, WERR_DATA, "journal record at byte %" PRIu64 ": key "
		    "\"%s\": %.*s: %s (--unsupported skip to %s)", rec->offset,
		    kt, (int)rec->argvlen[0], rec->argv[0], why,
		    lossy ? "apply it without the TTLs" : "skip it");
		return -1;
	}
	w->counts[lossy ? WC_LOSSY : WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%s%sjournal record at byte %" PRIu64 ": key \"%s\": %.*s "
	    "%s: %s", w->opts.label ? w->opts.label : "",
	    w->opts.label ? ": " : "", rec->offset, kt,
	    (int)rec->argvlen[0], rec->argv[0],
	    lossy ? "applied without its TTLs" : "skipped", why);
	return 0;
}

/* KEYS: key; ARGV: seconds, field...: a hash gets the TTLs, a set not */
static const char lua_fieldexpire[] =
    "local t=redis.call('TYPE',KEYS[1]).ok "
    "if t=='hash' then return redis.call('HEXPIRE',KEYS[1],ARGV[1],"
    "'FIELDS',#ARGV-1,unpack(ARGV,2)) end "
    "if t=='none' then return 0 end return 'df2redis:lossy'";

/* FIELDEXPIRE k seconds field... (Dragonfly): HEXPIRE on a hash */
static int
jfieldexpire(struct writer *w, const struct journal_rec *rec)
{
	size_t i;

	if (rec->argc < 4)
		return junsupported(w, rec, 0, "too few arguments");
	if (w->version != 0 && w->version < 70400)
		return junsupported(w, rec, 1, "field TTLs need Redis 7.4");
	if (rec->argc + 3 > LUA_MAXARGS)
		return junsupported(w, rec, 1, "too many fields");
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_fieldexpire);
	av_str(w, 2, "1");
	for (i = 1; i < rec->argc; i++)
		av_set(w, i + 2, rec->argv[i], rec->argvlen[i]);
	w->jplain = 1;
	return jsend(w, rec, C_JOURNAL, rec->argc + 2, 3);
}

/*
 * KEYS: key; ARGV: NX (1|0), seconds (-1: keep the TTLs), HEXPIRE there
 * (1|0), field value...: Dragonfly's HSETEX, whose NX skips the fields
 * that exist.
 */
static const char lua_hsetex[] =
    "local fs={} for i=4,#ARGV,2 do "
    "if ARGV[1]=='0' or redis.call('HEXISTS',KEYS[1],ARGV[i])==0 then "
    "redis.call('HSET',KEYS[1],ARGV[i],ARGV[i+1]) fs[#fs+1]=ARGV[i] end end "
    "if #fs>0 and ARGV[3]=='1' and ARGV[2]~='-1' then "
    "redis.call('HEXPIRE',KEYS[1],ARGV[2],'FIELDS',#fs,unpack(fs)) end "
    "return #fs";

/* HSETEX k [NX|FNX|FXX] [KEEPTTL] seconds f v... (Dragonfly's form) */
static int
jhsetex(struct writer *w, const struct journal_rec *rec)
{
	size_t i = 2, argc = 0;
	int nx = 0, keep = 0, hexpire;

	for (; i < rec->argc; i++) {
		if (is(rec->argv[i], rec->argvlen[i], "NX"))
			nx = 1;
		else if (is(rec->argv[i], rec->argvlen[i], "KEEPTTL"))
			keep = 1;
		else if (is(rec->argv[i], rec->argvlen[i], "FNX") ||
		    is(rec->argv[i], rec->argvlen[i], "FXX"))
			return junsupported(w, rec, 0, "FNX/FXX of the "
			    "Dragonfly form have no Redis equivalent");
		else
			break;
	}
	if (i >= rec->argc || (rec->argc - i - 1) % 2 != 0 ||
	    rec->argc - i - 1 == 0)
		return junsupported(w, rec, 0, "wrong number of arguments");
	if (rec->argc + 3 > LUA_MAXARGS)
		return junsupported(w, rec, 0, "too many fields");
	hexpire = w->version == 0 || w->version >= 70400;
	if (!hexpire && !keep && junsupported(w, rec, 1,
	    "field TTLs need Redis 7.4") == -1)
		return -1;
	av_str(w, argc++, "EVAL");
	av_str(w, argc++, lua_hsetex);
	av_str(w, argc++, "1");
	av_set(w, argc++, rec->argv[1], rec->argvlen[1]);
	av_str(w, argc++, nx ? "1" : "0");
	if (keep)
		av_str(w, argc++, "-1");
	else
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	av_str(w, argc++, hexpire ? "1" : "0");
	for (i++; i < rec->argc; i++)
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	w->jplain = 1;
	return jsend(w, rec, C_JOURNAL, argc, 3);
}

/* KEYS: key; ARGV: IFEQ|IFNE, value */
static const char lua_delex[] =
    "local v=redis.call('GET',KEYS[1]) if v==false then return 0 end "
    "if (ARGV[1]=='IFEQ')==(v==ARGV[2]) then "
    "return redis.call('DEL',KEYS[1]) end return 0";

/* DELEX k [IFEQ|IFNE v]; IFDEQ/IFDNE compare digests */
static int
jdelex(struct writer *w, const struct journal_rec *rec)
{
	if (w->version >= 80400)
		return jverbatim(w, rec, 1);
	if (rec->argc == 2) {
		av_str(w, 0, "DEL");
		av_set(w, 1, rec->argv[1], rec->argvlen[1]);
		return jsend(w, rec, C_JOURNAL, 2, 1);
	}
	if (rec->argc != 4 || (!is(rec->argv[2], rec->argvlen[2], "IFEQ") &&
	    !is(rec->argv[2], rec->argvlen[2], "IFNE")))
		return junsupported(w, rec, 0, "only IFEQ and IFNE can be "
		    "emulated before Redis 8.4");
	av_str(w, 0, "EVAL");
	av_str(w, 1, lua_delex);
	av_str(w, 2, "1");
	av_set(w, 3, rec->argv[1], rec->argvlen[1]);
	av_str(w, 4, is(rec->argv[2], rec->argvlen[2], "IFEQ") ? "IFEQ" :
	    "IFNE");
	av_set(w, 5, rec->argv[3], rec->argvlen[3]);
	w->jplain = 1;
	return jsend(w, rec, C_JOURNAL, 6, 3);
}

/* Is the command of a module the target lacks, or too new for it? */
static const char *
jmissing(struct writer *w, const char *name, size_t nlen, int *lossy)
{
	static const struct {
		const char	*prefix;
		const char	*module;
	} mods[] = {
		{ "BF.", "bf" }, { "CF.", "bf" }, { "CMS.", "bf" },
		{ "TOPK.", "bf" }, { "FT.", "search" },
		{ "CL.THROTTLE", "redis-cell" },
	};
	static const char *hfe[] = { "HEXPIRE", "HPEXPIRE", "HEXPIREAT",
	    "HPEXPIREAT", "HPERSIST", NULL };
	size_t i, n;

	*lossy = 0;
	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		n = strlen(mods[i].prefix);
		if (nlen >= n && strncasecmp(name, mods[i].prefix, n) == 0)
			return target_has_module(w->t, mods[i].module) ? NULL :
			    "the target lacks the module";
	}
	*lossy = 1;
	if (w->version != 0 && w->version < 70400 && in_list(hfe, name, nlen))
		return "field TTLs need Redis 7.4";
	if (w->version != 0 && w->version < 80000 && is(name, nlen, "HGETEX"))
		return "HGETEX needs Redis 8.0";
	return NULL;
}

/* SET without Dragonfly's STICK and _MCFLAGS n tokens */
static int
jset(struct writer *w, const struct journal_rec *rec)
{
	size_t i, argc = 0;

	for (i = 0; i < rec->argc; i++) {
		if (i >= 3 && is(rec->argv[i], rec->argvlen[i], "STICK"))
			continue;
		if (i >= 3 && is(rec->argv[i], rec->argvlen[i], "_MCFLAGS")) {
			i++;
			continue;
		}
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	}
	return jsend(w, rec, C_JOURNAL, argc, 1);
}

/* MSET / DEL / UNLINK on a cluster: one command per key */
static int
jsplit(struct writer *w, const struct journal_rec *rec, size_t step)
{
	struct journal_rec one = *rec;
	const char *av[3];
	size_t avl[3], i;

	if ((rec->argc - 1) % step != 0) {
		werr(w, WERR_DATA,
		    "journal record at byte %" PRIu64 ": %.*s with a "
		    "wrong number of arguments", rec->offset,
		    (int)rec->argvlen[0], rec->argv[0]);
		return -1;
	}
	av[0] = rec->argv[0];
	avl[0] = rec->argvlen[0];
	one.argv = av;
	one.argvlen = avl;
	one.argc = step + 1;
	for (i = 1; i < rec->argc; i += step) {
		av[1] = rec->argv[i];
		avl[1] = rec->argvlen[i];
		if (step == 2) {
			av[2] = rec->argv[i + 1];
			avl[2] = rec->argvlen[i + 1];
		}
		if (jverbatim(w, &one, 1) == -1)
			return -1;
	}
	return 0;
}

/* SADDEX k [KEEPTTL] seconds member...: members without their TTL */
static int
jsaddex(struct writer *w, const struct journal_rec *rec)
{
	size_t i = 2, argc = 0;
	char kt[900];

	if (i < rec->argc && is(rec->argv[i], rec->argvlen[i], "KEEPTTL"))
		i++;
	i++;
	if (rec->argc < 3 || i >= rec->argc) {
		werr(w, WERR_DATA,
		    "journal record at byte %" PRIu64 ": SADDEX with too "
		    "few arguments", rec->offset);
		return -1;
	}
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		werr(w, WERR_DATA,
		    "key \"%s\": SADDEX member TTLs have no Redis "
		    "equivalent (--unsupported skip writes the members without "
		    "them)", keytext(rec->argv[1], rec->argvlen[1], kt,
		    sizeof(kt)));
		return -1;
	}
	w->counts[WC_LOSSY]++;
	av_str(w, argc++, "SADD");
	av_set(w, argc++, rec->argv[1], rec->argvlen[1]);
	for (; i < rec->argc; i++)
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	return jsend(w, rec, C_JOURNAL, argc, 1);
}

/*
 * A RESTORE payload the target cannot load (a Dragonfly type, or a type
 * newer than the target): decode it as a one-key snapshot and write the
 * key natively.
 */
static int
jrestore_native(struct writer *w, const struct journal_rec *rec,
    int64_t expire_ms)
{
	const char *key = rec->argv[1], *pl = rec->argv[3];
	size_t keylen = rec->argvlen[1], pllen = rec->argvlen[3];
	enum writer_conflict saved = w->opts.conflict;
	struct rdb_event ev;
	struct buf b = { 0 };
	struct rdb *r;
	unsigned char ms[9];
	int i, rv = -1, n;
	char kt[900];

	ms[0] = 0xfc;
	for (i = 0; i < 8; i++)
		ms[1 + i] = (uint64_t)expire_ms >> (8 * i);
	if (buf_add(&b, "REDIS0009", 9) == -1 ||
	    (expire_ms >= 0 && buf_add(&b, ms, 9) == -1) ||
	    buf_add(&b, pl, 1) == -1 || pl_str(&b, key, keylen) == -1 ||
	    buf_add(&b, pl + 1, pllen - 11) == -1 ||
	    buf_add(&b, "\xff\0\0\0\0\0\0\0\0", 9) == -1) {
		buf_free(&b);
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	if ((r = rdb_new(RDB_MODE_FLOW, NULL)) == NULL ||
	    rdb_feed(r, b.p, b.len) == -1) {
		rdb_free(r);
		buf_free(&b);
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	buf_free(&b);
	w->opts.conflict = CONFLICT_OVERWRITE;
	for (;;) {
		n = rdb_next(r, &ev);
		if (n == RDB_OK) {
			ev.db = rec->db;
			if (writer_event(w, &ev) == -1)
				break;
			continue;
		}
		if (n == RDB_DONE)
			rv = 0;
		else
			werr(w, WERR_DATA,
			    "key \"%s\": RESTORE payload in the journal at "
			    "byte %" PRIu64 ": %s",
			    keytext(key, keylen, kt, sizeof(kt)), rec->offset,
			    n == RDB_AGAIN ? "truncated" : rdb_error(r));
		break;
	}
	w->opts.conflict = saved;
	rdb_free(r);
	return rv;
}

/* RESTORE k ttl payload [REPLACE] [ABSTTL] [STICK] ... */
static int
jrestore(struct writer *w, const struct journal_rec *rec)
{
	unsigned char type;
	int64_t ttl, exp;
	size_t i, argc = 0;
	int abs = 0;
	char kt[900];
	const char *errstr = NULL;
	char num[24];

	if (rec->argc < 4 || rec->argvlen[3] < 11) {
		werr(w, WERR_DATA,
		    "journal record at byte %" PRIu64 ": RESTORE with a "
		    "short payload", rec->offset);
		return -1;
	}
	snprintf(num, sizeof(num), "%.*s", (int)(rec->argvlen[2] < 23 ?
	    rec->argvlen[2] : 23), rec->argv[2]);
	ttl = strtonum(num, 0, INT64_MAX, &errstr);
	if (errstr != NULL) {
		werr(w, WERR_DATA, "key \"%s\": RESTORE ttl \"%s\" is %s",
		    keytext(rec->argv[1], rec->argvlen[1], kt, sizeof(kt)),
		    num, errstr);
		return -1;
	}
	for (i = 4; i < rec->argc; i++)
		if (is(rec->argv[i], rec->argvlen[i], "ABSTTL"))
			abs = 1;
	type = rec->argv[3][0];
	if (type < 30 && type <= max_dump_type(w->version)) {
		for (i = 0; i < rec->argc; i++)
			if (i < 4 || !is(rec->argv[i], rec->argvlen[i],
			    "STICK"))
				av_set(w, argc++, rec->argv[i],
				    rec->argvlen[i]);
		return jsend(w, rec, C_JOURNAL, argc, 1);
	}
	exp = ttl == 0 ? -1 : abs ? ttl : now_ms() + ttl;
	return jrestore_native(w, rec, exp);
}

/*
 * Redis 8's HSETEX form: FIELDS n within the options (at most FNX|FXX and
 * EX s), where Dragonfly's form has its seconds and then fields.
 */
static int
jredis_hsetex(const struct journal_rec *rec)
{
	size_t i;

	for (i = 2; i < rec->argc - 1 && i < 6; i++)
		if (is(rec->argv[i], rec->argvlen[i], "FIELDS") &&
		    rec->argvlen[i + 1] > 0 &&
		    isdigit((unsigned char)rec->argv[i + 1][0]))
			return 1;
	return 0;
}

int
writer_journal(struct writer *w, const struct journal_rec *rec)
{
	const char *name, *why;
	int lossy;
	size_t nlen;
	int db;

	if (w->failed)
		return -1;
	if (rec->op != JOURNAL_COMMAND || rec->argc == 0)
		return 0;
	name = rec->argv[0];
	nlen = rec->argvlen[0];
	if (is(name, nlen, "PING") || is(name, nlen, "STICK") ||
	    is(name, nlen, "SHRINK"))
		return 0;
	if (is(name, nlen, "SCRIPT") && rec->argc > 1 &&
	    is(rec->argv[1], rec->argvlen[1], "CONFIG"))
		return 0;
	if (argv_reserve(w, rec->argc + 8) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		return -1;
	}
	w->jdb = -1;
	if (is(name, nlen, "FLUSHALL"))
		return jverbatim(w, rec, -2);
	if (map_db(w, (int)rec->db, &db) == -1)
		return -1;
	w->jdb = db;
	if (is(name, nlen, "FLUSHDB") || is(name, nlen, "SCRIPT"))
		return jverbatim(w, rec, -2);
	if (rec->argc < 2)
		return jverbatim(w, rec, -1);
	if (is(name, nlen, "SET"))
		return jset(w, rec);
	if (is(name, nlen, "RESTORE"))
		return jrestore(w, rec);
	if (is(name, nlen, "SADDEX"))
		return jsaddex(w, rec);
	if (is(name, nlen, "FIELDEXPIRE"))
		return jfieldexpire(w, rec);
	if (is(name, nlen, "HSETEX") && !jredis_hsetex(rec))
		return jhsetex(w, rec);
	if (is(name, nlen, "HSETEX") && w->version != 0 && w->version < 80000)
		return junsupported(w, rec, 0, "Redis 8's form of HSETEX "
		    "needs Redis 8.0");
	if (is(name, nlen, "DELEX"))
		return jdelex(w, rec);
	if (is(name, nlen, "DFLYCLUSTER"))
		return junsupported(w, rec, 0, "Dragonfly cluster "
		    "management has no Redis equivalent");
	if ((why = jmissing(w, name, nlen, &lossy)) != NULL)
		return junsupported(w, rec, lossy, why);
	if (is(name, nlen, "PREPEND") && rec->argc == 3) {
		/* lua_seq emulates it */
		av_str(w, 0, "PREPEND");
		av_set(w, 1, rec->argv[1], rec->argvlen[1]);
		av_set(w, 2, rec->argv[2], rec->argvlen[2]);
		return jsend(w, rec, C_JOURNAL, 3, 1);
	}
	if (w->cluster && rec->argc > 3 && is(name, nlen, "MSET"))
		return jsplit(w, rec, 2);
	if (w->cluster && rec->argc > 2 &&
	    (is(name, nlen, "DEL") || is(name, nlen, "UNLINK")))
		return jsplit(w, rec, 1);
	if (is(name, nlen, "XGROUP") && rec->argc > 2)
		return jverbatim(w, rec, 2);
	return jverbatim(w, rec, 1);
}

/* ------------------------------------------------------------ life */

void
writer_opts_init(struct writer_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->conflict = CONFLICT_OVERWRITE;
	o->unsupported = UNSUPPORTED_FAIL;
	o->batch = 512;
	for (i = 0; i < WRITER_MAXDB; i++)
		o->db_map[i] = -1;
	o->target_db = -1;
}

struct writer *
writer_open(struct target *t, const struct writer_opts *o, char *err,
    size_t errlen)
{
	static unsigned int nwriters;
	struct writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&w->refs);
	w->t = t;
	w->opts = *o;
	if (w->opts.batch == 0)
		w->opts.batch = 512;
	w->cluster = target_is_cluster(t);
	w->version = target_version(t);
	w->has_json = target_has_module(t, "ReJSON");
	w->pid = (long)getpid();
	snprintf(w->wid, sizeof(w->wid), "%ld.%u.%08x", w->pid, ++nwriters,
	    arc4random());
	w->curdb = o->target_db;
	if (w->version != 0 && w->version < 50000) {
		snprintf(err, errlen, "the target runs Redis %d.%d.%d; "
		    "df2redis needs 5.0 or newer", w->version / 10000,
		    w->version / 100 % 100, w->version % 100);
		free(w);
		return NULL;
	}
	if (slottags_build(w) == -1 || argv_reserve(w, 64) == -1 ||
	    (w->plain = calloc(NSLOTS, sizeof(*w->plain))) == NULL) {
		snprintf(err, errlen, "out of memory");
		writer_close(w);
		return NULL;
	}
	target_set_reply_cb(t, reply_cb, w);
	return w;
}

void
writer_close(struct writer *w)
{
	struct keyref *ref;
	size_t i;

	if (w == NULL)
		return;
	if (w->t != NULL)
		target_set_reply_cb(w->t, NULL, NULL);
	while ((ref = TAILQ_FIRST(&w->refs)) != NULL) {
		TAILQ_REMOVE(&w->refs, ref, entry);
		free(ref);
	}
	kstate_free(&w->k0);
	for (i = 0; i < w->nks; i++) {
		kstate_free(w->ks[i]);
		free(w->ks[i]);
	}
	free(w->ks);
	for (i = 0; i < WRITER_MAXDB; i++)
		free(w->lastseq[i]);
	free(w->plain);
	free(w->slottags);
	free(w->argv);
	free(w->argvlen);
	buf_free(&w->scratch);
	buf_free(&w->numbuf);
	free(w);
}

int
writer_sync(struct writer *w)
{
	if (w->failed)
		return -1;
	if (target_flush(w->t) == -1) {
		werr(w, WERR_TARGET, "%s", target_error(w->t));
		return -1;
	}
	return w->failed ? -1 : 0;
}

/* DEL the temporary name of a key; nothing more of that key is sent. */
static int
del_tmp(struct writer *w, struct keyref *ref)
{
	char tmp[80];
	size_t n;

	n = tmp_fmt(w, ref, tmp, sizeof(tmp));
	ref->tmpno = 0;
	av_str(w, 0, "DEL");
	av_set(w, 1, tmp, n);
	return send_av(w, ref, C_DEL, 2, 1);
}

int
writer_abort(struct writer *w, struct target *fresh)
{
	char err[sizeof(w->err)];
	struct keyref *ref;
	int failed = w->failed, kind = w->errkind, rv = 0;
	size_t i;

	if (fresh != NULL) {
		strlcpy(err, w->err, sizeof(err));
		w->t = fresh;
		w->curdb = w->opts.target_db;
		w->failed = 0;
		/* the old connection's commands are never answered */
		memset(w->plain, 0, NSLOTS * sizeof(*w->plain));
		w->plain_any = w->plain_all = 0;
		for (i = 0; i < WRITER_MAXDB; i++)
			if (w->lastseq[i] != NULL)
				memset(w->lastseq[i], 0,
				    NSLOTS * sizeof(*w->lastseq[i]));
		target_set_reply_cb(fresh, reply_cb, w);
	}
	if (w->failed)
		return -1;
	if (argv_reserve(w, 2) == -1) {
		werr(w, WERR_TARGET, "out of memory");
		rv = -1;
		goto out;
	}
	if (w->k0.active && w->k0.big && del_tmp(w, w->k0.ref) == -1)
		rv = -1;
	for (i = 0; i < w->nks; i++)
		if (w->ks[i]->active && w->ks[i]->big &&
		    del_tmp(w, w->ks[i]->ref) == -1)
			rv = -1;
	/*
	 * Each ref with a tmpno is held by its open key or by a command the
	 * old connection never answered, so no DEL reply frees one here.
	 */
	if (fresh != NULL)
		TAILQ_FOREACH(ref, &w->refs, entry)
			if (ref->tmpno != 0 && del_tmp(w, ref) == -1)
				rv = -1;
	kstate_clear(w, &w->k0);
	for (i = 0; i < w->nks; i++)
		kstate_clear(w, w->ks[i]);
	if (writer_sync(w) == -1)
		rv = -1;
out:
	if (fresh != NULL && failed) {
		if (rv == -1)
			log_warnx("temporary keys not deleted: %s", w->err);
		w->failed = 1;
		w->errkind = kind;
		strlcpy(w->err, err, sizeof(w->err));
		rv = -1;
	}
	return rv;
}

const char *
writer_error(const struct writer *w)
{
	if (w->failed)
		return w->err;
	return target_error(w->t);
}

int
writer_error_kind(const struct writer *w)
{
	return w->failed ? w->errkind : WERR_NONE;
}

const uint64_t *
writer_counts(const struct writer *w)
{
	return w->counts;
}

/* ------------------------------------------------------------ cleanup */

#define CLEANUP_MATCH	"{*}df2redis:*"

/* "{N}df2redis:seq:PID.N.XXXXXXXX" exactly, as marker_fmt() writes them. */
static int
is_seq_name(const char *p, size_t len)
{
	static const char mid[] = "}df2redis:seq:";
	const char *end = p + len;
	int i;

	if (len == 0 || *p++ != '{' || p == end || !isdigit((unsigned char)*p))
		return 0;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < sizeof(mid) - 1 ||
	    memcmp(p, mid, sizeof(mid) - 1) != 0)
		return 0;
	p += sizeof(mid) - 1;
	for (i = 0; i < 2; i++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (p == end || *p++ != '.')
			return 0;
	}
	if (end - p != 8)
		return 0;
	for (; p < end; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return 0;
	return 1;
}

/* "{N}df2redis:tmp:PID:N" exactly, as tmp_fmt() writes them. */
static int
is_tmp_name(const char *p, size_t len)
{
	static const char mid[] = "}df2redis:tmp:";
	const char *end = p + len;
	int part;

	if (len == 0 || *p++ != '{')
		return 0;
	for (part = 0; part < 3; part++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (part == 0) {
			if ((size_t)(end - p) < sizeof(mid) - 1 ||
			    memcmp(p, mid, sizeof(mid) - 1) != 0)
				return 0;
			p += sizeof(mid) - 1;
		} else if (part == 1) {
			if (p == end || *p++ != ':')
				return 0;
		}
	}
	return p == end;
}

static redisReply *
cleanup_cmd(redisContext *c, const char *name, char *err, size_t errlen,
    int argc, const char **argv, const size_t *argvlen)
{
	redisReply *r;

	if ((r = redisCommandArgv(c, argc, argv, argvlen)) == NULL) {
		snprintf(err, errlen, "target %s: %s: %s", name, argv[0],
		    c->errstr);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "target %s: %s: %s", name, argv[0],
		    r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static redisContext *
cleanup_connect(const struct target_opts *o, const char *host, int port,
    char *name, size_t namelen, char *err, size_t errlen)
{
	int ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
	const char *argv[3];
	redisContext *c;
	redisReply *r;
	int argc = 0;

	snprintf(name, namelen, "%s:%d", host, port);
	if ((c = redisConnectWithTimeout(host, port, tv)) == NULL ||
	    c->err) {
		snprintf(err, errlen, "target %s: %s", name,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	tv.tv_sec = 60;
	tv.tv_usec = 0;
	redisSetTimeout(c, tv);
	if (o->password[0] != '\0') {
		argv[argc++] = "AUTH";
		if (o->user[0] != '\0')
			argv[argc++] = o->user;
		argv[argc++] = o->password;
		if ((r = redisCommandArgv(c, argc, argv, NULL)) == NULL ||
		    r->type == REDIS_REPLY_ERROR) {
			if (r != NULL)
				snprintf(err, errlen, "target %s: "
				    "authentication failed: %s", name, r->str);
			else
				snprintf(err, errlen, "target %s: AUTH: %s",
				    name, c->errstr);
			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

/* SCAN the current db of one master, UNLINK what is a temporary name. */
static long
cleanup_db(redisContext *c, const char *name, char *err, size_t errlen)
{
	const char *argv[6] = { "SCAN", NULL, "MATCH", CLEANUP_MATCH,
	    "COUNT", "1000" };
	const char *del[2] = { "UNLINK", NULL };
	size_t dellen[2] = { 6, 0 };
	char cursor[32] = "0";
	redisReply *r, *d, *keys;
	long n = 0;
	size_t i;

	do {
		argv[1] = cursor;
		if ((r = cleanup_cmd(c, name, err, errlen, 6, argv, NULL)) ==
		    NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "target %s: SCAN: unexpected "
			    "reply", name);
			freeReplyObject(r);
			return -1;
		}
		strlcpy(cursor, r->element[0]->str, sizeof(cursor));
		keys = r->element[1];
		for (i = 0; i < keys->elements; i++) {
			if (keys->element[i]->type != REDIS_REPLY_STRING ||
			    (!is_tmp_name(keys->element[i]->str,
			    keys->element[i]->len) &&
			    !is_seq_name(keys->element[i]->str,
			    keys->element[i]->len)))
				continue;
			del[1] = keys->element[i]->str;
			dellen[1] = keys->element[i]->len;
			if ((d = cleanup_cmd(c, name, err, errlen, 2, del,
			    dellen)) == NULL) {
				freeReplyObject(r);
				return -1;
			}
			if (d->type == REDIS_REPLY_INTEGER)
				n += d->integer;
			freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

/* Every db of a standalone server that holds keys (INFO keyspace). */
static long
cleanup_node(redisContext *c, const char *name, int cluster, char *err,
    size_t errlen)
{
	const char *argv[2] = { "INFO", "keyspace" };
	const char *sel[2] = { "SELECT", NULL };
	redisReply *r, *s;
	long n, total = 0;
	char *p, num[16];
	int db;

	if (cluster)
		return cleanup_db(c, name, err, errlen);
	if ((r = cleanup_cmd(c, name, err, errlen, 2, argv, NULL)) == NULL)
		return -1;
	for (p = r->type == REDIS_REPLY_STRING ? r->str : "";
	    (p = strstr(p, "db")) != NULL; p += 2) {
		if ((p != r->str && p[-1] != '\n') ||
		    sscanf(p, "db%d:", &db) != 1)
			continue;
		snprintf(num, sizeof(num), "%d", db);
		sel[1] = num;
		if ((s = cleanup_cmd(c, name, err, errlen, 2, sel, NULL)) ==
		    NULL || (n = cleanup_db(c, name, err, errlen)) == -1) {
			if (s != NULL)
				freeReplyObject(s);
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(s);
		total += n;
	}
	freeReplyObject(r);
	return total;
}

long
writer_cleanup(const struct target_opts *o, char *err, size_t errlen)
{
	const char *argv[2] = { "INFO", "cluster" };
	struct cluster_range *ranges = NULL;
	redisContext *seed, *c;
	redisReply *r;
	char name[CLUSTER_HOSTLEN + 16];
	long n, total = 0;
	int cluster, nr, i, j;

	if ((seed = cleanup_connect(o, o->host, o->port, name, sizeof(name),
	    err, errlen)) == NULL)
		return -1;
	if ((r = cleanup_cmd(seed, name, err, errlen, 2, argv, NULL)) ==
	    NULL) {
		redisFree(seed);
		return -1;
	}
	cluster = r->type == REDIS_REPLY_STRING &&
	    strstr(r->str, "cluster_enabled:1") != NULL;
	freeReplyObject(r);
	if (!cluster) {
		total = cleanup_node(seed, name, 0, err, errlen);
		redisFree(seed);
		return total;
	}
	argv[0] = "CLUSTER";
	argv[1] = "SLOTS";
	if ((r = cleanup_cmd(seed, name, err, errlen, 2, argv, NULL)) ==
	    NULL) {
		redisFree(seed);
		return -1;
	}
	nr = cluster_parse_slots(r, o->host, &ranges, err, errlen);
	freeReplyObject(r);
	redisFree(seed);
	for (i = 0; i < nr; i++) {
		/* a master serving several ranges is scanned once */
		for (j = 0; j < i; j++)
			if (ranges[j].port == ranges[i].port &&
			    strcmp(ranges[j].host, ranges[i].host) == 0)
				break;
		if (j < i)
			continue;
		if ((c = cleanup_connect(o, ranges[i].host, ranges[i].port,
		    name, sizeof(name), err, errlen)) == NULL) {
			total = -1;
			break;
		}
		n = cleanup_node(c, name, 1, err, errlen);
		redisFree(c);
		if (n == -1) {
			total = -1;
			break;
		}
		total += n;
	}
	free(ranges);
	return nr == -1 ? -1 : total;
}
