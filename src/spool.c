/*
 * spool.c - stream bytes waiting for a slow target: memory, then files.
 *
 * The file part is a list of segments, PATH.1, PATH.2, ...: bytes are
 * appended to the last one, read from the first one, and a segment read
 * to its end is removed, so the disk holds what waits and not the whole
 * history of a long outage.  Each record is a 12-byte header, the payload
 * length (32 bits) and the CRC-64 of the payload, both little-endian,
 * then the payload.
 */
#include <sys/queue.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "crc64.h"
#include "log.h"
#include "spool.h"

#define HDR_LEN		12
#define MEM_CHUNK	(64 * 1024)
#define SEGMENT_MAX	(64ULL << 20)	/* a new file beyond this */

struct chunk {
	TAILQ_ENTRY(chunk)	 entry;
	size_t			 rpos, len;
	char			 data[MEM_CHUNK];
};

struct segment {
	TAILQ_ENTRY(segment)	 entry;
	unsigned int		 seq;
	int			 fd;
	uint64_t		 size;	/* bytes written, headers included */
	uint64_t		 rd;	/* offset of the next record to read */
};

struct spool {
	char			 path[PATH_MAX];
	size_t			 mem_max;
	uint64_t		 file_max;
	TAILQ_HEAD(chunkq, chunk) mem;
	size_t			 mem_bytes;
	TAILQ_HEAD(segq, segment) segs;
	unsigned int		 next_seq;
	uint64_t		 disk;		/* bytes in the segments */
	uint64_t		 file_bytes;	/* payload not yet served */
	char			*rec;		/* the record being served */
	size_t			 rec_pos, rec_len;
};

static void
seg_name(const struct spool *sp, unsigned int seq, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s.%u", sp->path, seq) >= len)
		buf[0] = '\0';	/* spool_open() leaves room for it */
}

/* Segments a dead worker left behind: PATH.N */
static int
remove_leftovers(const struct spool *sp, struct error *e)
{
	char dir[PATH_MAX];
	const char *base, *slash;
	struct dirent *de;
	size_t blen;
	DIR *d;

	if ((slash = strrchr(sp->path, '/')) == NULL) {
		strlcpy(dir, ".", sizeof(dir));
		base = sp->path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sp->path),
		    sp->path);
		base = slash + 1;
	}
	blen = strlen(base);
	if ((d = opendir(dir)) == NULL)
		return err_set(e, ERR_SYS, "spool %s: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    de->d_name[blen] != '.' ||
		    strspn(de->d_name + blen + 1, "0123456789") !=
		    strlen(de->d_name + blen + 1) || de->d_name[blen + 1] == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT) {
			err_set(e, ERR_SYS, "spool %s/%s: %s", dir, de->d_name,
			    strerror(errno));
			closedir(d);
			return -1;
		}
		log_info("spool %s/%s: left by an earlier worker, removed",
		    dir, de->d_name);
	}
	closedir(d);
	return 0;
}

struct spool *
spool_open(const struct spool_opts *o, struct error *e)
{
	struct spool *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		err_set(e, ERR_SYS, "spool: out of memory");
		return NULL;
	}
	if (strlcpy(sp->path, o->path, sizeof(sp->path)) >= sizeof(sp->path)
	    - 16) {
		err_set(e, ERR_CONFIG, "spool %s: path too long", o->path);
		free(sp);
		return NULL;
	}
	sp->mem_max = o->mem_max;
	sp->file_max = o->file_max;
	sp->next_seq = 1;
	TAILQ_INIT(&sp->mem);
	TAILQ_INIT(&sp->segs);
	if (remove_leftovers(sp, e) == -1) {
		free(sp);
		return NULL;
	}
	return sp;
}

static void
seg_drop(struct spool *sp, struct segment *sg)
{
	char name[PATH_MAX];

	TAILQ_REMOVE(&sp->segs, sg, entry);
	close(sg->fd);
	seg_name(sp, sg->seq, name, sizeof(name));
	(void)unlink(name);
	sp->disk -= sg->size;
	free(sg);
}

int
spool_clear(struct spool *sp, struct error *e)
{
	struct chunk *c;
	struct segment *sg;

	(void)e;
	while ((c = TAILQ_FIRST(&sp->mem)) != NULL) {
		TAILQ_REMOVE(&sp->mem, c, entry);
		free(c);
	}
	sp->mem_bytes = 0;
	while ((sg = TAILQ_FIRST(&sp->segs)) != NULL)
		seg_drop(sp, sg);
	free(sp->rec);
	sp->rec = NULL;
	sp->rec_pos = sp->rec_len = 0;
	sp->file_bytes = 0;
	return 0;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	(void)spool_clear(sp, NULL);
	free(sp);
}

static int
mem_put(struct spool *sp, const char *p, size_t n, struct error *e)
{
	struct chunk *c;
	size_t k;

	while (n > 0) {
		c = TAILQ_LAST(&sp->mem, chunkq);
		if (c == NULL || c->len == MEM_CHUNK) {
			if ((c = malloc(sizeof(*c))) == NULL)
				return err_set(e, ERR_SYS, "spool: out of "
				    "memory");
			c->rpos = c->len = 0;
			TAILQ_INSERT_TAIL(&sp->mem, c, entry);
		}
		k = MEM_CHUNK - c->len < n ? MEM_CHUNK - c->len : n;
		memcpy(c->data + c->len, p, k);
		c->len += k;
		sp->mem_bytes += k;
		p += k;
		n -= k;
	}
	return 0;
}

static struct segment *
seg_new(struct spool *sp, struct error *e)
{
	char name[PATH_MAX];
	struct segment *sg;

	if ((sg = calloc(1, sizeof(*sg))) == NULL) {
		err_set(e, ERR_SYS, "spool: out of memory");
		return NULL;
	}
	sg->seq = sp->next_seq++;
	seg_name(sp, sg->seq, name, sizeof(name));
	sg->fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (sg->fd == -1) {
		err_set(e, ERR_SYS, "spool %s: %s", name, strerror(errno));
		free(sg);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&sp->segs, sg, entry);
	return sg;
}

static int
file_put(struct spool *sp, const char *p, size_t n, struct error *e)
{
	unsigned char hdr[HDR_LEN];
	struct segment *sg;
	struct iovec iov[2];
	char name[PATH_MAX];
	ssize_t w;
	size_t k;

	while (n > 0) {
		k = n < SPOOL_RECORD ? n : SPOOL_RECORD;
		sg = TAILQ_LAST(&sp->segs, segq);
		if ((sg == NULL || sg->size >= SEGMENT_MAX) &&
		    (sg = seg_new(sp, e)) == NULL)
			return -1;
		put_le32(hdr, (uint32_t)k);
		put_le64(hdr + 4, crc64(0, p, k));
		iov[0].iov_base = hdr;
		iov[0].iov_len = HDR_LEN;
		iov[1].iov_base = (void *)(uintptr_t)p;
		iov[1].iov_len = k;
		do {
			w = pwritev(sg->fd, iov, 2, (off_t)sg->size);
		} while (w == -1 && errno == EINTR);
		if (w != (ssize_t)(HDR_LEN + k)) {
			seg_name(sp, sg->seq, name, sizeof(name));
			/* a short write leaves a torn record: never read */
			if (w >= 0 && ftruncate(sg->fd, (off_t)sg->size) == -1)
				log_warn("spool %s: truncate", name);
			return err_set(e, ERR_SYS, "spool %s: write at byte "
			    "%llu: %s", name, (unsigned long long)sg->size,
			    w == -1 ? strerror(errno) : "short write");
		}
		sg->size += HDR_LEN + k;
		sp->disk += HDR_LEN + k;
		sp->file_bytes += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Whether the file part is empty: new bytes may go to memory. */
static int
file_empty(const struct spool *sp)
{
	return sp->file_bytes == 0;
}

int
spool_put(struct spool *sp, const void *data, size_t n, struct error *e)
{
	uint64_t need;

	if (n == 0)
		return 0;
	if (file_empty(sp) && sp->mem_bytes + n <= sp->mem_max)
		return mem_put(sp, data, n, e);
	need = n + HDR_LEN * ((n + SPOOL_RECORD - 1) / SPOOL_RECORD);
	if (sp->disk + need > sp->file_max)
		return SPOOL_FULL;
	return file_put(sp, data, n, e);
}

static ssize_t
mem_get(struct spool *sp, char *buf, size_t max)
{
	struct chunk *c = TAILQ_FIRST(&sp->mem);
	size_t k = c->len - c->rpos;

	if (k > max)
		k = max;
	memcpy(buf, c->data + c->rpos, k);
	c->rpos += k;
	sp->mem_bytes -= k;
	if (c->rpos == c->len) {
		TAILQ_REMOVE(&sp->mem, c, entry);
		free(c);
	}
	return (ssize_t)k;
}

static int
full_pread(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t r;
	size_t got = 0;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		got += r;
	}
	return 1;
}

/* The next record of the first segment into sp->rec. */
static int
read_record(struct spool *sp, struct error *e)
{
	struct segment *sg = TAILQ_FIRST(&sp->segs);
	unsigned char hdr[HDR_LEN];
	char name[PATH_MAX];
	uint32_t len;
	int r;

	while (sg->rd == sg->size) {	/* read to its end: the next one */
		seg_drop(sp, sg);
		sg = TAILQ_FIRST(&sp->segs);
	}
	seg_name(sp, sg->seq, name, sizeof(name));
	if ((r = full_pread(sg->fd, hdr, HDR_LEN, sg->rd)) != 1)
		goto bad_read;
	len = le32(hdr);
	if (len == 0 || len > SPOOL_RECORD || sg->rd + HDR_LEN + len > sg->size)
		return err_set(e, ERR_DATA, "spool %s: record at byte %llu: "
		    "bad length %u", name, (unsigned long long)sg->rd, len);
	if (sp->rec == NULL && (sp->rec = malloc(SPOOL_RECORD)) == NULL)
		return err_set(e, ERR_SYS, "spool: out of memory");
	if ((r = full_pread(sg->fd, sp->rec, len, sg->rd + HDR_LEN)) != 1)
		goto bad_read;
	if (crc64(0, sp->rec, len) != le64(hdr + 4))
		return err_set(e, ERR_DATA, "spool %s: record at byte %llu: "
		    "checksum mismatch", name, (unsigned long long)sg->rd);
	sg->rd += HDR_LEN + len;
	sp->rec_pos = 0;
	sp->rec_len = len;
	return 0;
bad_read:
	return err_set(e, r == 0 ? ERR_DATA : ERR_SYS, "spool %s: read at "
	    "byte %llu: %s", name, (unsigned long long)sg->rd,
	    r == 0 ? "the file ends early" : strerror(errno));
}

ssize_t
spool_get(struct spool *sp, void *buf, size_t max, struct error *e)
{
	struct segment *sg;
	size_t k;

	if (max == 0)
		return 0;
	if (!TAILQ_EMPTY(&sp->mem))
		return mem_get(sp, buf, max);
	if (sp->rec_pos == sp->rec_len) {
		if (sp->file_bytes == 0)
			return 0;
		if (read_record(sp, e) == -1)
			return -1;
	}
	k = sp->rec_len - sp->rec_pos;
	if (k > max)
		k = max;
	memcpy(buf, sp->rec + sp->rec_pos, k);
	sp->rec_pos += k;
	sp->file_bytes -= k;
	/* all read back: the disk is given back and memory takes over */
	if (sp->file_bytes == 0)
		while ((sg = TAILQ_FIRST(&sp->segs)) != NULL)
			seg_drop(sp, sg);
	return (ssize_t)k;
}

uint64_t
spool_bytes(const struct spool *sp)
{
	return sp->mem_bytes + sp->file_bytes;
}

uint64_t
spool_file_bytes(const struct spool *sp)
{
	return sp->file_bytes;
}
