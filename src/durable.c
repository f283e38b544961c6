/*
 * durable.c - target_durable() (see target.h): before a checkpoint is
 * stored, every master of a Redis Cluster written since its replicas last
 * acknowledged is sent WAIT, so the checkpoint covers only writes a
 * failover cannot lose; and a master lost with writes its replicas may
 * lack, whose slots another master serves now, fails the channel.  The
 * rest of the channel is target.c's (target_int.h).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "log.h"
#include "node.h"
#include "target.h"
#include "target_int.h"

#define DURABLE_WAIT_MS		1000	/* one WAIT's timeout */
#define DURABLE_LOG_MS		5000	/* between two "replicas behind" */

/* Tags of target_durable()'s commands. */
#define DURABLE_TOUCH		1
#define DURABLE_WAIT		2

/*
 * A write of our own that leaves nothing: WAIT counts from the offset of
 * the connection's last write, and a new connection has none, so after a
 * reconnect this makes it count from everything the master ran so far.
 */
static const char lua_touch[] =
    "redis.call('SET',KEYS[1],'1') return redis.call('DEL',KEYS[1])";

/* What target_durable() asked nd: a WAIT's count, or why not. */
int
durable_reply(struct node *nd, const redisReply *r)
{
	const struct node_cmd	*c = NODE_CMD(nd, 0);
	const char		*what = c->tag == DURABLE_WAIT ? "WAIT" : "EVAL";

	if (r->type == REDIS_REPLY_ERROR)
		snprintf(nd->wait_err, sizeof(nd->wait_err), "%s: %s", what,
		    r->str);
	else if (c->tag == DURABLE_WAIT && r->type == REDIS_REPLY_INTEGER)
		nd->wait_acked = r->integer;
	else if (c->tag == DURABLE_WAIT)
		snprintf(nd->wait_err, sizeof(nd->wait_err), "WAIT: reply "
		    "of type %d", r->type);
	node_done(nd);
	return 0;
}

/*
 * nd was lost with writes its replicas had not all acknowledged, and its
 * slots are served by another master now: a replica promoted in its
 * place, which may lack some of them.  Nothing the channel still holds
 * can bring them back; the caller resumes from its last checkpoint,
 * which target_durable() kept behind what the replicas hold.
 */
int
durable_failover(struct target *t, struct node *nd)
{
	return tfail(t, ERR_IO, "target %s: lost, and its slots are served by "
	    "another master now (a failover): writes it acknowledged after "
	    "the last checkpoint may be missing there; resuming from the "
	    "checkpoint", nd->name);
}

/* A slot nd serves, for a key of ours there; -1 when it serves none. */
static int
served_slot(const struct target *t, const struct node *nd)
{
	unsigned int	s;

	for (s = 0; s < CLUSTER_NSLOTS; s++)
		if (t->map.slots[s] == nd)
			return (int)s;
	return -1;
}

static int
queue_internal(struct target *t, struct node *nd, int argc,
    const char **argv, uint64_t tag)
{
	struct node_cmd	*c;
	size_t		 argvlen[8];
	int		 i;

	for (i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	if ((c = node_append(nd, argc, argv, argvlen, -1)) == NULL)
		return tfail_node(t, nd);
	c->flags = CMD_KEYLESS | CMD_INTERNAL | CMD_DURABLE;
	c->tag = tag;
	return 0;
}

/* WAIT on nd for its replicas, after a write of ours if it reconnected. */
static int
ask_replicas(struct target *t, struct node *nd)
{
	const char	*touch[] = { "EVAL", lua_touch, "1", NULL };
	const char	*wait[] = { "WAIT", NULL, NULL };
	char		 key[64], need[16], ms[16];
	int		 slot, tmo = DURABLE_WAIT_MS;

	if (nd->lost_dirty) {
		if ((slot = served_slot(t, nd)) == -1)
			return 0;
		snprintf(key, sizeof(key), "{%s}df2redis:durable",
		    cluster_slottag((unsigned int)slot));
		touch[3] = key;
		if (queue_internal(t, nd, 4, touch, DURABLE_TOUCH) == -1)
			return -1;
	}
	/* a WAIT blocks the connection: never as long as a reply timeout */
	if (t->opts.reply_timeout_ms > 0 && t->opts.reply_timeout_ms / 2 < tmo)
		tmo = t->opts.reply_timeout_ms / 2;
	snprintf(need, sizeof(need), "%d", nd->nreplicas);
	snprintf(ms, sizeof(ms), "%d", tmo > 0 ? tmo : 1);
	wait[1] = need;
	wait[2] = ms;
	if (queue_internal(t, nd, 3, wait, DURABLE_WAIT) == -1)
		return -1;
	nd->wait_asked = 1;
	nd->wait_need = nd->nreplicas;
	nd->wait_acked = -1;
	nd->wait_err[0] = '\0';
	return 0;
}

/*
 * One round: WAIT on every master written since its replicas last
 * acknowledged.  1 when every one is covered, 0 when one is short (its
 * name and why in why), -1 on failure.
 */
static int
durable_round(struct target *t, char *why, size_t whysz)
{
	struct node	*nd;
	size_t		 asked = 0;
	int		 rc = 1;

	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (!nd->dirty)
			continue;
		if (nd->nslots == 0) {
			if (nd->lost_dirty)
				return durable_failover(t, nd);
			/*
			 * Its slots left while it answered: keys migrated
			 * with their values, or a manual failover, which
			 * waits for the replica to catch up.
			 */
			nd->dirty = 0;
			continue;
		}
		if (nd->nreplicas == 0) {
			/* nothing to fail over to */
			nd->dirty = nd->lost_dirty = 0;
			continue;
		}
		if (ask_replicas(t, nd) == -1)
			return -1;
		asked++;
	}
	if (asked == 0)
		return 1;
	if (target_flush(t) == -1)
		return -1;
	TAILQ_FOREACH(nd, &t->nodes, entry) {
		if (!nd->wait_asked)
			continue;
		nd->wait_asked = 0;
		if (nd->wait_err[0] == '\0' && nd->wait_acked >= nd->wait_need) {
			nd->dirty = nd->lost_dirty = 0;
			continue;
		}
		if (rc == 0)
			continue;
		rc = 0;
		if (nd->wait_err[0] != '\0')
			snprintf(why, whysz, "target %s: %s", nd->name,
			    nd->wait_err);
		else
			snprintf(why, whysz, "target %s: %lld of %d replicas "
			    "acknowledged the writes", nd->name,
			    nd->wait_acked < 0 ? 0 : nd->wait_acked,
			    nd->wait_need);
	}
	return rc;
}

int
target_durable(struct target *t)
{
	uint64_t	 start = node_now(), now, last_log = 0;
	char		 why[512];
	int		 rc;

	if (target_flush(t) == -1)
		return -1;
	if (!t->cluster)
		return 0;
	for (;;) {
		if ((rc = durable_round(t, why, sizeof(why))) != 0)
			return rc == 1 ? 0 : -1;
		now = node_now();
		if (now - start >= (uint64_t)t->opts.retry_ms)
			return tfail(t, ERR_TARGET, "%s (WAIT), still after %d ms: "
			    "no checkpoint covers writes a failover could lose",
			    why, t->opts.retry_ms);
		if (now - last_log >= DURABLE_LOG_MS) {
			last_log = now;
			log_warnx("%s (WAIT); the checkpoint waits", why);
		}
		/* replicas marked failed drop out, a promoted one shows */
		target_refresh(t, NULL, 1);
		if (t->map.changed && target_remap(t) == -1)
			return -1;
	}
}
