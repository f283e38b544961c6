/*
 * checkreport.c - the report of `df2redis check` (check.h): a table by
 * type, the counts and the first differing keys named, as text or as one
 * JSON object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check_int.h"
#include "json.h"

const char *const check_kind_names[K_NKINDS] = { "missing", "extra",
    "different", "unsupported" };
const char *const check_type_names[NTYPES] = { "string", "list", "set",
    "zset", "hash", "stream", "ReJSON-RL", "other" };

static void
put_key(FILE *fp, const char *p, size_t n)
{
	size_t	 i;

	putc('"', fp);
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putc(c, fp);
		else
			fprintf(fp, "\\x%02x", c);
	}
	putc('"', fp);
}

int
check_differs(const struct check *ck)
{
	return ck->kinds[K_MISSING] + ck->kinds[K_EXTRA] +
	    ck->kinds[K_DIFFERENT] > 0 || (ck->kinds[K_UNSUPPORTED] > 0 &&
	    ck->cfg.unsupported == CONFIG_UNSUPPORTED_FAIL);
}

void
check_report_json(const struct check *ck, int64_t elapsed)
{
	const struct suspect	*su;
	const char		*tn;
	size_t			 i;

	printf("{\"result\":\"%s\",\"source\":\"%s:%d\",\"target\":\"%s:%d\","
	    "\"target_cluster\":%s,\"keys\":%" PRIu64 ",\"target_keys\":%"
	    PRIu64 ",\"sample_percent\":%g,\"sample_seed\":%" PRIu64
	    ",\"types\":{", check_differs(ck) ? "different" : "equal",
	    ck->sopts.host, ck->sopts.port, ck->topts.host, ck->topts.port,
	    ck->dst.cluster ? "true" : "false", ck->scanned, ck->extra_scanned,
	    ck->sample, ck->seed);
	for (i = 0; i < NTYPES; i++)
		printf("%s\"%s\":{\"keys\":%" PRIu64 ",\"equal\":%" PRIu64
		    ",\"different\":%" PRIu64 "}", i ? "," : "",
		    i == TYPE_JSON ? "json" : check_type_names[i],
		    ck->types[i].keys,
		    ck->types[i].equal, ck->types[i].different);
	printf("}");
	for (i = 0; i < K_NKINDS; i++)
		printf(",\"%s\":%" PRIu64, check_kind_names[i], ck->kinds[i]);
	printf(",\"vanished\":%" PRIu64 ",\"df2redis_keys\":%" PRIu64
	    ",\"recheck_delay_ms\":%d,\"lag_from_daemon\":%s", ck->vanished,
	    ck->own_keys, ck->last_delay,
	    ck->lag_known ? "true" : "false");
	printf(",\"recheck_rounds\":%" PRIu64
	    ",\"rechecked_equal\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"max_ops\":"
	    "%ld,\"throttle_ms\":%" PRIu64 ",\"elapsed_ms\":%" PRId64
	    ",\"diffs\":[", ck->rechecks_done,
	    ck->rechecked_equal, ck->ops, ck->max_ops, ck->throttle_ms,
	    elapsed);
	for (i = 0; i < ck->nshown; i++) {
		su = &ck->shown[i];
		printf("%s{\"kind\":\"%s\",\"db\":", i ? "," : "",
		    check_kind_names[su->kind]);
		if (su->sdb < 0)
			printf("null");
		else
			printf("%d", su->sdb);
		printf(",\"target_db\":%d,\"key\":", su->tdb);
		json_fputstrn(stdout, su->key, su->klen);
		printf(",\"type\":");
		if (su->type < 0)
			printf("null");
		else {
			tn = su->type == TYPE_JSON ? "json" :
			    check_type_names[su->type];
			json_fputstr(stdout, tn);
		}
		printf(",\"why\":");
		json_fputstr(stdout, su->why);
		printf("}");
	}
	printf("]}\n");
}

void
check_report_text(const struct check *ck, int64_t elapsed)
{
	const struct suspect	*su;
	uint64_t		 nd;
	size_t			 i;

	printf("source %s:%d, target %s:%d%s\n", ck->sopts.host,
	    ck->sopts.port, ck->topts.host, ck->topts.port,
	    ck->dst.cluster ? " (cluster)" : "");
	printf("%-10s %10s %10s %10s\n", "type", "keys", "equal", "different");
	for (i = 0; i < NTYPES; i++)
		if (ck->types[i].keys > 0)
			printf("%-10s %10" PRIu64 " %10" PRIu64 " %10" PRIu64
			    "\n", i == TYPE_JSON ? "json" : check_type_names[i],
			    ck->types[i].keys, ck->types[i].equal,
			    ck->types[i].different);
	printf("checked %" PRIu64 " source keys and %" PRIu64 " target keys",
	    ck->scanned, ck->extra_scanned);
	if (ck->sample < 100)
		printf(" (a %g%% sample)", ck->sample);
	printf("\nmissing %" PRIu64 ", extra %" PRIu64 ", different %" PRIu64
	    ", unsupported %" PRIu64 "%s\n", ck->kinds[K_MISSING],
	    ck->kinds[K_EXTRA], ck->kinds[K_DIFFERENT],
	    ck->kinds[K_UNSUPPORTED], ck->cfg.unsupported ==
	    CONFIG_UNSUPPORTED_SKIP ? " (skipped)" : "");
	if (ck->rechecks_done > 0)
		printf("re-checked after the replication lag: %" PRIu64
		    " rounds, %" PRIu64 " keys equal then\n", ck->rechecks_done,
		    ck->rechecked_equal);
	printf("%" PRIu64 " commands in %" PRId64 " ms", ck->ops, elapsed);
	if (ck->max_ops > 0)
		printf(" (at most %ld/s: %" PRIu64 " ms waited)", ck->max_ops,
		    ck->throttle_ms);
	printf("\n");
	for (i = 0; i < ck->nshown; i++) {
		su = &ck->shown[i];
		printf("%s: ", check_kind_names[su->kind]);
		if (su->sdb >= 0 && su->sdb != su->tdb)
			printf("db %d (target db %d) ", su->sdb, su->tdb);
		else
			printf("db %d ", su->tdb);
		printf("key ");
		put_key(stdout, su->key, su->klen);
		printf(": %s\n", su->why);
	}
	nd = ck->kinds[K_MISSING] + ck->kinds[K_EXTRA] +
	    ck->kinds[K_DIFFERENT] + ck->kinds[K_UNSUPPORTED];
	if (nd > ck->nshown)
		printf("(%" PRIu64 " more not named: --show N)\n",
		    nd - ck->nshown);
	printf("%s\n", check_differs(ck) ? "DIFFERENT: the target differs from "
	    "the source" : "EQUAL: the target equals the source");
}
