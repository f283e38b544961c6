/*
 * keystream.c - a stream key's pieces become commands on its temporary
 * name: entries in checked XADD batches, then XSETID with the stream's
 * metadata, its consumer groups, their consumers and pending entries.
 *
 * Groups, consumers and claims run through lua_ontmp, so that one resent
 * after an earlier send of the finish script renamed tmp neither
 * recreates nor fails on it.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyevents.h"
#include "log.h"
#include "scripts.h"
#include "writer_int.h"

#define PEL_MAX		(8 * 1024 * 1024) /* pending entries held per group */

/* Send the held stream entries to tmp, one checked script per batch. */
int
ks_flush_entries(struct writer *w, struct kstate *st)
{
	size_t i, argc, off;

	if (st->nentries == 0)
		return 0;
	if (av_reserve(w, st->nargs + 5) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	w->numbuf.len = 0;
	if ((off = num_add(w, "%" PRIu64, st->entries_sent)) == (size_t)-1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	argc = av_eval(w, lua_xadd, "1");
	av_set(w, argc++, st->tmp, st->tmplen);
	av_set(w, argc++, w->numbuf.p + off, w->numbuf.len - off);
	for (i = 0; i < st->nargs; i++)
		av_set(w, argc++, st->arena.p + st->args[i].off,
		    st->args[i].len);
	if (wsend_av(w, st->ref, C_XADD, argc, 3) == -1)
		return -1;
	st->entries_sent += st->nentries;
	st->nentries = 0;
	st->nargs = 0;
	st->arena.len = 0;
	return 0;
}

/*
 * A pending entry whose message was deleted (XDEL): Redis claims only
 * entries whose message exists, so it cannot be restored.
 */
int
ks_pel_missing(struct writer *w, struct keyref *ref, const redisReply *r)
{
	char kt[900];
	int i;

	for (i = 1; i < 4; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING) {
			kerr(w, ERR_PROTO, ref, "XCLAIM: unexpected reply "
			    "from the target's script");
			return -1;
		}
	if (w->opts.unsupported == UNSUPPORTED_FAIL) {
		kerr(w, ERR_DATA, ref, "pending entry %s of group \"%s\" "
		    "(consumer \"%s\") refers to a deleted message, which "
		    "Redis cannot hold in a PEL (--unsupported skip or lossy "
		    "drops it)",
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

static int
id_arg(struct writer *w, struct kstate *st, const struct rdb_stream_id *id)
{
	char s[48];
	size_t off = st->arena.len;
	int n;

	n = snprintf(s, sizeof(s), "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
	if (buf_add(&st->arena, s, n) == -1)
		return -1;
	return kb_arg_push(w, st, off, n);
}

static int
on_entry(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	size_t i, off;
	char s[24];
	int n;

	if (ev->u.entry.nfields * 2 + 2 > LUA_MAXARGS) {
		kerr(w, ERR_DATA, st->ref,
		    "stream entry %" PRIu64 "-%" PRIu64 " has %zu "
		    "fields, more than df2redis can replay (%d)",
		    ev->u.entry.id.ms, ev->u.entry.id.seq,
		    ev->u.entry.nfields, LUA_MAXARGS / 2 - 1);
		return -1;
	}
	if (st->nargs + ev->u.entry.nfields * 2 + 2 > LUA_MAXARGS &&
	    ks_flush_entries(w, st) == -1)
		return -1;
	if (id_arg(w, st, &ev->u.entry.id) == -1)
		goto oom;
	n = snprintf(s, sizeof(s), "%zu", ev->u.entry.nfields);
	off = st->arena.len;
	if (buf_add(&st->arena, s, n) == -1 || kb_arg_push(w, st, off, n) == -1)
		goto oom;
	for (i = 0; i < ev->u.entry.nfields * 2; i++) {
		off = st->arena.len;
		if (buf_add(&st->arena, ev->u.entry.fv[i].p,
		    ev->u.entry.fv[i].len) == -1 ||
		    kb_arg_push(w, st, off, ev->u.entry.fv[i].len) == -1)
			goto oom;
	}
	st->nentries++;
	if (st->nentries >= w->opts.batch || st->arena.len >= SMALL_BYTES)
		return ks_flush_entries(w, st);
	return 0;
oom:
	werr(w, ERR_SYS, "out of memory");
	return -1;
}

/* Send the argc arguments in w->argv through lua_ontmp. */
static int
send_on_tmp(struct writer *w, struct kstate *st, enum code code, int argc)
{
	int i;

	if (av_reserve(w, argc + 4) == -1) {
		werr(w, ERR_SYS, "out of memory");
		return -1;
	}
	for (i = argc - 1; i >= 0; i--)
		av_set(w, i + 4, w->argv[i], w->argvlen[i]);
	av_eval(w, lua_ontmp, "1");
	av_set(w, 3, st->tmp, st->tmplen);
	return wsend_av(w, st->ref, code, argc + 4, 3);
}

static int
on_meta(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	char last[48], md[48], ea[24];
	int argc = 0;

	if (ks_flush_entries(w, st) == -1 || av_reserve(w, 8) == -1)
		return -1;
	if (st->entries_sent == 0) {
		av_eval(w, lua_empty, "1");
		av_set(w, 3, st->tmp, st->tmplen);
		if (wsend_av(w, st->ref, C_EMPTY, 4, 3) == -1)
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
	    -1 || av_reserve(w, 8) == -1) {
		werr(w, ERR_SYS, "out of memory");
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
			kerr(w, ERR_DATA, st->ref,
			    "a consumer group has more than %d "
			    "pending entries, the most df2redis holds",
			    PEL_MAX);
			return -1;
		}
		cap = st->pelcap ? st->pelcap * 2 : 256;
		if ((p = reallocarray(st->pel, cap, sizeof(*p))) == NULL) {
			werr(w, ERR_SYS, "out of memory");
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
	    ev->u.consumer.name.len) == -1 || av_reserve(w, 8) == -1) {
		werr(w, ERR_SYS, "out of memory");
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
on_cpel(struct writer *w, struct kstate *st, const struct rdb_event *ev)
{
	const struct rdb_stream_id *id = &ev->u.cpel;
	struct pelent *p = NULL;
	size_t lo = 0, hi = st->npel, mid;
	char sid[48], ms[24], cnt[24];
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = keyev_idcmp(&st->pel[mid].id, id)) == 0) {
			p = &st->pel[mid];
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (p == NULL) {
		kerr(w, ERR_DATA, st->ref,
		    "consumer PEL id %" PRIu64 "-%" PRIu64
		    " is not in its group's PEL", id->ms, id->seq);
		return -1;
	}
	if (av_reserve(w, 16) == -1)
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

int
ks_stream(void *w, void *st, const struct rdb_event *ev)
{
	static int (*const on[])(struct writer *, struct kstate *,
	    const struct rdb_event *) = {
		[RDB_EV_STREAM_ENTRY] = on_entry,
		[RDB_EV_STREAM_META] = on_meta,
		[RDB_EV_STREAM_GROUP] = on_group,
		[RDB_EV_STREAM_PEL] = on_pel,
		[RDB_EV_STREAM_CONSUMER] = on_consumer,
		[RDB_EV_STREAM_CPEL] = on_cpel,
	};

	if ((size_t)ev->type >= sizeof(on) / sizeof(on[0]) ||
	    on[ev->type] == NULL)
		return 0;
	return on[ev->type](w, st, ev);
}
