/*
 * check.c - `df2redis check`: the source and the target compared key by
 * key (check.h), while replication runs or after it.
 *
 * Pass 1 SCANs every source db (every master of a cluster) and compares
 * each key with the target db it maps to: TYPE and PTTL of a batch of
 * keys pipelined on both sides, then the value (checkval.c).  Pass 2
 * SCANs each target db some source db maps to and asks the source
 * whether each key exists (EXISTS of a batch, then of each key when some
 * are missing): those that do not are extra.  A key found different is
 * held as a suspect and compared again after the replication lag (the
 * daemon's, from its control socket, or --recheck-ms), up to --rechecks
 * times; only a key that differed every time is reported.  Suspects are
 * bounded (CHECK_SUSPECTS): when that many wait, they are re-checked
 * before the SCAN goes on.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_int.h"
#include "clock.h"
#include "cmd.h"
#include "config.h"
#include "resync.h"
#include "tls.h"
#include "tmpkeys.h"
#include "version.h"

#define CHECK_SCAN_COUNT	"1000"
#define CHECK_SUSPECTS		10000	/* held before a re-check round */
#define CHECK_NDBS		16	/* source dbs when INFO names none */
#define CHECK_MAXLAG_MS		60000	/* the longest re-check wait */

/* ------------------------------------------------------------ rate */

static void
sleep_ms(int64_t ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* n more commands: wait until the rate allows them. */
void
check_ops(struct check *ck, size_t n)
{
	int64_t		 due, now;

	if (ck->max_ops > 0) {
		due = ck->started + (int64_t)(ck->ops * 1000 / ck->max_ops);
		now = mono_ms();
		if (due > now) {
			sleep_ms(due - now);
			ck->throttle_ms += due - now;
		}
	}
	ck->ops += n;
}

/* ------------------------------------------------------------ keys */

/*
 * --sample: a hash of the run's seed and the key's name, so that each
 * key is in or out independently with probability P%, the same on both
 * passes.
 */
static int
sampled(const struct check *ck, const char *key, size_t klen)
{
	uint64_t	 h = 14695981039346656037ULL ^ ck->seed;
	size_t		 i;

	if (ck->sample >= 100)
		return 1;
	for (i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (double)(h % 1000000) < ck->sample * 10000;
}

/*
 * Whether key of source db sdb is checked at all: the one place where
 * the key filters (--db-filter, --key-prefix, --key-regex) apply, on
 * both passes, and the sample.
 */
static int
wanted(const struct check *ck, int sdb, const char *key, size_t klen)
{
	return filter_key(ck->filter, sdb, key, klen) &&
	    sampled(ck, key, klen);
}

/*
 * The source dbs whose keys land in target db tdb, for wanted() on the
 * target's keys: those holding keys, else those the map sends there.
 */
static int
target_sources(const struct check *ck, int tdb, int *dbs)
{
	int	 i, n = 0;

	for (i = 0; i < CONFIG_MAXDB; i++)
		if (ck->src_dbs[i] && ck->map[i] == tdb)
			dbs[n++] = i;
	for (i = 0; n == 0 && i < CHECK_NDBS; i++)
		if (ck->map[i] == tdb)
			dbs[n++] = i;
	return n;
}

/* A key of side s, db db: wanted in db itself or, on the target, in
 * any of the nd source dbs that map there. */
static int
key_wanted(const struct check *ck, const struct side *s, int db,
    const int *dbs, int nd, const char *key, size_t klen)
{
	int	 i;

	if (s == &ck->src)
		return wanted(ck, db, key, klen);
	if (tmpkeys_is_ours(key, klen))
		return 0;
	for (i = 0; i < nd; i++)
		if (wanted(ck, dbs[i], key, klen))
			return 1;
	return 0;
}

static int
type_index(const char *type)
{
	size_t	 i;

	for (i = 0; i + 1 < NTYPES; i++)
		if (strcmp(type, check_type_names[i]) == 0)
			return i;
	return NTYPES - 1;
}

enum verdict_res { V_EQUAL, V_GONE, V_DIFF, V_UNSUPPORTED };

struct verdict {
	enum verdict_res res;
	enum kind	 kind;
	int		 type;
	char		 why[CHECK_WHYLEN];
};

static int
supported(const struct check *ck, const char *type)
{
	if (strcmp(type, "ReJSON-RL") == 0)
		return ck->target_json;
	return type_index(type) < (int)NTYPES - 2;
}

static void
judge_ttl(const struct check *ck, long long s, long long t, struct verdict *v)
{
	if (s >= 0 && t == -1)
		snprintf(v->why, sizeof(v->why), "the TTL (%lld ms) is not on "
		    "the target", s);
	else if (s == -1 && t >= 0)
		snprintf(v->why, sizeof(v->why), "a TTL of %lld ms on the "
		    "target, none on the source", t);
	else if (s >= 0 && t >= 0 && llabs(s - t) > ck->ttl_tolerance_ms)
		snprintf(v->why, sizeof(v->why), "TTL %lld ms on the source, "
		    "%lld ms on the target", s, t);
	else
		return;
	v->res = V_DIFF;
	v->kind = K_DIFFERENT;
}

/* TYPE and PTTL of one key on one side: the type, the TTL. */
static int
type_ttl(struct side *s, redisReply **r, size_t i, const char **type,
    long long *ttl, struct error *e)
{
	redisReply	*t = r[2 * i], *p = r[2 * i + 1];

	if (t->type != REDIS_REPLY_STATUS && t->type != REDIS_REPLY_STRING)
		return err_set(e, ERR_PROTO, "%s: TYPE: %s", s->label,
		    t->type == REDIS_REPLY_ERROR ? t->str : "unexpected reply");
	if (p->type != REDIS_REPLY_INTEGER)
		return err_set(e, ERR_PROTO, "%s: PTTL: %s", s->label,
		    p->type == REDIS_REPLY_ERROR ? p->str : "unexpected reply");
	*type = t->str;
	*ttl = p->integer;
	return 0;
}

static void
free_replies(redisReply **r, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (r[i] != NULL)
			freeReplyObject(r[i]);
}

/*
 * n keys of source db sdb against target db tdb: TYPE and PTTL of all
 * pipelined on both sides, then each value.  One verdict per key.
 */
static int
judge(struct check *ck, int sdb, int tdb, const char **keys,
    const size_t *lens, size_t n, struct verdict *v, struct error *e)
{
	struct side_cmd	 cmds[2 * CHECK_PIPE];
	redisReply	*rs[2 * CHECK_PIPE], *rt[2 * CHECK_PIPE];
	const char	*st, *tt;
	char		*whys[CHECK_PIPE];
	long long	 sttl, tttl;
	size_t		 i, ns = 0, strs[CHECK_PIPE];
	int		 rc = -1, r, diff[CHECK_PIPE];

	memset(cmds, 0, 2 * n * sizeof(cmds[0]));
	for (i = 0; i < n; i++) {
		cmds[2 * i].argc = cmds[2 * i + 1].argc = 2;
		cmds[2 * i].argv[0] = "TYPE";
		cmds[2 * i].lens[0] = 4;
		cmds[2 * i + 1].argv[0] = "PTTL";
		cmds[2 * i + 1].lens[0] = 4;
		cmds[2 * i].argv[1] = cmds[2 * i + 1].argv[1] = keys[i];
		cmds[2 * i].lens[1] = cmds[2 * i + 1].lens[1] = lens[i];
		cmds[2 * i].keyidx = cmds[2 * i + 1].keyidx = 1;
	}
	if (side_select(&ck->src, sdb, e) == -1 ||
	    side_select(&ck->dst, tdb, e) == -1 ||
	    side_pipe(&ck->src, cmds, 2 * n, rs, e) == -1)
		return -1;
	if (side_pipe(&ck->dst, cmds, 2 * n, rt, e) == -1) {
		free_replies(rs, 2 * n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (type_ttl(&ck->src, rs, i, &st, &sttl, e) == -1 ||
		    type_ttl(&ck->dst, rt, i, &tt, &tttl, e) == -1)
			goto out;
		v[i].type = type_index(st);
		v[i].res = V_DIFF;
		v[i].kind = K_DIFFERENT;
		if (strcmp(st, "none") == 0 && strcmp(tt, "none") == 0)
			v[i].res = V_GONE;
		else if (strcmp(st, "none") == 0)
			strlcpy(v[i].why, "deleted on the source since the "
			    "SCAN, still on the target", sizeof(v[i].why));
		else if (!supported(ck, st)) {
			/* as replicate's --unsupported: never on the target */
			v[i].res = V_UNSUPPORTED;
			v[i].kind = K_UNSUPPORTED;
			snprintf(v[i].why, sizeof(v[i].why), "type %s: the "
			    "target cannot hold it", st);
		} else if (strcmp(tt, "none") == 0) {
			v[i].kind = K_MISSING;
			strlcpy(v[i].why, "not on the target",
			    sizeof(v[i].why));
		} else if (strcmp(st, tt) != 0)
			snprintf(v[i].why, sizeof(v[i].why), "a %s on the "
			    "source, a %s on the target", st, tt);
		else {
			v[i].res = V_EQUAL;
			judge_ttl(ck, sttl, tttl, &v[i]);
			if (v[i].res != V_EQUAL)
				continue;
			if (strcmp(st, "string") == 0) {
				whys[ns] = v[i].why;
				strs[ns++] = i;
				continue;
			}
			if ((r = check_value(&ck->src, &ck->dst, st, keys[i],
			    lens[i], v[i].why, sizeof(v[i].why), e)) == -1)
				goto out;
			if (r == 1)
				v[i].res = V_DIFF;
		}
	}
	if (ns > 0 && check_strings(&ck->src, &ck->dst, keys, lens, strs, ns,
	    diff, whys, e) == -1)
		goto out;
	for (i = 0; i < ns; i++)
		if (diff[i])
			v[strs[i]].res = V_DIFF;
	rc = 0;
out:
	if (rc == -1)
		err_prefix(e, "db %d", sdb);
	free_replies(rs, 2 * n);
	free_replies(rt, 2 * n);
	return rc;
}

/* The source dbs that map to target db tdb and hold keys. */
static int
sources_of(const struct check *ck, int tdb, int *dbs)
{
	int	 i, n = 0;

	for (i = 0; i < CONFIG_MAXDB; i++)
		if (ck->src_dbs[i] && ck->map[i] == tdb)
			dbs[n++] = i;
	return n;
}

/* Whether all m keys exist: one EXISTS for them all (standalone). */
static int
exists_all(struct check *ck, const char **keys, const size_t *lens,
    const size_t *idx, size_t m, struct error *e)
{
	const char	*argv[CHECK_PIPE + 1];
	size_t		 alen[CHECK_PIPE + 1], i;
	redisReply	*r;
	int		 all;

	argv[0] = "EXISTS";
	alen[0] = 6;
	for (i = 0; i < m; i++) {
		argv[i + 1] = keys[idx[i]];
		alen[i + 1] = lens[idx[i]];
	}
	if ((r = side_command(&ck->src, m + 1, argv, alen, -1, e)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER) {
		err_set(e, ERR_PROTO, "source: EXISTS: %s",
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -1;
	}
	all = r->integer == (long long)m;
	freeReplyObject(r);
	return all;
}

/* found[i]: key i exists in some source db that maps to tdb. */
static int
exists_on_source(struct check *ck, int tdb, const char **keys,
    const size_t *lens, size_t n, int *found, struct error *e)
{
	struct side_cmd	 cmds[CHECK_PIPE];
	redisReply	*r[CHECK_PIPE];
	size_t		 i, m, idx[CHECK_PIPE];
	int		 dbs[CONFIG_MAXDB], nd, d, d2;

	memset(found, 0, n * sizeof(*found));
	nd = sources_of(ck, tdb, dbs);
	for (d = 0; d < nd; d++) {
		if (side_select(&ck->src, dbs[d], e) == -1)
			return -1;
		for (i = m = 0; i < n; i++)
			if (!found[i])
				idx[m++] = i;
		if (m == 0)
			break;
		if (!ck->src.cluster) {
			if ((d2 = exists_all(ck, keys, lens, idx, m, e)) == -1)
				return -1;
			if (d2 == 1) {
				for (i = 0; i < m; i++)
					found[idx[i]] = 1;
				continue;
			}
		}
		memset(cmds, 0, m * sizeof(cmds[0]));
		for (i = 0; i < m; i++) {
			cmds[i].argc = 2;
			cmds[i].argv[0] = "EXISTS";
			cmds[i].lens[0] = 6;
			cmds[i].argv[1] = keys[idx[i]];
			cmds[i].lens[1] = lens[idx[i]];
			cmds[i].keyidx = 1;
		}
		if (side_pipe(&ck->src, cmds, m, r, e) == -1)
			return -1;
		for (i = 0; i < m; i++) {
			if (r[i]->type != REDIS_REPLY_INTEGER) {
				err_set(e, ERR_PROTO, "source: EXISTS: %s",
				    r[i]->type == REDIS_REPLY_ERROR ?
				    r[i]->str : "unexpected reply");
				free_replies(r, m);
				return -1;
			}
			found[idx[i]] = r[i]->integer > 0;
		}
		free_replies(r, m);
	}
	return 0;
}

/* ------------------------------------------------------------ suspects */

static void
count_final(struct check *ck, const struct suspect *su, int type)
{
	ck->kinds[su->kind]++;
	if (type >= 0 && su->kind != K_EXTRA && su->kind != K_UNSUPPORTED)
		ck->types[type].different++;
	if (ck->nshown >= (size_t)ck->show)
		return;
	ck->shown[ck->nshown] = *su;
	if ((ck->shown[ck->nshown].key = malloc(su->klen + 1)) == NULL)
		return;
	memcpy(ck->shown[ck->nshown].key, su->key, su->klen);
	ck->shown[ck->nshown].key[su->klen] = '\0';
	ck->nshown++;
}

static int
add_suspect(struct check *ck, enum kind kind, int type, int sdb, int tdb,
    const char *key, size_t klen, const char *why, struct error *e)
{
	struct suspect	*su;
	size_t		 cap;

	if (ck->nsus == ck->capsus) {
		cap = ck->capsus ? ck->capsus * 2 : 64;
		if ((su = reallocarray(ck->sus, cap, sizeof(*su))) == NULL)
			return err_set(e, ERR_SYS, "out of memory");
		ck->sus = su;
		ck->capsus = cap;
	}
	su = &ck->sus[ck->nsus];
	memset(su, 0, sizeof(*su));
	if ((su->key = malloc(klen + 1)) == NULL)
		return err_set(e, ERR_SYS, "out of memory");
	memcpy(su->key, key, klen);
	su->key[klen] = '\0';
	su->klen = klen;
	su->kind = kind;
	su->sdb = sdb;
	su->tdb = tdb;
	su->type = type;
	strlcpy(su->why, why, sizeof(su->why));
	if (ck->nsus++ == 0)
		ck->sus_since = mono_ms();
	return 0;
}

/*
 * The daemon's replication lag (the largest lag_ms of its flows in
 * `status json` on the control socket), -1 when it does not answer.
 */
static long
daemon_lag(const struct check *ck)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			 buf[65536], *p;
	size_t			 len = 0;
	ssize_t			 n;
	long			 lag = -1, v;
	int			 fd;

	if (ck->cfg.ctl_socket[0] == '\0')
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, ck->cfg.ctl_socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, "status json\n", 12) != 12) {
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (len < sizeof(buf) - 1 && poll(&pfd, 1, 1000) == 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "ok", 2) != 0)
		return -1;
	for (p = buf; (p = strstr(p, "\"lag_ms\":")) != NULL; p += 9)
		if (sscanf(p + 9, "%ld", &v) == 1 && v > lag)
			lag = v;
	return lag;
}

static int
recheck_delay(struct check *ck)
{
	long	 lag = daemon_lag(ck);

	ck->lag_known = lag >= 0;
	if (lag < 0)
		ck->last_delay = ck->recheck_ms;
	else
		ck->last_delay = lag + 100 > CHECK_MAXLAG_MS ? CHECK_MAXLAG_MS :
		    (int)lag + 100;
	return ck->last_delay;
}

/* An extra key again: 1 still extra, 0 not any more. */
static int
recheck_extra(struct check *ck, struct suspect *su, struct error *e)
{
	const char	*argv[2] = { "EXISTS", su->key };
	size_t		 lens[2] = { 6, su->klen };
	const char	*keys[1] = { su->key };
	redisReply	*r;
	int		 gone, found;

	if (side_select(&ck->dst, su->tdb, e) == -1 ||
	    (r = side_command(&ck->dst, 2, argv, lens, 1, e)) == NULL)
		return -1;
	gone = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
	freeReplyObject(r);
	if (gone)
		return 0;
	if (exists_on_source(ck, su->tdb, keys, &su->klen, 1, &found, e) == -1)
		return -1;
	return !found;
}

/*
 * Every suspect compared again after the lag, up to --rechecks rounds:
 * each turns out equal (or gone on both sides), or is reported once it
 * differed in every round.  A key written faster than the lag may look
 * different each time; the rounds give it that many chances.
 */
static int
recheck_all(struct check *ck, struct error *e)
{
	struct verdict	 v;
	struct suspect	*su;
	const char	*key;
	int64_t		 due, now;
	size_t		 i, kept;
	int		 r, type;

	if (ck->rechecks == 0) {
		/* --rechecks 0: reported as found */
		for (i = 0; i < ck->nsus; i++) {
			count_final(ck, &ck->sus[i], ck->sus[i].type);
			free(ck->sus[i].key);
		}
		ck->nsus = 0;
	}
	while (ck->nsus > 0) {
		due = ck->sus_since + recheck_delay(ck);
		if ((now = mono_ms()) < due)
			sleep_ms(due - now);
		ck->rechecks_done++;
		if (ck->cfg.verbose > 0)
			fprintf(stderr, "df2redis check: re-checking %zu keys "
			    "after %d ms (%s)\n", ck->nsus, ck->last_delay,
			    ck->lag_known ? "the daemon's lag" :
			    "--recheck-ms");
		for (i = kept = 0; i < ck->nsus; i++) {
			su = &ck->sus[i];
			type = su->type;
			if (su->kind == K_EXTRA) {
				if ((r = recheck_extra(ck, su, e)) == -1)
					return -1;
			} else {
				key = su->key;
				if (judge(ck, su->sdb, su->tdb, &key,
				    &su->klen, 1, &v, e) == -1)
					return -1;
				r = v.res == V_DIFF;
				if (r) {
					su->kind = v.kind;
					strlcpy(su->why, v.why,
					    sizeof(su->why));
				}
			}
			if (!r) {
				ck->rechecked_equal++;
				if (type >= 0)
					ck->types[type].equal++;
				free(su->key);
			} else if (++su->rounds < ck->rechecks)
				ck->sus[kept++] = *su;
			else {
				count_final(ck, su, type);
				free(su->key);
			}
		}
		ck->nsus = kept;
		ck->sus_since = mono_ms();
	}
	return 0;
}

/* ------------------------------------------------------------ passes */

/* The keys of one SCAN reply worth checking, in batches. */
typedef int batch_fn(struct check *, int db, const char **, const size_t *,
    size_t, struct error *);

static int
source_batch(struct check *ck, int sdb, const char **keys,
    const size_t *lens, size_t n, struct error *e)
{
	struct verdict	 v[CHECK_PIPE];
	size_t		 i;
	int		 tdb = ck->map[sdb];

	if (judge(ck, sdb, tdb, keys, lens, n, v, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].res == V_GONE) {
			ck->vanished++;
			continue;
		}
		ck->scanned++;
		ck->types[v[i].type].keys++;
		if (v[i].res == V_EQUAL)
			ck->types[v[i].type].equal++;
		else if (v[i].res == V_UNSUPPORTED) {
			struct suspect su;

			memset(&su, 0, sizeof(su));
			su.kind = K_UNSUPPORTED;
			su.sdb = sdb;
			su.tdb = tdb;
			su.type = v[i].type;
			su.key = (char *)keys[i];
			su.klen = lens[i];
			strlcpy(su.why, v[i].why, sizeof(su.why));
			count_final(ck, &su, v[i].type);
		} else if (add_suspect(ck, v[i].kind, v[i].type, sdb, tdb,
		    keys[i], lens[i], v[i].why, e) == -1)
			return -1;
	}
	return 0;
}

static int
target_batch(struct check *ck, int tdb, const char **keys,
    const size_t *lens, size_t n, struct error *e)
{
	int	 found[CHECK_PIPE];
	size_t	 i;

	if (exists_on_source(ck, tdb, keys, lens, n, found, e) == -1)
		return -1;
	ck->extra_scanned += n;
	for (i = 0; i < n; i++)
		if (!found[i] && add_suspect(ck, K_EXTRA, -1, -1, tdb, keys[i],
		    lens[i], "not on the source", e) == -1)
			return -1;
	return 0;
}

/*
 * SCAN db on connection ci of side s to its end.  The connection is
 * looked up again for each SCAN: a MOVED on the way reloads the slot
 * map, and with it the connections.
 */
static int
scan_conn(struct check *ck, struct side *s, int ci, int db, batch_fn *fn,
    struct error *e)
{
	struct net_conn	*c;
	const char	*argv[4] = { "SCAN", NULL, "COUNT", CHECK_SCAN_COUNT };
	const char	*keys[CHECK_PIPE];
	size_t		 lens[CHECK_PIPE], i, n;
	char		 cursor[32] = "0";
	redisReply	*r, *k;
	int		 rc = 0, dbs[CONFIG_MAXDB], nd;

	nd = s == &ck->dst ? target_sources(ck, db, dbs) : 0;
	do {
		if (side_select(s, db, e) == -1)
			return -1;
		if (ci >= s->nconns)
			return err_set(e, ERR_TARGET, "%s: the cluster lost a "
			    "master during the check", s->label);
		c = &s->conns[ci];
		argv[1] = cursor;
		check_ops(ck, 1);
		if ((r = net_command_ok(c, 4, argv, NULL, e)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY ||
		    r->element[0]->len >= sizeof(cursor)) {
			freeReplyObject(r);
			return err_set(e, ERR_PROTO, "%s: SCAN: unexpected "
			    "reply", c->name);
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
		k = r->element[1];
		for (i = n = 0; i < k->elements && rc == 0; i++) {
			if (k->element[i]->type != REDIS_REPLY_STRING)
				continue;
			if (s == &ck->dst && tmpkeys_is_ours(k->element[i]->str,
			    k->element[i]->len))
				ck->own_keys++;
			if (!key_wanted(ck, s, db, dbs, nd, k->element[i]->str,
			    k->element[i]->len))
				continue;
			keys[n] = k->element[i]->str;
			lens[n++] = k->element[i]->len;
			if (n == CHECK_PIPE || (ck->max_ops > 0 &&
			    n * 4 >= (size_t)ck->max_ops)) {
				rc = fn(ck, db, keys, lens, n, e);
				n = 0;
			}
		}
		if (rc == 0 && n > 0)
			rc = fn(ck, db, keys, lens, n, e);
		freeReplyObject(r);
		if (rc == 0 && ck->nsus >= CHECK_SUSPECTS)
			rc = recheck_all(ck, e);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc;
}

static int
scan_side(struct check *ck, struct side *s, int db, batch_fn *fn,
    struct error *e)
{
	int	 i;

	for (i = 0; i < s->nconns; i++)
		if (scan_conn(ck, s, i, db, fn, e) == -1)
			return -1;
	return 0;
}

/* The dbs INFO keyspace lists on each connection of s. */
static int
keyspace(struct check *ck, struct side *s, int *dbs, struct error *e)
{
	const char	*argv[2] = { "INFO", "keyspace" };
	redisReply	*r;
	const char	*p;
	int		 i, db;

	memset(dbs, 0, CONFIG_MAXDB * sizeof(*dbs));
	for (i = 0; i < s->nconns; i++) {
		check_ops(ck, 1);
		r = net_command_ok(&s->conns[i], 2, argv, NULL, e);
		if (r == NULL)
			return -1;
		for (p = r->type == REDIS_REPLY_STRING ? r->str : "";
		    (p = strstr(p, "db")) != NULL; p += 2)
			if ((p == r->str || p[-1] == '\n') &&
			    sscanf(p, "db%d:", &db) == 1 && db >= 0 &&
			    db < CONFIG_MAXDB)
				dbs[db] = 1;
		freeReplyObject(r);
	}
	return 0;
}

/* --db-map and the URL's /DB, as the workers apply them (worker.c). */
static int
map_dbs(struct check *ck, struct error *e)
{
	int	 i, d;

	for (i = 0; i < CONFIG_MAXDB; i++) {
		d = ck->cfg.db_map[i];
		if (ck->dst.cluster && d > 0)
			return err_set(e, ERR_CONFIG, "--db-map %d:%d: a "
			    "cluster has only db 0", i, d);
		if (d < 0)
			d = ck->dst.cluster ? 0 : ck->topts.have_db ?
			    ck->topts.db : i;
		ck->map[i] = d;
	}
	return 0;
}

/* Whether the target has a JSON module (MODULE LIST). */
static int
target_json(struct check *ck, struct error *e)
{
	const char	*argv[2] = { "MODULE", "LIST" };
	redisReply	*r;
	size_t		 i, j;
	int		 found = 0;

	check_ops(ck, 1);
	if ((r = net_command(&ck->dst.conns[0], 2, argv, NULL, e)) == NULL)
		return -1;
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		for (j = 0; j + 1 < r->element[i]->elements; j += 2)
			if (r->element[i]->element[j + 1]->type ==
			    REDIS_REPLY_STRING &&
			    strcasecmp(r->element[i]->element[j + 1]->str,
			    "ReJSON") == 0)
				found = 1;
	freeReplyObject(r);
	return found;
}

static int
run(struct check *ck, struct error *e)
{
	int	 tdbs[CONFIG_MAXDB], i, j, images;

	if (side_open(&ck->src, e) == -1 || side_open(&ck->dst, e) == -1 ||
	    map_dbs(ck, e) == -1 ||
	    (ck->target_json = target_json(ck, e)) == -1 ||
	    keyspace(ck, &ck->src, ck->src_dbs, e) == -1 ||
	    keyspace(ck, &ck->dst, tdbs, e) == -1)
		return -1;
	recheck_delay(ck);	/* whether the daemon tells its lag */
	for (i = 0; i < CONFIG_MAXDB; i++)
		if (ck->src_dbs[i] && scan_side(ck, &ck->src, i, source_batch,
		    e) == -1)
			return -1;
	if (recheck_all(ck, e) == -1)
		return -1;
	for (i = 0; i < CONFIG_MAXDB; i++) {
		for (j = images = 0; j < CONFIG_MAXDB && !images; j++)
			images = ck->map[j] == i;
		if (tdbs[i] && images && scan_side(ck, &ck->dst, i,
		    target_batch, e) == -1)
			return -1;
	}
	return recheck_all(ck, e);
}

/* ------------------------------------------------------------ options */

static const struct copt {
	const char	*name;
	int		 has_arg;
	const char	*help;
} copts[] = {
	{ "json", 0, "print one JSON object" },
	{ "show", 1, "N differing keys named (10)" },
	{ "sample", 1, "PERCENT of the keys checked, at random (100)" },
	{ "max-ops", 1, "N commands per second, both sides together (0: no "
	    "limit)" },
	{ "recheck-ms", 1, "MS before a differing key is checked again, "
	    "when no daemon tells its lag (1000)" },
	{ "rechecks", 1, "N times at most a differing key is checked again "
	    "(3)" },
	{ "ttl-tolerance-ms", 1, "MS two TTLs may differ by (2000)" },
};
#define NCOPTS	(sizeof(copts) / sizeof(copts[0]))

static void
check_usage(FILE *out)
{
	size_t	 i;

	fprintf(out, "usage: df2redis check [-v] [-f FILE] [--json] [--show N] "
	    "[--sample PERCENT]\n      [--max-ops N] [--recheck-ms MS] "
	    "[--rechecks N] [--ttl-tolerance-ms MS]\n      --source HOST:PORT "
	    "--target URL [--state-dir DIR | --ctl-socket PATH] [options]\n");
	for (i = 0; i < NCOPTS; i++)
		fprintf(out, "  --%-22s %s\n", copts[i].name, copts[i].help);
	fprintf(out, "and those of replicate that say where the data is (also "
	    "in a -f FILE):\n"
	    "  --source HOST:PORT, --source-user, --source-password-file, "
	    "--target URL,\n"
	    "  --target-password-file, --db-map, --unsupported fail|skip, "
	    "--timeout-ms,\n"
	    "  --state-dir or --ctl-socket (the daemon to ask its lag), -v\n"
	    "exit status: 0 equal, 1 different, 2 error\n");
}

static int
set_copt(struct check *ck, const char *name, const char *v, struct error *e)
{
	const char	*errstr = NULL;
	char		*end;
	long long	 n;

	if (strcmp(name, "json") == 0) {
		ck->json = 1;
		return 0;
	}
	if (strcmp(name, "sample") == 0) {
		ck->sample = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(ck->sample > 0) ||
		    ck->sample > 100)
			return err_set(e, ERR_CONFIG, "--sample \"%s\": a "
			    "percentage above 0, at most 100", v);
		return 0;
	}
	n = strtonum(v, 0, INT32_MAX, &errstr);
	if (errstr != NULL)
		return err_set(e, ERR_CONFIG, "--%s \"%s\" is %s", name, v,
		    errstr);
	if (strcmp(name, "show") == 0)
		ck->show = n;
	else if (strcmp(name, "max-ops") == 0)
		ck->max_ops = n;
	else if (strcmp(name, "recheck-ms") == 0)
		ck->recheck_ms = n;
	else if (strcmp(name, "rechecks") == 0)
		ck->rechecks = n;
	else
		ck->ttl_tolerance_ms = n;
	return 0;
}

/*
 * check's own options taken out of argv (into rest), the others left
 * for config_parse_args(): "--NAME VALUE" and "--NAME=VALUE".
 */
static int
own_options(struct check *ck, int argc, char **argv, char **rest, int *nrest,
    struct error *e)
{
	const char	*a, *v;
	size_t		 i, l;
	int		 k;

	*nrest = 0;
	for (k = 0; k < argc; k++) {
		a = argv[k];
		if (k == 0 || strncmp(a, "--", 2) != 0) {
			rest[(*nrest)++] = argv[k];
			if (strcmp(a, "--") == 0)
				while (++k < argc)
					rest[(*nrest)++] = argv[k];
			continue;
		}
		for (i = 0; i < NCOPTS; i++) {
			l = strlen(copts[i].name);
			if (strncmp(a + 2, copts[i].name, l) == 0 &&
			    (a[2 + l] == '\0' || a[2 + l] == '='))
				break;
		}
		if (i == NCOPTS) {
			rest[(*nrest)++] = argv[k];
			continue;
		}
		v = a[2 + l] == '=' ? a + 3 + l : NULL;
		if (copts[i].has_arg && v == NULL) {
			if (k + 1 >= argc)
				return err_set(e, ERR_CONFIG, "--%s needs a "
				    "value", copts[i].name);
			v = argv[++k];
		} else if (!copts[i].has_arg && v != NULL)
			return err_set(e, ERR_CONFIG, "--%s takes no value",
			    copts[i].name);
		if (set_copt(ck, copts[i].name, v, e) == -1)
			return -1;
	}
	rest[*nrest] = NULL;
	return 0;
}

static int
configure(struct check *ck, int argc, char **argv)
{
	struct error	 e;
	char		**rest;
	int		 nrest, rc;

	config_init(&ck->cfg);
	ck->cfg.state_dir_optional = 1;
	if ((rest = calloc(argc + 1, sizeof(*rest))) == NULL) {
		fprintf(stderr, "df2redis check: out of memory\n");
		return 2;
	}
	if (own_options(ck, argc, argv, rest, &nrest, &e) == -1) {
		free(rest);
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		check_usage(stderr);
		return EXIT_USAGE;
	}
	rc = config_parse_args(&ck->cfg, nrest, rest, &e);
	free(rest);
	switch (rc) {
	case 0:
		break;
	case CONFIG_HELP:
		check_usage(stdout);
		return 0;
	case CONFIG_VERSION:
		version_print();
		return 0;
	case CONFIG_USAGE:
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		check_usage(stderr);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (target_parse(ck->cfg.target_url, &ck->topts, &e) == -1) {
		fprintf(stderr, "df2redis check: --target: %s\n", e.msg);
		return 2;
	}
	if (config_secrets(&ck->cfg, ck->topts.password[0] != '\0', &e) == -1) {
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		return 2;
	}
	/* the target's TLS settings and password, as replicate takes them */
	if (resync_target_opts(&ck->cfg, &ck->topts, &e) == -1 ||
	    (ck->cfg.source_tls.enabled &&
	    tls_load(&ck->cfg.source_tls, "source", &e) == -1) ||
	    (ck->topts.tls.enabled &&
	    tls_load(&ck->topts.tls, "target", &e) == -1)) {
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		return 2;
	}
	if (filter_spec_active(&ck->cfg.filter) &&
	    (ck->filter = filter_new(&ck->cfg.filter, &e)) == NULL) {
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		return 2;
	}
	ck->sopts.tls = ck->cfg.source_tls;
	strlcpy(ck->sopts.host, ck->cfg.source_host, sizeof(ck->sopts.host));
	ck->sopts.port = ck->cfg.source_port;
	strlcpy(ck->sopts.user, ck->cfg.source_user, sizeof(ck->sopts.user));
	strlcpy(ck->sopts.password, ck->cfg.source_password,
	    sizeof(ck->sopts.password));
	ck->sopts.connect_timeout_ms = ck->cfg.timeout_ms;
	return -1;
}

int
cmd_check(int argc, char **argv)
{
	struct check	*ck;
	struct error	 e;
	int64_t		 elapsed;
	size_t		 i;
	int		 rc;

	if ((ck = calloc(1, sizeof(*ck))) == NULL) {
		fprintf(stderr, "df2redis check: out of memory\n");
		return 2;
	}
	ck->show = 10;
	ck->sample = 100;
	ck->recheck_ms = 1000;
	ck->rechecks = 3;
	ck->ttl_tolerance_ms = 2000;
	ck->seed = ((uint64_t)arc4random() << 32) | arc4random();
	if ((rc = configure(ck, argc, argv)) != -1) {
		explicit_bzero(ck, sizeof(*ck));
		free(ck);
		return rc;
	}
	if ((ck->shown = calloc(ck->show + 1, sizeof(*ck->shown))) == NULL) {
		free(ck);
		fprintf(stderr, "df2redis check: out of memory\n");
		return 2;
	}
	ck->src.label = "source";
	ck->src.is_source = 1;
	ck->src.opts = &ck->sopts;
	ck->src.timeout_ms = ck->cfg.timeout_ms;
	ck->dst.label = "target";
	ck->dst.opts = &ck->topts;
	ck->dst.timeout_ms = ck->cfg.timeout_ms;
	ck->src.ck = ck->dst.ck = ck;
	ck->started = mono_ms();
	memset(&e, 0, sizeof(e));
	rc = run(ck, &e);
	elapsed = mono_ms() - ck->started;
	if (rc == -1) {
		fprintf(stderr, "df2redis check: %s\n", e.msg);
		rc = 2;
	} else {
		if (ck->json)
			check_report_json(ck, elapsed);
		else
			check_report_text(ck, elapsed);
		rc = check_differs(ck) ? 1 : 0;
	}
	side_close(&ck->src);
	side_close(&ck->dst);
	for (i = 0; i < ck->nsus; i++)
		free(ck->sus[i].key);
	for (i = 0; i < ck->nshown; i++)
		free(ck->shown[i].key);
	free(ck->sus);
	free(ck->shown);
	filter_free(ck->filter);
	explicit_bzero(ck, sizeof(*ck));
	free(ck);
	return rc;
}
