/*
 * dict.h - the hash table behind every keyspace and container: chained,
 * power-of-two buckets, growing only, so that a cursor walking the buckets
 * in order sees every entry that existed when the walk began.
 */
#ifndef DFLYMASTER_DICT_H
#define DFLYMASTER_DICT_H

#include <stddef.h>
#include <stdint.h>

struct dent {
	struct dent	*next;
	uint64_t	 hash;
	void		*val;
	double		 score;		/* zset members */
	uint32_t	 mexp;		/* hash fields, set members: expiry in
					   s since MEMBER_EXPIRY_BASE, 0 none */
	uint64_t	 ver;		/* snapshot version (keyspace entries) */
	size_t		 klen;
	char		 key[];
};

struct dict {
	struct dent	**b;
	size_t		  mask;		/* buckets - 1, power of two */
	size_t		  count;
};

struct dict	*dict_new(void);
void		 dict_free(struct dict *, void (*)(void *));
struct dent	*dict_find(struct dict *, const void *, size_t);
/* Returns the entry; *created tells whether it is new (val NULL). */
struct dent	*dict_add(struct dict *, const void *, size_t, int *);
int		 dict_del(struct dict *, const void *, size_t, void (*)(void *));
size_t		 dict_buckets(const struct dict *);
uint64_t	 dict_hash(const void *, size_t);

#endif
