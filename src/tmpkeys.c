/*
 * tmpkeys.c - delete the temporary keys and sequence markers of killed
 * runs, and find a flow's LSN markers on resume (tmpkeys.h).
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "net.h"
#include "scan.h"
#include "tmpkeys.h"

#define CLEANUP_MATCH	"{*}df2redis:*"

#define MARKER_BATCH	512	/* marker names a round trip */
#define MARKER_NAMELEN	48

/*
 * The part after "{N}MID" of a name, or NULL: N is the slot tag (digits)
 * every name of ours starts with.
 */
static const char *
after_tag(const char *p, const char *end, const char *mid)
{
	size_t	 n = strlen(mid);

	if (p == end || *p++ != '{' || p == end || !isdigit((unsigned char)*p))
		return NULL;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if ((size_t)(end - p) < n || memcmp(p, mid, n) != 0)
		return NULL;
	return p + n;
}

/* "{N}df2redis:seq:PID.N.XXXXXXXX" exactly, as marker_fmt() writes them. */
static int
is_seq_name(const char *p, size_t len)
{
	const char *end = p + len;
	int i;

	if ((p = after_tag(p, end, "}df2redis:seq:")) == NULL)
		return 0;
	for (i = 0; i < 2; i++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (p == end || *p++ != '.')
			return 0;
	}
	if (end - p != 8)
		return 0;
	for (; p < end; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return 0;
	return 1;
}

/* "{N}df2redis:lsn:FLOW" exactly, as lsn_marker_fmt() writes them. */
static int
is_lsn_name(const char *p, size_t len)
{
	const char *end = p + len;

	if ((p = after_tag(p, end, "}df2redis:lsn:")) == NULL || p == end)
		return 0;
	for (; p < end; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* "{N}df2redis:tmp:PID:N" exactly, as tmp_fmt() writes them. */
static int
is_tmp_name(const char *p, size_t len)
{
	static const char mid[] = "}df2redis:tmp:";
	const char *end = p + len;
	int part;

	if (len == 0 || *p++ != '{')
		return 0;
	for (part = 0; part < 3; part++) {
		if (p == end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (part == 0) {
			if ((size_t)(end - p) < sizeof(mid) - 1 ||
			    memcmp(p, mid, sizeof(mid) - 1) != 0)
				return 0;
			p += sizeof(mid) - 1;
		} else if (part == 1) {
			if (p == end || *p++ != ':')
				return 0;
		}
	}
	return p == end;
}

/* The LSN markers of one flow, for found(). */
struct scan {
	int		  flow;
	tmpkeys_found_cb *found;
	void		 *arg;
};

int
tmpkeys_is_ours(const char *p, size_t len)
{
	return is_tmp_name(p, len) || is_seq_name(p, len) ||
	    is_lsn_name(p, len);
}

/* UNLINK a leftover; how many went, -1 on error. */
static long
unlink_key(struct net_conn *c, const redisReply *k, struct error *e)
{
	const char	*argv[2] = { "UNLINK", k->str };
	size_t		 len[2] = { 6, k->len };
	redisReply	*d;
	long		 n = 0;

	if ((d = net_command_ok(c, 2, argv, len, e)) == NULL)
		return -1;
	if (d->type == REDIS_REPLY_INTEGER)
		n = d->integer;
	freeReplyObject(d);
	return n;
}

/* One SCAN batch: UNLINK the leftovers in it. */
static long
cleanup_batch(void *arg, const struct scan_db *sd, const redisReply *keys,
    struct error *e)
{
	const redisReply *k;
	long		 n = 0, got;
	size_t		 i;

	(void)arg;
	for (i = 0; i < keys->elements; i++) {
		k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING ||
		    !tmpkeys_is_ours(k->str, k->len))
			continue;
		if ((got = unlink_key(sd->c, k, e)) == -1)
			return -1;
		n += got;
	}
	return n;
}

static long
cleanup_db(void *arg, const struct scan_db *sd, struct error *e)
{
	return scan_keys(sd, CLEANUP_MATCH, cleanup_batch, arg, e);
}

/* A marker's value: the LSN it holds; -1 on anything else. */
static int
marker_value(const redisReply *r, uint64_t *lsn)
{
	const char	*errstr = NULL;
	char		 num[32];

	if (r->type != REDIS_REPLY_STRING || r->len == 0 ||
	    r->len >= sizeof(num))
		return -1;
	memcpy(num, r->str, r->len);
	num[r->len] = '\0';
	*lsn = strtonum(num, 0, LLONG_MAX, &errstr);
	return errstr == NULL ? 0 : -1;
}

/* One reply to a marker read: nil, or a marker for found(); -1 error. */
static int
marker_take(const struct scan_db *sd, const struct scan *sc,
    const redisReply *r, const char *name, size_t len, struct error *e)
{
	uint64_t	 lsn;

	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type == REDIS_REPLY_ERROR)
		return err_set(e, ERR_TARGET, "%s: GET %s: %s", sd->c->name,
		    name, r->str);
	if (marker_value(r, &lsn) == -1)
		return err_set(e, ERR_DATA, "%s: db %d, key %s: not an LSN "
		    "marker of ours (a number)", sd->c->name, sd->db, name);
	if (sc->found(sc->arg, sd->db, name, len, lsn) == -1)
		return err_set(e, ERR_SYS, "out of memory");
	return 1;
}

/*
 * The markers of slots [first, last] in the current db, read by name, as
 * MARKER_BATCH names a round trip: one MGET on a standalone server, GETs
 * on a cluster master (one slot a command).  Time grows with the slots,
 * not with the keys the target holds.
 */
static long
markers_db(void *arg, const struct scan_db *sd, struct error *e)
{
	const struct scan *sc = arg;
	struct net_conn	*c = sd->c;
	static char	 names[MARKER_BATCH][MARKER_NAMELEN];
	const char	*argv[MARKER_BATCH + 1], *get[2];
	size_t		 len[MARKER_BATCH + 1], glen[2];
	redisReply	*r;
	unsigned int	 slot, n, i;
	long		 found = 0;
	int		 rc;

	for (slot = sd->first; slot <= sd->last; slot += n) {
		n = sd->last - slot + 1 < MARKER_BATCH ?
		    sd->last - slot + 1 : MARKER_BATCH;
		for (i = 0; i < n; i++) {
			len[i + 1] = tmpkeys_lsn_name(names[i],
			    sizeof(names[i]), slot + i, sc->flow);
			argv[i + 1] = names[i];
		}
		if (!sd->cluster) {
			argv[0] = "MGET";
			len[0] = 4;
			if ((r = net_command_ok(c, (int)n + 1, argv, len,
			    e)) == NULL)
				return -1;
			if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
				freeReplyObject(r);
				return err_set(e, ERR_PROTO, "%s: MGET: "
				    "unexpected reply", c->name);
			}
			for (i = 0; i < n; i++) {
				rc = marker_take(sd, sc, r->element[i],
				    names[i], len[i + 1], e);
				if (rc == -1) {
					freeReplyObject(r);
					return -1;
				}
				found += rc;
			}
			freeReplyObject(r);
			continue;
		}
		for (i = 0; i < n; i++) {
			get[0] = "GET";
			glen[0] = 3;
			get[1] = names[i];
			glen[1] = len[i + 1];
			if (net_send(c, 2, get, glen, e) == -1)
				return -1;
		}
		for (i = 0; i < n; i++) {
			if ((r = net_read(c, e)) == NULL)
				return -1;
			rc = marker_take(sd, sc, r, names[i], len[i + 1], e);
			freeReplyObject(r);
			if (rc == -1)
				return -1;
			found += rc;
		}
	}
	return found;
}

size_t
tmpkeys_lsn_name(char *out, size_t len, unsigned int slot, int flow)
{
	int n;

	n = snprintf(out, len, "{%s}df2redis:lsn:%d", cluster_slottag(slot),
	    flow);
	return n < 0 ? 0 : (size_t)n;
}

long
tmpkeys_cleanup(const struct target_opts *o, struct error *e)
{
	return scan_target(o, cleanup_db, NULL, e);
}

long
tmpkeys_markers(const struct target_opts *o, int flow, tmpkeys_found_cb *cb,
    void *arg, struct error *e)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.flow = flow;
	sc.found = cb;
	sc.arg = arg;
	return scan_target(o, markers_db, &sc, e);
}
