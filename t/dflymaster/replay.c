/*
 * replay.c - --replay DIR: serve a recording of a real Dragonfly master
 * (dragonfly-captures/<name>/: manifest.json and flow-<i>.bin) byte for
 * byte.  Each recorded command gets its recorded reply; a DFLY FLOW turns
 * the connection into flow i; DFLY SYNC sends every flow the first
 * bytes_before_startstable bytes of flow-<i>.bin, DFLY STARTSTABLE the
 * rest (replication.md 4).
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "client.h"
#include "resp.h"
#include "rjson.h"
#include "text.h"
#include "replay.h"

struct rmsg {
	size_t		 argc;
	struct str	*argv;
	struct obuf	 reply;		/* RESP bytes */
};

struct rflow {
	struct rmsg	 msg;
	uint8_t		*data;
	size_t		 len;
	size_t		 before;	/* bytes_before_startstable */
	struct client	*c;
	int		 sent_first;
};

static struct rmsg	*ctl;

static size_t		 nctl;

static struct rflow	*flows;

static size_t		 nflows;

/* ---------------------------------------------------------------- load */

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	uint8_t	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1) {
		fclose(f);
		return NULL;
	}
	if ((buf = malloc((size_t)n + 1)) == NULL)
		fatal("malloc");
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
reply_elem(struct obuf *b, const struct jv *v)
{
	char	 num[32];
	int	 n;

	if (v->t == J_NUM) {
		n = snprintf(num, sizeof(num), ":%lld\r\n", v->num);
		obuf_add(b, num, (size_t)n);
	} else if (v->t == J_STR) {
		/* recorded as "+TEXT" / "-ERR ..." / ":N" */
		obuf_add(b, v->s.p, v->s.len);
		obuf_add(b, "\r\n", 2);
	} else
		obuf_add(b, "$-1\r\n", 5);
}

static int
load_msg(struct rmsg *m, const struct jv *rec)
{
	const struct jv	*cmd = jget(rec, "cmd"), *rep = jget(rec, "reply");
	size_t		 i;
	char		 num[32];
	int		 n;

	if (cmd == NULL || cmd->t != J_ARR || rep == NULL)
		return -1;
	m->argc = cmd->n;
	if ((m->argv = calloc(cmd->n + 1, sizeof(*m->argv))) == NULL)
		fatal("calloc");
	for (i = 0; i < cmd->n; i++)
		m->argv[i] = str_dup(cmd->v[i].s.p, cmd->v[i].s.len);
	if (rep->t == J_ARR) {
		n = snprintf(num, sizeof(num), "*%zu\r\n", rep->n);
		obuf_add(&m->reply, num, (size_t)n);
		for (i = 0; i < rep->n; i++)
			reply_elem(&m->reply, &rep->v[i]);
	} else
		reply_elem(&m->reply, rep);
	return 0;
}

int
replay_load(const char *dir)
{
	char		 path[4096];
	uint8_t		*text;
	size_t		 len, i;
	struct jv	 root;
	struct jp	 jp;
	const struct jv	*c, *f;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if ((text = slurp(path, &len)) == NULL) {
		log_warn("replay: %s", path);
		return -1;
	}
	jp.p = (const char *)text;
	jp.end = jp.p + len;
	jp.err = NULL;
	if (jparse(&jp, &root, 0) == -1 || (c = jget(&root, "control")) ==
	    NULL || c->t != J_ARR || (f = jget(&root, "flows")) == NULL ||
	    f->t != J_ARR) {
		log_warnx("replay: %s: %s at byte %zu", path,
		    jp.err ? jp.err : "no control/flows arrays",
		    (size_t)(jp.p - (const char *)text));
		free(text);
		return -1;
	}
	nctl = c->n;
	if ((ctl = calloc(nctl + 1, sizeof(*ctl))) == NULL)
		fatal("calloc");
	for (i = 0; i < nctl; i++)
		if (load_msg(&ctl[i], &c->v[i]) == -1) {
			log_warnx("replay: %s: control[%zu] malformed", path,
			    i);
			return -1;
		}
	nflows = f->n;
	if ((flows = calloc(nflows + 1, sizeof(*flows))) == NULL)
		fatal("calloc");
	for (i = 0; i < nflows; i++) {
		const struct jv	*b = jget(&f->v[i], "bytes_before_startstable");

		if (load_msg(&flows[i].msg, &f->v[i]) == -1 || b == NULL) {
			log_warnx("replay: %s: flows[%zu] malformed", path, i);
			return -1;
		}
		flows[i].before = (size_t)b->num;
		snprintf(path, sizeof(path), "%s/flow-%zu.bin", dir, i);
		if ((flows[i].data = slurp(path, &flows[i].len)) == NULL) {
			log_warn("replay: %s", path);
			return -1;
		}
		if (flows[i].before > flows[i].len) {
			log_warnx("replay: %s shorter than its "
			    "bytes_before_startstable", path);
			return -1;
		}
	}
	jfree(&root);
	free(text);
	log_info("replay: %zu control commands, %zu flows from %s", nctl,
	    nflows, dir);
	return 0;
}

/* ---------------------------------------------------------------- serve */

static int
msg_match(const struct rmsg *m, size_t argc, char **argv, size_t *lens)
{
	size_t	 i;

	if (m->argc != argc)
		return 0;
	for (i = 0; i < argc; i++)
		if (!(i == 0 ? arg_is(argv[i], lens[i], m->argv[i].p) :
		    str_eq(&m->argv[i], argv[i], lens[i])))
			return 0;
	return 1;
}

static void
send_flows(int stable)
{
	size_t	 i;

	for (i = 0; i < nflows; i++) {
		struct rflow	*f = &flows[i];

		if (f->c == NULL)
			continue;
		if (!stable && !f->sent_first) {
			reply_raw(f->c, f->data, f->before);
			f->sent_first = 1;
		} else if (stable) {
			if (!f->sent_first)
				reply_raw(f->c, f->data, f->before);
			reply_raw(f->c, f->data + f->before,
			    f->len - f->before);
			f->sent_first = 0;
		}
	}
}

void
replay_command(struct client *c, size_t argc, char **argv, size_t *lens)
{
	size_t	 i;

	if (argc == 3 && arg_is(argv[0], lens[0], "replconf") &&
	    arg_is(argv[1], lens[1], "ack"))
		return;		/* replication.md 6.2: no reply */
	for (i = 0; i < nflows; i++)
		if (msg_match(&flows[i].msg, argc, argv, lens)) {
			flows[i].c = c;
			flows[i].sent_first = 0;
			c->replay = &flows[i];
			reply_raw(c, flows[i].msg.reply.p,
			    flows[i].msg.reply.len);
			return;
		}
	for (i = 0; i < nctl; i++)
		if (msg_match(&ctl[i], argc, argv, lens)) {
			if (arg_is(argv[0], lens[0], "dfly") &&
			    arg_is(argv[1], lens[1], "sync"))
				send_flows(0);
			if (arg_is(argv[0], lens[0], "dfly") &&
			    arg_is(argv[1], lens[1], "startstable"))
				send_flows(1);
			reply_raw(c, ctl[i].reply.p, ctl[i].reply.len);
			return;
		}
	reply_error(c, "ERR dflymaster replay: '%.*s' is not in the "
	    "recording", (int)(lens[0] > 64 ? 64 : lens[0]), argv[0]);
}

void
replay_closed(struct client *c)
{
	struct rflow	*f = c->replay;

	if (f != NULL)
		f->c = NULL;
}
