/*
 * lsnstore.c - per-flow LSN checkpoints in LMDB (lsnstore.h).
 *
 * Values are one line of text ("v1 replid nflows next_lsn state keys bytes
 * ms") so that mdb_dump shows them and a layout change is detectable.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "clock.h"
#include "lsnstore.h"

#define LSN_MAPSIZE	(16UL << 20)

struct lsnstore {
	MDB_env		*env;
	MDB_dbi		 dbi;
	char		 path[PATH_MAX];	/* DIR/lsn.mdb, for messages */
};

/* What an LMDB return code says the caller should do (error.h). */
static enum err_kind
mdb_kind(int rc, enum err_kind otherwise)
{
	switch (rc) {
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		return ERR_DATA;
	default:
		return otherwise;
	}
}

static int
store_err(const struct lsnstore *ls, int rc, enum err_kind otherwise,
    struct error *e)
{
	return err_set(e, mdb_kind(rc, otherwise), "%s: %s", ls->path,
	    mdb_strerror(rc));
}

/* The environment and its one unnamed database; -1 with e set. */
static int
open_env(struct lsnstore *ls, struct error *e)
{
	MDB_txn *txn;
	int rc, dead;

	if ((rc = mdb_env_create(&ls->env)) != 0) {
		ls->env = NULL;
		return store_err(ls, rc, ERR_SYS, e);
	}
	if ((rc = mdb_env_set_mapsize(ls->env, LSN_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(ls->env, ls->path, MDB_NOSUBDIR, 0600)) != 0)
		return store_err(ls, rc, ERR_CONFIG, e);
	/* a process killed inside a read transaction left its slot taken */
	if ((rc = mdb_reader_check(ls->env, &dead)) != 0)
		return store_err(ls, rc, ERR_CONFIG, e);
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0)
		return store_err(ls, rc, ERR_CONFIG, e);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &ls->dbi)) != 0) {
		mdb_txn_abort(txn);
		return store_err(ls, rc, ERR_CONFIG, e);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return store_err(ls, rc, ERR_CONFIG, e);
	return 0;
}

struct lsnstore *
lsnstore_open(const char *dir, struct error *e)
{
	struct lsnstore *ls;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		err_set(e, ERR_CONFIG, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		err_set(e, ERR_SYS, "out of memory");
		return NULL;
	}
	if ((size_t)snprintf(ls->path, sizeof(ls->path), "%s/lsn.mdb", dir) >=
	    sizeof(ls->path)) {
		err_set(e, ERR_CONFIG, "%s: path too long", dir);
		free(ls);
		return NULL;
	}
	if (open_env(ls, e) == -1) {
		if (ls->env != NULL)
			mdb_env_close(ls->env);
		free(ls);
		return NULL;
	}
	return ls;
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

static int
parse_rec(const struct lsnstore *ls, int flow, const char *vb,
    struct lsn_rec *rec, struct error *e)
{
	int state;

	memset(rec, 0, sizeof(*rec));
	if (sscanf(vb, "v1 %40s %" SCNu32 " %" SCNu64 " %d %" SCNu64 " %"
	    SCNu64 " %" SCNd64, rec->replid, &rec->nflows, &rec->next_lsn,
	    &state, &rec->keys, &rec->bytes, &rec->updated_ms) != 7 ||
	    strlen(rec->replid) != LSN_REPLID_LEN)
		return err_set(e, ERR_DATA, "%s: flow %d: bad record \"%s\"",
		    ls->path, flow, vb);
	rec->state = state;
	return 1;
}

int
lsnstore_get(struct lsnstore *ls, int flow, struct lsn_rec *rec,
    struct error *e)
{
	MDB_txn *txn;
	MDB_val k, v;
	char kb[32], vb[256];
	int rc;

	flow_key(flow, kb, sizeof(kb), &k);
	if ((rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn)) != 0)
		return store_err(ls, rc, ERR_SYS, e);
	rc = mdb_get(txn, ls->dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return store_err(ls, rc, ERR_SYS, e);
	}
	if (v.mv_size >= sizeof(vb)) {
		mdb_txn_abort(txn);
		return err_set(e, ERR_DATA, "%s: flow %d: record too long",
		    ls->path, flow);
	}
	memcpy(vb, v.mv_data, v.mv_size);
	vb[v.mv_size] = '\0';
	mdb_txn_abort(txn);
	return parse_rec(ls, flow, vb, rec, e);
}

/* Run one write (put when v is not NULL, else delete) and commit it. */
static int
write_txn(struct lsnstore *ls, MDB_val *k, MDB_val *v, struct error *e)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != 0)
		return store_err(ls, rc, ERR_SYS, e);
	rc = v != NULL ? mdb_put(txn, ls->dbi, k, v, 0) :
	    mdb_del(txn, ls->dbi, k, NULL);
	if (rc != 0 && !(rc == MDB_NOTFOUND && v == NULL)) {
		mdb_txn_abort(txn);
		return store_err(ls, rc, ERR_SYS, e);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return store_err(ls, rc, ERR_SYS, e);
	return 0;
}

int
lsnstore_put(struct lsnstore *ls, int flow, const struct lsn_rec *rec,
    struct error *e)
{
	MDB_val k, v;
	char kb[32], vb[256];
	int64_t ms;
	int n;

	ms = rec->updated_ms ? rec->updated_ms : wall_ms();
	n = snprintf(vb, sizeof(vb), "v1 %s %" PRIu32 " %" PRIu64 " %d %" PRIu64
	    " %" PRIu64 " %" PRId64, rec->replid, rec->nflows, rec->next_lsn,
	    (int)rec->state, rec->keys, rec->bytes, ms);
	if (n < 0 || (size_t)n >= sizeof(vb) ||
	    strlen(rec->replid) != LSN_REPLID_LEN)
		return err_set(e, ERR_DATA, "%s: flow %d: bad record",
		    ls->path, flow);
	flow_key(flow, kb, sizeof(kb), &k);
	v.mv_data = vb;
	v.mv_size = n;
	return write_txn(ls, &k, &v, e);
}
