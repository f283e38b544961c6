/*
 * rjson.h - a small JSON reader for the replay manifests.
 */
#ifndef DFLYMASTER_RJSON_H
#define DFLYMASTER_RJSON_H

#include <stddef.h>

#include "bstr.h"

enum jt { J_NULL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt		 t;
	long long	 num;
	struct str	 s;
	struct jv	*v;		/* array items or object values */
	struct str	*k;		/* object keys */
	size_t		 n;
};

struct jp {
	const char	*p;
	const char	*end;
	const char	*err;
};

int		 jparse(struct jp *, struct jv *, int);	/* depth 0 at the top */
const struct jv	*jget(const struct jv *, const char *);
void		 jfree(struct jv *);

#endif
