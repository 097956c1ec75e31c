// SPDX-License-Identifier: GPL-2.0
/*
 * O_DIRECT reads and writes on a network or FUSE file system, from buffers
 * of every kind GUP handles, checked byte for byte and against the pin
 * counters.
 *
 *   dio_pin -d DIR [-k STOP -r START] [-g DIR2]
 *                                files in DIR (an NFS mount, say); STOP
 *                                and START are shell commands that stop
 *                                and restart its server (for the fork()
 *                                case); DIR2, a soft mount of the same
 *                                export, for the server-gone case
 *   dio_pin -F [-s | -U]         our own FUSE server, over /dev/fuse;
 *                                -s: it reads requests and writes replies
 *                                with splice() and vmsplice(); -U: it
 *                                takes requests and gives replies through
 *                                FUSE over io_uring (it sets the fuse
 *                                module's enable_uring for the run)
 *   ... -t SECONDS               how long the truncation stress runs
 *                                (default 2)
 *   ... -f                       run the fault-injection case too (it
 *                                changes fault injection's debugfs
 *                                settings while it runs)
 *   ... -b SECONDS [-n ROUNDS] [-L LABEL]
 *                                instead of the tests, a benchmark: see
 *                                bench() below
 *
 * Each case writes a pattern with O_DIRECT from a buffer (anonymous, THP,
 * hugetlb, MAP_SHARED of a tmpfs file), at aligned and unaligned file and
 * buffer offsets, from one page to several MiB, reads it back with O_DIRECT
 * into a second buffer of the same kind, and compares every byte with the
 * reference, and the bytes around the buffer with what they were.  The
 * user pages of both must have been pinned (nr_foll_pin_acquired grows by
 * at least one per page) and every pin released when the call returns
 * (nr_foll_pin_released catches up).  A read into a MADV_FREEd THP must
 * leave it dirty, or MADV_PAGEOUT discards the data.
 *
 * Then the failures: a file truncated underneath (a short read), a buffer
 * with a hole (EFAULT or a short transfer, never a leak), a failed
 * extraction repeated (no memory leaked), every fault-injection site of a
 * write and a read failing in turn (fail-nth; a proper errno or the right
 * data, no pin left), O_DIRECT readers and writers while another thread
 * truncates the file (-t seconds), and the server gone: with -F
 * killed while a read waits for it, with -g stopped by STOP before a read
 * and a write on the soft mount; they fail, and the pins go.
 *
 * And the bug pins exist for: fork() while an O_DIRECT read is in flight
 * (the reply held back by our FUSE server, or by STOP on NFS), the parent
 * writing to the page around the read's target: the data must land in the
 * parent's page and not show in the child's.
 * With -F, the server's own buffers: the kernel copies requests into them
 * and replies out of them, and those pages must be pinned too; with -U
 * those are the payload buffers the server registered with the ring, which
 * dev_uring.c fills and drains through the same fuse_copy_state code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "../kselftest.h"
#include "vm_util.h"
#include "hugepage_settings.h"
#include "pin_check.h"

static size_t pagesize, thpsize, hugetlbsize;
static const char *dir;
static bool fuse;
static bool fault_injection;	/* -f */

/* ------------------------------------------------------------ results */

static bool have_counters;

/* Without exact pin counters (not root) the pin checks are left out: say so */
static void report(const struct check *c, const char *name)
{
	const char *note = have_counters ? "" : " (pins not checked)";

	if (!c->ok)
		ksft_print_msg("%s: %s\n", name, c->why);
	ksft_test_result(c->ok, "%s%s\n", name, note);
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
 * The starting point of a pin count: the counters once they have stopped
 * moving (two reads 20 ms apart agree, within a second), so that pins of an
 * earlier call still being released (a FUSE server's vmspliced reply
 * pages, an aborted request) do not count against this one.
 */
static void pins_start(struct pins *p)
{
	struct pins again;
	int tries = 50;

	pins_now(p);
	while (tries--) {
		usleep(20000);
		pins_now(&again);
		if (again.acquired == p->acquired &&
		    again.released == p->released)
			return;
		*p = again;
	}
}

/*
 * At least @min pins taken since @from (at most @max, unless 0), and as
 * many released: the I/O is over when the system call returns, so are its
 * pins (a moment is allowed for deferred work, such as the release of an
 * aborted FUSE request).
 */
static bool pins_balanced_max(struct check *c, const struct pins *from,
			      long min, long max, const char *when)
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
	check(c, !max || acquired <= max,
	      "%s: %ld pins taken, expected at most %ld", when, acquired, max);
	return check(c, acquired == released,
		     "%s: %ld pins taken, %ld released", when, acquired,
		     released);
}

static bool pins_balanced(struct check *c, const struct pins *from, long min,
			  const char *when)
{
	return pins_balanced_max(c, from, min, 0, when);
}

/* Pins held now that were not at @from (acquired - released since). */
static long pins_held_since(const struct pins *from)
{
	struct pins now;

	pins_now(&now);
	return (now.acquired - from->acquired) -
	       (now.released - from->released);
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
	if (kind == THP && !check_huge_anon(b->map, b->maplen,
					    b->maplen / thpsize, thpsize)) {
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

/*
 * The pins an O_DIRECT transfer of [p, p + len) must take: at least one per
 * page, at most one more per page that two requests share (requests are at
 * least 64 KiB here), so that taking two where one will do is caught.
 * With -F the counters also see the server's pins, the kernel's copies to
 * and from its buffers (and its vmsplice() with -s), so they say nothing
 * about the test's own pages: there, the exact count is checked while a
 * READ is held back (test_server_gone()), and here only the balance.
 */
static long min_pins(const char *p, size_t len)
{
	return fuse ? 0 : pages_spanned(p, len);
}

static long max_pins(const char *p, size_t len)
{
	return fuse ? 0 : pages_spanned(p, len) + len / 65536 + 1;
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

	pins_start(&p0);
	n = pwrite_full(fd, w.p, len, foff);
	check(&c, n == (ssize_t)len, "write: %zd of %zu bytes (%s)", n, len,
	      n < 0 ? strerror(errno) : "short");
	pins_balanced_max(&c, &p0, min_pins(w.p, len), max_pins(w.p, len),
			  "write");

	pins_start(&p0);
	n = pread(fd, r.p, len, foff);
	check(&c, n == (ssize_t)len, "read: %zd of %zu bytes (%s)", n, len,
	      n < 0 ? strerror(errno) : "short");
	pins_balanced_max(&c, &p0, min_pins(r.p, len), max_pins(r.p, len),
			  "read");
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
 * An O_DIRECT read writes into the buffer behind the CPU's back, so every
 * page it filled must be dirty when it completes, large folios included.
 * Where that matters even for anonymous memory: a THP that MADV_FREE made
 * lazily freeable and clean (as malloc implementations do with memory they
 * free, and hand out again) is discarded by reclaim unless its PMD or the
 * folio is dirty.  GUP-fast pins it without touching the PMD, and the read
 * writes through the kernel's mapping, so only the completion's dirtying of
 * the folio keeps the data: without it, MADV_PAGEOUT drops the huge page and
 * the buffer reads back as zeroes.  The read fills the huge page but a page
 * at each end.
 */
/* smaps' LazyFree of the mapping at @addr, in kB; -1 if not found. */
static long lazyfree_kb(const void *addr)
{
	unsigned long start, end;
	bool in = false;
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= start && (uintptr_t)addr < end;
			continue;
		}
		if (in && !strncmp(line, "LazyFree:", 9)) {
			kb = strtol(line + 9, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static void test_read_after_madv_free(void)
{
	struct check c = { .ok = true };
	bool unavailable = false;
	size_t len = thpsize - 2 * pagesize;
	struct buf w = { 0 }, r = { 0 };
	const char *name =
		"THP: an O_DIRECT read into a MADV_FREEd huge page survives MADV_PAGEOUT";
	ssize_t n;
	int fd = -1;

	if (!thpsize) {
		ksft_test_result_skip("%s (no THP)\n", name);
		return;
	}
	if (!buf_map_kind(&r, THP, len, 0, &c, &unavailable) ||
	    !buf_map(&w, ANON, len, 0, &c)) {
		if (unavailable)
			ksft_test_result_skip("%s (%s)\n", name, c.why);
		else
			report(&c, name);
		goto out;
	}
	fd = open(path("dfree"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open O_DIRECT: %s", strerror(errno)))
		goto report;
	fill(w.p, len, 0, 11);
	n = pwrite_full(fd, w.p, len, 0);
	if (!check(&c, n == (ssize_t)len, "write: %zd of %zu bytes (%s)", n,
		   len, n < 0 ? strerror(errno) : "short"))
		goto report;
	if (madvise(r.map, r.maplen, MADV_FREE)) {
		ksft_test_result_skip("%s (MADV_FREE: %s)\n", name,
				      strerror(errno));
		goto out;
	}
	/* smaps counts as LazyFree exactly what reclaim may discard */
	if (lazyfree_kb(r.map) != (long)(thpsize >> 10)) {
		ksft_test_result_skip("%s (MADV_FREE left %ld kB lazily freeable, not the THP)\n",
				      name, lazyfree_kb(r.map));
		goto out;
	}
	n = pread(fd, r.p, len, 0);
	if (!check(&c, n == (ssize_t)len, "read: %zd of %zu bytes (%s)", n,
		   len, n < 0 ? strerror(errno) : "short"))
		goto report;
	check(&c, lazyfree_kb(r.map) == 0,
	      "after the read, %ld kB still lazily freeable (clean)",
	      lazyfree_kb(r.map));
	if (madvise(r.map, r.maplen, MADV_PAGEOUT)) {
		ksft_test_result_skip("%s (MADV_PAGEOUT: %s)\n", name,
				      strerror(errno));
		goto out;
	}
	matches(&c, r.p, len, 0, 11, "after MADV_PAGEOUT");
report:
	report(&c, name);
out:
	if (fd >= 0)
		close(fd);
	buf_unmap(&w);
	buf_unmap(&r);
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
	pins_start(&p0);
	n = pread(fd, b.p, len, 0);
	check(&c, n == (ssize_t)cut, "read after the truncation: %zd bytes, expected %zu",
	      n, cut);
	pins_balanced(&c, &p0, fuse ? 0 : 1, "read after the truncation");
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
	if (!check(&c, !mprotect(b.p + hole, pagesize, PROT_NONE),
		   "mprotect: %s", strerror(errno)))
		goto out_fd;
	pins_start(&p0);
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
out_fd:
	close(fd);
out:
	munmap(b.map, b.maplen);
	report(&c, name);
}

static long meminfo_kb(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* The rsize= of the NFS mount at @dir (1 MiB if it cannot be found). */
static long mount_rsize(const char *dir)
{
	char dev[256], mp[PATH_MAX], type[32], opts[1024];
	long rsize = 1 << 20;
	FILE *f = fopen("/proc/mounts", "r");
	char *o;

	while (f && fscanf(f, "%255s %4095s %31s %1023s %*d %*d", dev, mp,
			   type, opts) == 4) {
		if (strcmp(mp, dir))
			continue;
		o = strstr(opts, "rsize=");
		if (o)
			rsize = atol(o + 6);
	}
	if (f)
		fclose(f);
	return rsize > 0 ? rsize : 1 << 20;
}

#define LEAK_LIMIT_KB	2048

/*
 * O_DIRECT reads of 1 MiB into a buffer whose first page is PROT_NONE fail
 * at once, in the page extraction.  Each call extracts up to rsize bytes'
 * worth of pages into an array of rsize / PAGE_SIZE pointers; an array
 * left behind on that failure would grow the kernel's unreclaimable slab
 * by rsize / 512 bytes per call.  Make as many calls as it takes for such
 * a leak to reach four times the limit, and see that the slab does not
 * grow by the limit.  (FUSE allocates nothing there: skipped; so is a
 * KASAN kernel, whose quarantine holds freed arrays for a while.)
 */
static void test_failed_extraction(void)
{
	struct check c = { .ok = true };
	const char *name = "failed extractions, repeated: EFAULT, nothing leaked";
	size_t len = 1 << 20;
	long before, after, rsize, rounds;
	struct pins p0;
	struct buf b;
	long i, efault = 0;
	int fd;

	if (fuse) {
		ksft_test_result_skip("%s (FUSE allocates nothing there)\n",
				      name);
		return;
	}
	if (kasan_kernel()) {
		ksft_test_result_skip("%s (KASAN quarantine)\n", name);
		return;
	}
	rsize = mount_rsize(dir);
	if (rsize > (long)len)
		rsize = len;
	rounds = 4L * LEAK_LIMIT_KB * 1024 / (rsize / 512);
	if (!buf_map(&b, ANON, len, 0, &c)) {
		report(&c, name);
		return;
	}
	fd = open(path("dleak"), O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open: %s", strerror(errno)))
		goto out;
	check(&c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len, "write: %s",
	      strerror(errno));
	if (!check(&c, !mprotect(b.p, pagesize, PROT_NONE), "mprotect: %s",
		   strerror(errno)))
		goto out_fd;
	pins_start(&p0);
	before = meminfo_kb("SUnreclaim");
	for (i = 0; i < rounds; i++)
		efault += pread(fd, b.p, len, 0) < 0 && errno == EFAULT;
	after = meminfo_kb("SUnreclaim");
	check(&c, efault == rounds, "%ld of %ld reads failed with EFAULT",
	      efault, rounds);
	check(&c, before >= 0 && after - before < LEAK_LIMIT_KB,
	      "SUnreclaim grew by %ld kB over %ld failed reads (rsize %ld)",
	      after - before, rounds, rsize);
	pins_balanced(&c, &p0, 0, "failed reads");
out_fd:
	close(fd);
out:
	buf_unmap(&b);
	report(&c, name);
}

/* ---------------------------------------------------- fault injection */

#define FAULT_MAX_SITES	400
#define FAULTS_NAME \
	"fault injection: O_DIRECT write and read, each fault-injection site failing in turn: proper errno or correct data, no pin left"
#define FMT_FAULTS \
	"fault injection: %lu calls, %lu with a failure injected, %lu failed (%s), %lu short; %u sites on the longest path\n"
#define FMT_TRUNC_WORKER \
	"truncation stress, %s buffer: %lu writes, %lu reads (%lu short), %lu MiB\n"
#define FMT_TRUNC_BYTE \
	"byte %zu of a read at %zu is 0x%02x: neither 0 nor the pattern 0x%02x"
#define FAULT_LEN	(65536 + 13)
#define FAULT_FOFF	515
#define FAULT_BOFF	100

/*
 * An injected failure may fail the call with ENOMEM (an allocation), EFAULT
 * (GUP could not fault a page in: VM_FAULT_OOM becomes -ENOMEM, but a
 * failed fault of some kinds is VM_FAULT_SIGBUS) or EIO (NFS: a request
 * that could not be sent), or make it short.  And EACCES on an NFS write:
 * nfs_file_write() first asks nfs_key_timeout_notify() whether the open
 * context's credential is about to expire, and a credential lookup that
 * fails to allocate counts as expired (nfs_ctx_key_to_expire()); that is
 * before any page is looked at.
 */
static const int dio_fault_errnos[] = { ENOMEM, EFAULT, EIO, 0 };

struct dio_fault {
	struct check c;
	unsigned long calls, injected, failed, shorts;
	uint64_t errs;
	unsigned int sites;
};

/*
 * The outcome of one armed call of @len bytes that returned @n (errno @err):
 * false if it is not acceptable.
 */
static bool dio_fault_outcome(struct dio_fault *f, const char *what,
			      unsigned int nth, bool fired, ssize_t n,
			      int err, size_t len, bool eacces_ok)
{
	const int *e;

	f->calls++;
	f->injected += fired;
	if (n == (ssize_t)len)
		return true;
	if (n >= 0) {
		f->shorts++;
		return check(&f->c, fired,
			     "%s: %zd of %zu bytes with no failure injected",
			     what, n, len);
	}
	f->failed++;
	if (err > 0 && err < 64)
		f->errs |= 1ULL << err;
	if (!check(&f->c, fired, "%s failed (%s) with no failure injected",
		   what, strerror(err)))
		return false;
	if (err == EACCES && eacces_ok)
		return true;
	for (e = dio_fault_errnos; *e; e++)
		if (err == *e)
			return true;
	return check(&f->c, false, "%s with site %u failing: unexpected %s",
		     what, nth, strerror(err));
}

/*
 * Make the calling thread's @nth fault-injection site fail, then make the
 * transfer: a write from @b (populated) or a read into @b (populated, or
 * with its inner pages unpopulated if @fresh, so that GUP faults them in).
 * Returns whether the failure was injected.
 */
static bool dio_fault_call(struct dio_fault *f, int fd, struct buf *b,
			   struct buf *r, bool write, bool fresh,
			   unsigned int nth)
{
	const size_t len = FAULT_LEN;
	const int seed = (int)f->calls;
	const char *what = write ? "O_DIRECT write" : "O_DIRECT read";
	bool fired;
	struct pins p0;
	ssize_t n;
	int err, got;

	/* the reference content: written without injection for a read */
	fill(b->p, len, FAULT_FOFF, seed);
	if (!write &&
	    !check(&f->c, pwrite_full(fd, b->p, len, FAULT_FOFF) ==
		   (ssize_t)len, "write: %s", strerror(errno)))
		return false;
	if (!write) {
		memset(b->map, GUARD, b->maplen);
		if (fresh) {
			char *first = (char *)(((uintptr_t)b->p + pagesize) &
					       ~(pagesize - 1));
			char *last = (char *)(((uintptr_t)b->p + len) &
					      ~(pagesize - 1));

			madvise(first, last - first, MADV_DONTNEED);
		}
	}
	pins_start(&p0);
	if (!check(&f->c, !fail_nth_arm(nth), "arming fail-nth: %s",
		   strerror(errno)))
		return false;
	n = write ? pwrite(fd, b->p, len, FAULT_FOFF) :
		    pread(fd, b->p, len, FAULT_FOFF);
	err = errno;
	got = fail_nth_fired();
	fired = got == 1;
	check(&f->c, got >= 0, "reading fail-nth: %s", strerror(errno));
	if (!dio_fault_outcome(f, what, nth, fired, n, err, len,
			       write && !fuse))
		return false;
	pins_balanced(&f->c, &p0, 0, what);
	if (n <= 0)
		return fired;
	if (write) {
		/* what was written, read back without injection */
		memset(r->p, 0, n);
		if (check(&f->c, pread(fd, r->p, n, FAULT_FOFF) == n,
			  "read back: %s", strerror(errno)))
			matches(&f->c, r->p, n, FAULT_FOFF, seed,
				"written with a failure injected");
	} else {
		matches(&f->c, b->p, n, FAULT_FOFF, seed,
			"read with a failure injected");
		if (n == (ssize_t)len)
			guards_intact(&f->c, b, len);
	}
	return fired;
}

/*
 * O_DIRECT under fault injection: an unaligned write of 64 KiB + 13 bytes
 * from an anon and from a THP buffer, and a read of it into a populated and
 * into an unpopulated buffer, once for each fault-injection site on the
 * calling thread's path, that site failing (fail-nth: only the test's own
 * system call fails its allocations, the page array of the extraction, the
 * pages and page tables GUP faults in, the NFS or FUSE requests; nfsd,
 * rpciod and our FUSE server run without failures).  Each call transfers
 * everything with the right data, or is short with the right data, or
 * fails with a proper errno, and leaves no pin behind.
 */
static void test_faults(void)
{
	const char *name = FAULTS_NAME;
	static const enum buf_kind kinds[] = { ANON, THP };
	struct dio_fault f = { .c = { .ok = true } };
	char errs[64] = "no errno";
	unsigned int k, mode, nth;
	struct buf b, r;
	size_t elen = 0;
	int fd, e, ret;

	if (!fault_injection) {
		ksft_test_result_skip("%s (%s)\n", name,
				      "-f not given: it changes fault injection's debugfs settings");
		return;
	}
	ret = fault_inject_setup();
	if (ret < 0) {
		ksft_test_result_fail("%s (fault injection setup: %s)\n", name,
				      strerror(errno));
		return;
	}
	if (!ret) {
		ksft_test_result_skip("%s (%s)\n", name,
				      "no fail-nth, failslab or fail_page_alloc");
		return;
	}
	fd = open(path("dfault"), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (!check(&f.c, fd >= 0, "open: %s", strerror(errno)))
		goto out;
	for (k = 0; k < ARRAY_SIZE(kinds) && f.c.ok; k++) {
		bool unavailable = false;

		if (kinds[k] == THP && !thpsize)
			continue;
		if (!buf_map_kind(&b, kinds[k], FAULT_LEN, FAULT_BOFF, &f.c,
				  &unavailable) ||
		    !buf_map(&r, ANON, FAULT_LEN, 0, &f.c)) {
			buf_unmap(&b);
			if (unavailable) {	/* no THP: the anon case ran */
				f.c = (struct check){ .ok = true };
				continue;
			}
			break;
		}
		/* a write; a read into populated, then unpopulated pages */
		for (mode = 0; mode < 3 && f.c.ok; mode++) {
			for (nth = 1; f.c.ok; nth++) {
				if (!check(&f.c, nth <= FAULT_MAX_SITES,
					   "more than %d fault-injection sites",
					   FAULT_MAX_SITES))
					break;
				if (!dio_fault_call(&f, fd, &b, &r, mode == 0,
						    mode == 2, nth))
					break;
			}
			if (nth > f.sites)
				f.sites = nth;
		}
		buf_unmap(&b);
		buf_unmap(&r);
	}
	close(fd);
	unlink(path("dfault"));
out:
	fault_inject_restore();
	for (e = 1; e < 64; e++)
		if (f.errs & (1ULL << e))
			elen += snprintf(errs + elen, sizeof(errs) - elen,
					 "%s%s", elen ? " " : "",
					 strerrorname_np(e));
	ksft_print_msg(FMT_FAULTS, f.calls, f.injected, f.failed, errs, f.shorts,
		       f.sites ? f.sites - 1 : 0);
	check(&f.c, f.injected > 0, "no failure was ever injected");
	report(&f.c, name);
}

/* ------------------------------------------------- truncation stress */

#define TRUNC_FILE	(1024 * 1024)	/* the file's largest size */
#define TRUNC_IO	(256 * 1024)	/* the largest transfer */
#define TRUNC_SEED	9
#define NR_TRUNC_IO	2

static int trunc_seconds = 2;
static bool trunc_stop;

struct trunc_worker {
	int fd;
	enum buf_kind kind;
	unsigned int seed;
	unsigned long writes, reads, short_reads, bytes;
	struct check c;
};

static unsigned int trunc_rnd(unsigned int *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 17;
	*seed ^= *seed << 5;
	return *seed;
}

/*
 * O_DIRECT writes of the file's pattern and reads, at random offsets and
 * lengths, from and into a buffer of its own.  The file only ever holds the
 * pattern of each position or zeroes (a hole left by a truncation and an
 * extension): every byte read must be one of the two.
 */
static void *trunc_io_fn(void *arg)
{
	struct trunc_worker *w = arg;
	bool unavailable = false;
	struct buf b;

	if (!buf_map_kind(&b, w->kind, TRUNC_IO, 0, &w->c, &unavailable)) {
		if (!unavailable)
			goto out;
		/* no THP to be had: an anon buffer instead */
		buf_unmap(&b);
		w->kind = ANON;
		w->c = (struct check){ .ok = true };
		if (!buf_map(&b, ANON, TRUNC_IO, 0, &w->c))
			goto out;
	}
	while (!__atomic_load_n(&trunc_stop, __ATOMIC_RELAXED) && w->c.ok) {
		size_t len = 1 + trunc_rnd(&w->seed) % TRUNC_IO;
		size_t foff = trunc_rnd(&w->seed) % (TRUNC_FILE - len + 1);
		ssize_t n;
		size_t i;

		if (trunc_rnd(&w->seed) & 1) {
			fill(b.p, len, foff, TRUNC_SEED);
			n = pwrite(w->fd, b.p, len, foff);
			w->writes++;
			if (!check(&w->c, n == (ssize_t)len,
				   "O_DIRECT write of %zu bytes at %zu: %zd (%s)",
				   len, foff, n, strerror(errno)))
				break;
			w->bytes += n;
			continue;
		}
		memset(b.p, GUARD, len);
		n = pread(w->fd, b.p, len, foff);
		w->reads++;
		if (!check(&w->c, n >= 0, "O_DIRECT read of %zu bytes at %zu: %s",
			   len, foff, strerror(errno)))
			break;
		w->short_reads += n < (ssize_t)len;
		w->bytes += n;
		for (i = 0; i < (size_t)n; i++)
			if (b.p[i] && b.p[i] != pattern(foff + i, TRUNC_SEED)) {
				check(&w->c, false, FMT_TRUNC_BYTE, i, foff, b.p[i] & 0xff,
				      pattern(foff + i, TRUNC_SEED) & 0xff);
				break;
			}
		guards_intact(&w->c, &b, TRUNC_IO);
	}
	buf_unmap(&b);
out:
	__atomic_store_n(&trunc_stop, true, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * O_DIRECT readers and writers (anon and THP buffers) on one file while
 * this thread truncates it to random lengths, for -t seconds: every write
 * completes, reads may be short (the end of the file moves), every byte
 * read is the file's pattern or zero, the bytes around the buffer are left
 * alone, and no pin is left when the threads are done.
 */
static void test_truncate_stress(void)
{
	const char *name =
		"O_DIRECT reads and writes while the file is truncated: data intact, pins balanced";
	struct trunc_worker w[NR_TRUNC_IO];
	struct check c = { .ok = true };
	pthread_t t[NR_TRUNC_IO];
	unsigned long truncs = 0;
	unsigned int seed = 77;
	struct timespec end, now;
	struct pins p0;
	int fd, fd2, i, ret, started = 0;

	fd = open(path("dtstress"), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT,
		  0644);
	fd2 = open(path("dtstress"), O_RDWR);
	if (!check(&c, fd >= 0 && fd2 >= 0, "open: %s", strerror(errno)))
		goto out;
	pins_start(&p0);
	trunc_stop = false;
	for (i = 0; i < NR_TRUNC_IO; i++) {
		w[i] = (struct trunc_worker){
			.fd = fd, .seed = 3 + 10 * i, .c = { .ok = true },
			.kind = i == 1 && thpsize ? THP : ANON,
		};
		ret = pthread_create(&t[i], NULL, trunc_io_fn, &w[i]);
		if (!check(&c, !ret, "pthread_create: %s", strerror(ret)))
			break;
		started++;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += trunc_seconds;
	while (c.ok && !__atomic_load_n(&trunc_stop, __ATOMIC_RELAXED)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		if (!check(&c, !ftruncate(fd2, trunc_rnd(&seed) % TRUNC_FILE),
			   "ftruncate: %s", strerror(errno)))
			break;
		truncs++;
		usleep(trunc_rnd(&seed) % 2000);
	}
	__atomic_store_n(&trunc_stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		check(&c, w[i].c.ok, "%s", w[i].c.why);
		ksft_print_msg(FMT_TRUNC_WORKER, kind_name[w[i].kind],
			       w[i].writes, w[i].reads, w[i].short_reads,
			       w[i].bytes >> 20);
		check(&c, w[i].writes && w[i].reads,
		      "a %s worker made no write or no read",
		      kind_name[w[i].kind]);
	}
	ksft_print_msg("truncation stress: %lu truncations in %d s\n", truncs,
		       trunc_seconds);
	pins_balanced(&c, &p0, 0, "the stress");
	check(&c, truncs > 0, "no truncation");
out:
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	unlink(path("dtstress"));
	report(&c, name);
}

/* ------------------------------------------------------- FUSE server */

/*
 * A minimal FUSE file system: a flat root directory whose files live in
 * memfds.  Files named d* are opened with FOPEN_DIRECT_IO, the others go
 * through the page cache.  A file whose name has "stall" in it gets its
 * READs held back, one at a time: the server says so on stall_pipe and
 * answers when the test writes to release_pipe (or never, if it is killed
 * first).
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
static bool splice_mode, uring_mode;
static int fuse_fd = -1;
static pid_t server_pid;
static char mnt[64];
static int pipe_in[2], pipe_out[2];
/*
 * The READ held back (stall files): the server writes a byte to stall_pipe
 * when it has one, and answers it when a byte comes on release_pipe.
 */
static int stall_pipe[2] = { -1, -1 }, release_pipe[2] = { -1, -1 };
static struct {
	uint64_t unique, nodeid, offset;
	uint32_t size;
	struct ring_ent *ent;		/* -U: the entry that carried it */
} stalled;

/*
 * -U: FUSE over io_uring.  Each possible CPU has a queue (the kernel queues
 * a request on the queue of the CPU the caller runs on, and uses the ring
 * only once every queue has an entry), and each queue RING_ENTS entries: a
 * header buffer and a payload buffer registered with
 * FUSE_IO_URING_CMD_REGISTER.  A request arrives as the completion of the
 * entry's last command; the reply is written into the same buffers and
 * committed with FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which completes again
 * with the entry's next request.  The held-back READ keeps its entry.
 */
#define RING_ENTS	4
#define UD_RELEASE	(~0ULL)		/* user_data of the release_pipe poll */

struct ring_ent {
	struct fuse_uring_req_header hdr;
	struct iovec iov[2];		/* hdr, payload */
	char *payload;
	unsigned int qid;
};

static struct {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	char *sqes;			/* 128-byte SQEs (IORING_SETUP_SQE128) */
	struct io_uring_cqe *cqes;
	unsigned int to_submit;
	struct ring_ent *ents;
	unsigned int nr_ents;
} ring = { .fd = -1 };

/* The entry whose request is being answered; NULL: answer on /dev/fuse. */
static struct ring_ent *cur_ent;

static void ring_reply(const struct fuse_out_header *h, const void *a,
		       size_t alen, const void *b, size_t blen);
static void uring_enable(void);

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

	if (cur_ent) {
		ring_reply(&h, a, error ? 0 : alen, b, error ? 0 : blen);
		return;
	}
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

/* The test said so: answer the READ held back, if there is one. */
static void answer_stalled(char *data)
{
	ssize_t r;
	char ch;

	if (read(release_pipe[0], &ch, 1) != 1)
		_exit(1);	/* the test is gone */
	if (!stalled.unique)
		return;
	cur_ent = stalled.ent;
	r = pread(nodes[stalled.nodeid].fd, data, stalled.size,
		  stalled.offset);
	if (r < 0)
		reply(stalled.unique, -errno, NULL, 0, NULL, 0);
	else
		reply(stalled.unique, 0, data, r, NULL, 0);
	stalled.unique = 0;
	cur_ent = NULL;
}

/* Answer one request: its fuse_in_header, then its arguments, in @buf. */
static void handle(char *buf, char *data)
{
	struct fuse_in_header *in = (void *)buf;
	void *arg = buf + sizeof(*in);
	struct fuse_entry_out e;
	struct fuse_attr_out ao;
	struct fuse_open_out oo;
	int id;

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
			.max_pages = FUSE_MAX_WRITE / pagesize,
		};

		if (uring_mode) {
			if (!(ii->flags & FUSE_INIT_EXT) ||
			    !(ii->flags2 & (FUSE_OVER_IO_URING >> 32))) {
				ksft_print_msg("%s\n",
					       "fuse server: the kernel does not offer FUSE over io_uring");
				_exit(1);
			}
			io.flags |= FUSE_INIT_EXT;
			io.flags2 = FUSE_OVER_IO_URING >> 32;
		}
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

		if (nodes[in->nodeid].stall && !stalled.unique) {
			/* held back until release_pipe, or forever */
			stalled.unique = in->unique;
			stalled.nodeid = in->nodeid;
			stalled.offset = ri->offset;
			stalled.size = ri->size;
			stalled.ent = cur_ent;
			if (write(stall_pipe[1], "s", 1) != 1)
				_exit(1);
			break;
		}
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

/* The size of the per-opcode header (in_args[0]) for the ring's op_in. */
static size_t op_in_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_CREATE:
		return sizeof(struct fuse_create_in);
	case FUSE_SETATTR:
		return sizeof(struct fuse_setattr_in);
	case FUSE_READ:
		return sizeof(struct fuse_read_in);
	case FUSE_WRITE:
		return sizeof(struct fuse_write_in);
	default:
		return 0;	/* LOOKUP has none; handle() reads no other */
	}
}

static void ring_die(const char *what, int err)
{
	ksft_print_msg("fuse server: io_uring %s: %s\n", what, strerror(err));
	_exit(1);
}

/* The next free SQE, zeroed; ring_push() makes it visible. */
static struct io_uring_sqe *ring_sqe(void)
{
	unsigned int idx = *ring.sq_tail & *ring.sq_mask;
	struct io_uring_sqe *sqe = (void *)(ring.sqes + idx * 128);

	memset(sqe, 0, 128);
	return sqe;
}

static void ring_push(void)
{
	unsigned int tail = *ring.sq_tail;

	ring.sq_array[tail & *ring.sq_mask] = tail & *ring.sq_mask;
	__atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);
	ring.to_submit++;
}

/* Queue a FUSE_IO_URING_CMD_* for @e; ring_wait() submits it. */
static void ring_cmd(struct ring_ent *e, uint32_t cmd_op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = ring_sqe();
	struct fuse_uring_cmd_req req = {
		.commit_id = commit_id,
		.qid = e->qid,
	};

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_fd;
	sqe->cmd_op = cmd_op;
	if (cmd_op == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	sqe->user_data = e - ring.ents;
	memcpy(sqe->cmd, &req, sizeof(req));
	ring_push();
}

/* Wait for the word to answer the held-back READ. */
static void ring_poll_release(void)
{
	struct io_uring_sqe *sqe = ring_sqe();

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = release_pipe[0];
	sqe->poll32_events = POLLIN;
	sqe->user_data = UD_RELEASE;
	ring_push();
}

static void ring_reply(const struct fuse_out_header *h, const void *a,
		       size_t alen, const void *b, size_t blen)
{
	struct ring_ent *e = cur_ent;

	memcpy(e->hdr.in_out, h, sizeof(*h));
	if (alen)
		memcpy(e->payload, a, alen);
	if (blen)
		memcpy(e->payload + alen, b, blen);
	e->hdr.ring_ent_in_out.payload_sz = alen + blen;
	ring_cmd(e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, h->unique);
}

/* Submit what is queued, wait for one completion at least. */
static void ring_wait(void)
{
	int r;

	do {
		r = syscall(__NR_io_uring_enter, ring.fd, ring.to_submit, 1,
			    IORING_ENTER_GETEVENTS, NULL, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		ring_die("enter", errno);
	ring.to_submit -= r;
}

/*
 * The kernel makes one queue per possible CPU (num_possible_cpus()), and
 * uses the ring only once each has an entry: count the CPUs in
 * /sys/devices/system/cpu/possible ("0-3,8-11"), which get_nprocs_conf()
 * does not do everywhere.
 */
static unsigned int possible_cpus(void)
{
	unsigned long n = 0, a, b;
	char list[256], *p = list, *end;
	FILE *f;

	f = fopen("/sys/devices/system/cpu/possible", "r");
	if (!f || !fgets(list, sizeof(list), f))
		ring_die("/sys/devices/system/cpu/possible", errno ? errno : EIO);
	fclose(f);
	for (;;) {
		a = strtoul(p, &end, 10);
		if (end == p)
			break;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (b >= a)
			n += b - a + 1;
		if (*p != ',')
			break;
		p++;
	}
	if (!n)
		ring_die("/sys/devices/system/cpu/possible", EINVAL);
	return n;
}

static void ring_setup(void)
{
	unsigned int nr_queues = possible_cpus(), q, i;
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	size_t sq_len, cq_len;
	char *sq, *cq;

	ring.nr_ents = nr_queues * RING_ENTS;
	ring.ents = calloc(ring.nr_ents, sizeof(*ring.ents));
	if (!ring.ents)
		ring_die("entries", ENOMEM);
	ring.fd = syscall(__NR_io_uring_setup, ring.nr_ents + 2, &p);
	if (ring.fd < 0)
		ring_die("setup", errno);
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		sq_len = sq_len > cq_len ? sq_len : cq_len;
		cq_len = sq_len;
	}
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_SQ_RING);
	cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq :
	     mmap(NULL, cq_len, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_CQ_RING);
	ring.sqes = mmap(NULL, p.sq_entries * 128, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || ring.sqes == MAP_FAILED)
		ring_die("mmap", errno);
	ring.sq_tail = (void *)(sq + p.sq_off.tail);
	ring.sq_mask = (void *)(sq + p.sq_off.ring_mask);
	ring.sq_array = (void *)(sq + p.sq_off.array);
	ring.cq_head = (void *)(cq + p.cq_off.head);
	ring.cq_tail = (void *)(cq + p.cq_off.tail);
	ring.cq_mask = (void *)(cq + p.cq_off.ring_mask);
	ring.cqes = (void *)(cq + p.cq_off.cqes);

	/* payloads as large as the largest request (max_write, max_pages) */
	for (q = 0; q < nr_queues; q++) {
		for (i = 0; i < RING_ENTS; i++) {
			struct ring_ent *e = &ring.ents[q * RING_ENTS + i];

			e->qid = q;
			e->payload = malloc(FUSE_MAX_WRITE);
			if (!e->payload)
				ring_die("payload", ENOMEM);
			e->iov[0].iov_base = &e->hdr;
			e->iov[0].iov_len = sizeof(e->hdr);
			e->iov[1].iov_base = e->payload;
			e->iov[1].iov_len = FUSE_MAX_WRITE;
			ring_cmd(e, FUSE_IO_URING_CMD_REGISTER, 0);
		}
	}
	ring_poll_release();
}

/*
 * After FUSE_INIT, every request but FORGET and INTERRUPT comes through the
 * ring; those two still come on /dev/fuse, and need no answer here.
 */
static void serve_uring(char *buf, char *data)
{
	struct fuse_in_header *in = (void *)buf;

	ring_setup();
	for (;;) {
		unsigned int head, tail;

		ring_wait();
		head = *ring.cq_head;
		tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct io_uring_cqe *cqe =
				&ring.cqes[head & *ring.cq_mask];
			struct ring_ent *e;
			size_t hlen, plen;

			if (cqe->user_data == UD_RELEASE) {
				answer_stalled(data);
				ring_poll_release();
				continue;
			}
			/* the connection is gone: unmounted or aborted */
			if (cqe->res == -ENOTCONN || cqe->res == -ECONNABORTED ||
			    cqe->res == -ECANCELED || cqe->res == -ENODEV)
				_exit(0);
			if (cqe->res < 0 || cqe->user_data >= ring.nr_ents)
				ring_die("command", -cqe->res);
			e = &ring.ents[cqe->user_data];
			/* as /dev/fuse has it: header, op header, payload */
			memcpy(in, e->hdr.in_out, sizeof(*in));
			hlen = op_in_size(in->opcode);
			plen = e->hdr.ring_ent_in_out.payload_sz;
			if (plen > FUSE_MAX_WRITE)
				ring_die("payload size", EOVERFLOW);
			memcpy(buf + sizeof(*in), e->hdr.op_in, hlen);
			memcpy(buf + sizeof(*in) + hlen, e->payload, plen);
			cur_ent = e;
			handle(buf, data);
			cur_ent = NULL;
		}
		__atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
	}
}

static void serve(char *buf, char *data)
{
	for (;;) {
		struct fuse_in_header *in = (void *)buf;
		struct pollfd pfd[2] = {
			{ .fd = fuse_fd, .events = POLLIN },
			{ .fd = release_pipe[0], .events = POLLIN },
		};
		ssize_t n;

		/* a request, or the word to answer the one held back */
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pfd[1].revents) {
			answer_stalled(data);
			continue;
		}
		n = read_request(buf);
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
		handle(buf, data);
		if (uring_mode && in->opcode == FUSE_INIT)
			serve_uring(buf, data);
	}
}

/* Mount our FUSE file system on a fresh directory; the server is a child. */
static bool fuse_start(struct check *c)
{
	char opts[128], go;
	char *buf, *data;
	int sync[2];

	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0 && (errno == ENOENT || errno == ENODEV ||
			    errno == EACCES || errno == EPERM))
		ksft_exit_skip("/dev/fuse: %s\n", strerror(errno));
	if (!check(c, fuse_fd >= 0, "/dev/fuse: %s", strerror(errno)))
		return false;
	/* after the open, which loads fuse if it is a module */
	if (uring_mode)
		uring_enable();
	snprintf(mnt, sizeof(mnt), "/tmp/dio_pin.XXXXXX");
	if (!check(c, !!mkdtemp(mnt), "mkdtemp: %s", strerror(errno)))
		return false;
	nr_nodes = 0;
	stalled.unique = 0;
	if (!check(c, !pipe(sync) && !pipe(stall_pipe) && !pipe(release_pipe),
		   "pipe: %s", strerror(errno)))
		return false;
	server_pid = fork();
	if (!check(c, server_pid >= 0, "fork: %s", strerror(errno)))
		return false;
	if (!server_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setlinebuf(stdout);	/* it ends with _exit() */
		close(stall_pipe[0]);
		close(release_pipe[1]);
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
	if (mount("dio_pin", mnt, "fuse.dio_pin", MS_NOSUID | MS_NODEV, opts)) {
		int err = errno;

		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
		close(fuse_fd);
		rmdir(mnt);
		if (err == EPERM || err == ENODEV)
			ksft_exit_skip("FUSE mount: %s\n", strerror(err));
		return check(c, false, "mount: %s", strerror(err));
	}
	close(sync[0]);
	close(stall_pipe[1]);
	close(release_pipe[0]);
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
	close(stall_pipe[0]);
	close(release_pipe[1]);
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
	pins_start(&p0);
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
	pins_start(&p0);
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

#define NAME_SERVER_GONE \
	"the server killed under an O_DIRECT read: one pin per page while it waits, ECONNABORTED, no pin left"

struct stalled_read {
	int fd;
	char *p;
	size_t len;
	ssize_t ret;
	int err;
};

static void *stalled_read_fn(void *arg)
{
	struct stalled_read *sr = arg;

	sr->ret = pread(sr->fd, sr->p, sr->len, 0);
	sr->err = sr->ret < 0 ? errno : 0;
	return NULL;
}

/* The server has a READ held back: wait (up to 60 s) for its word. */
static bool wait_stalled(struct check *c)
{
	struct pollfd pfd = { .fd = stall_pipe[0], .events = POLLIN };
	char ch;

	return check(c, poll(&pfd, 1, 60000) == 1 &&
		     read(stall_pipe[0], &ch, 1) == 1,
		     "the server never got the READ");
}

/* A file of @len bytes of pattern @seed, written with O_DIRECT */
static int make_file(struct check *c, const char *name, size_t len, int seed)
{
	struct buf b;
	int fd;

	if (!buf_map(&b, ANON, len, 0, c))
		return -1;
	fill(b.p, len, 0, seed);
	fd = open(path(name), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (check(c, fd >= 0, "create %s: %s", name, strerror(errno)) &&
	    !check(c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len,
		   "write %s: %s", name, strerror(errno))) {
		close(fd);
		fd = -1;
	}
	buf_unmap(&b);
	return fd;
}

/*
 * The server dies while an O_DIRECT read of 1 MiB waits for its answer:
 * while it waits, the reader's 256 pages are pinned, exactly once each;
 * then the read fails with ECONNABORTED and every pin is released.
 */
static void test_server_gone(void)
{
	struct check c = { .ok = true };
	const char *name = NAME_SERVER_GONE;
	struct stalled_read sr = { .len = 1 << 20 };
	long pages = (1 << 20) / pagesize, held;
	struct pins p0;
	pthread_t t;
	struct buf b;

	if (!buf_map(&b, ANON, 1 << 20, 0, &c)) {
		report(&c, name);
		return;
	}
	sr.p = b.p;
	sr.fd = make_file(&c, "dstall", 1 << 20, 12);
	if (sr.fd < 0)
		goto out;
	pins_start(&p0);
	if (!check(&c, !pthread_create(&t, NULL, stalled_read_fn, &sr),
		   "pthread_create"))
		goto out_fd;
	if (wait_stalled(&c) && have_counters) {
		held = pins_held_since(&p0);
		check(&c, held == pages,
		      "%ld pins held while the read waits, expected %ld",
		      held, pages);
	}
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	server_pid = 0;
	pthread_join(t, NULL);
	check(&c, sr.ret < 0 && sr.err == ECONNABORTED,
	      "the read returned %zd (%s), expected ECONNABORTED", sr.ret,
	      sr.ret < 0 ? strerror(sr.err) : "bytes");
	pins_balanced(&c, &p0, pages, "aborted read");
out_fd:
	close(sr.fd);
out:
	buf_unmap(&b);
	report(&c, name);
}

static const char *stop_cmd, *start_cmd, *soft_dir;

/* Join @t if it ends within @seconds. */
static bool join_within(pthread_t t, int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	return !pthread_timedjoin_np(t, NULL, &ts);
}

/*
 * fork() while an O_DIRECT read is in flight.  The read's target starts
 * half way into a page; once the read has its pages (the server holds the
 * answer back: our FUSE server until told on release_pipe, NFS stopped by
 * STOP), the
 * process forks and the parent writes to the first half of that page.
 * With references, fork() shared the page and the parent's write moved
 * the parent to a copy: the read's data went to the child's page.  With
 * pins, fork() copies the pinned page for the child: the data must be in
 * the parent's page and not in the child's.
 */
static void test_fork_during_read(void)
{
	struct check c = { .ok = true };
	const char *name =
		"fork() during an O_DIRECT read: the data lands in the parent, not in the child";
	int tochild[2] = { -1, -1 }, fromchild[2] = { -1, -1 };
	struct stalled_read sr = { .len = pagesize };
	size_t off = pagesize / 2;
	bool stopped = false, started = false;
	pid_t child = -1;
	struct pins p0;
	long held = 0;
	pthread_t t;
	struct buf b;
	char res = 0;
	int i;

	if (!fuse && (!stop_cmd || !start_cmd)) {
		ksft_test_result_skip("%s (needs -k and -r)\n", name);
		return;
	}
	if (!buf_map(&b, ANON, 2 * pagesize, 0, &c)) {
		report(&c, name);
		return;
	}
	sr.p = b.p + off;
	sr.fd = make_file(&c, fuse ? "dstall2" : "dfork", pagesize, 13);
	if (sr.fd < 0)
		goto out;
	if (!check(&c, !pipe(tochild) && !pipe(fromchild), "pipe: %s",
		   strerror(errno)))
		goto out_fd;
	if (!fuse) {
		stopped = true;
		if (!check(&c, system(stop_cmd) == 0, "`%s` failed",
			   stop_cmd))
			goto out_fd;
	}
	pins_start(&p0);
	if (!check(&c, !pthread_create(&t, NULL, stalled_read_fn, &sr),
		   "pthread_create"))
		goto out_fd;
	if (fuse) {
		wait_stalled(&c);
	} else {
		/* the read has its pages when they are pinned: up to 5 s */
		for (i = 0; i < 250 && held < 2; i++) {
			usleep(20000);
			held = pins_held_since(&p0);
		}
	}
	held = pins_held_since(&p0);	/* checked last: data first */
	child = fork();
	if (!child) {
		/* wait for the read to complete, then look at our copy */
		if (read(tochild[0], &res, 1) != 1)
			_exit(2);
		for (i = 0; i < (int)sr.len; i++)
			if (sr.p[i] != pattern(i, 13))
				break;
		res = i == (int)sr.len ? 'y' : 'n';	/* leaked into us? */
		_exit(write(fromchild[1], &res, 1) == 1 ? 0 : 2);
	}
	check(&c, child > 0, "fork: %s", strerror(errno));
	b.p[0] = 'x';		/* the first half of the read's first page */
	if (fuse)
		check(&c, write(release_pipe[1], "r", 1) == 1,
		      "telling the server: %s", strerror(errno));
	else
		check(&c, system(start_cmd) == 0, "`%s` failed", start_cmd);
	started = true;
	if (!join_within(t, 180)) {
		/* the read is stuck (a server that did not come back) */
		check(&c, false, "the read did not complete within 180 s");
		report(&c, name);
		ksft_exit_fail_msg("cannot go on with a read stuck\n");
	}
	if (check(&c, sr.ret == (ssize_t)sr.len, "the read returned %zd (%s)",
		  sr.ret, sr.ret < 0 ? strerror(sr.err) : "bytes")) {
		matches(&c, sr.p, sr.len, 0, 13, "the parent's buffer");
		check(&c, b.p[0] == 'x', "the parent's own write was lost");
	}
	if (child > 0) {
		check(&c, write(tochild[1], "g", 1) == 1 &&
		      read(fromchild[0], &res, 1) == 1 && res == 'n',
		      "the child's copy %s", res == 'y' ?
		      "has the data the parent read" : "could not be checked");
		waitpid(child, NULL, 0);
	}
	check(&c, !have_counters || held == 2,
	      "%ld pins held by the waiting read, expected 2", held);
	pins_balanced(&c, &p0, 0, "the read");
out_fd:
	/* never leave the server stopped under a hard mount */
	if (stopped && !started)
		check(&c, system(start_cmd) == 0, "`%s` failed", start_cmd);
	for (i = 0; i < 2; i++) {
		if (tochild[i] >= 0)
			close(tochild[i]);
		if (fromchild[i] >= 0)
			close(fromchild[i]);
	}
	close(sr.fd);
out:
	buf_unmap(&b);
	report(&c, name);
}

/*
 * -g DIR2 -k STOP: the server goes away (STOP stops it); on the soft mount
 * DIR2 an O_DIRECT read and write then fail with an error, after their pins
 * are released.  It is the last case: the server stays stopped.
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
	snprintf(path_buf, sizeof(path_buf), "%s/dgone", soft_dir);
	fd = open(path_buf, O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (!check(&c, fd >= 0, "open: %s", strerror(errno)))
		goto out;
	fill(b.p, len, 0, 11);
	check(&c, pwrite_full(fd, b.p, len, 0) == (ssize_t)len, "write: %s",
	      strerror(errno));
	if (!check(&c, system(cmd) == 0, "`%s` failed", cmd))
		goto out;
	pins_start(&p0);
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

/* --------------------------------------------------------- benchmark */

#define BENCH_FILE	(16UL << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Sequential O_DIRECT writes or reads of @bs bytes over a 16 MiB file, from
 * and into one anonymous buffer, for @seconds: bytes per second.
 */
static double bench_round(int fd, char *buf, size_t bs, bool write,
			  double seconds)
{
	double t0 = now(), t;
	size_t bytes = 0;
	off_t off = 0;
	ssize_t n;

	do {
		n = write ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (n != (ssize_t)bs)
			return -1;
		bytes += bs;
		off = (off + bs) % BENCH_FILE;
		t = now();
	} while (t - t0 < seconds);
	return bytes / (t - t0);
}

/*
 * -b: O_DIRECT throughput, sequential, 64 KiB and 1 MiB per call, writes and
 * reads taking turns, @rounds rounds of @seconds each.  Every round prints
 *   # DIO <label> <write|read> <bytes per call> <bytes/s>
 * and each (direction, size) is one TAP result.  Compare kernels on the
 * medians of the rounds, measured in one run.
 */
static void bench(const char *label, double seconds, int rounds)
{
	static const size_t sizes[] = { 64 << 10, 1 << 20 };
	struct check c[2][2];
	unsigned int i, w;
	double bps;
	char *buf;
	int fd, r;

	ksft_set_plan(4);
	memset(c, 0, sizeof(c));
	for (i = 0; i < 2; i++)
		for (w = 0; w < 2; w++)
			c[i][w].ok = true;
	buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open(path("dbench"), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (buf == MAP_FAILED || fd < 0)
		ksft_exit_fail_msg("benchmark setup: %s\n", strerror(errno));
	fill(buf, 1 << 20, 0, 1);
	for (off_t off = 0; off < (off_t)BENCH_FILE; off += 1 << 20)
		if (pwrite(fd, buf, 1 << 20, off) != 1 << 20)
			ksft_exit_fail_msg("benchmark file: %s\n",
					   strerror(errno));
	for (r = 0; r < rounds; r++)
		for (i = 0; i < ARRAY_SIZE(sizes); i++)
			for (w = 0; w < 2; w++) {
				bps = bench_round(fd, buf, sizes[i], !w,
						  seconds);
				if (check(&c[i][w], bps > 0, "%s: %s",
					  w ? "read" : "write",
					  strerror(errno)))
					printf("# DIO %s %s %zu %.0f\n", label,
					       w ? "read" : "write", sizes[i],
					       bps);
			}
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		for (w = 0; w < 2; w++) {
			char name[80];

			snprintf(name, sizeof(name),
				 "%s: O_DIRECT %s, %zu bytes per call, %d rounds of %.2f s",
				 label, w ? "read" : "write", sizes[i], rounds,
				 seconds);
			report(&c[i][w], name);
		}
	close(fd);
	unlink(path("dbench"));
	munmap(buf, 1 << 20);
}

/* -------------------------------------------------------------- main */

static const struct { size_t len, foff, boff; } shapes[] = {
	{ 4096, 0, 0 },			/* one page, aligned */
	{ 65536 + 13, 512 + 3, 100 },	/* unaligned everywhere */
	{ 1 << 20, 4096, 0 },		/* 1 MiB, page aligned */
	{ (3 << 20) + 4096 * 3 + 1, 7, 4095 },	/* several MiB, ragged */
};

static int nr_tests(void)
{
	return NR_KINDS * ARRAY_SIZE(shapes) + 8 + (fuse ? 2 : 0) +
	       (soft_dir ? 1 : 0);
}

static void run_all(void)
{
	unsigned int k, s;

	for (k = 0; k < NR_KINDS; k++)
		for (s = 0; s < ARRAY_SIZE(shapes); s++)
			test_rw(k, shapes[s].len, shapes[s].foff,
				shapes[s].boff);
	test_read_after_madv_free();
	test_truncated();
	test_hole(true);
	test_hole(false);
	test_failed_extraction();
	test_faults();
	test_truncate_stress();
	test_fork_during_read();
	if (fuse) {
		test_server_buffers();
		test_server_gone();	/* last: the server is gone after it */
	} else {
		unlink(path("drw"));
		unlink(path("dfree"));
		unlink(path("dtrunc"));
		unlink(path("dhole"));
		unlink(path("dleak"));
		unlink(path("dfault"));
		unlink(path("dtstress"));
		unlink(path("dfork"));
	}
	if (soft_dir)
		test_server_stopped(stop_cmd);	/* likewise */
}

#define ENABLE_URING	"/sys/module/fuse/parameters/enable_uring"
static char enable_uring_was;
static pid_t enable_uring_pid;

static void uring_restore(void)
{
	int fd;

	if (getpid() != enable_uring_pid)
		return;		/* a child of a test case */
	fd = open(ENABLE_URING, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, &enable_uring_was, 1) != 1)
			ksft_print_msg("restoring %s: %s\n", ENABLE_URING,
				       strerror(errno));
		close(fd);
	}
}

/*
 * -U: FUSE offers io_uring in FUSE_INIT only while enable_uring is set.  It
 * is restored at exit; a run killed from outside leaves it set.
 */
static void uring_enable(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	int fd;

	/*
	 * Once FUSE_INIT has taken io_uring there is no way back: make sure
	 * the server can set up its ring (io_uring_disabled, seccomp) first.
	 */
	fd = syscall(__NR_io_uring_setup, 2, &p);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES ||
		       errno == EINVAL))
		ksft_exit_skip("io_uring_setup: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	fd = open(ENABLE_URING, O_RDWR);

	if (fd < 0 && errno == ENOENT)
		ksft_exit_skip("%s: no such file (CONFIG_FUSE_IO_URING off?)\n",
			       ENABLE_URING);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		ksft_exit_skip("%s: %s (not root?)\n", ENABLE_URING,
			       strerror(errno));
	if (fd < 0 || read(fd, &enable_uring_was, 1) != 1 ||
	    pwrite(fd, "Y", 1, 0) != 1) {
		ksft_print_msg("%s: %s\n", ENABLE_URING, strerror(errno));
		exit(KSFT_FAIL);
	}
	close(fd);
	enable_uring_pid = getpid();
	atexit(uring_restore);
}

static void bad_usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s -d DIR [-k STOP -r START] [-g DIR2] | -F [-s | -U]\n"
		"       ... [-t SECONDS]  (the truncation stress, default 2)\n"
		"       ... -f            (the fault-injection case)\n"
		"       ... -b SECONDS [-n ROUNDS] [-L LABEL]  (benchmark)\n",
		argv0);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	struct check c = { .ok = true };
	const char *label = NULL;
	double seconds = 0;
	int opt, rounds = 5;
	struct pins p;

	while ((opt = getopt(argc, argv, "b:d:fFg:k:L:n:r:st:U")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'F':
			fuse = true;
			break;
		case 'f':
			fault_injection = true;
			break;
		case 'k':
			stop_cmd = optarg;
			break;
		case 'r':
			start_cmd = optarg;
			break;
		case 'g':
			soft_dir = optarg;
			break;
		case 'b':
			seconds = atof(optarg);
			if (seconds <= 0)
				bad_usage(argv[0]);
			break;
		case 'n':
			rounds = atoi(optarg);
			if (rounds <= 0)
				bad_usage(argv[0]);
			break;
		case 'L':
			label = optarg;
			break;
		case 's':
			splice_mode = true;
			break;
		case 'U':
			uring_mode = true;
			break;
		case 't':
			trunc_seconds = atoi(optarg);
			if (trunc_seconds < 1 || trunc_seconds > 3600)
				bad_usage(argv[0]);
			break;
		default:
			bad_usage(argv[0]);
		}
	}
	if (!!dir == fuse || ((splice_mode || uring_mode) && !fuse) ||
	    (splice_mode && uring_mode) ||
	    (fuse && (stop_cmd || start_cmd || soft_dir)) ||
	    (soft_dir && !stop_cmd) || optind != argc)
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
	if (seconds > 0) {
		if (!label)
			label = !fuse ? "dir" : splice_mode ? "fuse-splice" :
				uring_mode ? "fuse-uring" : "fuse";
		bench(label, seconds, rounds);
		if (fuse)
			fuse_stop();
		ksft_finished();
	}
	ksft_set_plan(nr_tests());
	ksft_print_msg("files in %s%s\n", dir,
		       !fuse ? "" :
		       splice_mode ? " (FUSE, server uses splice)" :
		       uring_mode ? " (FUSE, server uses io_uring)" :
		       " (FUSE, server uses read/write)");
	run_all();
	if (fuse)
		fuse_stop();
	ksft_finished();
}
