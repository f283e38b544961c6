/*
 * sweep.c - the sweeper process (sweep.h): keys no flow of a full resync
 * wrote are deleted from the dbs the workers write to.
 */
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "imsg.h"
#include "log.h"
#include "marks.h"
#include "resync.h"
#include "scan.h"
#include "sweep.h"

struct sweep {
	int		 fd;		/* to the supervisor */
	struct markset	*ms;
	uint8_t		 dst[CONFIG_MAXDB];
	const struct config *cfg;
	struct target_opts *topts;
	struct filter	*filter;	/* NULL: every key is ours */
	int		 src;		/* a copied source db of the db
					   being swept, -1 none */
	uint64_t	 scanned, swept, refused;
	const char	**argv;		/* an UNLINK of a batch */
	size_t		*len;
	size_t		 cap;
};

/* "{N}df2redis:...": the writer's own keys, which tmpkeys.h handles. */
static int
ours(const char *p, size_t len)
{
	const char *end = p + len, *c;

	if (len == 0 || p[0] != '{' ||
	    (c = memchr(p, '}', len)) == NULL)
		return 0;
	return (size_t)(end - c) > 10 && memcmp(c, "}df2redis:", 10) == 0;
}

/*
 * A sweeper that outlived its supervisor would delete what a new
 * session writes: its end (its socket's) ends the sweep at once.
 */
static void
check_supervisor(int fd)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1) {
		log_warnx("the supervisor went away: sweep abandoned");
		_exit(1);
	}
}

/* The replies to n UNLINKs: how many keys went, -1 on error. */
static long
unlink_replies(struct sweep *sw, const struct scan_db *sd, size_t n,
    struct error *e)
{
	redisReply *r;
	long got = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((r = net_read(sd->c, e)) == NULL)
			return -1;
		if (r->type == REDIS_REPLY_INTEGER)
			got += r->integer;
		else if (r->type == REDIS_REPLY_ERROR) {
			/* a slot that moved meanwhile: its key stays */
			log_warnx("%s: db %d: UNLINK refused: %s", sd->c->name,
			    sd->db, r->str);
			sw->refused++;
		}
		freeReplyObject(r);
	}
	return got;
}

/*
 * UNLINK, in one round trip, the keys of a SCAN batch no flow marked: in
 * one command on a standalone server, one command a key on a cluster
 * master (the keys of a batch are in many slots).
 */
static long
sweep_batch(void *arg, const struct scan_db *sd, const redisReply *keys,
    struct error *e)
{
	struct sweep *sw = arg;
	const redisReply *k;
	size_t i, n = 0, sent;
	long got;

	check_supervisor(sw->fd);
	if (keys->elements + 1 > sw->cap) {
		free(sw->argv);
		free(sw->len);
		sw->cap = keys->elements + 1;
		sw->argv = reallocarray(NULL, sw->cap, sizeof(*sw->argv));
		sw->len = reallocarray(NULL, sw->cap, sizeof(*sw->len));
		if (sw->argv == NULL || sw->len == NULL)
			return err_set(e, ERR_SYS, "out of memory");
	}
	for (i = 0; i < keys->elements; i++) {
		k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING || ours(k->str, k->len))
			continue;
		sw->scanned++;
		if (markset_has(sw->ms, sd->db, k->str, k->len))
			continue;
		/* a key the filter leaves out is not ours to delete */
		if (sw->filter != NULL && (sw->src < 0 ||
		    !filter_key(sw->filter, sw->src, k->str, k->len)))
			continue;
		sw->argv[n + 1] = k->str;
		sw->len[n + 1] = k->len;
		n++;
	}
	if (n == 0)
		return 0;
	sw->argv[0] = "UNLINK";
	sw->len[0] = 6;
	if (!sd->cluster) {
		if (net_send(sd->c, (int)n + 1, sw->argv, sw->len, e) == -1)
			return -1;
		sent = 1;
	} else {
		for (i = 1; i <= n; i++) {
			const char *one[2] = { "UNLINK", sw->argv[i] };
			size_t olen[2] = { 6, sw->len[i] };

			if (net_send(sd->c, 2, one, olen, e) == -1)
				return -1;
		}
		sent = n;
	}
	if ((got = unlink_replies(sw, sd, sent, e)) == -1)
		return -1;
	sw->swept += got;
	return got;
}

/*
 * A copied source db whose keys go to the target db being swept: the
 * name filters are the same for every db, so one stands for them all.
 */
static int
source_of(const struct sweep *sw, const struct scan_db *sd)
{
	int i, d;

	for (i = 0; i < CONFIG_MAXDB; i++) {
		if (!filter_spec_db(&sw->cfg->filter, i))
			continue;
		d = sw->cfg->db_map[i];
		if (d < 0)
			d = sd->cluster ? 0 : sw->topts->have_db ?
			    sw->topts->db : i;
		if (d == sd->db)
			return i;
	}
	return -1;
}

static long
sweep_db(void *arg, const struct scan_db *sd, struct error *e)
{
	struct sweep *sw = arg;
	uint64_t before = sw->swept;
	long n;

	sw->src = source_of(sw, sd);
	if (!sd->cluster && (sd->db < 0 || sd->db >= CONFIG_MAXDB ||
	    !sw->dst[sd->db])) {
		log_debug("%s: db %d: no source db maps to it: not swept",
		    sd->c->name, sd->db);
		return 0;
	}
	if ((n = scan_keys(sd, NULL, sweep_batch, sw, e)) == -1)
		return err_prefix(e, "db %d", sd->db);
	log_debug("%s: db %d: %" PRIu64 " keys swept", sd->c->name, sd->db,
	    sw->swept - before);
	return n;
}

static int
run(const struct config *cfg, int nflows, int fd, struct msg_swept *out,
    struct error *e)
{
	struct target_opts topts;
	struct sweep sw;
	int64_t t0 = mono_ms();
	int rc;

	memset(&sw, 0, sizeof(sw));
	sw.fd = fd;
	sw.cfg = cfg;
	sw.topts = &topts;
	if (resync_target_opts(cfg, &topts, e) == -1)
		return -1;
	if (filter_spec_active(&cfg->filter) &&
	    (sw.filter = filter_new(&cfg->filter, e)) == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		return -1;
	}
	if ((sw.ms = markset_build(cfg->state_dir, nflows, SWEEP_SORT_MEM,
	    e)) == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		filter_free(sw.filter);
		return -1;
	}
	out->marks = markset_count(sw.ms);
	log_info("%" PRIu64 " distinct keys marked by %d flows, sorted in "
	    "%" PRId64 " ms", out->marks, nflows, mono_ms() - t0);
	/* standalone; every db of a cluster goes to its db 0 */
	(void)resync_dest_dbs(cfg, &topts, 0, NULL, sw.dst);
	rc = scan_target(&topts, sweep_db, &sw, e) == -1 ? -1 : 0;
	explicit_bzero(&topts, sizeof(topts));
	out->scanned = sw.scanned;
	out->swept = sw.swept;
	markset_close(sw.ms);
	filter_free(sw.filter);
	free(sw.argv);
	free(sw.len);
	if (rc == 0 && sw.refused > 0)
		rc = err_set(e, ERR_TARGET, "%" PRIu64 " UNLINKs refused",
		    sw.refused);
	return rc;
}

void
sweep_main(const struct config *cfg, int nflows, int fd)
{
	struct msg_swept out;
	struct error e;
	int64_t t0 = mono_ms();

	log_setprefix("sweep");
	setproctitle("sweep");
	memset(&out, 0, sizeof(out));
	err_clear(&e);
#ifdef __linux__
	/* and sooner than the next batch where the system says so */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	check_supervisor(fd);
	if (run(cfg, nflows, fd, &out, &e) == -1) {
		out.kind = e.kind;
		strlcpy(out.text, e.msg, sizeof(out.text));
	}
	out.ms = mono_ms() - t0;
	if (msg_send(fd, MSG_SWEPT, &out, sizeof(out), &e) == -1)
		log_warnx("the result to the supervisor: %s", e.msg);
	_exit(out.kind == ERR_NONE ? 0 : 1);
}
