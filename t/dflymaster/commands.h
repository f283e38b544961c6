/*
 * commands.h - command handlers shared by commands.c (table, keys,
 * strings) and types.c (containers, streams, JSON, the sample dataset).
 */
#ifndef DFLYMASTER_COMMANDS_H
#define DFLYMASTER_COMMANDS_H

#define CMD_WRITE	0x1
#define CMD_ADMIN	0x2	/* never queued by MULTI */

typedef void cmd_fn(struct client *, size_t, char **, size_t *);

struct command {
	const char	*name;
	cmd_fn		*fn;
	int		 arity;		/* < 0: at least -arity */
	int		 flags;
};

uint64_t	 tx_single(void);
uint64_t	 tx_multi(void);
void		 jr(struct client *, uint64_t, const char *, size_t, size_t,
		    const char *const *, const size_t *);
void		 jr_verbatim(struct client *, size_t, char **, size_t *);
void		 reply_wrongtype(struct client *);
void		 reply_notint(struct client *);
void		 reply_syntax(struct client *);
struct obj	*get_typed(struct client *, const char *, size_t, enum otype,
		    int, int *);
struct obj	*get_or_create(struct client *, const char *, size_t,
		    enum otype);
void		 drop_if_empty(struct client *, const char *, size_t,
		    struct obj *);
void		 set_expiry(struct client *, const char *, size_t,
		    struct obj *, int64_t);
void		 sample_load(struct client *);

cmd_fn	cmd_hset, cmd_hdel, cmd_hincrby, cmd_hget, cmd_hgetall, cmd_hlen;
cmd_fn	cmd_push, cmd_pop, cmd_ltrim, cmd_lrange, cmd_llen;
cmd_fn	cmd_sadd, cmd_srem, cmd_spop, cmd_smembers, cmd_scard;
cmd_fn	cmd_zadd, cmd_zrem, cmd_zincrby, cmd_zrange, cmd_zscore, cmd_zcard;
cmd_fn	cmd_xadd, cmd_xlen, cmd_xrange, cmd_xgroup, cmd_xreadgroup, cmd_xack;
cmd_fn	cmd_xinfo, cmd_xpending;
cmd_fn	cmd_jsonset, cmd_jsonget;

#endif
