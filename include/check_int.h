/*
 * check_int.h - what check.c (the walk and the re-checks) and
 * checkreport.c (the text and JSON reports) share: the command's state
 * and its counts.
 */
#ifndef DF2REDIS_CHECK_INT_H
#define DF2REDIS_CHECK_INT_H

#include <stdint.h>

#include "check.h"
#include "config.h"
#include "filter.h"
#include "url.h"

enum kind { K_MISSING, K_EXTRA, K_DIFFERENT, K_UNSUPPORTED, K_NKINDS };
extern const char *const check_kind_names[K_NKINDS];

/* The types counted (TYPE's names); the last one collects the others. */
#define NTYPES		8
#define TYPE_JSON	6
extern const char *const check_type_names[NTYPES];

struct suspect {
	enum kind	 kind;
	int		 sdb, tdb;
	int		 type;		/* type_names index, -1 unknown */
	int		 rounds;
	char		*key;
	size_t		 klen;
	char		 why[CHECK_WHYLEN];
};

struct tcount {
	uint64_t	 keys, equal, different;
};

struct check {
	struct config	 cfg;
	struct target_opts topts, sopts;
	struct filter	*filter;	/* NULL: every key */
	struct side	 src, dst;
	int		 json;
	int		 show;
	double		 sample;	/* percent, 100: every key */
	uint64_t	 seed;
	long		 max_ops;	/* per second over both sides, 0 none */
	int		 recheck_ms;
	int		 rechecks;
	int		 ttl_tolerance_ms;
	int		 target_json;	/* the target has a JSON module */
	int		 src_dbs[CONFIG_MAXDB];	/* source dbs that hold keys */
	int		 map[CONFIG_MAXDB];	/* source db -> target db */

	struct suspect	*sus;
	size_t		 nsus, capsus;
	int64_t		 sus_since;

	struct suspect	*shown;		/* the first --show differences */
	size_t		 nshown;
	struct tcount	 types[NTYPES];
	uint64_t	 kinds[K_NKINDS];
	uint64_t	 scanned, extra_scanned, vanished, rechecked_equal;
	uint64_t	 own_keys;	/* df2redis's markers on the target */
	uint64_t	 rechecks_done;
	int		 last_delay;	/* ms, the last re-check's wait */
	int		 lag_known;	/* the daemon told its lag */
	uint64_t	 ops, throttle_ms;
	int64_t		 started;
};

/* Whether the target differs: --unsupported fail counts those too. */
int	check_differs(const struct check *);
void	check_report_json(const struct check *, int64_t elapsed_ms);
void	check_report_text(const struct check *, int64_t elapsed_ms);

#endif
