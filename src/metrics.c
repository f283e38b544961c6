/*
 * metrics.c - the Prometheus metrics and the status page (metrics.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "lag.h"
#include "metrics.h"
#include "status.h"
#include "supervisor.h"
#include "version.h"

#define PROM_CTYPE	"text/plain; version=0.0.4; charset=utf-8"
#define PAGE_CTYPE	"text/html; charset=utf-8"
#define PAGE_REFRESH_S	2

/* ------------------------------------------------------------ Prometheus */

static void
head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label_value(FILE *fp, const char *v)
{
	for (; *v != '\0'; v++)
		if (*v == '\\' || *v == '"')
			fprintf(fp, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", fp);
		else
			putc(*v, fp);
}

static void
flow_u64(FILE *fp, const char *name, int flow, uint64_t v)
{
	fprintf(fp, "%s{flow=\"%d\"} %" PRIu64 "\n", name, flow, v);
}

static void
session_metrics(const struct sup *s, FILE *fp)
{
	enum sess_state st;

	head(fp, "df2redis_build_info", "gauge", "Always 1; the version of "
	    "df2redis in a label.");
	fputs("df2redis_build_info{version=\"", fp);
	label_value(fp, DF2REDIS_VERSION);
	fputs("\"} 1\n", fp);
	head(fp, "df2redis_uptime_seconds", "gauge", "Seconds since the "
	    "supervisor started.");
	fprintf(fp, "df2redis_uptime_seconds %.3f\n",
	    (mono_ms() - s->t0) / 1000.0);
	head(fp, "df2redis_session_state", "gauge", "1 for the state the "
	    "replication session is in, 0 for the others.");
	for (st = SESS_CONNECTING; st <= SESS_STOPPING; st++)
		fprintf(fp, "df2redis_session_state{state=\"%s\"} %d\n",
		    session_state_name(st), st == s->state);
	head(fp, "df2redis_sessions_total", "counter", "Replication sessions "
	    "started (handshakes with the master).");
	fprintf(fp, "df2redis_sessions_total %d\n", s->sessions);
	head(fp, "df2redis_session_attempt", "gauge", "Failed full syncs in "
	    "a row before the current one (max-retries counts them).");
	fprintf(fp, "df2redis_session_attempt %d\n", s->attempt);
	head(fp, "df2redis_flows", "gauge", "FLOWs (master shards) of the "
	    "session.");
	fprintf(fp, "df2redis_flows %d\n", s->nflows);
	head(fp, "df2redis_snapshot_keys_expected", "gauge", "Keys the "
	    "master held at DFLY SYNC (INFO keyspace), what a full sync "
	    "applies; 0 unknown.");
	fprintf(fp, "df2redis_snapshot_keys_expected %" PRIu64 "\n",
	    s->sync_keys);
	head(fp, "df2redis_sweeps_total", "counter", "Full resyncs swept.");
	fprintf(fp, "df2redis_sweeps_total %" PRIu64 "\n", s->hist.sweeps);
	head(fp, "df2redis_swept_keys_total", "counter", "Target keys the "
	    "sweeps deleted (neither the new snapshot nor the journal wrote "
	    "them).");
	fprintf(fp, "df2redis_swept_keys_total %" PRIu64 "\n",
	    s->hist.swept);
}

static void
phase_metrics(const struct sup *s, FILE *fp)
{
	enum flow_phase p;
	int i;

	head(fp, "df2redis_flow_phase", "gauge", "1 for the phase the flow's "
	    "worker is in, 0 for the others.");
	for (i = 0; i < s->nflows; i++)
		for (p = PHASE_START; p <= PHASE_FAILED; p++)
			fprintf(fp, "df2redis_flow_phase{flow=\"%d\",phase="
			    "\"%s\"} %d\n", i, msg_phase_name(p),
			    (int)p == s->flows[i].st.phase);
}

/* One value per flow from its last report. */
static void
flow_metric(const struct sup *s, FILE *fp, const char *name,
    const char *type, const char *help, size_t off)
{
	int i;

	head(fp, name, type, help);
	for (i = 0; i < s->nflows; i++)
		flow_u64(fp, name, i, *(const uint64_t *)(const void *)
		    ((const char *)&s->flows[i].st + off));
}

#define ST(f)	offsetof(struct msg_stats, f)

static void
counter_metrics(const struct sup *s, FILE *fp)
{
	flow_metric(s, fp, "df2redis_flow_snapshot_keys", "gauge", "Keys "
	    "of the flow's snapshot decoded so far (the last full sync's).",
	    ST(keys));
	flow_metric(s, fp, "df2redis_flow_snapshot_offset_bytes", "gauge",
	    "Byte offset of the snapshot decoder in the FLOW stream.",
	    ST(offset));
	flow_metric(s, fp, "df2redis_flow_keys_written_total", "counter",
	    "Keys written to the target by the flow's worker.", ST(written));
	flow_metric(s, fp, "df2redis_flow_keys_skipped_total", "counter",
	    "Keys not written: expired, or unsupported with --unsupported "
	    "skip.", ST(skipped));
	flow_metric(s, fp, "df2redis_flow_journal_commands_total", "counter",
	    "Journal commands applied to the target.", ST(journal));
	flow_metric(s, fp, "df2redis_flow_target_commands_total", "counter",
	    "Commands sent to the target (snapshot and journal).",
	    ST(commands));
	flow_metric(s, fp, "df2redis_flow_target_bytes_total", "counter",
	    "Payload bytes of the commands sent to the target.",
	    ST(sent_bytes));
	flow_metric(s, fp, "df2redis_flow_received_bytes_total", "counter",
	    "Bytes read on the FLOW socket from the master.", ST(bytes));
	flow_metric(s, fp, "df2redis_flow_lsn", "gauge", "Next LSN the flow "
	    "expects (stable sync), or the snapshot's JOURNAL_OFFSET.",
	    ST(lsn));
	flow_metric(s, fp, "df2redis_flow_acked_lsn", "gauge", "LSN sent to "
	    "the master in the last REPLCONF ACK (stored in the LSN store).",
	    ST(acked));
	flow_metric(s, fp, "df2redis_flow_spool_bytes", "gauge", "Journal "
	    "bytes read from the master and waiting for the target.",
	    ST(spool));
}

static void
history_metrics(const struct sup *s, FILE *fp)
{
	const struct flow_hist *h;
	int i, k;

	head(fp, "df2redis_flow_errors_total", "counter", "Errors of the "
	    "flow (a worker's own report, or its death without one), by "
	    "kind.");
	for (i = 0; i < s->nflows; i++)
		for (h = status_hist(s, i), k = ERR_NONE + 1; k < ERR_MAX; k++)
			fprintf(fp, "df2redis_flow_errors_total{flow=\"%d\","
			    "kind=\"%s\"} %" PRIu64 "\n", i,
			    err_kind_name(k), h->errors[k]);
	head(fp, "df2redis_flow_restarts_total", "counter", "Worker "
	    "processes started for the flow after its first.");
	for (i = 0; i < s->nflows; i++)
		flow_u64(fp, "df2redis_flow_restarts_total", i,
		    status_restarts(status_hist(s, i)));
	head(fp, "df2redis_flow_resyncs_total", "counter", "Full syncs "
	    "completed (the first included) and resumes by partial sync.");
	for (i = 0; i < s->nflows; i++) {
		h = status_hist(s, i);
		fprintf(fp, "df2redis_flow_resyncs_total{flow=\"%d\",type="
		    "\"full\"} %" PRIu64 "\n", i, h->resyncs_full);
		fprintf(fp, "df2redis_flow_resyncs_total{flow=\"%d\",type="
		    "\"partial\"} %" PRIu64 "\n", i, h->resyncs_partial);
	}
	head(fp, "df2redis_flow_spool_full_total", "counter", "Sessions "
	    "dropped because the flow's spool filled up.");
	for (i = 0; i < s->nflows; i++)
		flow_u64(fp, "df2redis_flow_spool_full_total", i,
		    status_hist(s, i)->spool_full);
}

static void
lag_metrics(const struct sup *s, FILE *fp)
{
	int64_t v;
	int i;

	head(fp, "df2redis_flow_lag_records", "gauge", "Stable sync: "
	    "journal records received from the master that the target has "
	    "not acknowledged yet.");
	for (i = 0; i < s->nflows; i++)
		if ((v = status_lag_records(s, i)) >= 0)
			flow_u64(fp, "df2redis_flow_lag_records", i, v);
	head(fp, "df2redis_flow_lag_seconds", "gauge", "Stable sync: time "
	    "since the target last had acknowledged every record received.");
	for (i = 0; i < s->nflows; i++)
		if ((v = status_lag_ms(s, i)) >= 0)
			fprintf(fp, "df2redis_flow_lag_seconds{flow=\"%d\"} "
			    "%.3f\n", i, v / 1000.0);
}

static void
latency_metrics(const struct sup *s, FILE *fp)
{
	const struct lat_hist *h;
	uint64_t cum;
	int i, b;

	head(fp, "df2redis_apply_latency_seconds", "histogram", "Stable "
	    "sync: time from a journal record's arrival on the FLOW socket "
	    "to the target's acknowledgement of it, as the worker sees it "
	    "(the master's journal carries no write time).");
	for (i = 0; i < s->nflows; i++) {
		h = &s->flows[i].st.lat;
		for (cum = 0, b = 0; b < LAT_NBOUNDS; b++) {
			cum += h->bucket[b];
			fprintf(fp, "df2redis_apply_latency_seconds_bucket{flow="
			    "\"%d\",le=\"%g\"} %" PRIu64 "\n", i,
			    lat_bound_us[b] / 1e6, cum);
		}
		fprintf(fp, "df2redis_apply_latency_seconds_bucket{flow=\"%d\","
		    "le=\"+Inf\"} %" PRIu64 "\n", i, h->count);
		fprintf(fp, "df2redis_apply_latency_seconds_sum{flow=\"%d\"} "
		    "%.6f\n", i, h->sum_us / 1e6);
		fprintf(fp, "df2redis_apply_latency_seconds_count{flow=\"%d\"} "
		    "%" PRIu64 "\n", i, h->count);
	}
}

enum node_value { NV_INFLIGHT, NV_RECONNECTS, NV_MOVED, NV_ASK };

static uint64_t
node_value(const struct node_hist *n, enum node_value which)
{
	switch (which) {
	case NV_INFLIGHT:
		return n->inflight;
	case NV_RECONNECTS:
		return n->base.reconnects + n->last.reconnects;
	case NV_MOVED:
		return n->base.moved + n->last.moved;
	case NV_ASK:
		return n->base.ask + n->last.ask;
	}
	return 0;
}

/* One target node's value for every flow that reported it. */
static void
node_metric(const struct sup *s, FILE *fp, const char *name,
    const char *type, const char *help, enum node_value which)
{
	const struct flow_hist *h;
	int i, k;

	head(fp, name, type, help);
	for (i = 0; i < s->nflows; i++) {
		h = status_hist(s, i);
		for (k = 0; k < h->nnodes; k++) {
			fprintf(fp, "%s{flow=\"%d\",node=\"", name, i);
			label_value(fp, h->nodes[k].name);
			fprintf(fp, "\"} %" PRIu64 "\n",
			    node_value(&h->nodes[k], which));
		}
	}
}

static void
node_metrics(const struct sup *s, FILE *fp)
{
	node_metric(s, fp, "df2redis_target_commands_in_flight", "gauge",
	    "Commands the flow's worker sent or queued to the target node "
	    "and that it has not acknowledged.", NV_INFLIGHT);
	node_metric(s, fp, "df2redis_target_reconnects_total", "counter",
	    "Connections to the target node reopened after a loss.",
	    NV_RECONNECTS);
	node_metric(s, fp, "df2redis_target_moved_total", "counter",
	    "MOVED redirections the target node answered.", NV_MOVED);
	node_metric(s, fp, "df2redis_target_ask_total", "counter",
	    "ASK redirections the target node answered.", NV_ASK);
}

void
metrics_prometheus(const struct sup *s, FILE *fp)
{
	session_metrics(s, fp);
	phase_metrics(s, fp);
	counter_metrics(s, fp);
	history_metrics(s, fp);
	lag_metrics(s, fp);
	latency_metrics(s, fp);
	node_metrics(s, fp);
}

/* ------------------------------------------------------------ the page */

static void
html(FILE *fp, const char *v)
{
	for (; *v != '\0'; v++)
		switch (*v) {
		case '<':	fputs("&lt;", fp); break;
		case '>':	fputs("&gt;", fp); break;
		case '&':	fputs("&amp;", fp); break;
		case '"':	fputs("&quot;", fp); break;
		default:	putc(*v, fp); break;
		}
}

static const char page_style[] =
    "body{font:14px/1.4 sans-serif;margin:1em 2em;color:#222;"
    "background:#fff}"
    "h1{font-size:20px;margin:0 0 .3em}"
    "table{border-collapse:collapse;margin-top:.8em}"
    "th,td{border:1px solid #bbb;padding:4px 10px;text-align:right}"
    "th{background:#e8e8ee}td.phase,td.error{text-align:left}"
    "td.error{color:#a00;max-width:40em;overflow-wrap:anywhere}"
    ".p-stable{background:#d8f5d8}.p-full-sync,.p-barrier,"
    ".p-trailer{background:#dbe8ff}.p-failed{background:#ffd6d6}"
    ".p-sweep,.p-connect,.p-wait-sync{background:#fff3c4}"
    "p{margin:.2em 0}";

/* The flow's progress: the snapshot during a full sync, then the journal. */
static void
flow_progress(const struct msg_stats *st, FILE *fp)
{
	switch (st->phase) {
	case PHASE_START:
	case PHASE_WAIT_SYNC:
	case PHASE_FULL_SYNC:
	case PHASE_BARRIER:
	case PHASE_TRAILER:
		fprintf(fp, "%" PRIu64 " keys decoded, %" PRIu64 " written",
		    st->keys, st->written);
		break;
	default:
		fprintf(fp, "%" PRIu64 " keys, %" PRIu64 " journal commands",
		    st->written, st->journal);
		break;
	}
}

static void
page_flow(const struct sup *s, int i, FILE *fp)
{
	const struct msg_stats *st = &s->flows[i].st;
	const struct flow_hist *h = status_hist(s, i);
	const char *phase = msg_phase_name(st->phase);
	int64_t lag = status_lag_ms(s, i), recs = status_lag_records(s, i);

	fprintf(fp, "<tr class=\"flow\" id=\"flow-%d\"><td class=\"id\">%d"
	    "</td><td class=\"phase p-%s\">%s</td><td class=\"progress\">",
	    i, i, phase, phase);
	flow_progress(st, fp);
	fprintf(fp, "</td><td class=\"lsn\">%" PRIu64 "</td>", st->lsn);
	if (lag >= 0)
		fprintf(fp, "<td class=\"lag-ms\">%" PRId64 "</td>", lag);
	else
		fputs("<td class=\"lag-ms\">-</td>", fp);
	if (recs >= 0)
		fprintf(fp, "<td class=\"lag-records\">%" PRId64 "</td>", recs);
	else
		fputs("<td class=\"lag-records\">-</td>", fp);
	fprintf(fp, "<td class=\"spool\">%" PRIu64 "</td><td class=\"restarts"
	    "\">%" PRIu64 "</td><td class=\"error\">", st->spool,
	    status_restarts(h));
	html(fp, h->last_error != NULL ? h->last_error : "");
	fputs("</td></tr>\n", fp);
}

void
metrics_page(const struct sup *s, FILE *fp)
{
	uint64_t done = 0;
	int i;

	fprintf(fp, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"%d\">"
	    "<title>df2redis</title><style>%s</style></head><body>\n"
	    "<h1>df2redis</h1>\n<p id=\"session\">session <b>", PAGE_REFRESH_S,
	    page_style);
	html(fp, s->m.syncid[0] ? s->m.syncid : "-");
	fprintf(fp, "</b> state <b id=\"state\">%s</b> attempt %d, %d flows, "
	    "master ", session_state_name(s->state), s->attempt, s->nflows);
	html(fp, s->m.replid[0] ? s->m.replid : "-");
	fputs("</p>\n", fp);
	for (i = 0; i < s->nflows; i++)
		done += s->flows[i].st.keys;
	if (s->sync_keys > 0 && (s->state == SESS_FULL_SYNC ||
	    s->state == SESS_BARRIER || s->state == SESS_STABLE_SWITCH))
		fprintf(fp, "<p id=\"progress\">full sync: %" PRIu64 " of %"
		    PRIu64 " keys (%d%%)</p>\n", done, s->sync_keys,
		    done >= s->sync_keys ? 100 :
		    (int)(done * 100 / s->sync_keys));
	fputs("<table id=\"flows\"><thead><tr><th>flow</th><th>phase</th>"
	    "<th>progress</th><th>LSN</th><th>lag ms</th><th>lag records"
	    "</th><th>spool bytes</th><th>restarts</th><th>last error</th>"
	    "</tr></thead><tbody>\n", fp);
	for (i = 0; i < s->nflows; i++)
		page_flow(s, i, fp);
	fputs("</tbody></table>\n</body></html>\n", fp);
}

/* ------------------------------------------------------------ handler */

int
metrics_handler(void *arg, const struct http_request *r, FILE *fp,
    const char **ctype)
{
	const struct sup *s = arg;

	if (strcmp(r->path, "/metrics") == 0) {
		metrics_prometheus(s, fp);
		*ctype = PROM_CTYPE;
		return 200;
	}
	if (strcmp(r->path, "/") == 0) {
		metrics_page(s, fp);
		*ctype = PAGE_CTYPE;
		return 200;
	}
	return 404;
}
