/*
 * command.h - what every command handler shares: the handler type and
 * table entry, transaction ids, journaling a write (journal.md 3, 5), the
 * common error replies and typed key lookups.
 */
#ifndef DFLYMASTER_COMMAND_H
#define DFLYMASTER_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "obj.h"

struct client;

#define CMD_WRITE	0x1
#define CMD_ADMIN	0x2	/* never queued by MULTI */

typedef void cmd_fn(struct client *, size_t, char **, size_t *);

struct command {
	const char	*name;
	cmd_fn		*fn;
	int		 arity;		/* < 0: at least -arity */
	int		 flags;
};

/* the NX XX GT LT conditions of EXPIRE and ZADD */
struct cond {
	int	 nx;
	int	 xx;
	int	 gt;
	int	 lt;
};

/* sets the condition named by the argument; 0: it names none */
int		 cond_arg(const char *, size_t, struct cond *);
uint64_t	 tx_single(void);
uint64_t	 tx_multi(void);
/* EXEC: one txid for all the writes it runs */
void		 tx_exec_begin(void);
void		 tx_exec_end(void);
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
void		 reply_value(struct client *, const char *, size_t,
		    enum otype);
void		 del_members(struct client *, size_t, char **, size_t *,
		    enum otype, void (*)(void *));
void		 set_expiry(struct client *, const char *, size_t,
		    struct obj *, int64_t);

#endif
