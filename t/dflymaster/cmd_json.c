/*
 * cmd_json.c - JSON.SET and JSON.GET on whole documents (path $ only).
 */

#include "text.h"
#include "keyspace.h"
#include "client.h"
#include "resp.h"
#include "cmd_json.h"

void
cmd_jsonset(struct client *c, size_t argc, char **argv, size_t *lens)
{
	struct obj	*o;
	int		 wt;

	if (!arg_is(argv[2], lens[2], "$") && !arg_is(argv[2], lens[2], ".")) {
		reply_error(c, "ERR dflymaster stores whole documents only "
		    "(path $)");
		return;
	}
	get_typed(c, argv[1], lens[1], OBJ_JSON, 1, &wt);
	if (wt)
		return;
	o = obj_new(OBJ_JSON);
	o->s = str_dup(argv[3], lens[3]);
	ks_create(c->db, argv[1], lens[1], o);
	jr_verbatim(c, argc, argv, lens);
	reply_ok(c);
}

void
cmd_jsonget(struct client *c, size_t argc, char **argv, size_t *lens)
{
	(void)argc;
	reply_value(c, argv[1], lens[1], OBJ_JSON);
}
