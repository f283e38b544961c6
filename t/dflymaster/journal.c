/*
 * journal.c - one journal per shard (journal.md 3-4): every record gets the
 * shard's next LSN, is kept in a ring buffer bounded by --backlog-ms and
 * --backlog-records for partial sync (replication.md 7.1), and goes to
 * every flow of that shard: as a JOURNAL_BLOB into a running full sync
 * (snapshot.md 5) or onto the stable-sync stream (replication.md 5).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dflymaster.h"
#include "keyspace.h"
#include "clock.h"
#include "rdbenc.h"
#include "options.h"
#include "obuf.h"
#include "stats.h"
#include "repl.h"
#include "journal.h"

struct jrec {
	uint64_t	 lsn;
	int64_t		 time_ms;
	uint8_t		*p;
	size_t		 len;
};

/* journal.md 4, replication.md 7.1 */
struct journal {
	uint64_t	 lsn;		/* LSN the next record gets */
	struct jrec	*ring;
	size_t		 ring_head;
	size_t		 ring_n;
	size_t		 ring_cap;
};

static struct journal	journals[MAX_SHARDS];
static uint64_t		next_txid = 1;

void
journal_init(void)
{
	int	 i;

	for (i = 0; i < options()->shards; i++) {
		ks_shard(i)->id = i;
		journals[i].lsn = 1;	/* replication.md 3: first LSN is 1 */
		journals[i].ring_cap = options()->backlog_records;
		if ((journals[i].ring = calloc(journals[i].ring_cap,
		    sizeof(struct jrec))) == NULL)
			fatal("calloc");
	}
}

static struct jrec *
ring_at(struct journal *s, size_t i)
{
	return &s->ring[(s->ring_head + i) % s->ring_cap];
}

static void
ring_drop_oldest(struct journal *s)
{
	struct jrec	*r = ring_at(s, 0);

	free(r->p);
	r->p = NULL;
	s->ring_head = (s->ring_head + 1) % s->ring_cap;
	s->ring_n--;
}

/* replication.md 7.1: evict by age on later appends, at most 100 a time */
void
journal_evict(int shard)
{
	struct journal	*s = &journals[shard];
	int64_t		 limit = wall_ms() - options()->backlog_ms;
	int		 n;

	for (n = 0; n < 100 && s->ring_n > 0; n++) {
		if (ring_at(s, 0)->time_ms >= limit)
			break;
		ring_drop_oldest(s);
	}
}

void
journal_drop(int shard)
{
	struct journal	*s = &journals[shard];

	while (s->ring_n > 0)
		ring_drop_oldest(s);
}

static void
journal_append(int shard, const uint8_t *p, size_t len)
{
	struct journal	*s = &journals[shard];
	struct jrec	*r;
	uint64_t	 lsn = s->lsn++;

	stat_inc(STAT_JOURNAL_RECORDS);
	if (s->ring_cap > 0) {
		journal_evict(shard);
		if (s->ring_n == s->ring_cap)
			ring_drop_oldest(s);
		r = ring_at(s, s->ring_n);
		if ((r->p = malloc(len)) == NULL)
			fatal("malloc");
		memcpy(r->p, p, len);
		r->len = len;
		r->lsn = lsn;
		r->time_ms = wall_ms();
		s->ring_n++;
	}
	repl_journal(shard, lsn, p, len);
}

uint64_t
journal_txid(void)
{
	return next_txid++;
}

uint64_t
journal_lsn(int shard)
{
	return journals[shard].lsn;
}

void
journal_cmd(int shard, int db, uint64_t txid, size_t argc,
    const char *const *argv, const size_t *lens)
{
	struct enc	 e;

	enc_init(&e);
	enc_jr_command(&e, (uint64_t)db, txid, argc, argv, lens);
	journal_append(shard, e.p, e.len);
	enc_free(&e);
}

/* journal.md 3.4, replication.md 10 */
void
journal_ping(int shard)
{
	uint8_t	 ping = 0x0D;

	journal_append(shard, &ping, 1);
}

/* replication.md 3: PARTIAL iff lsn == GetLsn() or still in the buffer */
int
journal_has(int shard, uint64_t lsn)
{
	struct journal	*s = &journals[shard];

	if (lsn == s->lsn)
		return 1;
	if (lsn > s->lsn || s->ring_n == 0)
		return 0;
	return lsn >= ring_at(s, 0)->lsn;
}

/* Records from LSN `from` on, as the stable stream carries them. */
void
journal_replay(int shard, uint64_t from, struct obuf *out)
{
	struct journal	*s = &journals[shard];
	size_t		 i;

	for (i = 0; i < s->ring_n; i++) {
		struct jrec	*r = ring_at(s, i);

		if (r->lsn >= from)
			obuf_add(out, r->p, r->len);
	}
}
