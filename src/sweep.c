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
	uint64_t	 scanned, swept, refused;
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

/* UNLINK, in one round trip, the keys of a SCAN batch no flow marked. */
static long
sweep_batch(void *arg, const struct scan_db *sd, const redisReply *keys,
    struct error *e)
{
	struct sweep *sw = arg;
	const char *argv[2] = { "UNLINK", NULL };
	size_t len[2] = { 6, 0 }, i, sent = 0;
	const redisReply *k;
	redisReply *r;
	long n = 0;

	check_supervisor(sw->fd);
	for (i = 0; i < keys->elements; i++) {
		k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING || ours(k->str, k->len))
			continue;
		sw->scanned++;
		if (markset_has(sw->ms, sd->db, k->str, k->len))
			continue;
		argv[1] = k->str;
		len[1] = k->len;
		if (net_send(sd->c, 2, argv, len, e) == -1)
			return -1;
		sent++;
	}
	for (i = 0; i < sent; i++) {
		if ((r = net_read(sd->c, e)) == NULL)
			return -1;
		if (r->type == REDIS_REPLY_INTEGER)
			n += r->integer;
		else if (r->type == REDIS_REPLY_ERROR) {
			/* a slot that moved meanwhile: its key stays */
			log_warnx("%s: db %d: UNLINK refused: %s", sd->c->name,
			    sd->db, r->str);
			sw->refused++;
		}
		freeReplyObject(r);
	}
	sw->swept += n;
	return n;
}

static long
sweep_db(void *arg, const struct scan_db *sd, struct error *e)
{
	struct sweep *sw = arg;
	uint64_t before = sw->swept;
	long n;

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
	int rc;

	memset(&sw, 0, sizeof(sw));
	sw.fd = fd;
	if (resync_target_opts(cfg, &topts, e) == -1)
		return -1;
	if ((sw.ms = markset_build(cfg->state_dir, nflows, SWEEP_SORT_MEM,
	    e)) == NULL) {
		explicit_bzero(&topts, sizeof(topts));
		return -1;
	}
	out->marks = markset_count(sw.ms);
	/* standalone; every db of a cluster goes to its db 0 */
	(void)resync_dest_dbs(cfg, &topts, 0, NULL, sw.dst);
	rc = scan_target(&topts, sweep_db, &sw, e) == -1 ? -1 : 0;
	explicit_bzero(&topts, sizeof(topts));
	out->scanned = sw.scanned;
	out->swept = sw.swept;
	markset_close(sw.ms);
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
