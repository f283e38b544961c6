/*
 * jcmd.c - journal records become commands on the target.
 *
 * Dragonfly's own commands and forms are translated (HSETEX, SADDEX,
 * FIELDEXPIRE, DELEX, SET's STICK, RESTORE payloads the target cannot
 * load); what the target cannot run fails as ERR_DATA or, with
 * --unsupported skip, is counted and logged.  Each command is then sent
 * plain, when running it twice is harmless, or guarded by a sequence
 * marker (jguard()).  Stable sync replays the journal here.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "cluster.h"
#include "dump.h"
#include "log.h"
#include "scripts.h"
#include "skipset.h"
#include "tmpkeys.h"
#include "writer_int.h"

/* ------------------------------------------------------------ markers */

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
 * tmpkeys_cleanup() deletes those of killed runs.
 *
 * In stable sync the number is the record's LSN and the marker
 * "{tag}df2redis:lsn:<flow>" outlives the writer: a worker killed after the
 * target ran a record but before the checkpoint stored it resumes from an
 * older LSN, and the markers say what its slot already holds.  Every
 * record of a slot at or below its marker is skipped then, blind writes
 * too: SET k 5, INCR k applied, replaying the SET alone would undo the
 * INCR.  A standalone target runs one connection's commands in order, so
 * there everything at or below the highest marker was applied.  Blind
 * writes cost nothing; a marker goes once the checkpoint covers it
 * (writer_markers_trim()), and a full sync deletes them all.
 */
#define SEQ_TTL_MS	"3600000"
#define LSN_TTL_MS	"86400000"

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
/* Redis 7.4's field TTL commands */
static const char *hfe_cmds[] = {
	"HEXPIRE", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT", "HPERSIST", NULL,
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
	    cluster_slottag(slot), w->wid);
}

static size_t
lsn_marker_fmt(struct writer *w, unsigned int slot, char *out, size_t len)
{
	return tmpkeys_lsn_name(out, len, slot, w->opts.flow);
}

/*
 * The LSN marker of (db, slot) holds lsn now; w->marked keeps lsn + 1 so
 * that 0 means none, and w->mslots lists the markers to delete later.
 */
static int
mark_lsn(struct writer *w, int db, unsigned int slot, uint64_t lsn)
{
	struct mslot *ms;
	uint64_t **m = &w->marked[db];
	size_t cap;

	if (*m == NULL && (*m = calloc(NSLOTS, sizeof(**m))) == NULL)
		goto oom;
	if ((*m)[slot] == 0) {
		if (w->nmslots == w->mslotcap) {
			cap = w->mslotcap ? w->mslotcap * 2 : 64;
			if ((ms = reallocarray(w->mslots, cap,
			    sizeof(*ms))) == NULL)
				goto oom;
			w->mslots = ms;
			w->mslotcap = cap;
		}
		w->mslots[w->nmslots].db = db;
		w->mslots[w->nmslots++].slot = slot;
	}
	if ((*m)[slot] < lsn + 1)
		(*m)[slot] = lsn + 1;
	return 0;
oom:
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

/*
 * Resuming: did the target apply the command in w->argv, of the record
 * at w->jlsn, before the worker that sent it died?  A cluster runs each
 * slot's commands in order, not the slots': its marker says.
 */
static int
applied(struct writer *w, int keyidx)
{
	uint64_t *m;

	if (!w->lsnmode || !w->have_applied || w->jlsn > w->applied_max)
		return 0;
	if (!w->cluster)
		return 1;
	if (keyidx <= 0 || w->jdb < 0 || w->jdb >= WRITER_MAXDB ||
	    (m = w->marked[w->jdb]) == NULL)
		return 0;
	return m[target_slot(w->argv[keyidx], w->argvlen[keyidx])] > w->jlsn;
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
		if (target_poll(w->t, 1000) == -1)
			return werr_target(w);
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
		kerr(w, ERR_DATA, ref, "%s with %d arguments, more than "
		    "df2redis can replay safely (%d)", ref->cmd, argc,
		    LUA_MAXARGS - 7);
		return -1;
	}
	if (ref->db < 0 || ref->db >= WRITER_MAXDB) {
		kerr(w, ERR_DATA, ref, "db %d is out of range", ref->db);
		return -1;
	}
	ls = &w->lastseq[ref->db];
	if (!w->lsnmode && *ls == NULL &&
	    (*ls = calloc(NSLOTS, sizeof(**ls))) == NULL) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	if (plain_barrier(w, kind, slot) == -1 ||
	    av_reserve(w, argc + 7) == -1)
		return -1;
	ref->pslot = -1;
	if (w->lsnmode) {
		if (mark_lsn(w, ref->db, slot, w->jlsn) == -1)
			return -1;
		ref->seq = w->jlsn;
		ref->lsnmark = 1;
	} else {
		ref->seq = ++w->seq;
		(*ls)[slot] = ref->seq;
	}
	for (i = argc - 1; i >= 0; i--)
		av_set(w, i + 7, w->argv[i], w->argvlen[i]);
	av_eval(w, lua_seq, "2");
	av_set(w, 3, marker, w->lsnmode ?
	    lsn_marker_fmt(w, slot, marker, sizeof(marker)) :
	    marker_fmt(w, slot, marker, sizeof(marker)));
	av_set(w, 4, w->argv[keyidx + 7], w->argvlen[keyidx + 7]);
	av_set(w, 5, seq, snprintf(seq, sizeof(seq), "%" PRIu64, ref->seq));
	av_str(w, 6, w->lsnmode ? LSN_TTL_MS : SEQ_TTL_MS);
	return wsend_av(w, ref, C_JOURNAL, argc + 7, 4);
}

/* Delete the marker unless a later guarded command moved it past seq. */
static int
marker_del(struct writer *w, struct keyref *c, int db, const char *marker,
    size_t len, uint64_t seq)
{
	const char *argv[5];
	size_t argvlen[5];
	char num[24];

	c->pslot = -1;
	c->control = 1;
	c->db = db;
	argv[0] = "EVAL";
	argv[1] = lua_seqdel;
	argv[2] = "1";
	argv[3] = marker;
	argv[4] = num;
	argvlen[0] = 4;
	argvlen[1] = strlen(lua_seqdel);
	argvlen[2] = 1;
	argvlen[3] = len;
	argvlen[4] = snprintf(num, sizeof(num), "%" PRIu64, seq);
	return wsend(w, c, C_JOURNAL, 5, argv, argvlen, 3);
}

/*
 * The guarded command of ref was acknowledged: when it is the last one of
 * its slot in flight, nothing can resend it or an earlier one, and the
 * marker goes.  Runs in the reply callback.
 */
int
jcmd_seq_acked(struct writer *w, const struct keyref *ref)
{
	unsigned int slot = target_slot(ref->key, ref->keylen);
	char marker[96];
	struct keyref *c;
	uint64_t *ls;
	size_t len;
	int rv;

	if (ref->lsnmark || ref->db < 0 || ref->db >= WRITER_MAXDB ||
	    (ls = w->lastseq[ref->db]) == NULL || ls[slot] != ref->seq)
		return 0;
	ls[slot] = 0;
	if ((c = keyref_new(w, ref->key, ref->keylen, RDB_VT_STRING,
	    "marker DEL")) == NULL)
		return -1;
	len = marker_fmt(w, slot, marker, sizeof(marker));
	rv = marker_del(w, c, ref->db, marker, len, ref->seq);
	keyref_put(w, c);
	return rv;
}

int
writer_marker_loaded(struct writer *w, int db, const char *name, size_t len,
    uint64_t lsn)
{
	if (db < 0 || db >= WRITER_MAXDB)
		return 0;
	if (mark_lsn(w, db, target_slot(name, len), lsn) == -1)
		return -1;
	if (!w->have_applied || lsn > w->applied_max)
		w->applied_max = lsn;
	w->have_applied = 1;
	return 0;
}

void
writer_markers_forget(struct writer *w)
{
	size_t i;

	for (i = 0; i < w->nmslots; i++)
		w->marked[w->mslots[i].db][w->mslots[i].slot] = 0;
	w->nmslots = 0;
	w->have_applied = 0;
	w->applied_max = 0;
	/* the snapshot says again which keys are skipped */
	skipset_clear(w->skipped, -1);
}

int
writer_markers_trim(struct writer *w, uint64_t next_lsn)
{
	struct keyref *c;
	struct mslot *ms;
	char marker[96];
	uint64_t *m;
	size_t i, len;

	if (w->failed)
		return -1;
	if (w->have_applied && w->applied_max < next_lsn)
		w->have_applied = 0;
	for (i = 0; i < w->nmslots;) {
		ms = &w->mslots[i];
		m = &w->marked[ms->db][ms->slot];
		if (*m > next_lsn) {
			i++;
			continue;
		}
		len = lsn_marker_fmt(w, ms->slot, marker, sizeof(marker));
		if ((c = keyref_new(w, marker, len, RDB_VT_STRING,
		    "marker DEL")) == NULL)
			return -1;
		if (marker_del(w, c, ms->db, marker, len, *m - 1) == -1) {
			keyref_put(w, c);
			return -1;
		}
		keyref_put(w, c);
		*m = 0;
		*ms = w->mslots[--w->nmslots];
	}
	return 0;
}

/* ------------------------------------------------------------ translations */

/* Send the journal command in w->argv: guarded, plain or to all. */
static int
jsend(struct writer *w, const struct journal_rec *rec, enum code code,
    int argc, int keyidx)
{
	struct keyref *ref;
	enum jkind kind;
	char cmd[24];
	int rv;

	if (applied(w, keyidx)) {
		w->counts[WC_APPLIED]++;
		return 0;
	}
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
	if (keyidx == -2)
		rv = wsend_all(w, ref, code, argc);
	else
		rv = wsend_av(w, ref, code, argc, keyidx);
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
 * A journal command the target cannot run: an error (ERR_DATA), or
 * counted and logged.  ttls: only member or field TTLs are lost; then
 * --unsupported skip leaves the whole key out (its copy on the target is
 * deleted, jskip_key()) and returns 1, lossy applies the rest.  Other
 * commands are skipped, under both.  0: apply what can be, -1 error.
 */
static int
junsupported(struct writer *w, const struct journal_rec *rec, int ttls,
    const char *why)
{
	char kt[900], lb[64], wh[96], what[160];

	keytext(rec->argc > 1 ? rec->argv[1] : "", rec->argc > 1 ?
	    rec->argvlen[1] : 0, kt, sizeof(kt));
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		werr(w, ERR_DATA, "%s: key \"%s\": %.*s: %s (--unsupported "
		    "%s)", jwhere(w, rec, wh, sizeof(wh)), kt,
		    (int)rec->argvlen[0], rec->argv[0], why, ttls ?
		    "skip leaves the key out, lossy applies it without the "
		    "TTLs" : "skip or lossy to skip it");
		return -1;
	}
	if (ttls && w->opts.unsupported == UNSUPPORTED_SKIP && rec->argc > 1 &&
	    w->jdb >= 0) {
		snprintf(what, sizeof(what), "%.*s: %s",
		    (int)(rec->argvlen[0] < 40 ? rec->argvlen[0] : 40),
		    rec->argv[0], why);
		return jskip_key(w, w->jdb, rec->argv[1], rec->argvlen[1],
		    what) == -1 ? -1 : 1;
	}
	w->counts[ttls ? WC_LOSSY : WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%s%s: key \"%s\": %.*s %s: %s", wlabel(w, lb, sizeof(lb)),
	    jwhere(w, rec, wh, sizeof(wh)), kt, (int)rec->argvlen[0],
	    rec->argv[0], ttls ? "applied without its TTLs" : "skipped", why);
	return 0;
}


/* Is the argument the number 0? */
static int
is_zero(const char *p, size_t n)
{
	return n == 1 && *p == '0';
}

/*
 * The HEXPIRE family before 7.4, where no field has a TTL: a TTL of 0 or
 * a time past deletes the fields (UpdateTTL: 2) and is HDEL; HPERSIST
 * has nothing to undo.  Any other TTL, or a condition, is lost.
 */
static int
jhfe_old(struct writer *w, const struct journal_rec *rec)
{
	const char *name = rec->argv[0];
	size_t nlen = rec->argvlen[0], i, argc = 0;
	int at, past = 0;
	char num[24];

	if (is(name, nlen, "HPERSIST"))
		return 0;
	at = is(name, nlen, "HEXPIREAT") || is(name, nlen, "HPEXPIREAT");
	if (rec->argc >= 6 && is(rec->argv[3], rec->argvlen[3], "FIELDS")) {
		snprintf(num, sizeof(num), "%.*s", (int)(rec->argvlen[2] < 20 ?
		    rec->argvlen[2] : 20), rec->argv[2]);
		if (is_zero(rec->argv[2], rec->argvlen[2]))
			past = 1;
		else if (at)
			past = strtoll(num, NULL, 10) * (is(name, nlen,
			    "HEXPIREAT") ? 1000 : 1) <= wall_ms();
	}
	if (!past)
		return junsupported(w, rec, 1, "field TTLs need Redis 7.4") ==
		    -1 ? -1 : 0;
	av_str(w, argc++, "HDEL");
	av_set(w, argc++, rec->argv[1], rec->argvlen[1]);
	for (i = 5; i < rec->argc; i++)
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	return jsend(w, rec, C_JOURNAL, argc, 1);
}

/*
 * FIELDEXPIRE k seconds field... (Dragonfly): HEXPIRE on a hash; 0
 * deletes the fields or members (OpFieldExpire), on any target.
 */
static int
jfieldexpire(struct writer *w, const struct journal_rec *rec)
{
	size_t i;

	if (rec->argc < 4)
		return junsupported(w, rec, 0, "too few arguments");
	if (rec->argc + 3 <= LUA_MAXARGS &&
	    is_zero(rec->argv[2], rec->argvlen[2])) {
		av_eval(w, lua_fielddel, "1");
		av_set(w, 3, rec->argv[1], rec->argvlen[1]);
		for (i = 3; i < rec->argc; i++)
			av_set(w, i + 1, rec->argv[i], rec->argvlen[i]);
		w->jplain = 1;
		return jsend(w, rec, C_JOURNAL, rec->argc + 1, 3);
	}
	if (w->version != 0 && w->version < 70400)
		return junsupported(w, rec, 1, "field TTLs need Redis 7.4") ==
		    -1 ? -1 : 0;
	if (rec->argc + 3 > LUA_MAXARGS)
		return junsupported(w, rec, 1, "too many fields") == -1 ? -1 :
		    0;
	av_eval(w, lua_fieldexpire, "1");
	for (i = 1; i < rec->argc; i++)
		av_set(w, i + 2, rec->argv[i], rec->argvlen[i]);
	w->jplain = 1;
	return jsend(w, rec, C_JOURNAL, rec->argc + 2, 3);
}

/*
 * HSETEX, both forms Dragonfly takes (src/server/hset_family.cc
 * ParseHSetEx) and journals verbatim:
 *   Dragonfly's  HSETEX k [NX|FNX|FXX] [KEEPTTL] seconds f v...
 *   Redis 8's    HSETEX k [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
 *                       FIELDS n f v...
 * NX skips the fields that exist, FNX/FXX set all fields or none (none
 * exists / all exist).  KEEPTTL keeps the TTL of a field that has one
 * and gives the others the new one (StringMap::ComputeTtl); the Redis
 * form without an expiry drops the fields' TTLs, as HSET does.  Redis 8
 * runs its form itself; before, lua_hsetex does it, with HEXPIRE and
 * friends on 7.4 and without any field TTL (lossy) on older targets.
 */
static int
jhsetex(struct writer *w, const struct journal_rec *rec)
{
	static const struct {
		const char	*opt;
		const char	*cmd;
	} exp[] = {
		{ "EX", "HEXPIRE" }, { "PX", "HPEXPIRE" },
		{ "EXAT", "HEXPIREAT" }, { "PXAT", "HPEXPIREAT" },
	};
	const char *mode = "0", *ecmd = "", *tv = "";
	size_t i = 2, j, tvlen = 0, argc, nf, first;
	int keep = 0, hexpire, dup = 0, rv;
	char num[24];

	for (; i < rec->argc; i++) {
		if (is(rec->argv[i], rec->argvlen[i], "NX") ||
		    is(rec->argv[i], rec->argvlen[i], "FNX") ||
		    is(rec->argv[i], rec->argvlen[i], "FXX")) {
			dup |= *mode != '0';
			mode = is(rec->argv[i], rec->argvlen[i], "NX") ? "NX" :
			    is(rec->argv[i], rec->argvlen[i], "FNX") ? "FNX" :
			    "FXX";
			continue;
		}
		if (is(rec->argv[i], rec->argvlen[i], "KEEPTTL")) {
			dup |= keep;
			keep = 1;
			continue;
		}
		for (j = 0; j < sizeof(exp) / sizeof(exp[0]); j++)
			if (is(rec->argv[i], rec->argvlen[i], exp[j].opt))
				break;
		if (j == sizeof(exp) / sizeof(exp[0]) || i + 1 >= rec->argc)
			break;
		dup |= *ecmd != '\0';
		ecmd = exp[j].cmd;
		tv = rec->argv[++i];
		tvlen = rec->argvlen[i];
	}
	if (i < rec->argc && is(rec->argv[i], rec->argvlen[i], "FIELDS")) {
		/* Redis 8's form: FIELDS n, then exactly n pairs */
		nf = 0;
		if (i + 1 < rec->argc) {
			snprintf(num, sizeof(num), "%.*s",
			    (int)(rec->argvlen[i + 1] < 20 ?
			    rec->argvlen[i + 1] : 20), rec->argv[i + 1]);
			nf = (size_t)strtonum(num, 1, LUA_MAXARGS, NULL);
		}
		first = i + 2;
		if (dup || *mode == 'N' || (keep && *ecmd != '\0') ||
		    nf == 0 || first > rec->argc ||
		    rec->argc - first != 2 * nf)
			return junsupported(w, rec, 0, "a malformed HSETEX");
		if (w->version == 0 || w->version >= 80000)
			return jverbatim(w, rec, 1);
	} else {
		/* Dragonfly's form: seconds, then pairs */
		if (dup || *ecmd != '\0' || i >= rec->argc ||
		    rec->argc - i - 1 == 0 || (rec->argc - i - 1) % 2 != 0)
			return junsupported(w, rec, 0, "a malformed HSETEX");
		ecmd = "HEXPIRE";
		tv = rec->argv[i];
		tvlen = rec->argvlen[i];
		first = i + 1;
	}
	if (rec->argc - first + 8 > LUA_MAXARGS)
		return junsupported(w, rec, 0, "too many fields");
	hexpire = w->version == 0 || w->version >= 70400;
	/* on a target without field TTLs only an expiry is lost */
	if (!hexpire && *ecmd != '\0' && (rv = junsupported(w, rec, 1,
	    "field TTLs need Redis 7.4")) != 0)
		return rv == -1 ? -1 : 0;
	argc = av_eval(w, lua_hsetex, "1");
	av_set(w, argc++, rec->argv[1], rec->argvlen[1]);
	av_str(w, argc++, mode);
	av_str(w, argc++, hexpire ? ecmd : "");
	av_set(w, argc++, tv, tvlen);
	av_str(w, argc++, keep && hexpire ? "1" : "0");
	for (i = first; i < rec->argc; i++)
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	w->jplain = 1;
	return jsend(w, rec, C_JOURNAL, argc, 3);
}

/*
 * HGETEX k [EX s|PX ms|EXAT s|PXAT ms|PERSIST] FIELDS n f... (Redis 8,
 * Dragonfly's CmdHGetEx): before Redis 8 its write is the HEXPIRE-family
 * command of its option; without one it writes nothing.
 */
static int
jhgetex(struct writer *w, const struct journal_rec *rec)
{
	static const struct {
		const char	*opt;
		const char	*cmd;
		int		 arg;
	} opts[] = {
		{ "EX", "HEXPIRE", 1 }, { "PX", "HPEXPIRE", 1 },
		{ "EXAT", "HEXPIREAT", 1 }, { "PXAT", "HPEXPIREAT", 1 },
		{ "PERSIST", "HPERSIST", 0 },
	};
	size_t i = 2, j, argc = 0;

	if (w->version == 0 || w->version >= 80000)
		return jverbatim(w, rec, 1);
	if (rec->argc < 5)
		return junsupported(w, rec, 0, "a malformed HGETEX");
	if (is(rec->argv[2], rec->argvlen[2], "FIELDS"))
		return 0;	/* a read */
	for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
		if (is(rec->argv[2], rec->argvlen[2], opts[j].opt))
			break;
	if (j == sizeof(opts) / sizeof(opts[0]))
		return junsupported(w, rec, 0, "a malformed HGETEX");
	/* before 7.4 no field has a TTL: PERSIST has nothing to undo */
	if (w->version < 70400 && !opts[j].arg)
		return 0;
	if (w->version < 70400)
		return junsupported(w, rec, 1, "field TTLs need Redis 7.4") ==
		    -1 ? -1 : 0;
	i = 3 + (size_t)opts[j].arg;
	if (i >= rec->argc || !is(rec->argv[i], rec->argvlen[i], "FIELDS"))
		return junsupported(w, rec, 0, "a malformed HGETEX");
	av_str(w, argc++, opts[j].cmd);
	av_set(w, argc++, rec->argv[1], rec->argvlen[1]);
	if (opts[j].arg)
		av_set(w, argc++, rec->argv[3], rec->argvlen[3]);
	for (; i < rec->argc; i++)
		av_set(w, argc++, rec->argv[i], rec->argvlen[i]);
	return jsend(w, rec, C_JOURNAL, argc, 1);
}


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
	av_eval(w, lua_delex, "1");
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
	size_t i, n;

	*lossy = 0;
	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		n = strlen(mods[i].prefix);
		if (nlen >= n && strncasecmp(name, mods[i].prefix, n) == 0)
			return target_has_module(w->t, mods[i].module) ? NULL :
			    "the target lacks the module";
	}
	*lossy = 1;
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
		werr(w, ERR_DATA,
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
	char wh[96];
	int rv;

	if (i < rec->argc && is(rec->argv[i], rec->argvlen[i], "KEEPTTL"))
		i++;
	i++;
	if (rec->argc < 3 || i >= rec->argc) {
		werr(w, ERR_DATA, "%s: SADDEX with too few arguments",
		    jwhere(w, rec, wh, sizeof(wh)));
		return -1;
	}
	if ((rv = junsupported(w, rec, 1, "member TTLs have no Redis "
	    "equivalent")) != 0)
		return rv == -1 ? -1 : 0;
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
	    buf_add(&b, pl, 1) == -1 || dump_str(&b, key, keylen) == -1 ||
	    buf_add(&b, pl + 1, pllen - 11) == -1 ||
	    buf_add(&b, "\xff\0\0\0\0\0\0\0\0", 9) == -1) {
		buf_free(&b);
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	if ((r = rdb_new(RDB_MODE_FLOW, NULL)) == NULL ||
	    rdb_feed(r, b.p, b.len) == -1) {
		rdb_free(r);
		buf_free(&b);
		werr(w, ERR_SYS, "out of memory");
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
			werr(w, ERR_DATA,
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
		werr(w, ERR_DATA,
		    "journal record at byte %" PRIu64 ": RESTORE with a "
		    "short payload", rec->offset);
		return -1;
	}
	snprintf(num, sizeof(num), "%.*s", (int)(rec->argvlen[2] < 23 ?
	    rec->argvlen[2] : 23), rec->argv[2]);
	ttl = strtonum(num, 0, INT64_MAX, &errstr);
	if (errstr != NULL) {
		werr(w, ERR_DATA, "key \"%s\": RESTORE ttl \"%s\" is %s",
		    keytext(rec->argv[1], rec->argvlen[1], kt, sizeof(kt)),
		    num, errstr);
		return -1;
	}
	for (i = 4; i < rec->argc; i++)
		if (is(rec->argv[i], rec->argvlen[i], "ABSTTL"))
			abs = 1;
	type = rec->argv[3][0];
	if (type < 30 && type <= dump_max_type(w->version)) {
		for (i = 0; i < rec->argc; i++)
			if (i < 4 || !is(rec->argv[i], rec->argvlen[i],
			    "STICK"))
				av_set(w, argc++, rec->argv[i],
				    rec->argvlen[i]);
		return jsend(w, rec, C_JOURNAL, argc, 1);
	}
	exp = ttl == 0 ? -1 : abs ? ttl : wall_ms() + ttl;
	return jrestore_native(w, rec, exp);
}

int
writer_journal_lsn(struct writer *w, const struct journal_rec *rec,
    uint64_t lsn)
{
	int rv;

	if (w->opts.flow < 0)
		return writer_journal(w, rec);
	if (w->have_applied && !w->cluster && lsn <= w->applied_max) {
		/* in order: the target ran it before its worker died */
		if (rec->op == JOURNAL_COMMAND)
			w->counts[WC_APPLIED]++;
		return 0;
	}
	w->lsnmode = 1;
	w->jlsn = lsn;
	rv = writer_journal(w, rec);
	w->lsnmode = 0;
	return rv;
}

int
writer_journal(struct writer *w, const struct journal_rec *rec)
{
	const char *name, *why;
	int lossy, rv;
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
	if (av_reserve(w, rec->argc + 8) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	w->jdb = -1;
	if (is(name, nlen, "FLUSHALL")) {
		if ((rv = jfilter_flush(w, rec, 1)) != 0)
			return rv == -1 ? -1 : 0;
		return jverbatim(w, rec, -2);
	}
	if (map_db(w, (int)rec->db, &db) == -1)
		return -1;
	w->jdb = db;
	if (is(name, nlen, "FLUSHDB")) {
		if ((rv = jfilter_flush(w, rec, 0)) != 0)
			return rv == -1 ? -1 : 0;
		return jverbatim(w, rec, -2);
	}
	if (is(name, nlen, "SCRIPT"))
		return jverbatim(w, rec, -2);
	if ((rv = jfilter(w, &rec)) != 0)
		return rv == -1 ? -1 : 0;
	name = rec->argv[0];
	nlen = rec->argvlen[0];
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
	if (is(name, nlen, "HSETEX"))
		return jhsetex(w, rec);
	if (is(name, nlen, "HGETEX"))
		return jhgetex(w, rec);
	if (is(name, nlen, "DELEX"))
		return jdelex(w, rec);
	if (is(name, nlen, "DFLYCLUSTER"))
		return junsupported(w, rec, 0, "Dragonfly cluster "
		    "management has no Redis equivalent");
	if (w->version != 0 && w->version < 70400 && in_list(hfe_cmds, name,
	    nlen))
		return jhfe_old(w, rec);
	if ((why = jmissing(w, name, nlen, &lossy)) != NULL)
		return junsupported(w, rec, lossy, why) == -1 ? -1 : 0;
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

/* ------------------------------------------------------------ replies */

/*
 * A journal command the target refused.  One it can never run (unknown
 * command, a syntax it lacks, keys in several slots) fails every time:
 * ERR_DATA, or counted and logged under --unsupported skip.  A key of
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
		w->refused = 1;
		kerr(w, ERR_DIVERGED, ref, "%s: %s (the key has another type "
		    "than on the master)", ref->cmd, msg);
		return -1;
	}
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strncasecmp(msg, never[i], strlen(never[i])) == 0)
			break;
	if (i == sizeof(never) / sizeof(never[0])) {
		w->refused = 1;
		kerr(w, ERR_TARGET, ref, "%s (%s)", msg, ref->cmd);
		return -1;
	}
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, ERR_DATA, ref, "%s: the target cannot run it: %s "
		    "(--unsupported skip to skip it)", ref->cmd, msg);
		return -1;
	}
	w->counts[WC_SKIPPED_UNSUPPORTED]++;
	log_warnx("%s%skey \"%s\": journal command %s skipped: %s",
	    w->opts.label ? w->opts.label : "", w->opts.label ? ": " : "",
	    keytext(ref->key, ref->keylen, kt, sizeof(kt)), ref->cmd, msg);
	return 0;
}

int
jcmd_reply(struct writer *w, struct keyref *ref, const redisReply *r)
{
	char kt[900];

	if (r->type == REDIS_REPLY_ERROR)
		return journal_refused(w, ref, r->str);
	if ((r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) &&
	    strcmp(r->str, "df2redis:lossy") == 0) {
		/* lua_fieldexpire: field TTLs on a set */
		if (w->opts.unsupported == UNSUPPORTED_FAIL) {
			kerr(w, ERR_DATA, ref, "%s: member TTLs of a set have "
			    "no Redis equivalent (--unsupported skip leaves "
			    "the key out, lossy drops them)", ref->cmd);
			return -1;
		}
		if (w->opts.unsupported == UNSUPPORTED_SKIP) {
			w->counts[WC_JOURNAL]++;
			return skipset_has(w->skipped, ref->db, ref->key,
			    ref->keylen) ? 0 : jskip_key(w, ref->db, ref->key,
			    ref->keylen, "member TTLs of a set have no Redis "
			    "equivalent");
		}
		w->counts[WC_LOSSY]++;
		log_warnx("%s%skey \"%s\": %s: the set's members kept no "
		    "TTL", w->opts.label ? w->opts.label : "",
		    w->opts.label ? ": " : "", keytext(ref->key, ref->keylen,
		    kt, sizeof(kt)), ref->cmd);
	}
	w->counts[WC_JOURNAL]++;
	return 0;
}
