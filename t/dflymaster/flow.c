/*
 * flow.c - a flow's data stream (the bytes after the DFLY FLOW reply) and the
 * fault switches that act on it: --fault-flip-flow flips a bit as the bytes
 * are queued, --fault-close-flow and --fault-stall-flow cap what the event
 * loop may write.  Stable-sync records get an LSN entry every ~3 s of
 * traffic (replication.md 5).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "rdbenc.h"
#include "options.h"
#include "client.h"
#include "snapshot.h"
#include "stats.h"
#include "repl.h"
#include "flow.h"

/* Bytes of the flow's data stream the socket has taken so far. */
uint64_t
flow_stream_sent(const struct flow *f)
{
	return f->c->sent > f->reply_len ? f->c->sent - f->reply_len : 0;
}

void
flow_free(struct flow *f)
{
	if (f->snap != NULL)
		snap_free(f->snap);
	free(f);
}

void
flow_emit(struct flow *f, const void *p, size_t n)
{
	const struct fault	*fl = &options()->fault_flip;

	if (f->c == NULL || n == 0)
		return;
	if (f->sess->faulty && fl->flow == f->shard &&
	    fl->at >= f->stream_queued && fl->at < f->stream_queued + n) {
		uint8_t	*tmp;

		if ((tmp = malloc(n)) == NULL)
			fatal("malloc");
		memcpy(tmp, p, n);
		tmp[fl->at - f->stream_queued] ^= 0x01;
		log_info("fault: flipped a bit of byte %llu of flow %d",
		    (unsigned long long)fl->at, f->shard);
		stat_inc(STAT_FAULTS);
		obuf_add(&f->c->out, tmp, n);
		free(tmp);
	} else
		obuf_add(&f->c->out, p, n);
	f->stream_queued += n;
}

/*
 * How many more bytes the event loop may write to c (--fault-close-flow,
 * --fault-stall-flow); *close_at_limit says whether to close once reached.
 */
size_t
flow_write_limit(struct client *c, int *close_at_limit)
{
	struct flow	*f = c->flow;
	const struct fault *fs[2] = { &options()->fault_close,
	    &options()->fault_stall };
	size_t		 lim = SIZE_MAX;
	int		 i;

	*close_at_limit = 0;
	if (f == NULL || !f->sess->faulty)
		return lim;
	for (i = 0; i < 2; i++) {
		uint64_t	 end = f->reply_len + fs[i]->at;

		if (fs[i]->flow != f->shard)
			continue;
		if (end <= c->sent) {
			lim = 0;
			*close_at_limit = i == 0;
			break;
		}
		if (end - c->sent < lim) {
			lim = (size_t)(end - c->sent);
			*close_at_limit = i == 0;
		}
	}
	return lim;
}

/* replication.md 5: records, and an LSN entry every ~3 s of traffic */
void
flow_journal(struct flow *f, uint64_t lsn, const uint8_t *p, size_t len)
{
	int64_t	 now = wall_ms();

	if (f->sess->faulty && options()->fault_bad_opcode == f->shard &&
	    !f->opcode_faulted && len > 0) {
		uint8_t	*bad;

		if ((bad = malloc(len)) == NULL)
			fatal("malloc");
		memcpy(bad, p, len);
		bad[0] = 0x21;	/* the record's opcode: none has this value */
		stat_inc(STAT_FAULTS);
		f->opcode_faulted = 1;
		flow_emit(f, bad, len);
		free(bad);
	} else
		flow_emit(f, p, len);
	if (now - f->last_lsn_ms >= options()->lsn_interval_ms) {
		struct enc	 e;

		enc_init(&e);
		if (f->sess->faulty && options()->fault_bad_lsn == f->shard) {
			stat_inc(STAT_FAULTS);
			lsn++;	/* --fault-bad-lsn */
		}
		enc_jr_lsn(&e, lsn);
		flow_emit(f, e.p, e.len);
		enc_free(&e);
		f->last_lsn_ms = now;
	}
}
