/*
 * filter.h - which source keys df2redis copies: --db-filter,
 * --db-exclude, --key-prefix, --key-exclude-prefix, --key-regex and
 * --key-exclude-regex, the same for snapshot keys, journal records,
 * the sweep of a full resync and `df2redis check`.
 *
 * A key (source db, name) is copied when its db is named by a db-filter
 * (any db when there is none) and by no db-exclude, and its name matches
 * one of the include patterns (any name when there is none: prefixes and
 * regexes OR together) and none of the exclude patterns: excludes win.
 * Prefixes compare bytes.  Regexes are POSIX extended (regcomp), matched
 * anywhere in the name unless anchored, in the C locale, byte by byte;
 * they see the whole name, NUL bytes included (REG_STARTEND): `[^x]`
 * matches a NUL byte, `.` does not.
 *
 * The options are held as plain data in struct filter_spec (config.h
 * keeps one, compared on SIGHUP); filter_new() compiles it.  Every
 * option may be repeated, and the values add up.
 *
 * A journal command is split by filter_command(): its keys are found by
 * a table of the commands Dragonfly journals (filter_cmd_keys()).
 */
#ifndef DF2REDIS_FILTER_H
#define DF2REDIS_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FILTER_MAXDB	1024		/* CONFIG_MAXDB */
#define FILTER_SPECLEN	8192		/* all the patterns' bytes */

struct filter_spec {
	uint8_t	 db_in[FILTER_MAXDB];	/* --db-filter: named */
	uint8_t	 db_out[FILTER_MAXDB];	/* --db-exclude */
	int	 have_db_in;
	int	 flush_all;		/* --filter-flush all */
	size_t	 patlen;
	char	 pat[FILTER_SPECLEN];	/* kind byte, text, NUL; kinds
					   p P r R: prefix, exclude prefix,
					   regex, exclude regex */
};

struct filter;

/* Is name one of the options this module parses (without dashes)? */
int		 filter_option(const char *name);
/* Add value to option name; 0, or -1 with ERR_CONFIG saying why. */
int		 filter_spec_set(struct filter_spec *, const char *name,
		    const char *value, struct error *);
/* Forget what option name was given (the command line over a file). */
void		 filter_spec_reset(struct filter_spec *, const char *name);
/* Does option name differ between a and b? */
int		 filter_spec_changed(const struct filter_spec *,
		    const struct filter_spec *, const char *name);
/* Are db's keys copied at all (the db options alone)? */
int		 filter_spec_db(const struct filter_spec *, int db);
/* Does the spec filter anything? */
int		 filter_spec_active(const struct filter_spec *);
/* Does it filter by name (a prefix or regex)? */
int		 filter_spec_keyed(const struct filter_spec *);

/* NULL with ERR_CONFIG (a bad regex) or ERR_SYS. */
struct filter	*filter_new(const struct filter_spec *, struct error *);
void		 filter_free(struct filter *);

/*
 * The predicate: 1 when the key of source db db is copied, 0 when the
 * filter leaves it alone.  A NULL filter copies everything.
 */
int		 filter_key(const struct filter *, int db, const char *key,
		    size_t len);
/* 1 when db's keys may be copied at all (the db filters alone). */
int		 filter_db(const struct filter *, int db);
/*
 * The highest db a FLUSHALL under a db filter empties db by db: 15, or
 * the highest db --db-filter or --db-exclude names.
 */
int		 filter_dbmax(const struct filter *);
/* 1 when names are filtered (a prefix or regex is set). */
int		 filter_keyed(const struct filter *);
/* 1 when --filter-flush all lets FLUSHDB/FLUSHALL through a key filter. */
int		 filter_flush_all(const struct filter *);

/*
 * The argv indexes of the keys of a journal command (into idx, room for
 * argc of them): how many.  *step is the argvs a key's group spans when
 * the command can be cut into one command per group (DEL 1, MSET 2), 0
 * when it cannot (RENAME, MSETNX, SUNIONSTORE, ...).  A command the table
 * does not know has its key at argv[1]; keyless ones (FLUSHDB, SCRIPT,
 * FUNCTION) have none.
 */
size_t		 filter_cmd_keys(size_t argc, const char *const *argv,
		    const size_t *argvlen, size_t *idx, size_t *step);

enum filter_verdict {
	FILTER_KEEP,		/* every key copied (keyless: the db) */
	FILTER_DROP,		/* no key copied: not written */
	FILTER_SPLIT,		/* keep[] says which argvs to write */
	FILTER_MIXED,		/* keys on both sides and no split: *in and
				   *out are the argv indexes of one of each */
	FILTER_NOMEM,		/* out of memory */
};

/*
 * A journal command of source db db.  keep has room for argc; it is set
 * for FILTER_SPLIT (argv[0] kept).  MOVE counts its key in both dbs.
 */
enum filter_verdict filter_command(const struct filter *, int db,
		    size_t argc, const char *const *argv,
		    const size_t *argvlen, unsigned char *keep, size_t *in,
		    size_t *out);

#endif
