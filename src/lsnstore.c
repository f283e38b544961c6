/*
 * lsnstore.c - per-flow LSN checkpoints in LMDB.
 *
 * Values are one line of text ("v1 replid nflows next_lsn state keys bytes
 * ms") so that mdb_dump shows them and a layout change is detectable.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "log.h"
#include "lsnstore.h"

#define LSN_MAPSIZE	(16UL << 20)

struct lsnstore {
	MDB_env		*env;
	MDB_dbi		 dbi;
};

struct lsnstore *
lsnstore_open(const char *dir, char *err, size_t errlen)
{
	struct lsnstore *ls;
	MDB_txn *txn;
	char path[4096];
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		seterr(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/lsn.mdb", dir) >=
	    sizeof(path)) {
		seterr(err, errlen, "%s: path too long", dir);
		return NULL;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if ((rc = mdb_env_create(&ls->env)) != 0 ||
	    (rc = mdb_env_set_mapsize(ls->env, LSN_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(ls->env, path, MDB_NOSUBDIR, 0600)) != 0) {
		seterr(err, errlen, "%s: %s", path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0) {
		seterr(err, errlen, "%s: %s", path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &ls->dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		seterr(err, errlen, "%s: %s", path, mdb_strerror(rc));
		goto fail;
	}
	return ls;
fail:
	if (ls->env != NULL)
		mdb_env_close(ls->env);
	free(ls);
	return NULL;
}

void
lsnstore_close(struct lsnstore *ls)
{
	if (ls == NULL)
		return;
	mdb_env_close(ls->env);
	free(ls);
}

static void
flow_key(int flow, char *buf, size_t len, MDB_val *k)
{
	snprintf(buf, len, "flow:%d", flow);
	k->mv_data = buf;
	k->mv_size = strlen(buf);
}

int
lsnstore_get(struct lsnstore *ls, int flow, struct lsn_rec *rec, char *err,
    size_t errlen)
{
	MDB_txn *txn;
	MDB_val k, v;
	char kb[32], vb[256];
	int rc, state;

	flow_key(flow, kb, sizeof(kb), &k);
	if ((rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn)) != 0)
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	rc = mdb_get(txn, ls->dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	}
	if (v.mv_size >= sizeof(vb)) {
		mdb_txn_abort(txn);
		return seterr(err, errlen, "lsn store: flow %d: record too long",
		    flow);
	}
	memcpy(vb, v.mv_data, v.mv_size);
	vb[v.mv_size] = '\0';
	mdb_txn_abort(txn);
	memset(rec, 0, sizeof(*rec));
	if (sscanf(vb, "v1 %40s %" SCNu32 " %" SCNu64 " %d %" SCNu64 " %"
	    SCNu64 " %" SCNd64, rec->replid, &rec->nflows, &rec->next_lsn,
	    &state, &rec->keys, &rec->bytes, &rec->updated_ms) != 7 ||
	    strlen(rec->replid) != LSN_REPLID_LEN)
		return seterr(err, errlen, "lsn store: flow %d: bad record \"%s\"",
		    flow, vb);
	rec->state = state;
	return 1;
}

int
lsnstore_put(struct lsnstore *ls, int flow, const struct lsn_rec *rec,
    char *err, size_t errlen)
{
	struct timespec ts;
	MDB_txn *txn;
	MDB_val k, v;
	char kb[32], vb[256];
	int64_t ms;
	int rc, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = rec->updated_ms ? rec->updated_ms :
	    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	n = snprintf(vb, sizeof(vb), "v1 %s %" PRIu32 " %" PRIu64 " %d %" PRIu64
	    " %" PRIu64 " %" PRId64, rec->replid, rec->nflows, rec->next_lsn,
	    (int)rec->state, rec->keys, rec->bytes, ms);
	if (n < 0 || (size_t)n >= sizeof(vb) ||
	    strlen(rec->replid) != LSN_REPLID_LEN)
		return seterr(err, errlen, "lsn store: flow %d: bad record",
		    flow);
	flow_key(flow, kb, sizeof(kb), &k);
	v.mv_data = vb;
	v.mv_size = n;
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0)
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	if ((rc = mdb_put(txn, ls->dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	return 0;
}

int
lsnstore_del(struct lsnstore *ls, int flow, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k;
	char kb[32];
	int rc;

	flow_key(flow, kb, sizeof(kb), &k);
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0)
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	rc = mdb_del(txn, ls->dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return seterr(err, errlen, "lsn store: %s", mdb_strerror(rc));
	return 0;
}
