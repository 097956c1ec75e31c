// SPDX-License-Identifier: GPL-2.0
/*
 * Access to another process's memory through GUP: /proc/pid/mem and
 * PTRACE_PEEKDATA / PTRACE_POKEDATA (__access_remote_vm()), on private
 * anonymous, shmem, hugetlb and MAP_SHARED file memory.
 *
 * For each backing a traced child maps the memory and stops; the parent
 * writes through /proc/<child>/mem and PTRACE_POKEDATA, reads back through
 * both, and the child checks that it sees the data.  Written file data must
 * reach the file (pread() after msync()).  FOLL_FORCE semantics on
 * PROT_READ mappings: a private mapping, hugetlb included, is written (COW),
 * a shared one is not.  A page that a userfaultfd has yet to fill fails
 * at once (EIO), without waiting for the monitor.  GUP pins taken on the
 * way must all be released.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "../kselftest.h"
#include "vm_util.h"

enum backing { ANON, SHMEM, HUGETLB, FILE_SHARED, NR_BACKINGS };

static const char * const backing_name[NR_BACKINGS] = {
	"anon", "shmem", "hugetlb", "file",
};

static size_t pagesize;
static int file_fd = -1;

/* nr_foll_pin_acquired - nr_foll_pin_released, or -1 */
static long pins_outstanding(void)
{
	long acquired, released;

	/* Folded first where we may; any values we can read will do. */
	if (read_pin_counters(&acquired, &released) < 0)
		return -1;
	return acquired - released;
}

/* Map one page (one huge page for hugetlb) of @b with protection @prot. */
static char *map_backing(enum backing b, int prot, size_t *size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
	char *p;

	*size = pagesize;
	switch (b) {
	case ANON:
		break;
	case SHMEM:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case HUGETLB:
		flags |= MAP_HUGETLB;
		*size = HPAGE_SIZE;
		break;
	case FILE_SHARED:
		flags = MAP_SHARED;
		fd = file_fd;
		break;
	default:
		return MAP_FAILED;
	}
	p = mmap(NULL, *size, prot, flags, fd, 0);
	if (p != MAP_FAILED && (prot & PROT_WRITE))
		memset(p, 0, *size);
	return p;
}

/*
 * The child: map, tell the parent where, stop for it, then report whether
 * the memory holds what the parent says it wrote.
 */
static void child(enum backing b, int prot, int to_parent, int from_parent)
{
	size_t size;
	char *p = map_backing(b, prot, &size);
	char want[16];
	bool ok;

	if (write(to_parent, &p, sizeof(p)) != sizeof(p))
		_exit(2);
	if (p == MAP_FAILED)
		_exit(3);
	raise(SIGSTOP);
	if (read(from_parent, want, sizeof(want)) != sizeof(want))
		_exit(4);
	ok = !memcmp(p, want, sizeof(want));
	_exit(ok ? 0 : 1);
}

struct remote {
	pid_t pid;
	char *addr;
	int memfd;
	int to_child;
};

/* Start a traced child that maps @b, stopped; 1 if it could not map. */
static int start_child(enum backing b, int prot, struct remote *r)
{
	int up[2], down[2], status;
	char path[64];

	if (pipe(up) || pipe(down))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	r->pid = fork();
	if (r->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!r->pid) {
		close(up[0]);
		close(down[1]);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(5);
		child(b, prot, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	r->to_child = down[1];
	if (read(up[0], &r->addr, sizeof(r->addr)) != sizeof(r->addr))
		ksft_exit_fail_msg("child did not report\n");
	close(up[0]);
	if (r->addr == MAP_FAILED) {
		waitpid(r->pid, &status, 0);
		close(r->to_child);
		return 1;
	}
	if (waitpid(r->pid, &status, 0) != r->pid || !WIFSTOPPED(status))
		ksft_exit_fail_msg("child did not stop\n");
	snprintf(path, sizeof(path), "/proc/%d/mem", r->pid);
	r->memfd = open(path, O_RDWR);
	if (r->memfd < 0)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	return 0;
}

/* Tell the child what it should see, let it run; did it see it? */
static bool finish_child(struct remote *r, const char *want)
{
	int status;

	close(r->memfd);
	if (write(r->to_child, want, 16) != 16)
		ksft_exit_fail_msg("write to child: %s\n", strerror(errno));
	close(r->to_child);
	ptrace(PTRACE_DETACH, r->pid, 0, 0);
	if (waitpid(r->pid, &status, 0) != r->pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Write through /proc/pid/mem and POKEDATA, read back through both. */
static void test_rw(enum backing b)
{
	const char *name = backing_name[b];
	char data[16] = "remote-access-1", back[16];
	long word, peek;
	struct remote r;
	bool seen;

	if (start_child(b, PROT_READ | PROT_WRITE, &r)) {
		ksft_test_result_skip("%s: cannot map (no hugetlb pages?)\n",
				      name);
		return;
	}
	if (pwrite(r.memfd, data, 8, (off_t)(unsigned long)r.addr) != 8) {
		ksft_test_result_fail("%s: /proc/pid/mem write: %s\n", name,
				      strerror(errno));
		finish_child(&r, data);
		return;
	}
	memcpy(&word, data + 8, sizeof(word));
	errno = 0;
	if (ptrace(PTRACE_POKEDATA, r.pid, r.addr + 8, (void *)word)) {
		ksft_test_result_fail("%s: POKEDATA: %s\n", name,
				      strerror(errno));
		finish_child(&r, data);
		return;
	}
	errno = 0;
	peek = ptrace(PTRACE_PEEKDATA, r.pid, r.addr, 0);
	if (errno || memcmp(&peek, data, sizeof(peek))) {
		ksft_test_result_fail("%s: PEEKDATA read back wrong data\n",
				      name);
		finish_child(&r, data);
		return;
	}
	if (pread(r.memfd, back, 16, (off_t)(unsigned long)r.addr) != 16 ||
	    memcmp(back, data, 16)) {
		ksft_test_result_fail("%s: /proc/pid/mem read back wrong data\n",
				      name);
		finish_child(&r, data);
		return;
	}
	seen = finish_child(&r, data);
	ksft_test_result(seen,
			 "%s: written and read back, and the child sees it\n",
			 name);
}

/* The written file data reaches the file. */
static void test_file_reaches_file(void)
{
	char data[16] = "remote-to-file!", back[16];
	struct remote r;
	char *p;

	if (start_child(FILE_SHARED, PROT_READ | PROT_WRITE, &r))
		ksft_exit_fail_msg("cannot map the file\n");
	if (pwrite(r.memfd, data, 16, (off_t)(unsigned long)r.addr) != 16)
		ksft_exit_fail_msg("/proc/pid/mem write: %s\n", strerror(errno));
	finish_child(&r, data);
	/* The child has exited: its mapping is gone, the file stays. */
	p = mmap(NULL, pagesize, PROT_READ, MAP_SHARED, file_fd, 0);
	if (p != MAP_FAILED) {
		msync(p, pagesize, MS_SYNC);
		munmap(p, pagesize);
	}
	ksft_test_result(pread(file_fd, back, 16, 0) == 16 &&
			 !memcmp(back, data, 16),
			 "file: data written through /proc/pid/mem is in the file\n");
}

/*
 * FOLL_FORCE on PROT_READ mappings, as a debugger uses it: a private
 * mapping is written (COW), hugetlb included; a shared one is not.
 */
static void test_force(enum backing b, bool expect_written)
{
	const char *name = backing_name[b];
	char data[16] = "forced-write!!!", zero[16] = { 0 };
	struct remote r;
	ssize_t n;
	bool seen;
	int err;

	/* The file holds what the tests before wrote: clear it. */
	if (b == FILE_SHARED && (ftruncate(file_fd, 0) ||
				 ftruncate(file_fd, pagesize)))
		ksft_exit_fail_msg("ftruncate: %s\n", strerror(errno));
	if (start_child(b, PROT_READ, &r)) {
		ksft_test_result_skip("%s: cannot map (no hugetlb pages?)\n",
				      name);
		return;
	}
	n = pwrite(r.memfd, data, 16, (off_t)(unsigned long)r.addr);
	err = n < 0 ? errno : 0;
	seen = finish_child(&r, expect_written ? data : zero);
	if (expect_written)
		ksft_test_result(n == 16 && seen,
				 "%s PROT_READ: forced write lands (COW)\n",
				 name);
	else
		ksft_test_result(n < 0 && err == EIO && seen,
				 "%s PROT_READ: forced write refused (EIO): %s, memory %s\n",
				 name, n < 0 ? strerror(err) : "written",
				 seen ? "unchanged" : "changed");
}

/* A fresh page registered with userfaultfd (MISSING), or MAP_FAILED. */
static char *uffd_page(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char *p;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return MAP_FAILED;
	p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	reg.range.start = (unsigned long)p;
	reg.range.len = pagesize;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return MAP_FAILED;
	return p;
}

/*
 * A read through /proc/pid/mem of a page that a userfaultfd monitor has
 * yet to fill fails at once with EIO, as GUP under mmap_lock has always
 * done: it must not wait for the monitor (here there is none, so a wait
 * would be for ever; the reader is killed after 10 s).
 */
static void test_uffd(void)
{
	int up[2], status, i;
	pid_t target, reader;
	char *addr;

	if (pipe(up))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	target = fork();
	if (target < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!target) {
		addr = uffd_page();
		if (write(up[1], &addr, sizeof(addr)) != sizeof(addr))
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(up[0], &addr, sizeof(addr)) != sizeof(addr))
		ksft_exit_fail_msg("userfaultfd child did not report\n");
	close(up[0]);
	close(up[1]);
	if (addr == MAP_FAILED) {
		kill(target, SIGKILL);
		waitpid(target, &status, 0);
		ksft_test_result_skip("userfaultfd: not available here\n");
		return;
	}

	reader = fork();
	if (reader < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!reader) {
		char path[64], c;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/mem", target);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			_exit(3);
		if (pread(fd, &c, 1, (off_t)(unsigned long)addr) < 0 &&
		    errno == EIO)
			_exit(0);
		_exit(1);
	}
	for (i = 0; i < 100; i++) {
		if (waitpid(reader, &status, WNOHANG) == reader)
			break;
		usleep(100000);
	}
	if (i == 100) {
		kill(reader, SIGKILL);
		waitpid(reader, &status, 0);
		ksft_test_result_fail("userfaultfd: the read waited (killed after 10 s)\n");
	} else {
		ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
				 "userfaultfd: reading a page not yet filled fails at once (EIO)\n");
	}
	kill(target, SIGKILL);
	waitpid(target, &status, 0);
}

int main(void)
{
	char file_path[] = "/tmp/remote_access.XXXXXX";
	long pins_before, pins_after;
	enum backing b;

	pagesize = getpagesize();
	ksft_print_header();
	ksft_set_plan(NR_BACKINGS + 1 + 4 + 1 + 1);

	file_fd = mkstemp(file_path);
	if (file_fd < 0 || ftruncate(file_fd, pagesize))
		ksft_exit_fail_msg("%s: %s\n", file_path, strerror(errno));
	unlink(file_path);

	pins_before = pins_outstanding();

	for (b = 0; b < NR_BACKINGS; b++)
		test_rw(b);
	test_file_reaches_file();
	test_force(ANON, true);
	test_force(HUGETLB, true);
	test_force(SHMEM, false);
	test_force(FILE_SHARED, false);
	test_uffd();

	pins_after = pins_outstanding();
	if (pins_before < 0)
		ksft_test_result_skip("pins: no nr_foll_pin_* in /proc/vmstat\n");
	else
		ksft_test_result(pins_after == pins_before,
				 "pins: every pin taken was released (%ld outstanding before, %ld after)\n",
				 pins_before, pins_after);
	close(file_fd);
	ksft_finished();
}
