// SPDX-License-Identifier: GPL-2.0
/*
 * O_DIRECT reads and writes on a network or FUSE file system, from buffers
 * of every kind GUP handles, checked byte for byte and against the pin
 * counters.
 *
 *   dio_pin -d DIR [-k CMD]      files in DIR (an NFS mount, say); -k: at
 *                                the end, run CMD to take the server away
 *                                (soft mount), then I/O must fail cleanly
 *   dio_pin -F [-s]              our own FUSE server, over /dev/fuse;
 *                                -s: it reads requests and writes replies
 *                                with splice() and vmsplice()
 *
 * Each case writes a pattern with O_DIRECT from a buffer (anonymous, THP,
 * hugetlb, MAP_SHARED of a tmpfs file), at aligned and unaligned file and
 * buffer offsets, from one page to several MiB, reads it back with O_DIRECT
 * into a second buffer of the same kind, and compares every byte with the
 * reference, and the bytes around the buffer with what they were.  The
 * user pages of both must have been pinned (nr_foll_pin_acquired grows by
 * at least one per page) and every pin released when the call returns
 * (nr_foll_pin_released catches up).
 *
 * Then the failures: a file truncated underneath (a short read), a buffer
 * with a hole (EFAULT or a short transfer, never a leak) and the server
 * gone: with -F killed while a read waits for it, with -k stopped by CMD
 * before a read and a write; they fail, and the pins go.
 * With -F, the server's own buffers: the kernel copies requests into them
 * and replies out of them, and those pages must be pinned too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "../kselftest.h"
#include "vm_util.h"

static size_t pagesize, thpsize, hugetlbsize;
static const char *dir;
static bool have_counters;

/* ------------------------------------------------------------ results */

struct check {
	bool ok;
	char why[240];
};

static bool __printf(3, 4)
check(struct check *c, bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	if (c->ok) {
		va_start(ap, fmt);
		vsnprintf(c->why, sizeof(c->why), fmt, ap);
		va_end(ap);
	}
	c->ok = false;
	return false;
}

static void report(const struct check *c, const char *name)
{
	if (!c->ok)
		ksft_print_msg("%s: %s\n", name, c->why);
	ksft_test_result(c->ok, "%s\n", name);
}

struct pins {
	long acquired, released;
};

static void pins_now(struct pins *p)
{
	if (read_pin_counters(&p->acquired, &p->released) < 0) {
		p->acquired = 0;
		p->released = 0;
	}
}

/*
 * At least @min pins taken since @from, and as many released: the I/O is
 * over when the system call returns, so are its pins (a moment is allowed
 * for deferred work, such as the release of an aborted FUSE request).
 */
static bool pins_balanced(struct check *c, const struct pins *from, long min,
			  const char *when)
{
	long acquired, released;
	struct pins now;
	int tries = 100;

	if (!have_counters)
		return true;
	for (;;) {
		pins_now(&now);
		acquired = now.acquired - from->acquired;
		released = now.released - from->released;
		if (acquired == released || !--tries)
			break;
		usleep(20000);
	}
	check(c, acquired >= min,
	      "%s: %ld pins taken, expected at least %ld (one per page)",
	      when, acquired, min);
	return check(c, acquired == released,
		     "%s: %ld pins taken, %ld released", when, acquired,
		     released);
}

/* ------------------------------------------------------------ buffers */

enum buf_kind { ANON, THP, HUGETLB, SHARED, NR_KINDS };
static const char * const kind_name[] = { "anon", "THP", "hugetlb",
					  "MAP_SHARED tmpfs file" };

struct buf {
	char *map;		/* the mapping */
	size_t maplen;
	char *p;		/* where the I/O goes, inside it */
};

#define GUARD	0x5a

/*
 * A mapping of @kind with room for @len bytes at offset @off and a guard
 * page's worth before and after, all filled with GUARD; false (and a
 * reason) if that fails.  *@unavailable: it failed because the system has
 * no such memory to give (no free huge page, no THP), not because of a bug.
 */
static bool buf_map_kind(struct buf *b, enum buf_kind kind, size_t len,
			 size_t off, struct check *c, bool *unavailable)
{
	size_t need = len + off + 2 * pagesize, align = pagesize;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
	char *raw;

	memset(b, 0, sizeof(*b));
	if (kind == THP)
		align = thpsize;
	if (kind == HUGETLB) {
		align = hugetlbsize;
		flags |= MAP_HUGETLB;
	}
	b->maplen = (need + align - 1) / align * align;
	if (kind == SHARED) {
		fd = memfd_create("dio_pin", 0);
		if (fd < 0 || ftruncate(fd, b->maplen))
			return check(c, false, "memfd: %s", strerror(errno));
		b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0);
		close(fd);
	} else if (kind == THP) {
		raw = mmap(NULL, b->maplen + align, PROT_READ | PROT_WRITE,
			   flags, -1, 0);
		if (raw == MAP_FAILED)
			return check(c, false, "mmap: %s", strerror(errno));
		b->map = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
		if (b->map > raw)
			munmap(raw, b->map - raw);
		munmap(b->map + b->maplen, raw + align - b->map);
		if (madvise(b->map, b->maplen, MADV_HUGEPAGE))
			return check(c, false, "MADV_HUGEPAGE: %s",
				     strerror(errno));
	} else {
		b->map = mmap(NULL, b->maplen, PROT_READ | PROT_WRITE, flags,
			      -1, 0);
	}
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		*unavailable = kind == HUGETLB && errno == ENOMEM;
		return check(c, false, "mmap %s: %s", kind_name[kind],
			     strerror(errno));
	}
	memset(b->map, GUARD, b->maplen);
	if (kind == THP && !check_huge_anon(b->map, b->maplen / thpsize,
					    thpsize)) {
		*unavailable = true;
		return check(c, false, "no THP could be allocated");
	}
	b->p = b->map + pagesize + off;
	return true;
}

static bool buf_map(struct buf *b, enum buf_kind kind, size_t len, size_t off,
		    struct check *c)
{
	bool unavailable = false;

	return buf_map_kind(b, kind, len, off, c, &unavailable);
}

static void buf_unmap(struct buf *b)
{
	if (b->map)
		munmap(b->map, b->maplen);
	b->map = NULL;
}

/* The guard bytes around [p, p + len) are intact. */
static bool guards_intact(struct check *c, const struct buf *b, size_t len)
{
	const char *end = b->map + b->maplen;
	const char *q;

	for (q = b->map; q < b->p; q++)
		if (*q != GUARD)
			return check(c, false, "byte %td before the buffer changed",
				     b->p - q);
	for (q = b->p + len; q < end; q++)
		if (*q != GUARD)
			return check(c, false, "byte %td after the buffer changed",
				     q - b->p - (ptrdiff_t)len);
	return true;
}

/* Byte @i of the file's reference content in round @seed. */
static inline char pattern(unsigned long i, int seed)
{
	return (char)((i * 7 + (i >> 12) * 13 + seed * 31) & 0xff);
}

static void fill(char *p, size_t len, size_t foff, int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(foff + i, seed);
}

static bool matches(struct check *c, const char *p, size_t len, size_t foff,
		    int seed, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(foff + i, seed))
			return check(c, false,
				     "%s: byte %zu (file offset %zu) is 0x%02x, expected 0x%02x",
				     what, i, foff + i, p[i] & 0xff,
				     pattern(foff + i, seed) & 0xff);
	return true;
}

static size_t pages_spanned(const char *p, size_t len)
{
	uintptr_t s = (uintptr_t)p & ~(pagesize - 1);

	return ((uintptr_t)p + len - s + pagesize - 1) / pagesize;
}

/* ---------------------------------------------------------------- I/O */

static char path_buf[PATH_MAX];

static const char *path(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static ssize_t pwrite_full(int fd, const char *p, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, p + done, len - done, off + done);
		if (n <= 0)
			return done ? (ssize_t)done : n;
		done += n;
	}
	return done;
}

/*
 * Write with O_DIRECT from a @kind buffer at buffer offset @boff, read back
 * with O_DIRECT into a second one, compare.
 */
static void test_rw(enum buf_kind kind, size_t len, size_t foff, size_t boff)
{
	struct check c = { .ok = true };
	bool unavailable = false;
	struct buf w = { 0 }, r = { 0 };
	struct pins p0;
	char name[200];
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name),
		 "%s: O_DIRECT write and read of %zu bytes at file offset %zu, buffer offset %zu",
		 kind_name[kind], len, foff, boff);
	if ((kind == HUGETLB && !hugetlbsize) || (kind == THP && !thpsize)) {
		ksft_test_result_skip("%s (no %s pages)\n", name,
				      kind_name[kind]);
		return;
	}
	if (!buf_map_kind(&w, kind, len, boff, &c, &unavailable) ||
	    !buf_map_kind(&r, kind, len, boff, &c, &unavailable)) {
		if (unavailable)
			ksft_test_result_skip("%s (%s)\n", name, c.why);
		else
			report(&c, name);
		buf_unmap(&w);
		buf_unmap(&r);
		return;
	}
	fd = open(path("drw"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open O_DIRECT: %s", strerror(errno)))
		goto out;
	fill(w.p, len, foff, (int)len);

	pins_now(&p0);
	n = pwrite_full(fd, w.p, len, foff);
	check(&c, n == (ssize_t)len, "write: %zd of %zu bytes (%s)", n, len,
	      n < 0 ? strerror(errno) : "short");
	pins_balanced(&c, &p0, pages_spanned(w.p, len), "write");

	pins_now(&p0);
	n = pread(fd, r.p, len, foff);
	check(&c, n == (ssize_t)len, "read: %zd of %zu bytes (%s)", n, len,
	      n < 0 ? strerror(errno) : "short");
	pins_balanced(&c, &p0, pages_spanned(r.p, len), "read");
	if (n == (ssize_t)len)
		matches(&c, r.p, len, foff, (int)len, "read back");
	guards_intact(&c, &r, len);
	matches(&c, w.p, len, foff, (int)len, "the written buffer");
	close(fd);
out:
	buf_unmap(&w);
	buf_unmap(&r);
	report(&c, name);
}

/*
 * A file truncated between two O_DIRECT reads: the second one is short and
 * stops at the new end of file.
 */
static void test_truncated(void)
{
	struct check c = { .ok = true };
	size_t len = 1 << 20, cut = 100 * 1024 + 7;
	const char *name = "a file truncated underneath: a short read, up to the new end";
	struct buf b;
	struct pins p0;
	int fd, fd2;
	ssize_t n;

	if (!buf_map(&b, ANON, len, 0, &c)) {
		report(&c, name);
		return;
	}
	fd = open(path("dtrunc"), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	fd2 = open(path("dtrunc"), O_RDWR);
	if (!check(&c, fd >= 0 && fd2 >= 0, "open: %s", strerror(errno)))
		goto out;
	fill(b.p, len, 0, 5);
	check(&c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len, "write: %s",
	      strerror(errno));
	memset(b.p, 0, len);
	n = pread(fd, b.p, len, 0);
	check(&c, n == (ssize_t)len, "read before the truncation: %zd", n);
	check(&c, ftruncate(fd2, cut) == 0, "ftruncate: %s", strerror(errno));
	memset(b.p, GUARD, len);
	pins_now(&p0);
	n = pread(fd, b.p, len, 0);
	check(&c, n == (ssize_t)cut, "read after the truncation: %zd bytes, expected %zu",
	      n, cut);
	pins_balanced(&c, &p0, 1, "read after the truncation");
	if (n > 0)
		matches(&c, b.p, n, 0, 5, "the part before the new end");
	n = pread(fd, b.p, len, cut + pagesize);
	check(&c, n == 0, "read beyond the end: %zd, expected 0", n);
out:
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	buf_unmap(&b);
	report(&c, name);
}

/*
 * A buffer of 8 pages with the 5th inaccessible: a write and a read with
 * O_DIRECT either fail with EFAULT or stop at the hole; what was transferred
 * is right, and every pin taken is released.
 */
static void test_hole(bool write)
{
	struct check c = { .ok = true };
	size_t len = 8 * pagesize, hole = 4 * pagesize;
	char name[120];
	struct buf b;
	struct pins p0;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name),
		 "a hole in the buffer, O_DIRECT %s: EFAULT or short, no pin left",
		 write ? "write" : "read");
	if (!buf_map(&b, ANON, len, 0, &c)) {
		report(&c, name);
		return;
	}
	fd = open(path("dhole"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open: %s", strerror(errno)))
		goto out;
	fill(b.p, len, 0, 9);
	check(&c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len, "write: %s",
	      strerror(errno));
	fill(b.p, len, 0, 10);
	/* PROT_NONE rather than unmapped: nothing can be mapped there later */
	mprotect(b.p + hole, pagesize, PROT_NONE);
	pins_now(&p0);
	if (write)
		n = pwrite(fd, b.p, len, 0);
	else
		n = pread(fd, b.p, len, 0);
	check(&c, (n < 0 && errno == EFAULT) || (n >= 0 && n <= (ssize_t)hole),
	      "%zd (%s), expected EFAULT or at most %zu bytes", n,
	      n < 0 ? strerror(errno) : "bytes", hole);
	pins_balanced(&c, &p0, 0, write ? "write" : "read");
	if (!write && n > 0)
		matches(&c, b.p, n, 0, 9, "what was read");
	if (write && n > 0) {
		/* what was written is in the file, the rest is as before */
		struct buf r;

		if (buf_map(&r, ANON, len, 0, &c)) {
			if (check(&c, pread(fd, r.p, len, 0) == (ssize_t)len,
				  "read back: %s", strerror(errno))) {
				matches(&c, r.p, n, 0, 10, "written part");
				matches(&c, r.p + n, len - n, n, 9,
					"the part after it");
			}
			buf_unmap(&r);
		}
	}
	close(fd);
out:
	munmap(b.map, b.maplen);
	report(&c, name);
}

/* ------------------------------------------------------- FUSE server */

/*
 * A minimal FUSE file system: a flat root directory whose files live in
 * memfds.  Files named d* are opened with FOPEN_DIRECT_IO, the others go
 * through the page cache.  A file whose name has "stall" in it never gets
 * an answer to a READ: the request stays with the server until it dies.
 */
#define FUSE_MAX_WRITE	(1024 * 1024)
#define FUSE_BUFSIZE	(FUSE_MAX_WRITE + 4096)
#define MAX_FILES	32

struct node {
	char name[64];
	int fd;
	bool direct, stall;
};

static struct node nodes[MAX_FILES + 2];	/* nodeid 2.. */
static int nr_nodes;
static bool splice_mode;
static int fuse_fd = -1;
static pid_t server_pid;
static char mnt[64];
static int pipe_in[2], pipe_out[2];

static void fill_attr(struct fuse_attr *a, uint64_t nodeid)
{
	struct stat st;

	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	a->nlink = 1;
	a->blksize = 4096;
	if (nodeid == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		return;
	}
	a->mode = S_IFREG | 0644;
	if (!fstat(nodes[nodeid].fd, &st)) {
		a->size = st.st_size;
		a->blocks = st.st_blocks;
	}
}

static void fill_entry(struct fuse_entry_out *e, uint64_t nodeid)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	fill_attr(&e->attr, nodeid);
}

/* Send a reply: with writev(), or vmsplice() into a pipe then splice(). */
static void reply(uint64_t unique, int error, const void *a, size_t alen,
		  const void *b, size_t blen)
{
	struct fuse_out_header h = {
		.len = sizeof(h) + (error ? 0 : alen + blen),
		.error = error,
		.unique = unique,
	};
	struct iovec iov[3] = {
		{ &h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen },
	};
	int n = error ? 1 : 3;
	ssize_t r;

	if (!splice_mode) {
		r = writev(fuse_fd, iov, n);
	} else {
		r = vmsplice(pipe_out[1], iov, n, 0);
		if (r == (ssize_t)h.len)
			r = splice(pipe_out[0], NULL, fuse_fd, NULL, h.len,
				   SPLICE_F_MOVE);
	}
	/* ENOENT: the request was interrupted and is gone */
	if (r != (ssize_t)h.len && errno != ENOENT)
		ksft_print_msg("fuse server: answer of %d bytes: %zd (%s)\n", h.len,
			       r, strerror(errno));
}

static ssize_t read_request(char *buf)
{
	ssize_t n, got = 0;

	if (!splice_mode)
		return read(fuse_fd, buf, FUSE_BUFSIZE);
	n = splice(fuse_fd, NULL, pipe_in[1], NULL, FUSE_BUFSIZE, 0);
	if (n <= 0)
		return n;
	while (got < n) {
		ssize_t r = read(pipe_in[0], buf + got, n - got);

		if (r <= 0)
			return -1;
		got += r;
	}
	return n;
}

static int new_node(const char *name)
{
	struct node *nd;

	if (nr_nodes >= MAX_FILES)
		return -ENOSPC;
	nd = &nodes[2 + nr_nodes];
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	nd->fd = memfd_create(name, 0);
	if (nd->fd < 0)
		return -errno;
	nd->direct = name[0] == 'd';
	nd->stall = !!strstr(name, "stall");
	return 2 + nr_nodes++;
}

static int find_node(const char *name)
{
	int i;

	for (i = 0; i < nr_nodes; i++)
		if (!strcmp(nodes[2 + i].name, name))
			return 2 + i;
	return -ENOENT;
}

static void serve(char *buf, char *data)
{
	for (;;) {
		struct fuse_in_header *in = (void *)buf;
		void *arg = buf + sizeof(*in);
		struct fuse_entry_out e;
		struct fuse_attr_out ao;
		struct fuse_open_out oo;
		ssize_t n = read_request(buf);
		int id;

		if (n < 0 && (errno == EINTR || errno == ENOENT ||
			      errno == EAGAIN))
			continue;
		if (n < 0 && errno == ENODEV)
			_exit(0);	/* unmounted */
		if (n < (ssize_t)sizeof(*in)) {
			ksft_print_msg("fuse server: reading a request: %zd (%s)\n",
				       n, n < 0 ? strerror(errno) : "short");
			_exit(1);
		}
		memset(&oo, 0, sizeof(oo));
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = arg;
			struct fuse_init_out io = {
				.major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = ii->max_readahead,
				.flags = FUSE_BIG_WRITES | FUSE_MAX_PAGES,
				.max_background = 16,
				.congestion_threshold = 12,
				.max_write = FUSE_MAX_WRITE,
				.max_pages = FUSE_MAX_WRITE / 4096,
			};
			reply(in->unique, 0, &io, sizeof(io), NULL, 0);
			break;
		}
		case FUSE_LOOKUP:
			id = find_node(arg);
			if (id < 0) {
				reply(in->unique, id, NULL, 0, NULL, 0);
				break;
			}
			fill_entry(&e, id);
			reply(in->unique, 0, &e, sizeof(e), NULL, 0);
			break;
		case FUSE_CREATE: {
			struct fuse_create_in *ci = arg;

			id = new_node((char *)(ci + 1));
			if (id < 0) {
				reply(in->unique, id, NULL, 0, NULL, 0);
				break;
			}
			fill_entry(&e, id);
			oo.open_flags = nodes[id].direct ? FOPEN_DIRECT_IO : 0;
			reply(in->unique, 0, &e, sizeof(e), &oo, sizeof(oo));
			break;
		}
		case FUSE_GETATTR:
		case FUSE_SETATTR:
			if (in->opcode == FUSE_SETATTR) {
				struct fuse_setattr_in *si = arg;

				if ((si->valid & FATTR_SIZE) &&
				    ftruncate(nodes[in->nodeid].fd, si->size)) {
					reply(in->unique, -errno, NULL, 0,
					      NULL, 0);
					break;
				}
			}
			memset(&ao, 0, sizeof(ao));
			fill_attr(&ao.attr, in->nodeid);
			reply(in->unique, 0, &ao, sizeof(ao), NULL, 0);
			break;
		case FUSE_OPEN:
			oo.open_flags = nodes[in->nodeid].direct ?
					FOPEN_DIRECT_IO : 0;
			reply(in->unique, 0, &oo, sizeof(oo), NULL, 0);
			break;
		case FUSE_READ: {
			struct fuse_read_in *ri = arg;
			ssize_t r;

			if (nodes[in->nodeid].stall)
				break;		/* never answered */
			r = pread(nodes[in->nodeid].fd, data, ri->size,
				  ri->offset);
			if (r < 0)
				reply(in->unique, -errno, NULL, 0, NULL, 0);
			else
				reply(in->unique, 0, data, r, NULL, 0);
			break;
		}
		case FUSE_WRITE: {
			struct fuse_write_in *wi = arg;
			struct fuse_write_out wo = { 0 };
			ssize_t r;

			r = pwrite(nodes[in->nodeid].fd, wi + 1, wi->size,
				   wi->offset);
			if (r < 0) {
				reply(in->unique, -errno, NULL, 0, NULL, 0);
				break;
			}
			wo.size = r;
			reply(in->unique, 0, &wo, sizeof(wo), NULL, 0);
			break;
		}
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;			/* no reply */
		case FUSE_RELEASE:
		case FUSE_FLUSH:
		case FUSE_FSYNC:
			reply(in->unique, 0, NULL, 0, NULL, 0);
			break;
		default:
			reply(in->unique, -ENOSYS, NULL, 0, NULL, 0);
			break;
		}
	}
}

/* Mount our FUSE file system on a fresh directory; the server is a child. */
static bool fuse_start(struct check *c)
{
	char opts[128], go;
	char *buf, *data;
	int sync[2];

	snprintf(mnt, sizeof(mnt), "/tmp/dio_pin.XXXXXX");
	if (!check(c, !!mkdtemp(mnt), "mkdtemp: %s", strerror(errno)))
		return false;
	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (!check(c, fuse_fd >= 0, "/dev/fuse: %s", strerror(errno)))
		return false;
	nr_nodes = 0;
	if (!check(c, pipe(sync) == 0, "pipe: %s", strerror(errno)))
		return false;
	server_pid = fork();
	if (!check(c, server_pid >= 0, "fork: %s", strerror(errno)))
		return false;
	if (!server_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setlinebuf(stdout);	/* it ends with _exit() */
		/* /dev/fuse refuses to be read (EPERM) before the mount */
		close(sync[1]);
		if (read(sync[0], &go, 1) != 1)
			_exit(1);
		close(sync[0]);
		buf = malloc(FUSE_BUFSIZE);
		data = malloc(FUSE_MAX_WRITE);
		if (!buf || !data)
			_exit(1);
		if (splice_mode &&
		    (pipe(pipe_in) || pipe(pipe_out) ||
		     fcntl(pipe_in[1], F_SETPIPE_SZ, 2 * FUSE_BUFSIZE) < 0 ||
		     fcntl(pipe_out[1], F_SETPIPE_SZ, 2 * FUSE_BUFSIZE) < 0)) {
			ksft_print_msg("fuse server: pipes: %s\n",
				       strerror(errno));
			_exit(1);
		}
		serve(buf, data);
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
		 fuse_fd);
	if (!check(c, mount("dio_pin", mnt, "fuse.dio_pin", MS_NOSUID | MS_NODEV,
			    opts) == 0, "mount: %s", strerror(errno))) {
		close(sync[0]);
		close(sync[1]);
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		return false;
	}
	close(sync[0]);
	go = 1;
	check(c, write(sync[1], &go, 1) == 1, "starting the server: %s",
	      strerror(errno));
	close(sync[1]);
	close(fuse_fd);		/* the server has it */
	dir = mnt;
	return true;
}

static void fuse_stop(void)
{
	umount2(mnt, MNT_DETACH);
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	server_pid = 0;
	rmdir(mnt);
}

/*
 * Buffered I/O on a file that is not opened with FOPEN_DIRECT_IO: no user
 * page of ours is pinned, but the kernel copies the write into the server's
 * request buffer and the read's reply out of the server's buffer (or its
 * pipe, with -s): one pin at least per page of data, all released.
 */
static void test_server_buffers(void)
{
	struct check c = { .ok = true };
	const char *name = "the server's buffers: pinned while the kernel copies to and from them";
	size_t len = 256 * 1024;
	struct pins p0;
	char *b;
	int fd;

	b = malloc(len);
	fd = open(path("cached"), O_RDWR | O_CREAT, 0644);
	if (!check(&c, b && fd >= 0, "open: %s", strerror(errno)))
		goto out;
	fill(b, len, 0, 3);
	pins_now(&p0);
	check(&c, pwrite_full(fd, b, len, 0) == (ssize_t)len && !fsync(fd),
	      "write: %s", strerror(errno));
	/* with -s the requests come through a pipe: nothing to pin */
	pins_balanced(&c, &p0, splice_mode ? 0 : len / pagesize,
		      "buffered write and fsync");
	close(fd);
	/* a fresh open reads through the server again: no cache kept */
	fd = open(path("cached"), O_RDWR);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	memset(b, 0, len);
	pins_now(&p0);
	check(&c, pread(fd, b, len, 0) == (ssize_t)len, "read: %s",
	      strerror(errno));
	pins_balanced(&c, &p0, len / pagesize, "buffered read");
	matches(&c, b, len, 0, 3, "read back");
out:
	if (fd >= 0)
		close(fd);
	free(b);
	report(&c, name);
}

static void *stalled_read(void *arg)
{
	struct buf *b = arg;
	int fd = open(path("dstall"), O_RDONLY | O_DIRECT);
	ssize_t n = fd < 0 ? -1 : pread(fd, b->p, 1 << 20, 0);

	return (void *)(intptr_t)(n < 0 ? -errno : n);
}

/*
 * The server dies while an O_DIRECT read of 1 MiB waits for it: the read
 * fails (the connection is aborted), and its pins are released.
 */
static void test_server_gone(void)
{
	struct check c = { .ok = true };
	const char *name = "the server killed under an O_DIRECT read: it fails, no pin left";
	struct pins p0;
	pthread_t t;
	struct buf b;
	void *ret;
	int fd;

	if (!buf_map(&b, ANON, 1 << 20, 0, &c)) {
		report(&c, name);
		return;
	}
	fd = open(path("dstall"), O_RDWR | O_CREAT, 0644);
	if (!check(&c, fd >= 0, "create: %s", strerror(errno)))
		goto out;
	check(&c, ftruncate(fd, 1 << 20) == 0, "ftruncate: %s",
	      strerror(errno));
	close(fd);
	pins_now(&p0);
	if (!check(&c, !pthread_create(&t, NULL, stalled_read, &b),
		   "pthread_create"))
		goto out;
	sleep(1);			/* the read is with the server now */
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	server_pid = 0;
	pthread_join(t, &ret);
	check(&c, (intptr_t)ret < 0, "the read returned %ld bytes",
	      (long)(intptr_t)ret);
	if ((intptr_t)ret < 0)
		ksft_print_msg("the read failed with %s\n",
			       strerror(-(intptr_t)ret));
	pins_balanced(&c, &p0, (1 << 20) / pagesize, "aborted read");
out:
	buf_unmap(&b);
	report(&c, name);
}

/*
 * -k CMD: the server goes away (CMD stops it); on a soft mount an O_DIRECT
 * read and write then fail with an error, after their pins are released.
 */
static void test_server_stopped(const char *cmd)
{
	struct check c = { .ok = true };
	const char *name = "the server stopped: O_DIRECT read and write fail, no pin left";
	size_t len = 1 << 20;
	struct pins p0;
	struct buf b;
	ssize_t n;
	int fd;

	if (!buf_map(&b, ANON, len, 0, &c)) {
		report(&c, name);
		return;
	}
	fd = open(path("dgone"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open: %s", strerror(errno)))
		goto out;
	fill(b.p, len, 0, 11);
	check(&c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len, "write: %s",
	      strerror(errno));
	if (!check(&c, system(cmd) == 0, "`%s` failed", cmd))
		goto out;
	pins_now(&p0);
	n = pread(fd, b.p, len, 0);
	check(&c, n < 0, "read with the server gone: %zd bytes", n);
	if (n < 0)
		ksft_print_msg("read with the server gone: %s\n",
			       strerror(errno));
	n = pwrite(fd, b.p, len, 0);
	check(&c, n < 0, "write with the server gone: %zd bytes", n);
	if (n < 0)
		ksft_print_msg("write with the server gone: %s\n",
			       strerror(errno));
	pins_balanced(&c, &p0, 0, "I/O with the server gone");
out:
	if (fd >= 0)
		close(fd);
	buf_unmap(&b);
	report(&c, name);
}

/* -------------------------------------------------------------- main */

static const struct { size_t len, foff, boff; } shapes[] = {
	{ 4096, 0, 0 },			/* one page, aligned */
	{ 65536 + 13, 512 + 3, 100 },	/* unaligned everywhere */
	{ 1 << 20, 4096, 0 },		/* 1 MiB, page aligned */
	{ (3 << 20) + 4096 * 3 + 1, 7, 4095 },	/* several MiB, ragged */
};

static const char *stop_cmd;

static int nr_tests(bool fuse)
{
	return NR_KINDS * ARRAY_SIZE(shapes) + 3 + (fuse ? 2 : 0) +
	       (stop_cmd ? 1 : 0);
}

static void run_all(bool fuse)
{
	unsigned int k, s;

	for (k = 0; k < NR_KINDS; k++)
		for (s = 0; s < ARRAY_SIZE(shapes); s++)
			test_rw(k, shapes[s].len, shapes[s].foff,
				shapes[s].boff);
	test_truncated();
	test_hole(true);
	test_hole(false);
	if (fuse) {
		test_server_buffers();
		test_server_gone();	/* last: the server is gone after it */
	}
	if (!fuse) {
		unlink(path("drw"));
		unlink(path("dtrunc"));
		unlink(path("dhole"));
	}
	if (stop_cmd)
		test_server_stopped(stop_cmd);	/* likewise */
}

static void bad_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s -d DIR [-k CMD] | -F [-s]\n", argv0);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	struct check c = { .ok = true };
	bool fuse = false;
	struct pins p;
	int opt;

	while ((opt = getopt(argc, argv, "d:Fk:s")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'F':
			fuse = true;
			break;
		case 'k':
			stop_cmd = optarg;
			break;
		case 's':
			splice_mode = true;
			break;
		default:
			bad_usage(argv[0]);
		}
	}
	if (!!dir == fuse || (splice_mode && !fuse) || (stop_cmd && fuse) ||
	    optind != argc)
		bad_usage(argv[0]);

	pagesize = getpagesize();
	thpsize = read_pmd_pagesize();
	hugetlbsize = default_huge_page_size();
	ksft_print_header();
	have_counters = read_pin_counters(&p.acquired, &p.released) == 1;
	if (!have_counters)
		ksft_print_msg("%s\n",
			       "pin counters unavailable or inexact (not root?): the pin checks are left out");
	if (fuse && !fuse_start(&c)) {
		ksft_set_plan(1);
		ksft_test_result_fail("FUSE mount: %s\n", c.why);
		ksft_finished();
	}
	ksft_set_plan(nr_tests(fuse));
	ksft_print_msg("files in %s%s\n", dir,
		       fuse ? (splice_mode ? " (FUSE, server uses splice)" :
			       " (FUSE, server uses read/write)") : "");
	run_all(fuse);
	if (fuse)
		fuse_stop();
	ksft_finished();
}
