/*
 * writer.c - the writer's bookkeeping: commands sent on behalf of a key,
 * their replies matched back to it, counts, the first error, and the
 * writer's life.  What is sent comes from keybuild.c (snapshot keys) and
 * jcmd.c (journal commands); writer_int.h says who does what.
 *
 * The target may resend any unacknowledged command after a reconnect, so
 * every command the writer sends is idempotent: the temporary name is
 * deleted before a build, SADD/HSET/ZADD are naturally so, and RPUSH,
 * APPEND and XADD run inside small scripts that check the length or last
 * id first.  Journal commands that are not safe to run twice run under a
 * per-slot sequence marker (jcmd.c).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "skipset.h"
#include "writer_int.h"

#define INFLIGHT_BYTES	(8 * 1024 * 1024) /* sent, then wait for acks */

static int	reply_cb(void *, uint64_t, const redisReply *);
static int	use_db(struct writer *, int);

/* ------------------------------------------------------------ errors */

const char *
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

const char *
wlabel(const struct writer *w, char *out, size_t len)
{
	if (w->opts.label == NULL)
		return "";
	snprintf(out, len, "%s: ", w->opts.label);
	return out;
}

/* The first error is kept, with its kind. */
void
werr(struct writer *w, enum err_kind kind, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->failed)
		return;
	w->failed = 1;
	if (w->opts.label != NULL)
		err_set(&w->err, kind, "%s: %s", w->opts.label, msg);
	else
		err_set(&w->err, kind, "%s", msg);
}

void
kerr(struct writer *w, enum err_kind kind, const struct keyref *ref,
    const char *fmt, ...)
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

int
werr_target(struct writer *w)
{
	werr(w, target_error_kind(w->t), "%s", target_error(w->t));
	return -1;
}

/* ------------------------------------------------------------ key refs */

struct keyref *
keyref_new(struct writer *w, const char *key, size_t keylen,
    enum rdb_vtype vtype, const char *cmd)
{
	struct keyref *ref;

	if ((ref = malloc(sizeof(*ref) + keylen + 1)) == NULL) {
		werr(w, ERR_SYS, "out of memory");
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
	ref->lsnmark = 0;
	strlcpy(ref->cmd, cmd ? cmd : "", sizeof(ref->cmd));
	ref->keylen = keylen;
	memcpy(ref->key, key, keylen);
	ref->key[keylen] = '\0';
	TAILQ_INSERT_TAIL(&w->refs, ref, entry);
	return ref;
}

void
keyref_put(struct writer *w, struct keyref *ref)
{
	if (ref == NULL || --ref->refs > 0)
		return;
	TAILQ_REMOVE(&w->refs, ref, entry);
	free(ref);
}

/* ------------------------------------------------------------ sending */

int
av_reserve(struct writer *w, size_t n)
{
	const char **av;
	size_t *al;

	if (n <= w->argvcap)
		return 0;
	if ((av = reallocarray(w->argv, n, sizeof(*av))) == NULL)
		goto oom;
	w->argv = av;
	if ((al = reallocarray(w->argvlen, n, sizeof(*al))) == NULL)
		goto oom;
	w->argvlen = al;
	w->argvcap = n;
	return 0;
oom:
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

/*
 * The target bounds the commands in flight, not their bytes: with 1 MB
 * chunks or a large --batch that could be a gigabyte.  Once INFLIGHT_BYTES
 * are unacknowledged, wait until half of them are; the target never idles,
 * as a full flush would make it.
 */
static int
wait_acks(struct writer *w)
{
	while (target_pending_bytes(w->t) > INFLIGHT_BYTES / 2)
		if (target_poll(w->t, 1000) == -1)
			return werr_target(w);
	return 0;
}

/* A plain (unguarded) command of ref sent (+1) or answered (-1). */
void
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

int
wsend(struct writer *w, struct keyref *ref, enum code code, int argc,
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
	for (i = 0; i < argc; i++)
		w->counts[WC_BYTES] += argvlen[i];
	if (target_send(w->t, argc, argv, argvlen, keyidx,
	    (uint64_t)(uintptr_t)ref | code) == -1)
		return werr_target(w);
	if (!w->in_cb && target_pending_bytes(w->t) >= INFLIGHT_BYTES)
		return wait_acks(w);
	return 0;
}

/* Send the w->argv vector built by the caller. */
int
wsend_av(struct writer *w, struct keyref *ref, enum code code, int argc,
    int keyidx)
{
	return wsend(w, ref, code, argc, w->argv, w->argvlen, keyidx);
}

int
wsend_all(struct writer *w, struct keyref *ref, enum code code, int argc)
{
	if (use_db(w, ref->db) == -1)
		return -1;
	ref->refs++;
	plain_count(w, ref, 1);
	w->counts[WC_COMMANDS]++;
	if (target_send_all(w->t, argc, w->argv, w->argvlen,
	    (uint64_t)(uintptr_t)ref | code) == -1)
		return werr_target(w);
	return 0;
}

/* Format numbers into numbuf; returned offsets stay valid as it grows. */
size_t
num_add(struct writer *w, const char *fmt, ...)
{
	char tmp[64];
	size_t off = w->numbuf.len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (buf_add(&w->numbuf, tmp, n) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return (size_t)-1;
	}
	return off;
}

/* The destination db of a source db; a cluster has only db 0. */
int
map_db(struct writer *w, int srcdb, int *dst)
{
	int db = -1;

	if (srcdb >= 0 && srcdb < WRITER_MAXDB)
		db = w->opts.db_map[srcdb];
	if (db < 0)
		db = w->cluster ? 0 : srcdb;
	*dst = db;
	if (w->cluster && db != 0) {
		werr(w, ERR_DATA,
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
	/* set first: wsend() calls back here for the SELECT itself */
	w->curdb = db;
	rv = wsend(w, ref, C_JOURNAL, 2, argv, argvlen, -1);
	keyref_put(w, ref);
	if (rv == -1)
		w->curdb = -1;
	return rv;
}

/* ------------------------------------------------------------ replies */

/* A control command's reply (SELECT, a marker's DEL). */
static int
on_control(struct writer *w, struct keyref *ref, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ERROR)
		return 0;
	w->refused = 1;
	kerr(w, ERR_TARGET, ref, "%s (%s)", r->str, ref->cmd);
	return -1;
}

static int
reply_cb(void *arg, uint64_t tag, const redisReply *r)
{
	struct writer *w = arg;
	struct keyref *ref = (struct keyref *)(uintptr_t)(tag & ~(uint64_t)15);
	enum code code = (enum code)(tag & 15);
	int rv;

	plain_count(w, ref, -1);
	w->in_cb = 1;
	if (code != C_JOURNAL)
		rv = kb_reply(w, ref, code, r);
	else if (ref->control)
		rv = on_control(w, ref, r);
	else
		rv = jcmd_reply(w, ref, r);
	if (rv == 0 && ref->seq != 0)
		rv = jcmd_seq_acked(w, ref);
	w->in_cb = 0;
	keyref_put(w, ref);
	if (rv == -1)
		target_seterr(w->t, "%s", w->err.msg);
	return rv;
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
	o->flow = -1;
}

struct writer *
writer_open(struct target *t, const struct writer_opts *o, struct error *err)
{
	static unsigned int nwriters;
	struct writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		err_set(err, ERR_SYS, "out of memory");
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
		err_set(err, ERR_CONFIG, "the target runs Redis %d.%d.%d; "
		    "df2redis needs 5.0 or newer", w->version / 10000,
		    w->version / 100 % 100, w->version % 100);
		free(w);
		return NULL;
	}
	if (av_reserve(w, 64) == -1 ||
	    kb_open(w) == -1 ||
	    (w->skipped = skipset_new()) == NULL ||
	    (w->plain = calloc(NSLOTS, sizeof(*w->plain))) == NULL) {
		err_set(err, ERR_SYS, "out of memory");
		writer_close(w);
		return NULL;
	}
	if (o->unsupported == UNSUPPORTED_SKIP && o->skip_file != NULL &&
	    skipset_persist(w->skipped, o->skip_file) == -1) {
		err_set(err, ERR_SYS, "%s: %s", o->skip_file, strerror(errno));
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
	kb_close(w);
	for (i = 0; i < WRITER_MAXDB; i++) {
		free(w->lastseq[i]);
		free(w->marked[i]);
	}
	free(w->mslots);
	free(w->plain);
	skipset_free(w->skipped);
	free(w->fargv);
	free(w->fargvlen);
	free(w->fkeep);
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
	if (target_flush(w->t) == -1)
		return werr_target(w);
	return w->failed ? -1 : 0;
}

int
writer_refused(const struct writer *w)
{
	return w->refused;
}

int
writer_room(const struct writer *w)
{
	return w->failed || (target_room(w->t) &&
	    target_pending_bytes(w->t) < INFLIGHT_BYTES / 2);
}

int
writer_idle(const struct writer *w)
{
	return !w->failed && target_pending(w->t) == 0;
}

int
writer_abort(struct writer *w, struct target *fresh)
{
	struct error saved = w->err;
	struct keyref *ref;
	int failed = w->failed, rv = -1;
	size_t i;

	if (fresh != NULL) {
		w->t = fresh;
		w->curdb = w->opts.target_db;
		w->failed = 0;
		err_clear(&w->err);
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
	if (av_reserve(w, 2) == 0) {
		kb_abort(w);
		/*
		 * Each ref with a tmpno is held by a command the old
		 * connection never answered, so no DEL reply frees one here.
		 */
		if (fresh != NULL)
			TAILQ_FOREACH(ref, &w->refs, entry)
				if (ref->tmpno != 0)
					kb_del_tmp(w, ref);
		rv = writer_sync(w);
	}
	if (fresh != NULL && failed) {
		if (rv == -1)
			log_warnx("temporary keys not deleted: %s",
			    w->err.msg);
		w->failed = 1;
		w->err = saved;
		rv = -1;
	}
	return rv;
}

const struct error *
writer_error(const struct writer *w)
{
	return &w->err;
}

const uint64_t *
writer_counts(const struct writer *w)
{
	return w->counts;
}
