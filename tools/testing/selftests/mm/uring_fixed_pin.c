// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring registered ("fixed") buffers against the pin counters.
 *
 * io_uring pins a registered buffer with FOLL_WRITE | FOLL_LONGTERM and
 * leaves it to GUP to refuse what cannot be pinned long-term; it no longer
 * checks the VMAs itself.  So:
 *
 * - one buffer spanning an anonymous, a shmem and a hugetlb VMA registers,
 *   holds one pin per page, and O_DIRECT writes and reads through it
 *   (WRITE_FIXED, READ_FIXED) move the right bytes;
 * - a writable MAP_SHARED mapping of shmem registers (no dirty tracking
 *   needed), one of a block device or of a file on a file system that
 *   tracks dirty pages (-m DIR: a temporary file there, say on NFS) is
 *   refused, with no pin left behind; the mixed buffer's O_DIRECT also
 *   runs on a file in each -m DIR (NFS gets a bvec iterator then);
 * - a buffer with a hole is refused, with no pin left behind;
 * - unregistering, and tearing the ring down with buffers still
 *   registered, release every pin.
 *
 *   uring_fixed_pin [-d DEVICE] [-m DIR]...
 *
 * DEVICE, for the O_DIRECT I/O and the block device mapping, is written
 * to: /dev/ram0 by default (brd).  It is opened with O_EXCL (so not while
 * mounted) and must hold the buffer (two 64 KiB parts and a huge page).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "../kselftest.h"
#include "vm_util.h"
#include "hugepage_settings.h"
#include "pin_check.h"
#include "local_config.h_gen"
#ifdef LOCAL_CONFIG_HAVE_LIBURING
#include <liburing.h>
#endif

#define MAX_EXTRA	8

#ifdef LOCAL_CONFIG_HAVE_LIBURING

static size_t pagesize, hugetlbsize;
static bool have_counters;

/* Pins held now: nr_foll_pin_acquired - nr_foll_pin_released. */
static long pins_held(void)
{
	long acquired, released;

	if (read_pin_counters(&acquired, &released) < 0)
		return 0;
	return acquired - released;
}

/*
 * Pins held now that were not at @from must come to @expect; a moment is
 * allowed for releases that are deferred (ring teardown).
 */
static bool pins_held_since(struct check *c, long from, long expect,
			    const char *when)
{
	long held = 0;
	int tries = 500;	/* 10 s: ring teardown unpins from a worker */

	if (!have_counters)
		return true;
	while (tries--) {
		held = pins_held() - from;
		if (held == expect)
			return true;
		usleep(20000);
	}
	return check(c, false, "%s: %ld pins held, expected %ld", when, held,
		     expect);
}

/*
 * anon (64 KiB) | shmem, MAP_SHARED (64 KiB) | hugetlb (one huge page),
 * adjacent, the hugetlb part aligned; returns the start, *@len the size.
 */
static char *map_mixed(struct check *c, size_t *len)
{
	size_t small = 16 * pagesize, total = 2 * small + hugetlbsize;
	char *area, *base, *p;
	int memfd;

	size_t reserved = total + 2 * hugetlbsize;

	area = mmap(NULL, reserved, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!check(c, area != MAP_FAILED, "reserve: %s", strerror(errno)))
		return NULL;
	base = (char *)(((uintptr_t)area + 2 * small + hugetlbsize - 1) &
			~(hugetlbsize - 1)) - 2 * small;
	p = mmap(base, small, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (!check(c, p == base, "anon: %s", strerror(errno)))
		goto fail;
	memfd = memfd_create("uring_fixed_pin", 0);
	if (!check(c, memfd >= 0, "memfd: %s", strerror(errno)))
		goto fail;
	if (!check(c, !ftruncate(memfd, small), "memfd: %s",
		   strerror(errno))) {
		close(memfd);
		goto fail;
	}
	p = mmap(base + small, small, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, memfd, 0);
	close(memfd);
	if (!check(c, p == base + small, "shmem: %s", strerror(errno)))
		goto fail;
	p = mmap(base + 2 * small, hugetlbsize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1, 0);
	if (!check(c, p == base + 2 * small, "hugetlb: %s", strerror(errno)))
		goto fail;
	/* give back what the alignment left over */
	if (base > area)
		munmap(area, base - area);
	munmap(base + total, area + reserved - (base + total));
	memset(base, 0, total);
	*len = total;
	return base;
fail:
	munmap(area, reserved);
	return NULL;
}

static inline char pattern(size_t i, int seed)
{
	return (char)((i * 5 + (i >> 12) * 11 + seed) & 0xff);
}

static bool uring_rw(struct check *c, struct io_uring *ring, int fd,
		     char *buf, size_t len, bool write)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!check(c, !!sqe, "no sqe"))
		return false;
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, 0);
	ret = io_uring_submit(ring);
	if (!check(c, ret == 1, "submit: %d", ret))
		return false;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (!check(c, ret == 0, "wait: %d", ret))
		return false;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return check(c, ret == (int)len, "%s_FIXED: %d (%s), expected %zu",
		     write ? "WRITE" : "READ", ret,
		     ret < 0 ? strerror(-ret) : "bytes", len);
}

/*
 * Open block device @dev read-write, exclusively (not while mounted), with
 * @flags: a skip (and -1) if it is not there, not ours to write or smaller
 * than @need bytes.
 */
static int open_device(const char *dev, int flags, size_t need,
		       const char *name)
{
	uint64_t size = 0;
	int fd;

	fd = open(dev, O_RDWR | O_EXCL | flags);
	if (fd < 0) {
		ksft_test_result_skip("%s (%s: %s)\n", name, dev,
				      strerror(errno));
		return -1;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) || size < need) {
		ksft_test_result_skip("%s (%s: not a block device of %zu bytes or more)\n",
				      name, dev, need);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The mixed buffer: registered with one pin per page, O_DIRECT through it
 * in both directions, every pin gone after unregistering (@teardown: after
 * io_uring_queue_exit() with the buffer still registered).
 */
static void test_mixed(const char *target, const char *dir, bool teardown)
{
	size_t need = 2 * 16 * pagesize + hugetlbsize;
	char name[PATH_MAX + 160], path[PATH_MAX];
	struct check c = { .ok = true };
	struct io_uring ring;
	struct iovec iov;
	long held0;
	size_t len, i;
	char *buf;
	int fd, ret;

	if (dir)
		snprintf(path, sizeof(path), "a file in %s", dir);
	snprintf(name, sizeof(name),
		 "anon + shmem + hugetlb in one fixed buffer: registers, O_DIRECT on %s, %s releases every pin",
		 dir ? path : target, teardown ? "ring teardown" : "unregister");
	if (!hugetlbsize || !hugetlb_free_default_pages()) {
		ksft_test_result_skip("%s (no free hugetlb page)\n", name);
		return;
	}
	if (dir) {
		/* a regular file: the I/O goes through its bvec iterator */
		snprintf(path, sizeof(path), "%s/uring_fixed_pin.XXXXXX", dir);
		fd = mkostemp(path, O_DIRECT);
		if (fd < 0 || ftruncate(fd, need)) {
			ksft_test_result_fail("%s: %s: %s\n", name, path,
					      strerror(errno));
			if (fd >= 0)
				close(fd);
			return;
		}
		unlink(path);
	} else {
		fd = open_device(target, O_DIRECT, need, name);
		if (fd < 0)
			return;
	}
	buf = map_mixed(&c, &len);
	if (!buf) {
		close(fd);
		check_report(&c, name);
		return;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (!check(&c, ret == 0, "io_uring_queue_init: %s", strerror(-ret))) {
		close(fd);
		munmap(buf, len);
		check_report(&c, name);
		return;
	}
	held0 = pins_held();
	iov.iov_base = buf;
	iov.iov_len = len;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (!check(&c, ret == 0, "register: %s", strerror(-ret)))
		goto out_ring;
	pins_held_since(&c, held0, len / pagesize, "registered");

	for (i = 0; i < len; i++)
		buf[i] = pattern(i, 1);
	uring_rw(&c, &ring, fd, buf, len, true);
	memset(buf, 0, len);
	if (uring_rw(&c, &ring, fd, buf, len, false))
		for (i = 0; i < len; i++)
			if (!check(&c, buf[i] == pattern(i, 1),
				   "byte %zu read back is 0x%02x, expected 0x%02x",
				   i, buf[i] & 0xff, pattern(i, 1) & 0xff))
				break;
	if (!teardown) {
		ret = io_uring_unregister_buffers(&ring);
		check(&c, ret == 0, "unregister: %s", strerror(-ret));
		pins_held_since(&c, held0, 0, "unregistered");
	}
out_ring:
	io_uring_queue_exit(&ring);
	pins_held_since(&c, held0, 0, "ring gone");
	close(fd);
	munmap(buf, len);
	check_report(&c, name);
}

/*
 * Register a writable MAP_SHARED mapping of the first page of @fd (@what
 * names it): refused with EFAULT where the file needs dirty tracking
 * (@refused), registered where it does not; no pin left either way.
 * Closes @fd.
 */
static void test_shared_fd(int fd, const char *what, bool refused)
{
	struct check c = { .ok = true };
	struct io_uring ring;
	struct iovec iov;
	char name[PATH_MAX + 64];
	long held0;
	char *p;
	int ret;

	snprintf(name, sizeof(name),
		 "writable MAP_SHARED of %s: %s, no pin left", what,
		 refused ? "refused" : "registers");
	p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!check(&c, p != MAP_FAILED, "mmap: %s", strerror(errno)))
		goto out_fd;
	p[0] = 1;
	ret = io_uring_queue_init(1, &ring, 0);
	if (!check(&c, ret == 0, "io_uring_queue_init: %s", strerror(-ret)))
		goto out_map;
	held0 = pins_held();
	iov.iov_base = p;
	iov.iov_len = pagesize;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (refused)
		check(&c, ret == -EFAULT, "register: %s, expected EFAULT",
		      ret ? strerror(-ret) : "success");
	else
		check(&c, ret == 0, "register: %s", strerror(-ret));
	if (!ret) {
		pins_held_since(&c, held0, 1, "registered");
		io_uring_unregister_buffers(&ring);
	}
	pins_held_since(&c, held0, 0, refused ? "refused" : "unregistered");
	io_uring_queue_exit(&ring);
out_map:
	munmap(p, pagesize);
out_fd:
	close(fd);
	check_report(&c, name);
}

/* -m DIR: a temporary one-page file in DIR */
static void test_shared_in_dir(const char *dir)
{
	char path[PATH_MAX], what[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/uring_fixed_pin.XXXXXX", dir);
	snprintf(what, sizeof(what), "a file in %s", dir);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, pagesize)) {
		ksft_test_result_fail("writable MAP_SHARED of %s: %s\n", what,
				      strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	unlink(path);
	test_shared_fd(fd, what, true);
}

/*
 * 16 pages with the 9th PROT_NONE: registration fails (EFAULT) and the 8
 * pages pinned before the hole are unpinned again.
 */
static void test_hole(void)
{
	struct check c = { .ok = true };
	const char *name = "a fixed buffer with a hole: EFAULT, no pin left";
	size_t len = 16 * pagesize;
	struct io_uring ring;
	struct iovec iov;
	long held0;
	char *p;
	int ret;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!check(&c, p != MAP_FAILED, "mmap: %s", strerror(errno))) {
		check_report(&c, name);
		return;
	}
	memset(p, 1, len);
	/* PROT_NONE, not unmapped: the ring could be mapped in a hole */
	if (!check(&c, !mprotect(p + 8 * pagesize, pagesize, PROT_NONE),
		   "mprotect: %s", strerror(errno)))
		goto out;
	ret = io_uring_queue_init(1, &ring, 0);
	if (check(&c, ret == 0, "io_uring_queue_init: %s", strerror(-ret))) {
		held0 = pins_held();
		iov.iov_base = p;
		iov.iov_len = len;
		ret = io_uring_register_buffers(&ring, &iov, 1);
		check(&c, ret == -EFAULT, "register: %s, expected EFAULT",
		      ret ? strerror(-ret) : "success");
		pins_held_since(&c, held0, 0, "refused");
		io_uring_queue_exit(&ring);
	}
out:
	munmap(p, len);
	check_report(&c, name);
}

int main(int argc, char **argv)
{
	const char *target = "/dev/ram0", *extra[MAX_EXTRA];
	int opt, nr_extra = 0, i, fd;
	char what[PATH_MAX + 32], name[PATH_MAX + 96];
	long a, r;

	while ((opt = getopt(argc, argv, "d:m:")) != -1) {
		switch (opt) {
		case 'd':
			target = optarg;
			break;
		case 'm':
			if (nr_extra < MAX_EXTRA) {
				extra[nr_extra++] = optarg;
				break;
			}
			fprintf(stderr, "at most %d -m files\n", MAX_EXTRA);
			return KSFT_FAIL;
		default:
			fprintf(stderr, "usage: %s [-d DEVICE] [-m DIR]...\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	pagesize = getpagesize();
	hugetlbsize = default_huge_page_size();
	ksft_print_header();
	have_counters = read_pin_counters(&a, &r) == 1;
	if (!have_counters)
		ksft_print_msg("%s\n",
			       "pin counters unavailable or inexact (not root?): the pin checks are left out");
	ksft_set_plan(5 + 2 * nr_extra);
	test_mixed(target, NULL, false);
	test_mixed(target, NULL, true);
	fd = memfd_create("uring_fixed_pin", 0);
	if (fd < 0 || ftruncate(fd, pagesize))
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	test_shared_fd(fd, "a shmem file", false);
	snprintf(what, sizeof(what), "%s (block device page cache)", target);
	snprintf(name, sizeof(name),
		 "writable MAP_SHARED of %s: refused, no pin left", what);
	fd = open_device(target, 0, pagesize, name);
	if (fd >= 0)
		test_shared_fd(fd, what, true);
	for (i = 0; i < nr_extra; i++) {
		test_mixed(NULL, extra[i], false);
		test_shared_in_dir(extra[i]);
	}
	test_hole();
	ksft_finished();
}

#else /* LOCAL_CONFIG_HAVE_LIBURING */

int main(void)
{
	ksft_print_header();
	ksft_exit_skip("built without liburing\n");
}

#endif /* LOCAL_CONFIG_HAVE_LIBURING */
