/*
 * keybuild.c - snapshot keys (rdb.h events) become commands on the target.
 *
 * A key is held in memory while it is small (at most opts.batch members and
 * SMALL_BYTES bytes) and then written with one atomic command: SET for a
 * string, RESTORE ... ABSTTL with a DUMP payload (dump.h) for a
 * collection.  A bigger key is built under a temporary name in the key's
 * hash slot, batch after batch, and moved into place by a script that
 * renames it (or, for --conflict skip/panic, only when the key is absent),
 * so a reader never sees half a key.  Streams are always built so
 * (keystream.c).  The keys open at once are kept by keyevents.h.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "dump.h"
#include "keyevents.h"
#include "log.h"
#include "scripts.h"
#include "skipset.h"
#include "writer_int.h"

#define CHUNK_BYTES	(1024 * 1024)	/* string bytes per APPEND */
#define ITEM_MAX	(64 * 1024 * 1024) /* largest element held */

static const char *code_names[] = {
	"command", "SET", "RESTORE", "APPEND", "RPUSH", "add", "DEL",
	"XADD", "PEXPIREAT", "RENAME", "XADD", "XSETID", "XGROUP", "XCLAIM",
	"HPEXPIREAT", "JSON.SET",
};

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

static size_t	tmp_fmt(struct writer *, const struct keyref *, char *, size_t);

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
		kerr(w, ERR_DIVERGED, ref,
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
		kerr(w, ERR_PROTO, ref, "%s: unexpected reply from the "
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
		kerr(w, ERR_DIVERGED, ref, "its temporary key %s vanished "
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
		kerr(w, ERR_DIVERGED, ref, "%s: its temporary key %s holds "
		    "%lld %s where %lld were expected (written by someone "
		    "else?)", code == C_FINISH ? "before the rename" :
		    ref_cmd(ref, code), tmp, found, unit, expected);
		return -1;
	}
	kerr(w, ERR_PROTO, ref, "%s: unexpected status %lld from the "
	    "target's script", ref_cmd(ref, code), st);
	return -1;
}

int
kb_reply(struct writer *w, struct keyref *ref, enum code code,
    const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && (code == C_RPUSH ||
	    code == C_APPEND || code == C_XADD ||
	    code == C_FINISH))
		return on_check(w, ref, code, r);
	if (r->type == REDIS_REPLY_ARRAY && code == C_XCLAIM &&
	    r->elements == 4 && r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "missing") == 0)
		return ks_pel_missing(w, ref, r);
	if (r->type == REDIS_REPLY_ARRAY && (code == C_XSETID ||
	    code == C_XGROUP || code == C_XCLAIM) && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		return on_check(w, ref, code, r);
	if (r->type == REDIS_REPLY_ERROR) {
		if (code == C_RESTORE && strncmp(r->str, "BUSYKEY", 7) == 0)
			return existed(w, ref);
		if (code == C_XGROUP && strncmp(r->str, "BUSYGROUP", 9) == 0)
			return 0;
		kerr(w, ERR_TARGET, ref,
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
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------ key state */

static void
kstate_clear(struct writer *w, struct kstate *st)
{
	keyref_put(w, st->ref);
	st->ref = NULL;
	st->dropped = st->big = st->lossy = st->fieldttl = 0;
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
kstate_free(void *state)
{
	struct kstate *st = state;

	buf_free(&st->arena);
	buf_free(&st->group);
	buf_free(&st->consumer);
	free(st->args);
	free(st->scores);
	free(st->pel);
}

/* An array of *cap elements of size made twice as big (or 1024). */
static void *
grow(struct writer *w, void *p, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 1024;

	if ((p = reallocarray(p, n, size)) == NULL) {
		werr(w, ERR_SYS, "out of memory");
		return NULL;
	}
	*cap = n;
	return p;
}

int
kb_arg_push(struct writer *w, struct kstate *st, size_t off, size_t len)
{
	struct arg *a;

	if (st->nargs == st->argcap) {
		if ((a = grow(w, st->args, &st->argcap, sizeof(*a))) == NULL)
			return -1;
		st->args = a;
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

	if (st->nscores == st->scorecap) {
		if ((s = grow(w, st->scores, &st->scorecap, sizeof(*s))) ==
		    NULL)
			return -1;
		st->scores = s;
	}
	st->scores[st->nscores++] = score;
	return 0;
}

/* ------------------------------------------------------------ temp names */

static size_t
tmp_fmt(struct writer *w, const struct keyref *ref, char *out, size_t len)
{
	unsigned int slot;

	slot = target_slot(ref->key, ref->keylen);
	return snprintf(out, len, "{%s}df2redis:tmp:%ld:%" PRIu64,
	    cluster_slottag(slot), w->pid, ref->tmpno);
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
	if (av_reserve(w, 2) == -1)
		return -1;
	av_str(w, 0, "DEL");
	av_set(w, 1, st->tmp, st->tmplen);
	return wsend_av(w, st->ref, C_DEL, 2, 1);
}

/* ------------------------------------------------------------ batches */

static int
flush_string(struct writer *w, struct kstate *st)
{
	size_t off;

	if (av_reserve(w, 6) == -1)
		return -1;
	if (st->sent == 0) {
		av_str(w, 0, "SET");
		av_set(w, 1, st->tmp, st->tmplen);
		av_set(w, 2, st->arena.p, st->arena.len);
		if (wsend_av(w, st->ref, C_APPEND, 3, 1) == -1)
			return -1;
	} else {
		w->numbuf.len = 0;
		if ((off = num_add(w, "%" PRIu64, st->sent)) == (size_t)-1)
			return -1;
		av_eval(w, lua_append, "1");
		av_set(w, 3, st->tmp, st->tmplen);
		av_set(w, 4, w->numbuf.p + off, w->numbuf.len - off);
		av_set(w, 5, st->arena.p, st->arena.len);
		if (wsend_av(w, st->ref, C_APPEND, 6, 3) == -1)
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
	if (av_reserve(w, lim * 2 + 8) == -1) {
		werr(w, ERR_SYS, "out of memory");
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
			argc = av_eval(w, lua_rpush, "1");
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
			werr(w, ERR_DATA, "%s: unexpected type %d", __func__,
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
		if (wsend_av(w, st->ref, code, argc,
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
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

/* Send the held stream entries to tmp, one checked script per batch. */
/* ------------------------------------------------------------ payloads */

/* The DUMP payload of a held value, in w->scratch. */
static int
build_payload(struct writer *w, struct kstate *st)
{
	struct buf *b = &w->scratch;
	unsigned char type;
	uint64_t n;
	size_t i;
	int rv = 0;

	b->len = 0;
	if (dump_type(st->vtype) == -1)
		return -1;
	type = dump_type(st->vtype);
	n = st->vtype == RDB_VT_HASH ? st->nargs / 2 : st->nargs;
	rv |= buf_add(b, &type, 1);
	if (st->vtype == RDB_VT_STRING)
		rv |= dump_str(b, st->arena.p, st->arena.len);
	else
		rv |= dump_len(b, n);
	for (i = 0; st->vtype != RDB_VT_STRING && i < st->nargs && rv == 0;
	    i++) {
		rv |= dump_str(b, st->arena.p + st->args[i].off,
		    st->args[i].len);
		if (st->vtype == RDB_VT_ZSET)
			rv |= dump_score(b, st->scores[i]);
	}
	if (rv != 0)
		return -1;
	return dump_finish(b);
}

/* ------------------------------------------------------------ finishing */

static int
finish_small_string(struct writer *w, struct kstate *st)
{
	size_t off = 0;
	int argc = 0;

	if (av_reserve(w, 8) == -1)
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
	return wsend_av(w, st->ref, C_SET, argc, 1);
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
	if (av_reserve(w, 8) == -1)
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
	return wsend_av(w, st->ref, C_RESTORE, argc, 1);
oom:
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

static int
finish_json(struct writer *w, struct kstate *st)
{
	size_t off;

	if (av_reserve(w, 8) == -1)
		return -1;
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, st->expire_ms)) == (size_t)-1)
		return -1;
	av_eval(w, lua_json, "1");
	av_set(w, 3, st->ref->key, st->ref->keylen);
	av_set(w, 4, st->arena.p, st->arena.len);
	av_str(w, 5, w->opts.conflict == CONFLICT_OVERWRITE ? "1" : "0");
	av_set(w, 6, w->numbuf.p + off, w->numbuf.len - off);
	return wsend_av(w, st->ref, C_JSON, 7, 3);
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

	if (av_reserve(w, 10) == -1)
		return -1;
	if (st->expire_ms >= 0) {
		w->numbuf.len = 0;
		if ((off = num_add(w, "%" PRId64, st->expire_ms)) ==
		    (size_t)-1)
			return -1;
		av_str(w, 0, "PEXPIREAT");
		av_set(w, 1, st->tmp, st->tmplen);
		av_set(w, 2, w->numbuf.p + off, w->numbuf.len - off);
		if (wsend_av(w, st->ref, C_PEXPIREAT, 3, 1) == -1)
			return -1;
	}
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRId64, expected_count(st))) ==
	    (size_t)-1 || (exp = num_add(w, "%" PRId64, st->expire_ms)) ==
	    (size_t)-1)
		return -1;
	av_eval(w, lua_finish, "2");
	av_set(w, 3, st->tmp, st->tmplen);
	av_set(w, 4, st->ref->key, st->ref->keylen);
	av_str(w, 5, w->opts.conflict == CONFLICT_OVERWRITE ? "1" : "0");
	av_str(w, 6, count_cmd[st->vtype]);
	av_set(w, 7, w->numbuf.p + off, exp - off);
	av_set(w, 8, w->numbuf.p + exp, w->numbuf.len - exp);
	return wsend_av(w, st->ref, C_FINISH, 9, 3);
}

/* A key being written, for a full resync's sweep (writer.h). */
static void
mark(struct writer *w, const struct kstate *st)
{
	if (w->opts.mark != NULL)
		w->opts.mark(w->opts.mark_arg, st->ref->db, st->ref->key,
		    st->ref->keylen);
}

static int
key_end(void *arg, void *state, const struct rdb_event *ev)
{
	struct writer *w = arg;
	struct kstate *st = state;
	int rv = 0;

	(void)ev;
	if (st->dropped)
		goto out;
	/* only now: a key skipped half-way is not the sweep's to keep */
	mark(w, st);
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
		rv = ks_flush_entries(w, st);
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

/*
 * keyevents.h calls the functions below: arg is the writer, state the
 * key's struct kstate.
 */

/*
 * A value the target cannot hold: an error, or the whole key skipped,
 * counted and logged (what was already built under tmp is deleted).
 * Under --unsupported skip the journal leaves it out too (skipset.h).
 */
static int
unsupported(struct writer *w, struct kstate *st, const char *why)
{
	char kt[900], lb[64];

	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, ERR_DATA, st->ref,
		    "%s (--unsupported skip to skip it)", why);
		return -1;
	}
	w->counts[WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%skey \"%s\" skipped: %s", wlabel(w, lb, sizeof(lb)),
	    keytext(st->ref->key, st->ref->keylen, kt, sizeof(kt)), why);
	st->dropped = 1;
	if (w->opts.unsupported == UNSUPPORTED_SKIP &&
	    skipset_add(w->skipped, st->ref->db, st->ref->key,
	    st->ref->keylen) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	if (st->big && st->ref->tmpno != 0)
		return kb_del_tmp(w, st->ref);
	return 0;
}

/* A key begins; an expired or unsupported one is skipped (KEYEV_SKIP). */
static int
key_begin(void *arg, void *state, const struct rdb_event *ev)
{
	struct writer *w = arg;
	struct kstate *st = state;
	char why[160];
	int db;

	st->vtype = ev->vtype;
	st->expire_ms = ev->u.k.expire_ms;
	if ((st->ref = keyref_new(w, ev->key.p, ev->key.len, ev->vtype,
	    NULL)) == NULL)
		return -1;
	if (!filter_key(w->opts.filter, ev->db, ev->key.p, ev->key.len)) {
		w->counts[WC_FILTERED]++;
		st->dropped = 1;
		return KEYEV_SKIP;
	}
	if (map_db(w, ev->db, &db) == -1)
		return -1;
	st->ref->db = db;
	if (st->expire_ms >= 0 && st->expire_ms <= wall_ms()) {
		w->counts[WC_EXPIRED]++;
		st->dropped = 1;
		return KEYEV_SKIP;
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
		    "no JSON module") == -1 ? -1 : KEYEV_SKIP;
	default:
		snprintf(why, sizeof(why), "%s value%s%s%s cannot be stored "
		    "on the target", rdb_vtype_name(ev->vtype),
		    ev->u.k.type_name ? " (" : "",
		    ev->u.k.type_name ? ev->u.k.type_name : "",
		    ev->u.k.type_name ? ")" : "");
		return unsupported(w, st, why) == -1 ? -1 : KEYEV_SKIP;
	}
}

static int
on_str(void *arg, void *state, const struct rdb_event *ev)
{
	struct writer *w = arg;
	struct kstate *st = state;
	int part = ev->u.str.part ? 1 : 0;

	if (st->dropped)
		return 0;
	if (ev->u.str.off == 0)
		st->part_start[part] = st->arena.len;
	if (st->vtype != RDB_VT_STRING &&
	    st->arena.len - st->part_start[part] + ev->u.str.len > ITEM_MAX) {
		kerr(w, ERR_DATA, st->ref,
		    "an element is larger than %d MiB, the most "
		    "df2redis holds in memory", ITEM_MAX >> 20);
		return -1;
	}
	if (buf_add(&st->arena, ev->u.str.p, ev->u.str.len) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	if (st->vtype == RDB_VT_STRING && st->arena.len >= CHUNK_BYTES) {
		if (go_big(w, st) == -1)
			return -1;
		return flush_string(w, st);
	}
	return 0;
}

/* --unsupported lossy: the key goes without what, logged by name once. */
static void
lossy(struct writer *w, struct kstate *st, const char *what)
{
	char kt[900], lb[64];

	if (st->lossy)
		return;
	st->lossy = 1;
	log_warnx("%skey \"%s\" written without %s", wlabel(w, lb,
	    sizeof(lb)), keytext(st->ref->key, st->ref->keylen, kt,
	    sizeof(kt)), what);
}

/*
 * TTLs inside a value the target cannot hold: an error, the key skipped,
 * or (lossy) written without them.
 */
static int
ttls_lost(struct writer *w, struct kstate *st, const char *why,
    const char *what)
{
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, ERR_DATA, st->ref, "%s (--unsupported skip leaves "
		    "the key out, lossy writes it without them)", why);
		return -1;
	}
	if (w->opts.unsupported == UNSUPPORTED_SKIP)
		return unsupported(w, st, why);
	lossy(w, st, what);
	return 0;
}

static int
field_ttl(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	struct buf *f = &w->scratch;
	size_t off;

	if (w->version != 0 && w->version < 70400)
		return ttls_lost(w, st, "hash field TTLs need Redis 7.4",
		    "its hash field TTLs (they need Redis 7.4)");
	/* this field must be in tmp before its TTL */
	f->len = 0;
	if (buf_add(f, st->arena.p + st->args[st->nargs - 2].off,
	    st->args[st->nargs - 2].len) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	if (go_big(w, st) == -1 || flush_items(w, st) == -1)
		return -1;
	if (av_reserve(w, 8) == -1)
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
	return wsend_av(w, st->ref, C_HPEXPIREAT, 6, 1);
}

static int
on_item(void *arg, void *state, const struct rdb_event *ev)
{
	struct writer *w = arg;
	struct kstate *st = state;
	int64_t ttl = ev->u.item.expire_ms;
	char why[80];
	size_t start;

	if (st->dropped || st->vtype == RDB_VT_STRING ||
	    st->vtype == RDB_VT_JSON)
		return 0;
	start = st->part_start[0];
	if (ttl >= 0 && ttl <= wall_ms()) {
		/* a member already expired: drop it */
		st->arena.len = start;
		return 0;
	}
	if (kb_arg_push(w, st, start, (st->vtype == RDB_VT_HASH ?
	    st->part_start[1] : st->arena.len) - start) == -1)
		return -1;
	if (st->vtype == RDB_VT_HASH &&
	    kb_arg_push(w, st, st->part_start[1],
	    st->arena.len - st->part_start[1]) == -1)
		return -1;
	if (st->vtype == RDB_VT_ZSET) {
		if (isnan(ev->u.item.score)) {
			kerr(w, ERR_DATA, st->ref,
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
		snprintf(why, sizeof(why), "%s member TTLs have no Redis "
		    "equivalent", rdb_vtype_name(st->vtype));
		if (ttls_lost(w, st, why, "its member TTLs (no Redis "
		    "equivalent)") == -1)
			return -1;
	}
	if (st->dropped)
		return 0;
	if (st->nitems >= w->opts.batch || st->arena.len >= SMALL_BYTES) {
		if (go_big(w, st) == -1)
			return -1;
		return flush_items(w, st);
	}
	return 0;
}


static int
on_function(struct writer *w, const struct rdb_event *ev)
{
	struct keyref *ref;
	int rv;

	if ((ref = keyref_new(w, "", 0, RDB_VT_STRING, "FUNCTION LOAD")) ==
	    NULL || av_reserve(w, 4) == -1)
		return -1;
	av_str(w, 0, "FUNCTION");
	av_str(w, 1, "LOAD");
	av_str(w, 2, "REPLACE");
	av_set(w, 3, ev->u.func.p, ev->u.func.len);
	rv = wsend_all(w, ref, C_JOURNAL, 4);
	keyref_put(w, ref);
	return rv;
}

static const struct keyev_ops keyops = {
	key_begin, on_str, on_item, ks_stream, key_end,
};

int
writer_event(struct writer *w, const struct rdb_event *ev)
{
	struct error e = { ERR_NONE, "" };

	if (w->failed)
		return -1;
	if (ev->type == RDB_EV_FUNCTION)
		return on_function(w, ev);
	if (keytab_event(w->keys, &keyops, w, ev, &e) == -1) {
		if (e.kind != ERR_NONE)
			werr(w, e.kind, "%s", e.msg);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ life */

int
kb_del_tmp(struct writer *w, struct keyref *ref)
{
	char tmp[80];
	size_t n;

	n = tmp_fmt(w, ref, tmp, sizeof(tmp));
	ref->tmpno = 0;
	av_str(w, 0, "DEL");
	av_set(w, 1, tmp, n);
	return wsend_av(w, ref, C_DEL, 2, 1);
}

int
kb_open(struct writer *w)
{
	if ((w->keys = keytab_new(sizeof(struct kstate))) == NULL)
		return -1;
	return 0;
}

void
kb_close(struct writer *w)
{
	keytab_free(w->keys, kstate_free);
}

static void
abort_key(void *arg, void *state)
{
	struct writer *w = arg;
	struct kstate *st = state;

	if (st->big)
		kb_del_tmp(w, st->ref);
	kstate_clear(w, st);
}

void
kb_abort(struct writer *w)
{
	keytab_close_all(w->keys, abort_key, w);
}
