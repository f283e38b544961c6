/*
 * resync.c - the target made ready for a new full sync (resync.h): the
 * flush a FLUSHALL/FLUSHDB on the master or flush-on-resync asks for, and
 * the deletion of the temporary keys killed workers left behind.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "resync.h"
#include "target.h"
#include "tmpkeys.h"
#include "writer.h"

enum { TAG_FLUSH, TAG_SELECT };

struct flush_ctx {
	char		 err[512];	/* first error reply */
	int		 nodb;		/* SELECT: no such db on the target */
};

void
resync_master_flushed(struct resync *rs, int db)
{
	rs->master_flushed = 1;
	if (db < 0)
		rs->flush_all = 1;
	else if (db < CONFIG_MAXDB)
		rs->flush_db[db] = 1;
}

void
resync_flush_all(struct resync *rs)
{
	rs->flush_all = 1;
}

int
resync_target_opts(const struct config *cfg, struct target_opts *topts,
    struct error *e)
{
	const struct tls_conf *tc = &cfg->target_tls;

	if (target_parse(cfg->target_url, topts, e) == -1)
		return err_prefix(e, "target");
	if (!topts->tls.enabled && (tc->ca_file[0] != '\0' ||
	    tc->cert_file[0] != '\0' || tc->key_file[0] != '\0' ||
	    tc->sni[0] != '\0'))
		return err_set(e, ERR_CONFIG, "target: target-tls-* options "
		    "given for a target that is not rediss://");
	if (topts->tls.enabled) {
		topts->tls = *tc;
		topts->tls.enabled = 1;
	}
	if (cfg->target_password[0] != '\0')
		strlcpy(topts->password, cfg->target_password,
		    sizeof(topts->password));
	return 0;
}

static int
flush_reply(void *arg, uint64_t tag, const redisReply *r)
{
	struct flush_ctx *fc = arg;

	if (r->type != REDIS_REPLY_ERROR || fc->err[0] != '\0')
		return 0;
	snprintf(fc->err, sizeof(fc->err), "%.*s", (int)r->len, r->str);
	/* "ERR DB index is out of range": a db past the target's last one */
	fc->nodb = tag == TAG_SELECT && strstr(fc->err, "out of range") != NULL;
	return 0;
}

/* Send one keyless command (argc <= 2) and wait for it; 0 ok, -1 */
static int
flush_command(struct target *t, struct flush_ctx *fc, int all, int argc,
    const char **argv, uint64_t tag)
{
	size_t len[2];
	int i, rc;

	for (i = 0; i < argc && i < 2; i++)
		len[i] = strlen(argv[i]);
	fc->err[0] = '\0';
	fc->nodb = 0;
	rc = all ? target_send_all(t, argc, argv, len, tag) :
	    target_send(t, argc, argv, len, -1, tag);
	if (rc == -1 || target_flush(t) == -1) {
		strlcpy(fc->err, target_error(t), sizeof(fc->err));
		return -1;
	}
	return fc->err[0] != '\0' ? -1 : 0;
}

/*
 * Empty every target db that receives a source db marked for flushing
 * (all of them with flush_all), mapped as the workers map them: --db-map,
 * else the URL's /DB, else the same number; a cluster has only db 0.
 * FLUSHALL when that covers every db.  dbs past the target's last one
 * (SELECT out of range) hold nothing of ours.
 */
static int
flush_dbs(const struct resync *rs, const struct config *cfg, struct target *t,
    const struct target_opts *topts, struct flush_ctx *fc, char *what,
    size_t whatlen)
{
	static const char *flushall[] = { "FLUSHALL" };
	static const char *flushdb[] = { "FLUSHDB" };
	const char *select[2];
	uint8_t dst[CONFIG_MAXDB];
	char num[16];
	int d, identity, cluster = target_is_cluster(t);

	identity = resync_dest_dbs(cfg, topts, cluster, rs->flush_all ? NULL :
	    rs->flush_db, dst);
	if (cluster || (identity && rs->flush_all)) {
		strlcpy(what, "FLUSHALL", whatlen);
		return flush_command(t, fc, 1, 1, flushall, TAG_FLUSH);
	}
	what[0] = '\0';
	select[0] = "SELECT";
	select[1] = num;
	for (d = 0; d < CONFIG_MAXDB; d++) {
		if (!dst[d])
			continue;
		snprintf(num, sizeof(num), "%d", d);
		if (flush_command(t, fc, 0, 2, select, TAG_SELECT) == -1) {
			if (fc->nodb)
				break;
			return -1;
		}
		if (flush_command(t, fc, 0, 1, flushdb, TAG_FLUSH) == -1)
			return -1;
		snprintf(what + strlen(what), whatlen - strlen(what), "%sdb %d",
		    what[0] != '\0' ? ", " : "FLUSHDB in ", d);
	}
	if (what[0] == '\0')
		strlcpy(what, "nothing to flush", whatlen);
	return 0;
}

int
resync_dest_dbs(const struct config *cfg, const struct target_opts *topts,
    int cluster, const uint8_t *src, uint8_t *dst)
{
	int i, d, identity = 1;

	memset(dst, 0, CONFIG_MAXDB);
	for (i = 0; i < CONFIG_MAXDB; i++) {
		if (!filter_spec_db(&cfg->filter, i)) {
			identity = 0;	/* a db left out: not FLUSHALL */
			continue;
		}
		d = cfg->db_map[i];
		if (d < 0)
			d = cluster ? 0 : topts->have_db ? topts->db : i;
		if (d != i)
			identity = 0;
		if (src == NULL || src[i])
			dst[d] = 1;
	}
	return identity;
}

static int
flush_wanted(const struct resync *rs)
{
	int i;

	if (rs->flush_all)
		return 1;
	for (i = 0; i < CONFIG_MAXDB; i++)
		if (rs->flush_db[i])
			return 1;
	return 0;
}

/*
 * Before a session that must not find what an earlier one wrote: after
 * a FLUSHALL/FLUSHDB on the master during the full sync, and on every
 * restart with flush-on-resync.
 */
static int
flush_target(struct resync *rs, const struct config *cfg, struct error *e)
{
	struct target_opts topts;
	struct flush_ctx fc;
	struct target *t;
	struct error te;
	char what[256];
	int rc;

	if (!flush_wanted(rs))
		return 0;
	if (resync_target_opts(cfg, &topts, e) == -1)
		return -1;
	if ((t = target_open(&topts, &te)) == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		return err_set(e, te.kind, "target: %s: cannot flush it before "
		    "the new full sync", te.msg);
	}
	memset(&fc, 0, sizeof(fc));
	target_set_reply_cb(t, flush_reply, &fc);
	rc = flush_dbs(rs, cfg, t, &topts, &fc, what, sizeof(what));
	explicit_bzero(&topts, sizeof(topts));
	target_close(t);
	if (rc == -1)
		return err_set(e, ERR_TARGET, "target: %s: cannot flush it "
		    "before the new full sync", fc.err);
	log_info("target: %s before the new full sync (%s)", what,
	    rs->master_flushed ? "the master was flushed during the last one" :
	    "flush-on-resync");
	memset(rs, 0, sizeof(*rs));
	return 0;
}

/*
 * Temporary keys of a worker killed in an earlier session (or run) carry
 * another pid: nothing else would ever delete them.
 */
static int
cleanup_target(const struct config *cfg, struct error *e)
{
	struct target_opts topts;
	long n;

	if (resync_target_opts(cfg, &topts, e) == -1)
		return -1;
	n = tmpkeys_cleanup(&topts, e);
	explicit_bzero(&topts, sizeof(topts));
	if (n == -1)
		return err_prefix(e, "removing temporary keys");
	if (n > 0)
		log_info("deleted %ld temporary keys a killed worker left "
		    "behind", n);
	return 0;
}

int
resync_prepare(struct resync *rs, const struct config *cfg, struct error *e)
{
	if (flush_target(rs, cfg, e) == -1)
		return -1;
	return cleanup_target(cfg, e);
}
