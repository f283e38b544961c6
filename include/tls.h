/*
 * tls.h - TLS on the connections to the source and to the target
 * (OpenSSL), for net.c: the settings of one side, its context (trusted
 * CAs, client certificate) loaded once per process, and one client
 * session per connected socket.
 *
 * A session belongs to the process that made it: a forked worker opens
 * its own connections and sessions; a context loaded before fork() is
 * only read afterwards.  Sockets are non-blocking: a read or write that
 * cannot go on returns -1 with errno EAGAIN and says which poll event it
 * waits for (TLS may need to write to read, or to read to write).
 */
#ifndef DF2REDIS_TLS_H
#define DF2REDIS_TLS_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include "error.h"

struct tls_conf {
	int	 enabled;
	int	 verify;		/* the peer's chain and name (1) */
	char	 ca_file[PATH_MAX];	/* "" the system's CAs */
	char	 cert_file[PATH_MAX];	/* client certificate, or "" */
	char	 key_file[PATH_MAX];	/* its key ("" the cert file) */
	char	 sni[256];		/* the name sent and verified; "" the
					   host connected to */
};

struct tls_sess;

/* Not enabled, verify on. */
void		 tls_conf_init(struct tls_conf *);
/*
 * Loads the CA, certificate and key of conf now (each process keeps the
 * context of each settings it used): a missing or bad file is ERR_CONFIG
 * naming side ("source", "target") and the file.
 */
int		 tls_load(const struct tls_conf *, const char *side,
		    struct error *);
/*
 * Handshake on a connected non-blocking socket, within timeout_ms.  A
 * certificate the settings do not trust (CA, name) is ERR_CONFIG, an
 * expired or not yet valid one ERR_AUTH, a peer that speaks no TLS or
 * fails the handshake ERR_IO; the message gives OpenSSL's reason.
 * name prefixes it ("source H:P").
 */
struct tls_sess	*tls_connect(const struct tls_conf *, int fd, const char *host,
		    const char *name, int timeout_ms, struct error *);
/* Sends close_notify (best effort) and frees the session. */
void		 tls_close(struct tls_sess *);
/* Frees it without a word: another process (fork) still uses it. */
void		 tls_drop(struct tls_sess *);
/*
 * Up to len bytes: the count, 0 at the end of the stream, -1 with errno
 * (EAGAIN: *events is what to poll for; EPROTO with tls_reason()).
 */
ssize_t		 tls_read(struct tls_sess *, void *, size_t, short *events);
ssize_t		 tls_write(struct tls_sess *, const void *, size_t,
		    short *events);
/* Whether bytes are decrypted and not read yet: no poll will tell. */
int		 tls_pending(struct tls_sess *);
/* 1 readable, 0 end of stream, -1 errno (EAGAIN), without consuming. */
int		 tls_peek(struct tls_sess *);
/* OpenSSL's reason for the last EPROTO of this session. */
const char	*tls_reason(struct tls_sess *);

#endif
