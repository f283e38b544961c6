/*
 * snapshot.h - a shard's full sync on its flow (snapshot.md), serialized a
 * little per event-loop turn, consistent with the journal (replication.md
 * 4.2): a key is serialized before its first change is journaled.
 */
#ifndef DFLYMASTER_SNAPSHOT_H
#define DFLYMASTER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct flow;
struct shard;
struct dent;
struct obj;
struct obuf;

struct snapshot	*snap_start(struct flow *);
void		 snap_free(struct snapshot *);
int		 snap_step(struct snapshot *);	/* 1: more work */
void		 snap_journal(struct snapshot *, const uint8_t *, size_t);
void		 snap_touch(struct shard *, int, struct dent *);
void		 snap_finish(struct snapshot *, uint64_t);
int		 snap_done(const struct snapshot *);
int		 snap_dump(const struct obj *, struct obuf *);

#endif
