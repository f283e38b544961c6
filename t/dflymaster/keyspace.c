/*
 * keyspace.c - the sharded keyspace: a key lives in shard
 * crc64(key) mod --shards (Redis's CRC-64/Jones from src/crc64.c; any fixed
 * hash would do, this one is documented in --help), each shard holds 16
 * databases.  Every write path goes through ks_lookup_write()/ks_create()/
 * ks_delete() so that a running full sync serializes a key before its first
 * change is journaled (replication.md 4.2, "serialize the bucket before
 * journaling the change").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "crc64.h"
#include "clock.h"
#include "dflymaster.h"
#include "obj.h"
#include "snapshot.h"
#include "takeover.h"
#include "options.h"
#include "journal.h"
#include "keyspace.h"

static struct shard	shards[MAX_SHARDS];

struct shard *
ks_shard(int i)
{
	return &shards[i];
}

int
key_shard(const void *k, size_t n)
{
	return (int)(crc64(0, k, n) % (uint64_t)options()->shards);
}

static struct dict *
db_of(int shard, int db)
{
	struct shard	*s = &shards[shard];

	if (s->db[db] == NULL)
		s->db[db] = dict_new();
	return s->db[db];
}

/* journal.md 6: an expired key leaves the keyspace as "DEL k" with txid 0 */
static void
expire_key(int shard, int db, struct dent *e)
{
	const char	*argv[2] = { "DEL", e->key };
	size_t		 lens[2] = { 3, e->klen };
	char		*key;
	size_t		 klen = e->klen;

	snap_touch(&shards[shard], db, e);
	if ((key = malloc(klen + 1)) == NULL)
		fatal("malloc");
	memcpy(key, e->key, klen);
	argv[1] = key;
	dict_del(db_of(shard, db), key, klen, obj_free);
	journal_cmd(shard, db, 0, 2, argv, lens);
	free(key);
}

static int
expired(const struct dent *e)
{
	const struct obj	*o = e->val;

	return o->expire_ms >= 0 && o->expire_ms <= wall_ms();
}

struct dent *
ks_lookup(int db, const void *k, size_t n)
{
	int		 sh = key_shard(k, n);
	struct dent	*e;

	if ((e = dict_find(db_of(sh, db), k, n)) == NULL)
		return NULL;
	if (expired(e)) {
		if (takeover_writes_blocked())
			return NULL;
		expire_key(sh, db, e);
		return NULL;
	}
	return e;
}

struct dent *
ks_lookup_write(int db, const void *k, size_t n)
{
	struct dent	*e;

	if ((e = ks_lookup(db, k, n)) != NULL)
		snap_touch(&shards[key_shard(k, n)], db, e);
	return e;
}

struct dent *
ks_create(int db, const void *k, size_t n, struct obj *o)
{
	int		 sh = key_shard(k, n), created;
	struct dent	*e;

	e = dict_add(db_of(sh, db), k, n, &created);
	if (!created) {
		snap_touch(&shards[sh], db, e);
		obj_free(e->val);
	}
	e->val = o;
	/* a key born during a full sync travels in the journal only */
	e->ver = shards[sh].snap_ver;
	return e;
}

void
ks_delete(int db, const void *k, size_t n)
{
	int		 sh = key_shard(k, n);
	struct dent	*e;

	if ((e = dict_find(db_of(sh, db), k, n)) == NULL)
		return;
	snap_touch(&shards[sh], db, e);
	dict_del(db_of(sh, db), k, n, obj_free);
}

void
ks_flushdb(int db)
{
	int	 i;

	for (i = 0; i < options()->shards; i++) {
		struct dict	*d = db_of(i, db);
		size_t		 b;
		struct dent	*e;

		/* the running snapshot must still deliver what it promised */
		for (b = 0; b < dict_buckets(d); b++)
			for (e = d->b[b]; e != NULL; e = e->next)
				snap_touch(&shards[i], db, e);
		dict_free(d, obj_free);
		shards[i].db[db] = dict_new();
		shards[i].expire_cursor[db] = 0;
	}
}

size_t
ks_dbsize(int db)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < options()->shards; i++)
		n += db_of(i, db)->count;
	return n;
}

/* Active expiry: a few buckets of every db each tick. */
void
ks_active_expire(void)
{
	int	 i, db, checked;

	if (takeover_writes_blocked())
		return;
	for (i = 0; i < options()->shards; i++)
		for (db = 0; db < NDBS; db++) {
			struct dict	*d = shards[i].db[db];
			size_t		*cur = &shards[i].expire_cursor[db];

			if (d == NULL || d->count == 0)
				continue;
			for (checked = 0; checked < 32; checked++) {
				struct dent	*e, *next;

				if (*cur > d->mask)
					*cur = 0;
				for (e = d->b[*cur]; e != NULL; e = next) {
					next = e->next;
					if (expired(e))
						expire_key(i, db, e);
				}
				(*cur)++;
			}
		}
}

/*
 * DEBUG POPULATE n prefix size: "<prefix>:<i>" = "value:<i>" padded with
 * 'x' to size; existing keys are left alone.  Dragonfly does not replicate
 * DEBUG POPULATE; this master journals every key it adds as "SET k v" (txid
 * 0 like any single-key write), so keys populated during a full or stable
 * sync reach the replica like any other write and no test loses them.
 */
void
ks_populate(int db, uint64_t n, const char *prefix, size_t size,
    uint64_t txid)
{
	char		 key[256], *val;
	const char	*argv[3] = { "SET", key, NULL };
	size_t		 lens[3] = { 3, 0, 0 };
	uint64_t	 i;
	size_t		 vlen;
	int		 klen;

	if ((val = malloc(size + 32)) == NULL)
		fatal("malloc");
	argv[2] = val;
	for (i = 0; i < n; i++) {
		struct obj	*o;

		klen = snprintf(key, sizeof(key), "%s:%llu", prefix,
		    (unsigned long long)i);
		if (ks_lookup(db, key, (size_t)klen) != NULL)
			continue;
		vlen = (size_t)snprintf(val, size + 32, "value:%llu",
		    (unsigned long long)i);
		if (vlen < size) {
			memset(val + vlen, 'x', size - vlen);
			vlen = size;
		}
		o = obj_new(OBJ_STRING);
		o->s = str_dup(val, vlen);
		ks_create(db, key, (size_t)klen, o);
		lens[1] = (size_t)klen;
		lens[2] = vlen;
		journal_cmd(key_shard(key, (size_t)klen), db, txid, 3, argv,
		    lens);
	}
	free(val);
}
