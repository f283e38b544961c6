/*
 * imsg.c - typed, size-checked messages over a SOCK_SEQPACKET socketpair
 * (imsg.h).
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "imsg.h"

static const struct {
	size_t	min, max;
} msg_sizes[] = {
	[MSG_FLOW_REPLY] = { sizeof(struct msg_flow_reply),
	    sizeof(struct msg_flow_reply) },
	[MSG_FULLSYNC_DONE] = { sizeof(struct msg_stats),
	    sizeof(struct msg_stats) },
	[MSG_STATS] = { sizeof(struct msg_stats), sizeof(struct msg_stats) },
	[MSG_DONE] = { sizeof(struct msg_stats), sizeof(struct msg_stats) },
	[MSG_ERROR] = { sizeof(int32_t) + 1, sizeof(struct msg_error) },
	[MSG_ALLDONE] = { 0, 0 },
	[MSG_FLUSHED] = { sizeof(struct msg_flushed),
	    sizeof(struct msg_flushed) },
	[MSG_FLOW_LOST] = { sizeof(struct msg_stats),
	    sizeof(struct msg_stats) },
	[MSG_REFLOW] = { sizeof(struct msg_reflow), sizeof(struct msg_reflow) },
	[MSG_SWEPT] = { sizeof(struct msg_swept), sizeof(struct msg_swept) },
	[MSG_VERBOSE] = { sizeof(struct msg_verbose),
	    sizeof(struct msg_verbose) },
	[MSG_NODE] = { sizeof(struct msg_node), sizeof(struct msg_node) },
};
#define MSG_NTYPES	(sizeof(msg_sizes) / sizeof(msg_sizes[0]))

static int
msg_size_ok(uint32_t type, size_t len)
{
	if (type == 0 || type >= MSG_NTYPES)
		return 0;
	return len >= msg_sizes[type].min && len <= msg_sizes[type].max;
}

int
msg_send(int fd, enum msg_type type, const void *payload, size_t len,
    struct error *e)
{
	struct msg_hdr hdr;
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	if (!msg_size_ok(type, len))
		return err_set(e, ERR_PROTO, "message %u: %zu bytes of payload",
		    (unsigned)type, len);
	hdr.type = type;
	hdr.len = len;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return err_set(e, ERR_SYS, "%s", strerror(errno));
	if (n != (ssize_t)(sizeof(hdr) + len))
		return err_set(e, ERR_SYS, "message %u: short send",
		    (unsigned)type);
	return 0;
}

int
msg_recv(int fd, struct msg *m, struct error *e)
{
	ssize_t n;

	memset(m, 0, sizeof(*m));
	do {
		n = recv(fd, m, sizeof(*m), MSG_TRUNC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return err_set(e, ERR_SYS, "%s", strerror(errno));
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof(m->hdr) || (size_t)n > sizeof(*m) ||
	    m->hdr.len != (size_t)n - sizeof(m->hdr) ||
	    !msg_size_ok(m->hdr.type, m->hdr.len))
		return err_set(e, ERR_PROTO, "malformed message");
	if (m->hdr.type == MSG_ERROR && (m->u.error.kind <= ERR_NONE ||
	    m->u.error.kind >= ERR_MAX))
		return err_set(e, ERR_PROTO, "malformed message");
	if (m->hdr.type == MSG_SWEPT && (m->u.swept.kind < ERR_NONE ||
	    m->u.swept.kind >= ERR_MAX))
		return err_set(e, ERR_PROTO, "malformed message");
	if (m->hdr.type == MSG_ERROR)
		m->u.error.text[sizeof(m->u.error.text) - 1] = '\0';
	if (m->hdr.type == MSG_SWEPT)
		m->u.swept.text[sizeof(m->u.swept.text) - 1] = '\0';
	if (m->hdr.type == MSG_FLOW_REPLY)
		m->u.reply.token[DFLY_ID_LEN] = '\0';
	if (m->hdr.type == MSG_NODE)
		m->u.node.name[sizeof(m->u.node.name) - 1] = '\0';
	if (m->hdr.type == MSG_REFLOW) {
		m->u.reflow.m.replid[DFLY_ID_LEN] = '\0';
		m->u.reflow.m.syncid[sizeof(m->u.reflow.m.syncid) - 1] = '\0';
		m->u.reflow.m.lineage[DFLY_ID_LEN] = '\0';
	}
	return 1;
}

const char *
msg_phase_name(enum flow_phase p)
{
	switch (p) {
	case PHASE_START:	return "connect";
	case PHASE_WAIT_SYNC:	return "wait-sync";
	case PHASE_FULL_SYNC:	return "full-sync";
	case PHASE_BARRIER:	return "barrier";
	case PHASE_TRAILER:	return "trailer";
	case PHASE_DONE:	return "done";
	case PHASE_STABLE:	return "stable";
	case PHASE_SWEEP:	return "sweep";
	case PHASE_FAILED:	return "failed";
	}
	return "unknown";
}
