/*
 * import.c - df2redis import: load RDB files into Redis or Redis Cluster.
 *
 * Each file is decoded as a stream (rdb.h) and every key is written by the
 * writer (writer.h); the process exits 0 only when the target acknowledged
 * every key.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "config.h"
#include "log.h"
#include "rdb.h"
#include "target.h"
#include "tmpkeys.h"
#include "writer.h"
#include "version.h"

#define READ_SIZE	(256 * 1024)
#define MAX_OPEN	64		/* destination dbs written at once */

/*
 * One target and writer per destination db: the target layer SELECTs the
 * db on every (re)connection, so a resent command lands in the right db.
 */
struct dbw {
	int			 db;
	struct target_opts	 to;
	struct target		*t;
	struct writer		*w;
};

struct importer {
	struct target_opts	 topts;
	struct writer_opts	 wopts;
	const char		*url;
	int			 cluster;
	struct dbw		 dbw[MAX_OPEN];
	int			 ndbw;
	struct writer		*cur;		/* writer of the open key */
	struct writer		*failed;	/* writer that said why */
	char			 openkey[256];	/* key being decoded */
	int			 badinput;	/* the file was at fault */
	uint64_t		 counts[WC_MAX];
};

struct progress {
	int		 tty;
	double		 start, last;
	uint64_t	 done_bytes;	/* of the files finished */
	uint64_t	 total_bytes;
};

/* Seconds on the monotonic clock, for rates and elapsed times. */
static double
now(void)
{
	return mono_ms() / 1e3;
}

static void
usage(FILE *out)
{
	fprintf(out,
"usage: df2redis import [options] --target URL FILE...\n"
"  --target HOST:PORT | redis[s]://[USER[:PASSWORD]@]HOST:PORT[/DB]\n"
"                          standalone or cluster is detected (INFO cluster);\n"
"                          rediss:// is TLS\n"
"  --target-password-file FILE\n"
"                          the target's password is the first line of FILE;\n"
"                          without it, the one in the URL; without that,\n"
"                          $DF2REDIS_TARGET_PASSWORD\n"
"  --target-tls-ca-file FILE, --target-tls-cert-file FILE,\n"
"  --target-tls-key-file FILE, --target-tls-sni NAME, --no-target-tls-verify\n"
"                          rediss://: the CAs that sign the target's\n"
"                          certificate (default the system's), a client\n"
"                          certificate and key, the name to send and check\n"
"                          (default the host), no check at all\n"
"  --conflict overwrite|skip|panic\n"
"                          existing keys: replace whole (default), leave\n"
"                          alone, or stop at the first one\n"
"  --db-map SRC:DST,...    write source db SRC into DST; on a cluster every\n"
"                          db goes to db 0 unless mapped otherwise\n"
"  --unsupported fail|skip|lossy\n"
"                          values the target cannot store (JSON without\n"
"                          the module, Bloom/CMS/TOPK/cuckoo, module values,\n"
"                          member or field TTLs): stop (default), skip the\n"
"                          key, or (lossy) write it without the TTLs\n"
"  --batch N               members per command, 1-100000 (default 512)\n"
"  -v                      more logging\n"
"  -h, --help              this text\n"
"  -V, --version           the version\n"
"\n"
"A key is written whole or not at all.  A corrupt or truncated file stops\n"
"the import with the byte offset and the key: the keys before it are\n"
"written, that key and the rest are not.  Repair or replace the file and\n"
"run the import again: with --conflict overwrite (the default) the keys\n"
"the first run wrote are written again, nothing is lost or doubled.\n");
}

static int
parse_db_map(const char *s, struct writer_opts *o)
{
	char *copy, *tok, *p, *save = NULL;
	const char *es;
	long long src, dst;

	if ((copy = strdup(s)) == NULL)
		fatal("strdup");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((p = strchr(tok, ':')) == NULL)
			goto bad;
		*p++ = '\0';
		src = strtonum(tok, 0, WRITER_MAXDB - 1, &es);
		if (es != NULL)
			goto bad;
		dst = strtonum(p, 0, WRITER_MAXDB - 1, &es);
		if (es != NULL)
			goto bad;
		o->db_map[src] = dst;
	}
	free(copy);
	return 0;
bad:
	free(copy);
	log_warnx("--db-map \"%s\": expected SRC:DST,... with dbs 0-%d", s,
	    WRITER_MAXDB - 1);
	return -1;
}

static int
dst_db(const struct importer *im, int src)
{
	int db = -1;

	if (src >= 0 && src < WRITER_MAXDB)
		db = im->wopts.db_map[src];
	if (db >= 0)
		return db;
	if (im->cluster)
		return 0;
	return im->topts.have_db ? im->topts.db : src;
}

static struct writer *
writer_for(struct importer *im, int src)
{
	struct target_opts to;
	struct writer_opts wo;
	struct dbw *d;
	struct error e;
	int db, i;

	db = dst_db(im, src);
	for (i = 0; i < im->ndbw; i++)
		if (im->dbw[i].db == db)
			return im->dbw[i].w;
	if (im->ndbw == MAX_OPEN) {
		log_warnx("more than %d destination dbs", MAX_OPEN);
		return NULL;
	}
	d = &im->dbw[im->ndbw];
	to = im->topts;
	wo = im->wopts;
	if (!im->cluster) {
		to.db = db;
		to.have_db = 1;
		wo.target_db = db;
	}
	/* this writer only sees keys bound for db */
	for (i = 0; i < WRITER_MAXDB; i++)
		wo.db_map[i] = db;
	if ((d->t = target_open(&to, &e)) == NULL) {
		log_warnx("target %s: %s", im->url, e.msg);
		return NULL;
	}
	if ((d->w = writer_open(d->t, &wo, &e)) == NULL) {
		log_warnx("target %s: %s", im->url, e.msg);
		target_close(d->t);
		return NULL;
	}
	d->db = db;
	d->to = to;
	im->ndbw++;
	return d->w;
}

static void
sum_counts(struct importer *im)
{
	const uint64_t *c;
	int i, j;

	memset(im->counts, 0, sizeof(im->counts));
	for (i = 0; i < im->ndbw; i++) {
		c = writer_counts(im->dbw[i].w);
		for (j = 0; j < WC_MAX; j++)
			im->counts[j] += c[j];
	}
}

static void
show_progress(struct progress *pg, struct importer *im, uint64_t pos,
    int final)
{
	const uint64_t *c = im->counts;
	double t = now(), el = t - pg->start;
	uint64_t done = pg->done_bytes + pos;

	if (!pg->tty || (!final && t - pg->last < 0.5))
		return;
	pg->last = t;
	sum_counts(im);
	fprintf(stderr, "\r%" PRIu64 " keys, %.1f MB sent, %.0f keys/s, "
	    "%.1f%%%s", c[WC_WRITTEN], c[WC_BYTES] / 1e6,
	    el > 0 ? c[WC_WRITTEN] / el : 0.0,
	    pg->total_bytes ? 100.0 * done / pg->total_bytes : 100.0,
	    final ? "\n" : "   ");
}

/* The key being decoded, printable, for messages the decoder cannot make. */
static void
note_key(struct importer *im, const struct rdb_event *ev)
{
	size_t i, o = 0;

	if (ev->type == RDB_EV_KEY_END) {
		im->openkey[0] = '\0';
		return;
	}
	if (ev->type != RDB_EV_KEY)
		return;
	for (i = 0; i < ev->key.len && o + 8 < sizeof(im->openkey); i++) {
		unsigned char c = ev->key.p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			im->openkey[o++] = c;
		else
			o += snprintf(im->openkey + o, sizeof(im->openkey) - o,
			    "\\x%02x", c);
	}
	im->openkey[o] = '\0';
}

static const char *
while_key(const struct importer *im, char *buf, size_t len)
{
	if (im->openkey[0] == '\0')
		return "";
	snprintf(buf, len, " while decoding key \"%s\"", im->openkey);
	return buf;
}

/*
 * Decode one file into the writers; 0 ok, -1 error (printed).  A writer
 * that failed is left in im->failed; im->badinput says the file was at
 * fault.
 */
static int
import_file(const char *path, struct importer *im, struct progress *pg)
{
	struct rdb_event ev;
	struct rdb *r;
	char *buf, kb[sizeof(im->openkey) + 32];
	ssize_t n;
	int fd, rv = -1, st = RDB_AGAIN;

	im->openkey[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if ((r = rdb_new(RDB_MODE_FILE, NULL)) == NULL ||
	    (buf = malloc(READ_SIZE)) == NULL)
		fatal("%s", __func__);
	for (;;) {
		while ((st = rdb_next(r, &ev)) == RDB_OK) {
			note_key(im, &ev);
			if (ev.type == RDB_EV_MODULE_AUX) {
				/* no key holds it: the target's module must */
				log_warnx("%s: byte %" PRIu64 ": module \"%.*s\": "
				    "its auxiliary data (no key) is not written",
				    path, rdb_offset(r),
				    (int)ev.u.module_name.len,
				    ev.u.module_name.p);
				continue;
			}
			if (ev.type == RDB_EV_KEY &&
			    (im->cur = writer_for(im, ev.db)) == NULL)
				goto out;
			if (ev.type == RDB_EV_FUNCTION &&
			    (im->cur = writer_for(im, 0)) == NULL)
				goto out;
			if (im->cur == NULL)
				continue;
			if (writer_event(im->cur, &ev) == -1) {
				log_warnx("%s: byte %" PRIu64 ": %s", path,
				    rdb_offset(r), writer_error(im->cur)->msg);
				im->failed = im->cur;
				goto out;
			}
		}
		if (st == RDB_ERR) {
			log_warnx("%s: %s", path, rdb_error(r));
			im->badinput = 1;
			goto out;
		}
		if (st == RDB_DONE)
			break;
		show_progress(pg, im, rdb_offset(r), 0);
		if ((n = read(fd, buf, READ_SIZE)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: byte %" PRIu64 "%s", path, rdb_offset(r),
			    while_key(im, kb, sizeof(kb)));
			im->badinput = 1;
			goto out;
		}
		if (n == 0) {
			log_warnx("%s: truncated at byte %" PRIu64 " (no end "
			    "of file marker)%s", path, rdb_offset(r),
			    while_key(im, kb, sizeof(kb)));
			im->badinput = 1;
			goto out;
		}
		if (rdb_feed(r, buf, n) == -1) {
			log_warnx("%s: %s", path, rdb_error(r));
			im->badinput = 1;
			goto out;
		}
	}
	pg->done_bytes += rdb_offset(r);
	rv = 0;
out:
	free(buf);
	rdb_free(r);
	close(fd);
	return rv;
}

/*
 * A writer that failed may have lost commands with its connection: on a
 * new one, delete the temporary names of keys it had not finished.
 */
static int
abort_failed(struct importer *im, struct dbw *d)
{
	struct target *t;
	struct error e;

	target_flush(d->t);	/* what the old connection can still do */
	if ((t = target_open(&d->to, &e)) == NULL) {
		log_warnx("temporary keys not deleted: target %s: %s",
		    im->url, e.msg);
		return -1;
	}
	target_close(d->t);
	d->t = t;
	writer_abort(d->w, t);
	return -1;
}

/*
 * After an error: the key being built is dropped (with its temporary
 * name), every key before it is waited for, so what the target holds is
 * exactly the complete keys that preceded the error.
 */
static int
abort_writers(struct importer *im)
{
	struct dbw *d;
	int i, rv = 0;

	for (i = 0; i < im->ndbw; i++) {
		d = &im->dbw[i];
		if (d->w == im->failed) {
			abort_failed(im, d);
			continue;
		}
		if (writer_abort(d->w, NULL) == -1) {
			log_warnx("%s", writer_error(d->w)->msg);
			abort_failed(im, d);
			rv = -1;
		}
	}
	return rv;
}

static void
summary(struct importer *im, double elapsed, int errors)
{
	const uint64_t *c = im->counts;

	fprintf(stderr, "import: %" PRIu64 " keys written (string %" PRIu64
	    ", list %" PRIu64 ", set %" PRIu64 ", zset %" PRIu64 ", hash %"
	    PRIu64 ", stream %" PRIu64 ", json %" PRIu64 "), %" PRIu64
	    " skipped existing, %" PRIu64 " skipped unsupported, %" PRIu64
	    " expired and dropped, %" PRIu64 " lossy, %d errors, %.2f s, "
	    "%.0f keys/s\n", c[WC_WRITTEN], c[WC_STRING], c[WC_LIST],
	    c[WC_SET], c[WC_ZSET], c[WC_HASH], c[WC_STREAM], c[WC_JSON],
	    c[WC_SKIPPED_EXISTING], c[WC_SKIPPED_UNSUPPORTED],
	    c[WC_EXPIRED], c[WC_LOSSY], errors, elapsed,
	    elapsed > 0 ? c[WC_WRITTEN] / elapsed : 0.0);
}

/* One of the --target-tls-* file or name options. */
static int
tls_option(struct tls_conf *tls, int ch, const char *arg)
{
	char	*dst = ch == 'A' ? tls->ca_file : ch == 'C' ? tls->cert_file :
		    ch == 'K' ? tls->key_file : tls->sni;
	size_t	 len = ch == 'S' ? sizeof(tls->sni) : sizeof(tls->ca_file);

	if (strlcpy(dst, arg, len) >= len) {
		log_warnx("%s: too long", arg);
		return -1;
	}
	return 0;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target",		required_argument, NULL, 't' },
		{ "target-password-file", required_argument, NULL, 'P' },
		{ "target-tls-ca-file",	required_argument, NULL, 'A' },
		{ "target-tls-cert-file", required_argument, NULL, 'C' },
		{ "target-tls-key-file", required_argument, NULL, 'K' },
		{ "target-tls-sni",	required_argument, NULL, 'S' },
		{ "target-tls-verify",	no_argument, NULL, 'Y' },
		{ "no-target-tls-verify", no_argument, NULL, 'N' },
		{ "conflict",		required_argument, NULL, 'c' },
		{ "db-map",		required_argument, NULL, 'm' },
		{ "unsupported",	required_argument, NULL, 'u' },
		{ "batch",		required_argument, NULL, 'b' },
		{ "help",		no_argument, NULL, 'h' },
		{ "version",		no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct importer im;
	struct target_opts *topts = &im.topts;
	struct writer_opts *wopts = &im.wopts;
	struct progress pg;
	struct target *t;
	struct tls_conf tls;
	struct stat sb;
	const char *pwfile = NULL, *es, *env;
	struct error e;
	int ch, i, verbose = 0, errors = 0;
	long n;

	log_init("df2redis", LOG_TO_STDERR, 0);
	log_setprefix("import");
	writer_opts_init(wopts);
	tls_conf_init(&tls);
	while ((ch = getopt_long(argc, argv, "hVv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
		case 'C':
		case 'K':
		case 'S':
			if (tls_option(&tls, ch, optarg) == -1)
				return 2;
			break;
		case 'Y':
		case 'N':
			tls.verify = ch == 'Y';
			break;
		case 't':
			im.url = optarg;
			break;
		case 'P':
			pwfile = optarg;
			break;
		case 'c':
			if (strcmp(optarg, "overwrite") == 0)
				wopts->conflict = CONFLICT_OVERWRITE;
			else if (strcmp(optarg, "skip") == 0)
				wopts->conflict = CONFLICT_SKIP;
			else if (strcmp(optarg, "panic") == 0)
				wopts->conflict = CONFLICT_PANIC;
			else {
				log_warnx("--conflict %s: expected overwrite, "
				    "skip or panic", optarg);
				return 2;
			}
			break;
		case 'm':
			if (parse_db_map(optarg, wopts) == -1)
				return 2;
			break;
		case 'u':
			if (strcmp(optarg, "fail") == 0)
				wopts->unsupported = UNSUPPORTED_FAIL;
			else if (strcmp(optarg, "skip") == 0)
				wopts->unsupported = UNSUPPORTED_SKIP;
			else if (strcmp(optarg, "lossy") == 0)
				wopts->unsupported = UNSUPPORTED_LOSSY;
			else {
				log_warnx("--unsupported %s: expected fail, "
				    "skip or lossy", optarg);
				return 2;
			}
			break;
		case 'b':
			wopts->batch = strtonum(optarg, 1, 100000, &es);
			if (es != NULL) {
				log_warnx("--batch %s: %s (1-100000)", optarg,
				    es);
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		default:
			return usage_done(ch, usage);
		}
	}
	argc -= optind;
	argv += optind;
	log_setverbose(verbose);
	if (im.url == NULL || argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (target_parse(im.url, topts, &e) == -1) {
		log_warnx("--target %s: %s", im.url, e.msg);
		return 2;
	}
	if (!topts->tls.enabled && (tls.ca_file[0] != '\0' ||
	    tls.cert_file[0] != '\0' || tls.key_file[0] != '\0' ||
	    tls.sni[0] != '\0')) {
		log_warnx("--target-tls-* options given for a target that is "
		    "not rediss://");
		return 2;
	}
	if (topts->tls.enabled) {
		tls.enabled = 1;
		topts->tls = tls;
		if (tls_load(&tls, "target", &e) == -1) {
			log_warnx("%s", e.msg);
			return 2;
		}
	}
	/* the rule and the file format of replicate (config.h) */
	if (pwfile != NULL) {
		if (config_read_secret(pwfile, topts->password,
		    sizeof(topts->password), &e) == -1) {
			log_warnx("--target-password-file %s", e.msg);
			return 2;
		}
	} else if (topts->password[0] == '\0' &&
	    (env = getenv("DF2REDIS_TARGET_PASSWORD")) != NULL)
		strlcpy(topts->password, env, sizeof(topts->password));

	memset(&pg, 0, sizeof(pg));
	pg.tty = isatty(STDERR_FILENO);
	for (i = 0; i < argc; i++) {
		if (stat(argv[i], &sb) == -1) {
			log_warn("%s", argv[i]);
			return 1;
		}
		pg.total_bytes += sb.st_size;
	}
	/* a first connection: reachable, password right, cluster or not */
	if ((t = target_open(topts, &e)) == NULL) {
		log_warnx("target %s: %s", im.url, e.msg);
		return 1;
	}
	im.cluster = target_is_cluster(t);
	target_close(t);
	if (im.cluster) {
		for (i = 0; i < WRITER_MAXDB; i++)
			if (wopts->db_map[i] > 0) {
				log_warnx("--db-map %d:%d: a cluster has only "
				    "db 0", i, wopts->db_map[i]);
				return 2;
			}
		log_info("target is a cluster: every db is written to db 0");
	}
	/* what a killed import or worker left half-built */
	if ((n = tmpkeys_cleanup(topts, &e)) == -1) {
		log_warnx("target %s: removing temporary keys: %s", im.url,
		    e.msg);
		return 1;
	}
	if (n > 0)
		log_info("deleted %ld temporary keys a killed df2redis left "
		    "behind", n);
	pg.start = now();
	for (i = 0; i < argc && errors == 0; i++)
		if (import_file(argv[i], &im, &pg) == -1)
			errors++;
	for (i = 0; i < im.ndbw && errors == 0; i++)
		if (writer_sync(im.dbw[i].w) == -1) {
			log_warnx("%s", writer_error(im.dbw[i].w)->msg);
			im.failed = im.dbw[i].w;
			errors++;
		}
	if (errors > 0 && abort_writers(&im) == 0 && im.badinput)
		log_warnx("stopped: the keys before the error are written, "
		    "the rest are not; repair or replace the file and run "
		    "the import again");
	sum_counts(&im);
	show_progress(&pg, &im, 0, 1);
	summary(&im, now() - pg.start, errors);
	for (i = 0; i < im.ndbw; i++) {
		writer_close(im.dbw[i].w);
		target_close(im.dbw[i].t);
	}
	return errors ? 1 : 0;
}
