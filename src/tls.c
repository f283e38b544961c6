/*
 * tls.c - TLS client sessions over OpenSSL (tls.h).
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define MAX_CTX		4	/* source and target, and a reload each */

struct tls_sess {
	SSL	*ssl;
	int	 failed;
	char	 reason[256];
};

static struct {
	struct tls_conf	 conf;
	SSL_CTX		*ctx;
} ctxs[MAX_CTX];
static int nctx;

void
tls_conf_init(struct tls_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->verify = 1;
}

/* The oldest error OpenSSL queued, as its reason text; clears the queue. */
static void
ssl_reason(char *buf, size_t len)
{
	unsigned long	 code = ERR_get_error();
	const char	*r;

	if (code == 0) {
		strlcpy(buf, "unknown error", len);
		return;
	}
	if ((r = ERR_reason_error_string(code)) != NULL)
		strlcpy(buf, r, len);
	else
		ERR_error_string_n(code, buf, len);
	ERR_clear_error();
}

static int
file_error(const char *side, const char *what, const char *path,
    struct error *e)
{
	char	reason[256];

	if (access(path, R_OK) == -1)
		return err_set(e, ERR_CONFIG, "%s: %s %s: %s", side, what,
		    path, strerror(errno));
	ssl_reason(reason, sizeof(reason));
	return err_set(e, ERR_CONFIG, "%s: %s %s: %s", side, what, path,
	    reason);
}

static SSL_CTX *
make_ctx(const struct tls_conf *c, const char *side, struct error *e)
{
	SSL_CTX		*ctx;
	const char	*key;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		err_set(e, ERR_SYS, "%s: TLS: out of memory", side);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a peer that closes without close_notify (Redis does) is an EOF */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	if (c->ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
			file_error(side, "tls-ca-file", c->ca_file, e);
			goto bad;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		err_set(e, ERR_CONFIG, "%s: TLS: the system's CA certificates "
		    "cannot be loaded", side);
		goto bad;
	}
	if (c->cert_file[0] != '\0') {
		key = c->key_file[0] != '\0' ? c->key_file : c->cert_file;
		if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) !=
		    1) {
			file_error(side, "tls-cert-file", c->cert_file, e);
			goto bad;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) !=
		    1) {
			file_error(side, "tls-key-file", key, e);
			goto bad;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			file_error(side, "tls-key-file", key, e);
			goto bad;
		}
	} else if (c->key_file[0] != '\0') {
		err_set(e, ERR_CONFIG, "%s: tls-key-file without "
		    "tls-cert-file", side);
		goto bad;
	}
	return ctx;
 bad:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
conf_eq(const struct tls_conf *a, const struct tls_conf *b)
{
	return a->verify == b->verify && strcmp(a->ca_file, b->ca_file) == 0 &&
	    strcmp(a->cert_file, b->cert_file) == 0 &&
	    strcmp(a->key_file, b->key_file) == 0;
}

static SSL_CTX *
get_ctx(const struct tls_conf *c, const char *side, struct error *e)
{
	SSL_CTX	*ctx;
	int	 i;

	for (i = 0; i < nctx; i++)
		if (conf_eq(&ctxs[i].conf, c))
			return ctxs[i].ctx;
	if ((ctx = make_ctx(c, side, e)) == NULL)
		return NULL;
	if (nctx == MAX_CTX) {
		SSL_CTX_free(ctxs[0].ctx);
		memmove(&ctxs[0], &ctxs[1], sizeof(ctxs[0]) * (MAX_CTX - 1));
		nctx--;
	}
	ctxs[nctx].conf = *c;
	ctxs[nctx++].ctx = ctx;
	return ctx;
}

int
tls_load(const struct tls_conf *c, const char *side, struct error *e)
{
	struct sigaction	sa;

	/* OpenSSL writes with write(2): a closed peer must not kill us */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	return get_ctx(c, side, e) == NULL ? -1 : 0;
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
is_address(const char *s)
{
	unsigned char	buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/* The name sent (SNI, unless an address) and checked in the certificate. */
static int
set_peer(SSL *ssl, const struct tls_conf *c, const char *host)
{
	const char	*peer = c->sni[0] != '\0' ? c->sni : host;

	if (!is_address(peer) && SSL_set_tlsext_host_name(ssl, peer) != 1)
		return -1;
	if (!c->verify)
		return 0;
	if (is_address(peer))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    peer) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, peer) == 1 ? 0 : -1;
}

/* Why the handshake failed, and whether trying again may help. */
static int
handshake_error(SSL *ssl, int rc, const char *name, struct error *e)
{
	char	reason[256];
	long	vr = SSL_get_verify_result(ssl);
	int	err = SSL_get_error(ssl, rc), saved = errno;

	if (vr != X509_V_OK) {
		ERR_clear_error();
		/* a certificate renewed on the server passes next time */
		return err_set(e, vr == X509_V_ERR_CERT_HAS_EXPIRED ||
		    vr == X509_V_ERR_CERT_NOT_YET_VALID ? ERR_IO : ERR_CONFIG,
		    "%s: TLS handshake: certificate verify failed: %s", name,
		    X509_verify_cert_error_string(vr));
	}
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		if (rc == 0 || saved == 0)
			return err_set(e, ERR_IO, "%s: TLS handshake: the peer "
			    "closed the connection (not a TLS port?)", name);
		return err_set(e, ERR_IO, "%s: TLS handshake: %s", name,
		    strerror(saved));
	}
	ssl_reason(reason, sizeof(reason));
	if (strcmp(reason, "wrong version number") == 0 ||
	    strcmp(reason, "packet length too long") == 0 ||
	    strcmp(reason, "record layer failure") == 0)
		return err_set(e, ERR_IO, "%s: TLS handshake: %s (not a TLS "
		    "port?)", name, reason);
	return err_set(e, ERR_IO, "%s: TLS handshake: %s", name, reason);
}

struct tls_sess *
tls_connect(const struct tls_conf *c, int fd, const char *host,
    const char *name, int timeout_ms, struct error *e)
{
	struct tls_sess	*s;
	struct pollfd	 pfd;
	SSL_CTX		*ctx;
	int64_t		 deadline = now_ms() + timeout_ms, left;
	int		 rc, err;

	if ((ctx = get_ctx(c, name, e)) == NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ssl = SSL_new(ctx)) == NULL) {
		free(s);
		err_set(e, ERR_SYS, "%s: TLS: out of memory", name);
		return NULL;
	}
	if (SSL_set_fd(s->ssl, fd) != 1 || set_peer(s->ssl, c, host) == -1) {
		ssl_reason(s->reason, sizeof(s->reason));
		err_set(e, ERR_CONFIG, "%s: TLS: peer name \"%s\": %s", name,
		    c->sni[0] != '\0' ? c->sni : host, s->reason);
		goto bad;
	}
	ERR_clear_error();
	while ((rc = SSL_connect(s->ssl)) != 1) {
		err = SSL_get_error(s->ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			handshake_error(s->ssl, rc, name, e);
			goto bad;
		}
		pfd.fd = fd;
		pfd.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if ((left = deadline - now_ms()) <= 0 ||
		    (rc = poll(&pfd, 1, (int)left)) == 0) {
			err_set(e, ERR_IO, "%s: TLS handshake: no answer "
			    "within %d ms (not a TLS port?)", name, timeout_ms);
			goto bad;
		}
		if (rc == -1 && errno != EINTR) {
			err_set(e, ERR_SYS, "%s: poll: %s", name,
			    strerror(errno));
			goto bad;
		}
	}
	return s;
 bad:
	SSL_free(s->ssl);
	free(s);
	return NULL;
}

void
tls_close(struct tls_sess *s)
{
	if (s == NULL)
		return;
	if (!s->failed)
		(void)SSL_shutdown(s->ssl);
	ERR_clear_error();
	SSL_free(s->ssl);
	free(s);
}

void
tls_drop(struct tls_sess *s)
{
	if (s == NULL)
		return;
	s->failed = 1;
	tls_close(s);
}

/* An I/O call's result as read(2)'s: -1 with errno set. */
static ssize_t
io_error(struct tls_sess *s, int rc, short *events)
{
	int	err = SSL_get_error(s->ssl, rc), saved = errno;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			s->failed = 1;
			errno = saved != 0 ? saved : ECONNRESET;
			return -1;
		}
		break;
	}
	s->failed = 1;
	ssl_reason(s->reason, sizeof(s->reason));
	errno = EPROTO;
	return -1;
}

ssize_t
tls_read(struct tls_sess *s, void *buf, size_t len, short *events)
{
	size_t	got = 0;
	int	rc;

	if (s->failed) {
		errno = EPROTO;
		return -1;
	}
	*events = POLLIN;
	/* what is decrypted already, too: no poll would say it is there */
	do {
		ERR_clear_error();
		rc = SSL_read(s->ssl, (char *)buf + got, (int)(len - got >
		    INT_MAX ? INT_MAX : len - got));
		if (rc <= 0)
			return got > 0 ? (ssize_t)got : io_error(s, rc, events);
		got += (size_t)rc;
	} while (got < len && SSL_pending(s->ssl) > 0);
	return (ssize_t)got;
}

/*
 * The peer reset the connection under a write: the alert it sent first
 * (TLS 1.3 refuses a client certificate after our side of the
 * handshake) is still queued, and says why.
 */
static void
closed_why(struct tls_sess *s)
{
	char	c;
	int	saved = errno;

	ERR_clear_error();
	if (SSL_read(s->ssl, &c, 1) <= 0 && ERR_peek_error() != 0) {
		ssl_reason(s->reason, sizeof(s->reason));
		errno = EPROTO;
		return;
	}
	ERR_clear_error();
	errno = saved;
}

ssize_t
tls_write(struct tls_sess *s, const void *buf, size_t len, short *events)
{
	int	rc;

	if (s->failed) {
		errno = EPROTO;
		return -1;
	}
	*events = POLLOUT;
	ERR_clear_error();
	rc = SSL_write(s->ssl, buf, (int)(len > INT_MAX ? INT_MAX : len));
	if (rc > 0)
		return rc;
	if (io_error(s, rc, events) == -1 && (errno == ECONNRESET ||
	    errno == EPIPE))
		closed_why(s);
	return -1;
}

int
tls_pending(struct tls_sess *s)
{
	return s != NULL && !s->failed && SSL_pending(s->ssl) > 0;
}

int
tls_peek(struct tls_sess *s)
{
	short	events;
	char	c;
	int	rc;

	if (s->failed) {
		errno = EPROTO;
		return -1;
	}
	ERR_clear_error();
	if ((rc = SSL_peek(s->ssl, &c, 1)) > 0)
		return 1;
	return (int)io_error(s, rc, &events);
}

const char *
tls_reason(struct tls_sess *s)
{
	return s->reason[0] != '\0' ? s->reason : "TLS failure";
}
