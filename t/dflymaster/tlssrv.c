/*
 * tlssrv.c - the test master's TLS sessions (tlssrv.h).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "options.h"
#include "tlssrv.h"

static SSL_CTX	*ctx;

void
tlssrv_init(void)
{
	const struct options *o = options();

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("SSL_CTX_new");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) !=
	    1 || SSL_CTX_check_private_key(ctx) != 1)
		fatalx("--tls-cert %s / --tls-key %s: %s", o->tls_cert,
		    o->tls_key, ERR_reason_error_string(ERR_get_error()));
	if (o->tls_ca == NULL)
		return;
	if (SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1)
		fatalx("--tls-ca %s: %s", o->tls_ca,
		    ERR_reason_error_string(ERR_get_error()));
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}

SSL *
tlssrv_new(int fd)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		fatalx("SSL_new");
	SSL_set_accept_state(ssl);
	return ssl;
}

void
tlssrv_free(SSL *ssl)
{
	SSL_free(ssl);
	ERR_clear_error();
}

static ssize_t
result(SSL *ssl, int rc)
{
	int	err = SSL_get_error(ssl, rc);

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (err == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (err == SSL_ERROR_SSL)
		log_info("TLS: %s", ERR_reason_error_string(ERR_peek_error()));
	ERR_clear_error();
	errno = ECONNRESET;
	return -1;
}

ssize_t
tlssrv_read(SSL *ssl, void *buf, size_t len)
{
	int	rc;

	ERR_clear_error();
	rc = SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return rc > 0 ? rc : result(ssl, rc);
}

ssize_t
tlssrv_write(SSL *ssl, const void *buf, size_t len)
{
	int	rc;

	ERR_clear_error();
	rc = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return rc > 0 ? rc : result(ssl, rc);
}
