/*
 * cluster.c - hash slots, CLUSTER SLOTS and MOVED/ASK parsing, and the
 * slot map of the target layer (target.c).
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"
#include "net.h"
#include "node.h"

static uint16_t	crc16_table[256];
static int	crc16_ready;

/* CRC16-XMODEM: polynomial 0x1021, initial value 0, no reflection. */
static void
crc16_init(void)
{
	unsigned int	i, bit;
	uint16_t	crc;

	for (i = 0; i < 256; i++) {
		crc = (uint16_t)(i << 8);
		for (bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) :
			    (uint16_t)(crc << 1);
		crc16_table[i] = crc;
	}
	crc16_ready = 1;
}

uint16_t
cluster_crc16(const char *buf, size_t len)
{
	const unsigned char	*p = (const unsigned char *)buf;
	uint16_t		 crc = 0;
	size_t			 i;

	if (!crc16_ready)
		crc16_init();
	for (i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
	return crc;
}

/*
 * Only the part between the first '{' and the next '}' is hashed, when
 * that part is not empty: "{user1000}.following" and "{user1000}.followers"
 * share a slot.
 */
unsigned int
cluster_keyslot(const char *key, size_t len)
{
	const char	*open, *close;

	open = memchr(key, '{', len);
	if (open != NULL) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1) {
			key = open + 1;
			len = (size_t)(close - key);
		}
	}
	return cluster_crc16(key, len) & (CLUSTER_NSLOTS - 1);
}

const char *
cluster_slottag(unsigned int slot)
{
	static char	 tags[CLUSTER_NSLOTS][8];
	static int	 built;
	unsigned int	 s, filled = 0;
	char		 num[8];
	int		 i, n;

	/* the smallest number per slot; a bound only against a broken hash */
	for (i = 0; !built && filled < CLUSTER_NSLOTS && i < 1000000; i++) {
		n = snprintf(num, sizeof(num), "%d", i);
		s = cluster_keyslot(num, (size_t)n);
		if (tags[s][0] != '\0')
			continue;
		memcpy(tags[s], num, (size_t)n + 1);
		filled++;
	}
	built = 1;
	return tags[slot & (CLUSTER_NSLOTS - 1)];
}

int
cluster_split_addr(const char *s, size_t len, char *host, size_t hostsz,
    int *port)
{
	const char	*colon, *h = s;
	size_t		 hlen;
	char		 num[16];
	const char	*errstr;

	colon = memrchr(s, ':', len);
	if (colon == NULL || colon == s || (size_t)(s + len - colon - 1) >=
	    sizeof(num) || colon + 1 == s + len)
		return -1;
	hlen = (size_t)(colon - s);
	if (h[0] == '[') {
		if (hlen < 3 || h[hlen - 1] != ']')
			return -1;
		h++;
		hlen -= 2;
	}
	if (hlen >= hostsz)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(num, colon + 1, (size_t)(s + len - colon - 1));
	num[s + len - colon - 1] = '\0';
	*port = (int)strtonum(num, 1, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	return 0;
}

enum cluster_redirect
cluster_parse_redirect(const char *msg, size_t len, unsigned int *slot,
    char *host, size_t hostsz, int *port)
{
	enum cluster_redirect	 kind;
	const char		*p, *end = msg + len;
	unsigned long		 n = 0;

	if (len > 6 && memcmp(msg, "MOVED ", 6) == 0) {
		kind = REDIRECT_MOVED;
		p = msg + 6;
	} else if (len > 4 && memcmp(msg, "ASK ", 4) == 0) {
		kind = REDIRECT_ASK;
		p = msg + 4;
	} else
		return REDIRECT_NONE;
	if (p == end || *p < '0' || *p > '9')
		return REDIRECT_NONE;
	while (p < end && *p >= '0' && *p <= '9') {
		n = n * 10 + (unsigned long)(*p++ - '0');
		if (n >= CLUSTER_NSLOTS)
			return REDIRECT_NONE;
	}
	if (p == end || *p++ != ' ')
		return REDIRECT_NONE;
	if (cluster_split_addr(p, (size_t)(end - p), host, hostsz, port) == -1)
		return REDIRECT_NONE;
	*slot = (unsigned int)n;
	return kind;
}

static int
slot_number(const redisReply *r, unsigned int *out)
{
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 ||
	    r->integer >= CLUSTER_NSLOTS)
		return -1;
	*out = (unsigned int)r->integer;
	return 0;
}

int
cluster_parse_slots(const redisReply *r, const char *defhost,
    struct cluster_range **rangesp, char *err, size_t errsz)
{
	struct cluster_range	*ranges;
	const redisReply	*e, *m;
	size_t			 i;

	*rangesp = NULL;
	if (r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errsz, "CLUSTER SLOTS: not an array");
		return -1;
	}
	if (r->elements == 0) {
		snprintf(err, errsz, "CLUSTER SLOTS: no slot is assigned");
		return -1;
	}
	if ((ranges = calloc(r->elements, sizeof(*ranges))) == NULL) {
		snprintf(err, errsz, "CLUSTER SLOTS: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    slot_number(e->element[0], &ranges[i].first) == -1 ||
		    slot_number(e->element[1], &ranges[i].last) == -1 ||
		    ranges[i].first > ranges[i].last)
			goto bad;
		m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    m->element[0]->type != REDIS_REPLY_STRING ||
		    m->element[1]->type != REDIS_REPLY_INTEGER ||
		    m->element[1]->integer < 1 || m->element[1]->integer > 65535 ||
		    m->element[0]->len >= CLUSTER_HOSTLEN)
			goto bad;
		if (m->element[0]->len == 0 ||
		    strcmp(m->element[0]->str, "?") == 0)
			strlcpy(ranges[i].host, defhost, sizeof(ranges[i].host));
		else
			memcpy(ranges[i].host, m->element[0]->str,
			    m->element[0]->len);
		ranges[i].port = (int)m->element[1]->integer;
		ranges[i].nreplicas = (int)(e->elements - 3);
	}
	*rangesp = ranges;
	return (int)r->elements;
 bad:
	snprintf(err, errsz, "CLUSTER SLOTS: malformed entry %zu", i);
	free(ranges);
	return -1;
}

/* ---------------------------------------------------------------- slot map */

static int
apply_slots(struct cluster_map *m, const redisReply *r, const char *defhost,
    struct error *e)
{
	struct cluster_range	*ranges;
	struct node		*nd, **old;
	int			 n, i;
	unsigned int		 s;
	char			 why[256];

	if ((n = cluster_parse_slots(r, defhost, &ranges, why,
	    sizeof(why))) == -1)
		return err_set(e, ERR_PROTO, "target %s: %s", defhost, why);
	if ((old = malloc(sizeof(m->slots))) == NULL) {
		free(ranges);
		return err_set(e, ERR_SYS, "target: out of memory");
	}
	memcpy(old, m->slots, sizeof(m->slots));
	for (s = 0; s < CLUSTER_NSLOTS; s++)
		if (m->slots[s] != NULL) {
			m->slots[s]->nslots = 0;
			m->slots[s]->nreplicas = 0;
		}
	memset(m->slots, 0, sizeof(m->slots));
	for (i = 0; i < n; i++) {
		if ((nd = m->node(m->arg, ranges[i].host, ranges[i].port)) ==
		    NULL) {
			free(ranges);
			free(old);
			return err_set(e, ERR_SYS, "target: out of memory");
		}
		for (s = ranges[i].first; s <= ranges[i].last; s++)
			m->slots[s] = nd;
		nd->nslots += ranges[i].last - ranges[i].first + 1;
		if (nd->nreplicas < ranges[i].nreplicas)
			nd->nreplicas = ranges[i].nreplicas;
	}
	free(ranges);
	if (memcmp(old, m->slots, sizeof(m->slots)) != 0)
		m->changed = 1;
	free(old);
	return 0;
}

int
cluster_map_load(struct cluster_map *m, struct net_conn *c,
    const char *defhost, struct error *e)
{
	const char	*argv[2] = { "CLUSTER", "SLOTS" };
	redisReply	*r;
	int		 rc;

	if ((r = net_command_ok(c, 2, argv, NULL, e)) == NULL)
		return -1;
	rc = apply_slots(m, r, defhost, e);
	freeReplyObject(r);
	return rc;
}

void
cluster_map_set(struct cluster_map *m, unsigned int slot, struct node *nd)
{
	if (m->slots[slot] == nd)
		return;
	if (m->slots[slot] != NULL)
		m->slots[slot]->nslots--;
	m->slots[slot] = nd;
	nd->nslots++;
	m->changed = 1;
}
