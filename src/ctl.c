/*
 * ctl.c - the control socket (ctl.h): accept, read one request line,
 * answer it through the daemon's table, close.  A request and a reply
 * each have one deadline, CTL_TIMEOUT_MS after they began, however the
 * client dribbles its bytes, so a stuck or slow client cannot stall the
 * supervisor longer.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "log.h"

/* poll one fd until the deadline; > 0 ready, 0 deadline passed, -1 error */
static int
wait_until(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return 0;
		if ((n = poll(&pfd, 1, left)) != -1 || errno != EINTR)
			return n;
	}
}

static int
make_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path))
		return -1;
	return 0;
}

int
ctl_listen(const char *path, struct error *e)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, probe;

	if (make_addr(path, &sun) == -1)
		return err_set(e, ERR_CONFIG, "%s: control socket path too "
		    "long", path);
	/* a live daemon answers; a stale socket file is replaced */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			return err_set(e, ERR_CONFIG, "%s: another df2redis "
			    "is running", path);
		}
		close(probe);
	}
	if (unlink(path) == -1 && errno != ENOENT)
		return err_set(e, ERR_SYS, "%s: %s", path, strerror(errno));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return err_set(e, ERR_SYS, "socket: %s", strerror(errno));
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		err_set(e, ERR_SYS, "%s: bind: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (listen(fd, 16) == -1) {
		err_set(e, ERR_SYS, "%s: listen: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read the request line of a client just accepted (without the newline).
 * Returns fd, or -1 when the client was dropped (answered and closed).
 */
static int
read_request(int fd, char *req, size_t reqlen)
{
	int64_t deadline;
	size_t len = 0;
	ssize_t n;
	char *nl;

	deadline = mono_ms() + CTL_TIMEOUT_MS;
	for (;;) {
		if (wait_until(fd, POLLIN, deadline) <= 0)
			break;
		n = read(fd, req + len, reqlen - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		req[len] = '\0';
		if ((nl = strchr(req, '\n')) != NULL) {
			*nl = '\0';
			if (nl > req && nl[-1] == '\r')
				nl[-1] = '\0';
			return fd;
		}
		if (len == reqlen - 1) {
			ctl_reply(fd, "error: request too long\n");
			return -1;
		}
	}
	close(fd);
	return -1;
}

int
ctl_serve(int listenfd, const struct ctl_request *table, void *arg,
    struct error *e)
{
	const struct ctl_request *r;
	char req[CTL_MAXREQ], *reqarg;
	int fd;

	if ((fd = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			err_set(e, ERR_SYS, "%s", strerror(errno));
			return CTL_EAGAIN;
		}
		return 0;
	}
	if (read_request(fd, req, sizeof(req)) == -1)
		return 0;
	if ((reqarg = strchr(req, ' ')) != NULL)
		*reqarg++ = '\0';
	log_debug("control request \"%s\"", req);
	for (r = table; r->name != NULL; r++)
		if (strcmp(req, r->name) == 0 &&
		    (reqarg != NULL) == r->has_arg) {
			r->answer(arg, fd, reqarg);
			return 0;
		}
	ctl_reply(fd, "error: unknown request\n");
	return 0;
}

void
ctl_reply(int fd, const char *text)
{
	int64_t deadline = mono_ms() + CTL_TIMEOUT_MS;
	size_t len = strlen(text);
	char junk[4096];
	ssize_t n;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (len > 0) {
		n = send(fd, text, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN &&
		    wait_until(fd, POLLOUT, deadline) > 0)
			continue;
		if (n <= 0)
			break;
		text += n;
		len -= n;
	}
	if (len == 0)
		(void)send(fd, ".\n", 2, MSG_NOSIGNAL);
	/*
	 * Unread input (the rest of a request too long) would make close()
	 * reset the connection, and the client could lose the reply.
	 */
	shutdown(fd, SHUT_WR);
	for (len = 0; len < 65536; len += n)
		if ((n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) <= 0)
			break;
	close(fd);
}

void
ctl_unlink(int listenfd, const char *path)
{
	if (listenfd == -1)
		return;
	close(listenfd);
	unlink(path);
}
