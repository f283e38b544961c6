/*
 * status.c - the status request's text and JSON forms, and the per-flow
 * history they show (status.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "log.h"
#include "status.h"
#include "supervisor.h"

/* ------------------------------------------------------------ history */

static struct flow_hist *
hist(struct sup *s, int flow)
{
	struct status_hist *h = &s->hist;
	struct flow_hist *p;

	if (flow >= h->nflows) {
		p = reallocarray(h->flows, flow + 1, sizeof(*p));
		if (p == NULL)
			fatal("status");
		memset(p + h->nflows, 0, (flow + 1 - h->nflows) * sizeof(*p));
		h->flows = p;
		h->nflows = flow + 1;
	}
	return &h->flows[flow];
}

static const struct flow_hist *
hist_get(const struct sup *s, int flow)
{
	static const struct flow_hist none;

	return flow < s->hist.nflows ? &s->hist.flows[flow] : &none;
}

const struct flow_hist *
status_hist(const struct sup *s, int flow)
{
	return hist_get(s, flow);
}

void
status_worker_started(struct sup *s, int flow)
{
	hist(s, flow)->started++;
}

void
status_fullsync_done(struct sup *s, int flow)
{
	hist(s, flow)->resyncs_full++;
}

void
status_resumed(struct sup *s, int flow)
{
	hist(s, flow)->resyncs_partial++;
}

void
status_flow_error(struct sup *s, int flow, enum err_kind kind,
    const char *text)
{
	struct flow_hist *h = hist(s, flow);

	if (kind > ERR_NONE && kind < ERR_MAX)
		h->errors[kind]++;
	free(h->last_error);
	if ((h->last_error = strdup(text)) == NULL)
		fatal("status");
}

void
status_spool_full(struct sup *s, int flow, const char *text)
{
	hist(s, flow)->spool_full++;
	status_flow_error(s, flow, ERR_TARGET, text);
}

/*
 * A new worker counts from 0 again: what the last one reported goes to
 * the base, so the sums only grow.
 */
void
status_node(struct sup *s, int flow, int pid, const struct msg_node *m)
{
	struct flow_hist *h = hist(s, flow);
	struct node_hist *n, *p;
	int i;

	for (i = 0; i < h->nnodes; i++)
		if (strcmp(h->nodes[i].name, m->name) == 0)
			break;
	if (i == h->nnodes) {
		p = reallocarray(h->nodes, h->nnodes + 1, sizeof(*p));
		if (p == NULL)
			fatal("status");
		h->nodes = p;
		n = &h->nodes[h->nnodes++];
		memset(n, 0, sizeof(*n));
		strlcpy(n->name, m->name, sizeof(n->name));
		n->pid = pid;
	}
	n = &h->nodes[i];
	if (n->pid != pid) {
		n->base.reconnects += n->last.reconnects;
		n->base.moved += n->last.moved;
		n->base.ask += n->last.ask;
		n->pid = pid;
	}
	n->last = *m;
	n->inflight = m->inflight;
}

void
status_swept(struct sup *s, const struct msg_swept *r)
{
	s->hist.sweeps++;
	s->hist.swept += r->swept;
	s->hist.last_sweep = *r;
}

void
status_flow_fail(struct sup *s, int flow, enum err_kind kind,
    const char *fmt, ...)
{
	char msg[ERR_MSGLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	status_flow_error(s, flow, kind, msg);
	session_fail(s, kind, "%s", msg);
}

void
status_free(struct sup *s)
{
	int i;

	for (i = 0; i < s->hist.nflows; i++) {
		free(s->hist.flows[i].last_error);
		free(s->hist.flows[i].nodes);
	}
	free(s->hist.flows);
	memset(&s->hist, 0, sizeof(s->hist));
}

/* ------------------------------------------------------------ values */

uint64_t
status_restarts(const struct flow_hist *h)
{
	return h->started > 0 ? h->started - 1 : 0;
}

/*
 * Milliseconds since the flow's worker last had every journal record it
 * received acknowledged by the target, as of its last report (every
 * STATS_EVERY_MS); -1 (null) outside stable sync or without a worker.
 */
static int64_t
lag_ms(const struct flow *f)
{
	int64_t lag;

	if (f->pid <= 0 || f->st.phase != PHASE_STABLE)
		return -1;
	if (f->st.behind_since == 0)
		return 0;
	lag = mono_ms() - f->st.behind_since;
	return lag > 0 ? lag : 0;
}

int64_t
status_lag_ms(const struct sup *s, int flow)
{
	return lag_ms(&s->flows[flow]);
}

int64_t
status_lag_records(const struct sup *s, int flow)
{
	const struct flow *f = &s->flows[flow];

	if (f->pid <= 0 || f->st.phase != PHASE_STABLE)
		return -1;
	return (int64_t)f->st.lag_records;
}

static const char *
takeover_name(const struct sup *s)
{
	switch (s->takeover.state) {
	case TAKEOVER_NONE:	return "none";
	case TAKEOVER_PENDING:	return "pending";
	case TAKEOVER_DONE:	return "done";
	}
	return "unknown";
}

/* ------------------------------------------------------------ text */

/* A full sync's progress against the master's key count at DFLY SYNC. */
struct progress {
	uint64_t	 done, total;	/* total 0: unknown */
	uint64_t	 rate;		/* keys per second, on average */
	int		 percent;	/* -1 unknown */
	int64_t		 eta_s;		/* -1 unknown */
};

/* 0 outside a full sync. */
static int
progress(const struct sup *s, struct progress *p)
{
	int64_t ms = mono_ms() - s->sync_ms;
	int i;

	if (s->state != SESS_FULL_SYNC && s->state != SESS_BARRIER &&
	    s->state != SESS_STABLE_SWITCH)
		return 0;
	memset(p, 0, sizeof(*p));
	for (i = 0; i < s->nflows; i++)
		p->done += s->flows[i].st.keys;
	p->total = s->sync_keys;
	p->rate = ms > 0 ? p->done * 1000 / (uint64_t)ms : 0;
	p->percent = p->total == 0 ? -1 : p->done >= p->total ? 100 :
	    (int)(p->done * 100 / p->total);
	if (p->total == 0 || (p->done < p->total && p->rate == 0))
		p->eta_s = -1;
	else
		p->eta_s = p->done >= p->total ? 0 :
		    (int64_t)((p->total - p->done) / p->rate);
	return 1;
}

static void
progress_text(const struct sup *s, FILE *fp)
{
	struct progress p;
	char total[24] = "-", pct[16] = "-", eta[24] = "-";

	if (!progress(s, &p))
		return;
	if (p.total > 0)
		snprintf(total, sizeof(total), "%" PRIu64, p.total);
	if (p.percent >= 0)
		snprintf(pct, sizeof(pct), "%d", p.percent);
	if (p.eta_s >= 0)
		snprintf(eta, sizeof(eta), "%" PRId64, p.eta_s);
	fprintf(fp, "progress keys %" PRIu64 " of %s percent %s keys_per_s %"
	    PRIu64 " eta_s %s\n", p.done, total, pct, p.rate, eta);
}

static void
progress_json(const struct sup *s, FILE *fp)
{
	struct progress p;

	fputs(",\"progress\":", fp);
	if (!progress(s, &p)) {
		fputs("null", fp);
		return;
	}
	fprintf(fp, "{\"keys\":%" PRIu64 ",\"keys_total\":", p.done);
	if (p.total > 0)
		fprintf(fp, "%" PRIu64, p.total);
	else
		fputs("null", fp);
	fputs(",\"percent\":", fp);
	if (p.percent >= 0)
		fprintf(fp, "%d", p.percent);
	else
		fputs("null", fp);
	fprintf(fp, ",\"keys_per_s\":%" PRIu64 ",\"eta_s\":", p.rate);
	if (p.eta_s >= 0)
		fprintf(fp, "%" PRId64 "}", p.eta_s);
	else
		fputs("null}", fp);
}

void
status_text(const struct sup *s, FILE *fp)
{
	const struct flow_hist *h;
	const struct msg_stats *st;
	char lag[24], drain[24], recs[24];
	int i;

	fprintf(fp, "session %s state %s attempt %d flows %d master %s "
	    "sessions %d takeover %s\n", s->m.syncid[0] ? s->m.syncid : "-",
	    session_state_name(s->state), s->attempt, s->nflows,
	    s->m.replid[0] ? s->m.replid : "-", s->sessions, takeover_name(s));
	progress_text(s, fp);
	for (i = 0; i < s->nflows; i++) {
		st = &s->flows[i].st;
		h = hist_get(s, i);
		if (lag_ms(&s->flows[i]) == -1)
			strlcpy(lag, "-", sizeof(lag));
		else
			snprintf(lag, sizeof(lag), "%" PRId64,
			    lag_ms(&s->flows[i]));
		if (status_lag_records(s, i) == -1)
			strlcpy(recs, "-", sizeof(recs));
		else
			snprintf(recs, sizeof(recs), "%" PRId64,
			    status_lag_records(s, i));
		if (st->drain_ms < 0)
			strlcpy(drain, "-", sizeof(drain));
		else
			snprintf(drain, sizeof(drain), "%" PRId64,
			    st->drain_ms);
		fprintf(fp, "flow %d phase %s keys %" PRIu64 " written %"
		    PRIu64 " skipped %" PRIu64 " journal %" PRIu64 " bytes %"
		    PRIu64 " offset %" PRIu64 " lsn %" PRIu64 " acked %" PRIu64
		    " pid %d lag_ms %s restarts %" PRIu64
		    " resyncs_partial %" PRIu64 " resyncs_full %" PRIu64
		    " spool_bytes %" PRIu64 " spool_drain_ms %s spool_full %u"
		    " lag_records %s\n",
		    i, msg_phase_name(st->phase), st->keys, st->written,
		    st->skipped, st->journal, st->bytes, st->offset, st->lsn,
		    st->acked, (int)s->flows[i].pid, lag, status_restarts(h),
		    h->resyncs_partial, h->resyncs_full, st->spool, drain,
		    (unsigned int)h->spool_full, recs);
	}
	for (i = 0; i < s->nflows; i++)
		if ((h = hist_get(s, i))->last_error != NULL)
			fprintf(fp, "last_error %d %s\n", i, h->last_error);
	if (s->hist.sweeps > 0)
		fprintf(fp, "sweeps %" PRIu64 " swept %" PRIu64 " last_swept %"
		    PRIu64 " last_scanned %" PRIu64 " last_marks %" PRIu64
		    " last_ms %" PRId64 "\n", s->hist.sweeps, s->hist.swept,
		    s->hist.last_sweep.swept, s->hist.last_sweep.scanned,
		    s->hist.last_sweep.marks, s->hist.last_sweep.ms);
}

/* ------------------------------------------------------------ JSON */

static void
json_session(const struct sup *s, FILE *fp)
{
	fputs("\"session\":{\"master_replid\":", fp);
	json_fputstr(fp, s->m.replid[0] ? s->m.replid : NULL);
	fputs(",\"syncid\":", fp);
	json_fputstr(fp, s->m.syncid[0] ? s->m.syncid : NULL);
	fputs(",\"state\":", fp);
	json_fputstr(fp, session_state_name(s->state));
	fprintf(fp, ",\"attempt\":%d,\"sessions\":%d,\"nflows\":%d,"
	    "\"takeover\":", s->attempt, s->sessions, s->nflows);
	json_fputstr(fp, takeover_name(s));
	fprintf(fp, ",\"sweeps\":%" PRIu64 ",\"swept\":%" PRIu64 ","
	    "\"last_sweep\":", s->hist.sweeps, s->hist.swept);
	if (s->hist.sweeps == 0)
		fputs("null", fp);
	else
		fprintf(fp, "{\"swept\":%" PRIu64 ",\"scanned\":%" PRIu64
		    ",\"marks\":%" PRIu64 ",\"ms\":%" PRId64 "}",
		    s->hist.last_sweep.swept, s->hist.last_sweep.scanned,
		    s->hist.last_sweep.marks, s->hist.last_sweep.ms);
	progress_json(s, fp);
	putc('}', fp);
}

static void
json_flow(const struct sup *s, int i, FILE *fp)
{
	const struct flow *f = &s->flows[i];
	const struct flow_hist *h = hist_get(s, i);
	const struct msg_stats *st = &f->st;

	fprintf(fp, "{\"id\":%d,\"pid\":", i);
	if (f->pid > 0)
		fprintf(fp, "%d", (int)f->pid);
	else
		fputs("null", fp);
	fputs(",\"phase\":", fp);
	json_fputstr(fp, msg_phase_name(st->phase));
	fprintf(fp, ",\"lsn\":%" PRIu64 ",\"acked_lsn\":%" PRIu64
	    ",\"lag_ms\":", st->lsn, st->acked);
	if (lag_ms(f) == -1)
		fputs("null", fp);
	else
		fprintf(fp, "%" PRId64, lag_ms(f));
	fputs(",\"lag_records\":", fp);
	if (status_lag_records(s, i) == -1)
		fputs("null", fp);
	else
		fprintf(fp, "%" PRId64, status_lag_records(s, i));
	fprintf(fp, ",\"restarts\":%" PRIu64 ",\"resyncs_partial\":%" PRIu64
	    ",\"resyncs_full\":%" PRIu64 ",\"last_error\":", status_restarts(h),
	    h->resyncs_partial, h->resyncs_full);
	json_fputstr(fp, h->last_error);
	fprintf(fp, ",\"keys\":%" PRIu64 ",\"written\":%" PRIu64
	    ",\"skipped\":%" PRIu64 ",\"journal\":%" PRIu64 ",\"bytes\":%"
	    PRIu64 ",\"spool_bytes\":%" PRIu64 ",\"spool_drain_ms\":",
	    st->keys, st->written, st->skipped, st->journal, st->bytes,
	    st->spool);
	if (st->drain_ms < 0)
		fputs("null", fp);
	else
		fprintf(fp, "%" PRId64, st->drain_ms);
	fprintf(fp, ",\"spool_full\":%" PRIu64 "}", h->spool_full);
}

void
status_json(const struct sup *s, FILE *fp)
{
	int i;

	putc('{', fp);
	json_session(s, fp);
	fputs(",\"flows\":[", fp);
	for (i = 0; i < s->nflows; i++) {
		if (i > 0)
			putc(',', fp);
		json_flow(s, i, fp);
	}
	fputs("]}\n", fp);
}
