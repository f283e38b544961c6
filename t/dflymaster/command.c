/*
 * command.c - what every command handler shares: transaction ids, journaling
 * a write to its key's shard (journal.md 3, 5), the common error replies and
 * typed key lookups.  Single-key commands carry txid 0 as in the captures;
 * multi-key, global and MULTI/EXEC writes share a fresh txid.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keyspace.h"
#include "journal.h"
#include "client.h"
#include "resp.h"
#include "clock.h"
#include "text.h"
#include "command.h"

static uint64_t	exec_txid;	/* txid of the running EXEC, 0 outside */

uint64_t
tx_single(void)
{
	return exec_txid;
}

void
tx_exec_begin(void)
{
	exec_txid = journal_txid();
}

void
tx_exec_end(void)
{
	exec_txid = 0;
}

uint64_t
tx_multi(void)
{
	return exec_txid ? exec_txid : journal_txid();
}

void
jr(struct client *c, uint64_t txid, const char *key, size_t klen,
    size_t argc, const char *const *argv, const size_t *lens)
{
	journal_cmd(key_shard(key, klen), c->db, txid, argc, argv, lens);
}

/* The command as received, journaled verbatim to the shard of argv[1]. */
void
jr_verbatim(struct client *c, size_t argc, char **argv, size_t *lens)
{
	jr(c, tx_single(), argv[1], lens[1], argc, (const char *const *)argv,
	    lens);
}

void
reply_wrongtype(struct client *c)
{
	reply_error(c, "WRONGTYPE Operation against a key holding the wrong "
	    "kind of value");
}

void
reply_notint(struct client *c)
{
	reply_error(c, "ERR value is not an integer or out of range");
}

void
reply_syntax(struct client *c)
{
	reply_error(c, "ERR syntax error");
}

/* Key of the given type for a write; NULL + reply on a type clash. */
struct obj *
get_typed(struct client *c, const char *k, size_t n, enum otype t,
    int write, int *wrongtype)
{
	struct dent	*e;

	*wrongtype = 0;
	e = write ? ks_lookup_write(c->db, k, n) : ks_lookup(c->db, k, n);
	if (e == NULL)
		return NULL;
	if (((struct obj *)e->val)->type != t) {
		*wrongtype = 1;
		reply_wrongtype(c);
		return NULL;
	}
	return e->val;
}

struct obj *
get_or_create(struct client *c, const char *k, size_t n, enum otype t)
{
	int		 wt;
	struct obj	*o = get_typed(c, k, n, t, 1, &wt);

	if (wt)
		return NULL;
	if (o == NULL) {
		o = obj_new(t);
		ks_create(c->db, k, n, o);
	}
	return o;
}

/* Delete a container that became empty. */
void
drop_if_empty(struct client *c, const char *k, size_t n, struct obj *o)
{
	size_t	 cnt = 0;

	switch (o->type) {
	case OBJ_LIST:
		cnt = o->l.n;
		break;
	case OBJ_SET:
	case OBJ_HASH:
	case OBJ_ZSET:
		cnt = o->d->count;
		break;
	default:
		return;
	}
	if (cnt == 0)
		ks_delete(c->db, k, n);
}

/* journal.md 7: every expiry form becomes PEXPIREAT, or DEL when past */
int
cond_arg(const char *a, size_t n, struct cond *cd)
{
	if (arg_is(a, n, "nx"))
		cd->nx = 1;
	else if (arg_is(a, n, "xx"))
		cd->xx = 1;
	else if (arg_is(a, n, "gt"))
		cd->gt = 1;
	else if (arg_is(a, n, "lt"))
		cd->lt = 1;
	else
		return 0;
	return 1;
}

/* A string or JSON document: its bytes, nil when missing. */
void
reply_value(struct client *c, const char *k, size_t n, enum otype t)
{
	int		 wt;
	struct obj	*o = get_typed(c, k, n, t, 0, &wt);

	if (wt)
		return;
	if (o == NULL)
		reply_null(c);
	else
		reply_bulk(c, o->s.p, o->s.len);
}

/* HDEL, SREM, ZREM: the argument members, journaled verbatim. */
void
del_members(struct client *c, size_t argc, char **argv, size_t *lens,
    enum otype t, void (*freeval)(void *))
{
	struct obj	*o;
	size_t		 i, n = 0;
	int		 wt;

	if ((o = get_typed(c, argv[1], lens[1], t, 1, &wt)) == NULL) {
		if (!wt)
			reply_int(c, 0);
		return;
	}
	for (i = 2; i < argc; i++)
		n += (size_t)dict_del(o->d, argv[i], lens[i], freeval);
	if (n > 0) {
		drop_if_empty(c, argv[1], lens[1], o);
		jr_verbatim(c, argc, argv, lens);
	}
	reply_int(c, (long long)n);
}

void
set_expiry(struct client *c, const char *k, size_t n, struct obj *o,
    int64_t at)
{
	char		 num[32];
	const char	*argv[3] = { "PEXPIREAT", k, num };
	size_t		 lens[3] = { 9, n, 0 };

	if (at <= wall_ms()) {
		const char	*dv[2] = { "DEL", k };
		size_t		 dl[2] = { 3, n };

		ks_delete(c->db, k, n);
		jr(c, tx_single(), k, n, 2, dv, dl);
		return;
	}
	o->expire_ms = at;
	lens[2] = (size_t)snprintf(num, sizeof(num), "%lld", (long long)at);
	jr(c, tx_single(), k, n, 3, argv, lens);
}
