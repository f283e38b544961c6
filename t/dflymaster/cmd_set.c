/*
 * cmd_set.c - set commands: SADD, SADDEX, SREM, SPOP (journaled as SREM of
 * the popped members, journal.md 7), SMEMBERS, SCARD, SMISMEMBER, SSCAN.
 */
#include <stdlib.h>

#include "log.h"
#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "cmd_keys.h"
#include "cmd_set.h"

void
cmd_sadd(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i, n = 0;
	int		 created;

	if ((o = get_or_create(c, argv[1], lens[1], OBJ_SET)) == NULL)
		return;
	for (i = 2; i < argc; i++) {
		dict_add(o->d, argv[i], lens[i], &created);
		n += created;
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)n);
}

/*
 * SADDEX key [KEEPTTL] ttl_sec member... (set_family.cc SAddEx): members
 * with a TTL; KEEPTTL keeps the TTL a member has.  Journaled verbatim.
 */
void
cmd_saddex(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	long long	 ttl;
	size_t		 i = 2, n = 0;
	int		 keep = 0, created;

	if (arg_is(argv[i], lens[i], "keepttl")) {
		keep = 1;
		i++;
	}
	if (i + 1 >= argc || parse_ll(argv[i], lens[i], &ttl) == -1 ||
	    ttl < 1 || ttl > 4294967295LL / 2) {
		reply_error(c, "ERR value is not an integer or out of range");
		return;
	}
	if ((o = get_or_create(c, argv[1], lens[1], OBJ_SET)) == NULL)
		return;
	for (i++; i < argc; i++) {
		e = dict_add(o->d, argv[i], lens[i], &created);
		n += created;
		if (!keep || e->mexp == 0)
			obj_member_ttl(o, e, (uint32_t)ttl);
	}
	obj_update_encoding(o);
	jr_verbatim(c, argc, argv, lens);
	reply_int(c, (long long)n);
}

void
cmd_srem(struct client *c, size_t argc, char **argv, size_t *lens)
{
	del_members(c, argc, argv, lens, OBJ_SET, NULL);
}

/* journal.md 7: SPOP -> SREM of the popped members, or DEL when emptied */
void
cmd_spop(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct str	*popped;
	const char	**jv;
	size_t		 *jl, i, n, b;
	long long	  count = 1;
	int		  wt;

	if (argc > 3 || (argc == 3 && (parse_ll(argv[2], lens[2], &count) ==
	    -1 || count < 0))) {
		reply_error(c, "ERR value is out of range, must be positive");
		return;
	}
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 1, &wt);
	if (wt)
		return;
	if (o == NULL) {
		if (argc == 3)
			reply_array(c, 0);
		else
			reply_null(c);
		return;
	}
	n = (size_t)count < o->d->count ? (size_t)count : o->d->count;
	if ((popped = calloc(n + 1, sizeof(*popped))) == NULL ||
	    (jv = calloc(n + 2, sizeof(*jv))) == NULL ||
	    (jl = calloc(n + 2, sizeof(*jl))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		struct dent	*e = NULL;

		b = arc4random_uniform((uint32_t)dict_buckets(o->d));
		while ((e = o->d->b[b]) == NULL)
			b = (b + 1) & o->d->mask;
		popped[i] = str_dup(e->key, e->klen);
		dict_del(o->d, e->key, e->klen, NULL);
	}
	if (argc == 3)
		reply_array(c, (long long)n);
	for (i = 0; i < n; i++)
		reply_bulk(c, popped[i].p, popped[i].len);
	if (argc == 2 && n == 0)
		reply_null(c);
	if (n > 0) {
		if (o->d->count == 0) {
			jv[0] = "DEL";
			jl[0] = 3;
			jv[1] = argv[1];
			jl[1] = lens[1];
			ks_delete(c->db, argv[1], lens[1]);
			jr(c, tx_single(), argv[1], lens[1], 2, jv, jl);
		} else {
			jv[0] = "SREM";
			jl[0] = 4;
			jv[1] = argv[1];
			jl[1] = lens[1];
			for (i = 0; i < n; i++) {
				jv[i + 2] = popped[i].p;
				jl[i + 2] = popped[i].len;
			}
			jr(c, tx_single(), argv[1], lens[1], n + 2, jv, jl);
		}
	}
	for (i = 0; i < n; i++)
		str_free(&popped[i]);
	free(popped);
	free(jv);
	free(jl);
}

void
cmd_smembers(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	struct dent	*e;
	size_t		 i;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (wt)
		return;
	reply_array(c, o ? (long long)o->d->count : 0);
	for (i = 0; o != NULL && i < dict_buckets(o->d); i++)
		for (e = o->d->b[i]; e != NULL; e = e->next)
			reply_bulk(c, e->key, e->klen);
}

void
cmd_scard(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	(void)argc;
	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (!wt)
		reply_int(c, o ? (long long)o->d->count : 0);
}

void
cmd_smismember(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	size_t		 i;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (wt)
		return;
	reply_array(c, (long long)(argc - 2));
	for (i = 2; i < argc; i++)
		reply_int(c, o != NULL &&
		    dict_find(o->d, argv[i], lens[i]) != NULL);
}

void
cmd_sscan(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	o = get_typed(c, argv[1], lens[1], OBJ_SET, 0, &wt);
	if (!wt)
		scan_members(c, argc, argv, lens, o ? o->d : NULL, OBJ_SET);
}
