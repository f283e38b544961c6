/*
 * keyspace.h - the sharded keyspace: a key lives in shard
 * crc64(key) mod --shards, each shard holds NDBS databases.  Every write
 * goes through ks_lookup_write()/ks_create()/ks_delete() so that a running
 * full sync serializes a key before its first change is journaled.
 */
#ifndef DFLYMASTER_KEYSPACE_H
#define DFLYMASTER_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "dflymaster.h"

struct dict;
struct dent;
struct obj;
struct snapshot;

struct shard {
	int		 id;
	struct dict	*db[NDBS];
	uint64_t	 snap_ver;	/* version of the running snapshot */
	struct snapshot	*snap;		/* the full sync serializing this shard */
	size_t		 expire_cursor[NDBS];
};

struct shard	*ks_shard(int);
int		 key_shard(const void *, size_t);
struct dent	*ks_lookup(int, const void *, size_t);		/* read */
struct dent	*ks_lookup_write(int, const void *, size_t);	/* before a write */
struct dent	*ks_create(int, const void *, size_t, struct obj *);
void		 ks_delete(int, const void *, size_t);
void		 ks_flushdb(int);
size_t		 ks_dbsize(int);
void		 ks_active_expire(void);
void		 ks_populate(int, uint64_t, const char *, size_t, uint64_t);

#endif
