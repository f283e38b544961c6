/*
 * client.c - one client connection: reading and parsing requests, AUTH,
 * handing commands to the replay or the dispatcher, and writing replies
 * within the flow fault limits.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "bstr.h"
#include "text.h"
#include "options.h"
#include "resp.h"
#include "dispatch.h"
#include "flow.h"
#include "repl.h"
#include "replay.h"
#include "stats.h"
#include "tlssrv.h"
#include "client.h"

static uint64_t	client_ids;

struct client *
client_new(int fd, struct ssl_st *ssl)
{
	struct client	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->fd = fd;
	c->ssl = ssl;
	c->id = ++client_ids;
	c->authed = options()->requirepass == NULL;
	return c;
}

void
client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (options()->replay_dir != NULL)
		replay_closed(c);
	repl_client_closed(c);
}

void
client_free(struct client *c)
{
	if (c->ssl != NULL)
		tlssrv_free(c->ssl);
	close(c->fd);
	free(c->in);
	obuf_free(&c->out);
	client_mq_free(c);
	free(c);
}

/* Drops the MULTI queue. */
void
client_mq_free(struct client *c)
{
	size_t	 i, j;

	for (i = 0; i < c->nmq; i++) {
		for (j = 0; j < c->mq[i].argc; j++)
			free(c->mq[i].argv[j]);
		free(c->mq[i].argv);
		free(c->mq[i].lens);
	}
	free(c->mq);
	c->mq = NULL;
	c->nmq = 0;
}

static int
auth_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	const char	*user = options()->user ? options()->user : "default";
	const char	*pass = options()->requirepass;
	size_t		 pi = argc == 3 ? 2 : 1;

	if (argc != 2 && argc != 3) {
		reply_error(c, "ERR wrong number of arguments for 'auth' "
		    "command");
		return 0;
	}
	if (pass == NULL) {
		reply_error(c, "ERR AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return 0;
	}
	if ((argc == 3 && !str_eq(&(struct str){ (char *)user, strlen(user) },
	    argv[1], lens[1])) || !str_eq(&(struct str){ (char *)pass,
	    strlen(pass) }, argv[pi], lens[pi])) {
		reply_error(c, "WRONGPASS invalid username-password pair or "
		    "user is disabled.");
		return 0;
	}
	c->authed = 1;
	c->limited = argc == 3 && options()->user_commands != NULL;
	if (argc == 3)
		stat_inc(STAT_USER_AUTHS);
	reply_ok(c);
	return 1;
}

/* Whether the --user-commands list names argv[0]. */
static int
permitted(const char *cmd, size_t len)
{
	const char	*p = options()->user_commands, *end;

	while (*p != '\0') {
		end = p + strcspn(p, ",");
		if ((size_t)(end - p) == len && strncasecmp(p, cmd, len) == 0)
			return 1;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* As Redis words it, the command in lower case. */
static void
noperm(struct client *c, const char *cmd, size_t len)
{
	char	name[64];
	size_t	i;

	for (i = 0; i < len && i < sizeof(name) - 1; i++)
		name[i] = (char)tolower((unsigned char)cmd[i]);
	name[i] = '\0';
	reply_error(c, "NOPERM this user has no permissions to run the '%s' "
	    "command", name);
}

static void
process_input(struct client *c)
{
	char		**argv;
	size_t		 *lens, argc, used;
	const char	 *err;
	int		  r;

	while (!c->dead && c->inlen > 0) {
		r = resp_parse(c, &used, &argv, &lens, &argc, &err);
		if (r == PARSE_AGAIN)
			break;
		if (r == PARSE_ERR) {
			reply_error(c, "%s", err);
			c->closing = 1;
			c->inlen = 0;
			break;
		}
		if (argc > 0) {
			if (arg_is(argv[0], lens[0], "auth"))
				auth_command(c, argc, argv, lens);
			else if (!c->authed)
				reply_error(c, "NOAUTH Authentication "
				    "required.");
			else if (c->limited && !permitted(argv[0], lens[0]))
				noperm(c, argv[0], lens[0]);
			else if (options()->replay_dir != NULL)
				replay_command(c, argc, argv, lens);
			else
				cmd_dispatch(c, argc, argv, lens);
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
}

/*
 * One read; on TLS, until the socket is drained: bytes OpenSSL has
 * decrypted would not wake poll() again.
 */
void
client_read(struct client *c)
{
	ssize_t	 n;

	do {
		if (c->incap - c->inlen < 16384) {
			size_t	 cap = c->incap ? c->incap * 2 : 32768;

			if ((c->in = realloc(c->in, cap)) == NULL)
				fatal("realloc");
			c->incap = cap;
		}
		if (c->ssl != NULL)
			n = tlssrv_read(c->ssl, c->in + c->inlen,
			    c->incap - c->inlen);
		else
			n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n > 0) {
			c->inlen += (size_t)n;
			process_input(c);
		}
	} while (n > 0 && c->ssl != NULL && !c->dead);
}

ssize_t
client_send(struct client *c, const void *p, size_t len)
{
	if (c->ssl != NULL)
		return tlssrv_write(c->ssl, p, len);
	return write(c->fd, p, len);
}

void
client_write(struct client *c)
{
	size_t	 want = obuf_pending(&c->out), lim;
	ssize_t	 n;
	int	 close_at;

	lim = flow_write_limit(c, &close_at);
	if (want > lim)
		want = lim;
	if (want > 0) {
		n = client_send(c, c->out.p + c->out.off, want);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				client_close(c);
			return;
		}
		c->out.off += (size_t)n;
		c->sent += (uint64_t)n;
		repl_wrote(c);
	}
	lim = flow_write_limit(c, &close_at);
	if (lim == 0 && close_at && obuf_pending(&c->out) > 0) {
		log_info("fault: closing flow %d after %llu stream bytes",
		    c->flow->shard,
		    (unsigned long long)options()->fault_close.at);
		stat_inc(STAT_FAULTS);
		client_close(c);
		return;
	}
	if (lim == 0 && c->flow != NULL && !c->flow->stall_counted &&
	    obuf_pending(&c->out) > 0) {
		log_info("fault: flow %d stalled after %llu stream bytes",
		    c->flow->shard,
		    (unsigned long long)options()->fault_stall.at);
		c->flow->stall_counted = 1;
		stat_inc(STAT_FAULTS);
	}
	if (c->closing && obuf_pending(&c->out) == 0)
		client_close(c);
}
