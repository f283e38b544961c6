/*
 * rjson.c - a small JSON reader for the replay manifests: null, booleans
 * (as integers), integers, strings (escapes \n \t \r, and \uXXXX as a
 * single byte), arrays and objects, with a depth limit.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rjson.h"

static void
ws(struct jp *j)
{
	while (j->p < j->end && isspace((unsigned char)*j->p))
		j->p++;
}

static int
jstring(struct jp *j, struct str *out)
{
	char	*buf;
	size_t	 n = 0;

	if ((buf = malloc((size_t)(j->end - j->p) + 1)) == NULL)
		fatal("malloc");
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		char	 ch = *j->p++;

		if (ch == '\\' && j->p < j->end) {
			ch = *j->p++;
			if (ch == 'n')
				ch = '\n';
			else if (ch == 't')
				ch = '\t';
			else if (ch == 'r')
				ch = '\r';
			else if (ch == 'u' && j->end - j->p >= 4) {
				char	 hex[5];

				memcpy(hex, j->p, 4);
				hex[4] = '\0';
				ch = (char)strtol(hex, NULL, 16);
				j->p += 4;
			}
		}
		buf[n++] = ch;
	}
	if (j->p >= j->end) {
		free(buf);
		j->err = "unterminated string";
		return -1;
	}
	j->p++;
	*out = str_dup(buf, n);
	free(buf);
	return 0;
}

int
jparse(struct jp *j, struct jv *v, int depth)
{
	memset(v, 0, sizeof(*v));
	ws(j);
	if (j->p >= j->end || depth > 32) {
		j->err = "unexpected end or nesting";
		return -1;
	}
	if (*j->p == '"') {
		v->t = J_STR;
		return jstring(j, &v->s);
	}
	if (*j->p == '[' || *j->p == '{') {
		int	 obj = *j->p == '{';
		char	 close = obj ? '}' : ']';

		v->t = obj ? J_OBJ : J_ARR;
		j->p++;
		for (;;) {
			ws(j);
			if (j->p < j->end && *j->p == close) {
				j->p++;
				return 0;
			}
			if (v->n > 0) {
				if (j->p >= j->end || *j->p != ',') {
					j->err = "expected ','";
					return -1;
				}
				j->p++;
				ws(j);
			}
			if ((v->v = reallocarray(v->v, v->n + 1,
			    sizeof(*v->v))) == NULL ||
			    (v->k = reallocarray(v->k, v->n + 1,
			    sizeof(*v->k))) == NULL)
				fatal("reallocarray");
			memset(&v->k[v->n], 0, sizeof(v->k[v->n]));
			if (obj) {
				if (j->p >= j->end || *j->p != '"' ||
				    jstring(j, &v->k[v->n]) == -1) {
					j->err = "expected a key";
					return -1;
				}
				ws(j);
				if (j->p >= j->end || *j->p != ':') {
					j->err = "expected ':'";
					return -1;
				}
				j->p++;
			}
			if (jparse(j, &v->v[v->n], depth + 1) == -1)
				return -1;
			v->n++;
		}
	}
	if (*j->p == '-' || isdigit((unsigned char)*j->p)) {
		char	*end;

		v->t = J_NUM;
		v->num = strtoll(j->p, &end, 10);
		j->p = end;
		while (j->p < j->end && strchr(".eE+-0123456789", *j->p))
			j->p++;
		return 0;
	}
	if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
		j->p += 4;
		return 0;
	}
	if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
		v->t = J_NUM;
		v->num = 1;
		j->p += 4;
		return 0;
	}
	if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
		v->t = J_NUM;
		j->p += 5;
		return 0;
	}
	j->err = "unexpected character";
	return -1;
}

const struct jv *
jget(const struct jv *o, const char *key)
{
	size_t	 i;

	if (o->t != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (str_eq(&o->k[i], key, strlen(key)))
			return &o->v[i];
	return NULL;
}

void
jfree(struct jv *v)
{
	size_t	 i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->v[i]);
		str_free(&v->k[i]);
	}
	free(v->v);
	free(v->k);
	str_free(&v->s);
}
