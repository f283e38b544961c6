/*
 * obj.h - values: strings, lists, sets, sorted sets, hashes, streams and
 * JSON documents, and the encoding each would have in Dragonfly, which
 * decides its RDB type (snapshot.md 6.0).
 */
#ifndef DFLYMASTER_OBJ_H
#define DFLYMASTER_OBJ_H

#include <stddef.h>
#include <stdint.h>

#include "bstr.h"
#include "dict.h"

enum otype { OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM,
    OBJ_JSON };

struct sid {
	uint64_t ms;
	uint64_t seq;
};

struct sentry {
	struct sid	 id;
	size_t		 nfv;		/* fields + values */
	struct str	*fv;
};

struct consumer {
	struct str	 name;
	int64_t		 seen_ms;
	int64_t		 active_ms;
};

struct pel {
	struct sid	 id;
	int64_t		 delivery_ms;
	uint64_t	 count;
	size_t		 consumer;	/* index in group's consumers */
};

struct group {
	struct str	 name;
	struct sid	 last;
	uint64_t	 entries_read;
	struct pel	*pel;
	size_t		 npel;
	struct consumer	*cons;
	size_t		 ncons;
};

struct stream {
	struct sentry	*e;
	size_t		 n;
	size_t		 cap;
	struct sid	 last;
	struct sid	 maxdel;
	uint64_t	 added;
	struct group	*g;
	size_t		 ng;
};

struct list {
	struct str	*a;
	size_t		 head;		/* first used slot */
	size_t		 n;
	size_t		 cap;
};

struct obj {
	enum otype	 type;
	int		 big;		/* left the compact encoding (sticky) */
	int		 mttl;		/* a member had a TTL (sticky): types
					   31 and 32 */
	int64_t		 expire_ms;	/* -1: none */
	union {
		struct str	 s;		/* string, json */
		struct list	 l;
		struct dict	*d;		/* set, hash (val struct str *), zset */
		struct stream	 x;
	};
};

/*
 * Dragonfly keeps hash-field and set-member TTLs in whole seconds since
 * kMemberExpiryBase (src/server/common.h MemberTimeSeconds), and writes
 * them so in types 31 and 32 (snapshot.md 6.4, 6.7).
 */
#define MEMBER_EXPIRY_BASE	1675209600LL

struct obj	*obj_new(enum otype);
uint32_t	 obj_member_now(void);
/* a member's TTL: 0 drops it, else it expires in ttl seconds */
void		 obj_member_ttl(struct obj *, struct dent *, uint32_t);
void		 obj_free(void *);
void		 obj_free_strval(void *);	/* a hash's values */
int		 obj_rdb_type(const struct obj *);	/* snapshot.md 6.0 */
void		 obj_update_encoding(struct obj *);

void		 list_push(struct list *, int, const void *, size_t);
struct str	 list_pop(struct list *, int);
struct str	*list_at(struct list *, size_t);

#endif
