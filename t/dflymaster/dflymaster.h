/*
 * dflymaster.h - the Dragonfly test master: one process, one thread, a
 * poll() loop serving plain clients and Dragonfly replication sessions
 * (replication.md), a sharded keyspace with a journal per shard
 * (journal.md) and a full-sync serializer per flow (snapshot.md).
 * Each module keeps its own state behind its own header; this one holds
 * only the sizes they all agree on.
 */
#ifndef DFLYMASTER_H
#define DFLYMASTER_H

#define NDBS		16
#define MAX_SHARDS	64

#endif
