// SPDX-License-Identifier: GPL-2.0
/*
 * The FOLL_PIN users under stress, and under fault injection.
 *
 * Stress (-t SECONDS, the default): for a fixed time per scenario, several
 * threads work on the same memory while others change it underneath:
 *
 *  vmsplice  vmsplice() of a buffer into pipes that are then read, tee()d,
 *            spliced to a file or to /dev/null, or closed unread, while
 *            another thread munmap()s and maps the buffer again,
 *            MADV_DONTNEEDs it and fork()s children that write to it;
 *  uring     io_uring buffer registration, WRITE_FIXED and READ_FIXED and
 *            unregistration, while another thread does the same to the
 *            registered memory;
 *  procmem   /proc/pid/mem, process_vm_readv()/writev() and
 *            PTRACE_PEEKDATA/POKEDATA on a child while a thread of the child
 *            munmap()s and maps that memory again.
 *
 * The memory only ever holds zeroes (freshly mapped) or a stamp that names
 * its own offset, and the children write a marker of their own: every byte
 * that comes out of a pipe, a file or another process is checked to be a
 * zero or the stamp of exactly its position (a byte from a freed and reused
 * page, from another offset or from a child's copy fails).  Each scenario
 * ends with the pin counters balanced.
 *
 * Fault injection (-f): every pinning call of the scenarios (vmsplice(),
 * tee(), splice() to a file, io_uring buffer registration, WRITE_FIXED,
 * /proc/pid/mem, process_vm_readv()/writev(), PTRACE_PEEKDATA/POKEDATA) is
 * made once for each allocation on its path with that allocation failing
 * (failslab and fail_page_alloc through /proc/thread-self/fail-nth: only the
 * test's own thread sees failures), on anon, THP, shmem and hugetlb memory,
 * -r times.  Each call must succeed with correct data or fail with a proper
 * errno, and leave no pin behind; after all of them MemAvailable must not
 * have dropped by more than a few megabytes (a leaked page reference).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "../kselftest.h"
#include "vm_util.h"
#include "pin_check.h"
#include "local_config.h"
#ifdef LOCAL_CONFIG_HAVE_LIBURING
#include <liburing.h>
#endif

#define STAMP_MAGIC	0x5a17ULL	/* top 16 bits of a stamp */
#define CHILD_MAGIC	0xc5c5ULL	/* what a fork()ed child writes */
#define POS_MASK	((1ULL << 48) - 1)
#define REGION_PAGES	64
#define SPAN_PAGES	16
#define MAX_SITES	400
#define MAX_LEAK_KB	(16 * 1024)

#define FMT_SPLICER \
	"  splicer %d: %lu read, %lu tee, %lu to a file, %lu to /dev/null, %lu closed unread\n"
#define FMT_VMSPLICE \
	"vmsplice, %s: %lu calls (%lu failed: holes), %lu MiB spliced; %lu remaps (%lu after a hole), %lu DONTNEED, %lu fork()s, %lu refills\n"
#define FMT_URING \
	"io_uring, %s: %lu registrations (%lu refused: holes), %lu WRITE_FIXED, %lu READ_FIXED; %lu remaps (%lu after a hole), %lu DONTNEED, %lu fork()s\n"
#define FMT_PROCMEM \
	"procmem: %lu reads, %lu writes (%lu failed: holes); ptrace: %lu stops, %lu PEEKDATA, %lu POKEDATA (%lu failed)\n"
#define FMT_NO_FAULT_INJECTION \
	"fault injection: no /proc/thread-self/fail-nth or failslab/fail_page_alloc in debugfs (CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC; root)\n"
#define FMT_FAULT_CASE \
	"%s: %lu calls, %lu with a failure injected, %lu failed; %lu sites on the longest path\n"

static size_t pagesize, thpsize, hugetlbsize;
static bool have_counters, have_process_vm;
static int stress_seconds = 5;
static int fault_rounds = 2;
static bool stop;

/*
 * The mutating thread starts only once the others are set up: it opens holes
 * in the address space, which an mmap() of theirs (a ring, a buffer) could
 * land in and then be mapped over.
 */
static pthread_barrier_t ready;

static bool stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static inline uint64_t stamp(uint64_t word)
{
	return STAMP_MAGIC << 48 | word;
}

static unsigned int rnd(unsigned int *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 17;
	*seed ^= *seed << 5;
	return *seed;
}

/* ----------------------------------------------------------------- pins */

struct pins {
	long acquired, released;
};

/* False (and zeroes) when the counters are missing or inexact (not root). */
static inline bool pins_now(struct pins *p)
{
	if (read_pin_counters(&p->acquired, &p->released) == 1)
		return true;
	p->acquired = 0;
	p->released = 0;
	return false;
}

/*
 * Pins taken since @from and not released yet.  Deferred work (a pipe
 * buffer released from a workqueue, io_uring's ring teardown) gets up to
 * two seconds to finish before the count is taken.
 */
static inline long pins_held_since(const struct pins *from)
{
	struct pins now;
	long held = 0;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		pins_now(&now);
		held = (now.acquired - from->acquired) -
		       (now.released - from->released);
		if (!held)
			break;
		usleep(20000);
	}
	return held;
}

/* --------------------------------------------------------------- memory */

enum mem_kind { MEM_ANON, MEM_THP, MEM_SHMEM, MEM_HUGETLB, NR_MEM_KINDS };

static const char * const mem_name[] = {
	"anon", "THP", "shmem", "hugetlb",
};

struct region {
	char *addr;
	size_t len;
	enum mem_kind kind;
	int memfd;
};

/* Stamp every word of [off, off + len) of @r with its offset in @r. */
static void region_fill(struct region *r, size_t off, size_t len)
{
	uint64_t *p = (uint64_t *)(r->addr + off);
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = stamp(off / 8 + i);
}

static bool region_map(struct region *r, enum mem_kind kind, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t align = kind == MEM_THP ? thpsize : 0;
	char *p;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->memfd = -1;
	r->len = len;
	if (kind == MEM_HUGETLB) {
		if (!hugetlbsize)
			return false;
		len = (len + hugetlbsize - 1) & ~(hugetlbsize - 1);
		r->len = len;
		flags |= MAP_HUGETLB;
	}
	if (kind == MEM_SHMEM) {
		r->memfd = memfd_create("pin_stress", 0);
		if (r->memfd < 0 || ftruncate(r->memfd, len))
			return false;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 r->memfd, 0);
	} else {
		p = mmap(NULL, len + align, PROT_READ | PROT_WRITE, flags, -1,
			 0);
	}
	if (p == MAP_FAILED) {
		if (r->memfd >= 0)
			close(r->memfd);
		return false;
	}
	if (align) {
		char *a = (char *)(((uintptr_t)p + align - 1) & ~(align - 1));

		if (a > p)
			munmap(p, a - p);
		munmap(a + len, p + align - a);
		p = a;
		if (madvise(p, len, MADV_HUGEPAGE)) {
			munmap(p, len);
			return false;
		}
	}
	r->addr = p;
	region_fill(r, 0, len);
	return true;
}

static void region_unmap(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->len);
	if (r->memfd >= 0)
		close(r->memfd);
	r->addr = NULL;
	r->memfd = -1;
}

/* What the bytes read back may be. */
enum match {
	STAMP_OR_ZERO,		/* the stamps of exactly their place, or 0 */
	PAGE_STAMP_OR_ZERO,	/* the same, from any page of the region */
	STAMP_ONLY,		/* the stamps of exactly their place */
};

/*
 * @len bytes that came from offset @pos of a region of @nr_pages pages
 * (for PAGE_STAMP_OR_ZERO, @pos is only known within a page).
 */
static bool data_ok(struct check *c, const char *what, const char *buf,
		    size_t len, uint64_t pos, enum match match,
		    size_t nr_pages)
{
	const size_t wpp = pagesize / 8;
	const uint64_t *w = (const uint64_t *)buf;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		uint64_t word = pos / 8 + i, idx = w[i] & POS_MASK;
		bool ok;

		if (!w[i] && match != STAMP_ONLY)
			continue;
		if (match == PAGE_STAMP_OR_ZERO)
			ok = w[i] >> 48 == STAMP_MAGIC &&
			     idx % wpp == word % wpp && idx / wpp < nr_pages;
		else
			ok = w[i] == stamp(word);
		if (!ok)
			return check(c, false,
				     "%s: word %zu (offset %llu) is 0x%016llx, not %sthe stamp of its place%s",
				     what, i, (unsigned long long)(pos + 8 * i),
				     (unsigned long long)w[i],
				     match == STAMP_ONLY ? "" : "zero or ",
				     w[i] >> 48 == CHILD_MAGIC ?
				     " (a fork()ed child's write)" : "");
	}
	return true;
}

static bool errno_ok(struct check *c, const char *what, int err,
		     const int *allowed)
{
	for (; *allowed; allowed++)
		if (err == *allowed)
			return true;
	return check(c, false, "%s: unexpected error %d (%s)", what, err,
		     strerror(err));
}

static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0)
			return -1;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/*
 * The child side of a fork() from the stress threads: write the child's
 * marker into its copy of the memory (COW breaks, the parent's pins must
 * keep the parent's pages) and leave.
 */
static void child_scribble(struct region *r)
{
	uint64_t *p = (uint64_t *)r->addr;
	size_t i;

	if (r->kind == MEM_SHMEM)	/* shared: the parent would see it */
		_exit(0);
	for (i = 0; i < r->len / 8; i += 8)
		p[i] = CHILD_MAGIC << 48 | i;
	_exit(0);
}

/* ------------------------------------------------- the mutating thread */

struct mutator {
	struct region *r;
	unsigned long remaps, holes, dontneeds, forks, fills;
	struct check c;
	unsigned int seed;
};

/*
 * Change the region underneath the pinning threads: DONTNEED a span, map
 * it anew (atomically, MAP_FIXED, or after a hole where it was unmapped),
 * rewrite its stamps, fork() a child that scribbles on its copy.  The
 * region's contents stay "zero or stamp" throughout.
 */
static void *mutator_fn(void *arg)
{
	struct mutator *m = arg;
	struct region *r = m->r;
	size_t npages = r->len / pagesize;
	int status;
	pid_t pid;

	while (!stopped()) {
		size_t first = rnd(&m->seed) % npages;
		size_t n = 1 + rnd(&m->seed) % SPAN_PAGES;
		size_t off = first * pagesize, len;
		char *p;

		if (first + n > npages)
			n = npages - first;
		len = n * pagesize;
		switch (rnd(&m->seed) % 6) {
		case 0:
			if (!madvise(r->addr + off, len, MADV_DONTNEED))
				m->dontneeds++;
			break;
		case 1:
		case 2:
			if (r->kind == MEM_SHMEM || r->kind == MEM_HUGETLB)
				break;	/* stays one VMA of one file */
			if (rnd(&m->seed) & 1) {
				munmap(r->addr + off, len);
				usleep(50);
				m->holes++;
			}
			p = mmap(r->addr + off, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0);
			if (!check(&m->c, p == r->addr + off,
				   "mmap(MAP_FIXED): %s", strerror(errno)))
				goto out;
			region_fill(r, off, len);
			m->remaps++;
			break;
		case 3:
			pid = fork();
			if (!pid)
				child_scribble(r);
			if (!check(&m->c, pid > 0, "fork: %s", strerror(errno)))
				goto out;
			waitpid(pid, &status, 0);
			m->forks++;
			break;
		default:
			region_fill(r, off, len);
			m->fills++;
			break;
		}
	}
out:
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	return NULL;
}

/* ----------------------------------------------------- vmsplice stress */

static const int vmsplice_errnos[] = { EFAULT, EAGAIN, ENOMEM, 0 };

struct splicer {
	struct region *r;
	unsigned long calls, bytes, failed, reads, tees, to_file, to_null,
		      closed;
	struct check c;
	unsigned int seed;
};

static bool new_pipes(struct check *c, int p[2], int q[2])
{
	return check(c, !pipe(p) && !pipe(q), "pipe: %s", strerror(errno));
}

static void close_pipes(int p[2], int q[2])
{
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* Empty the pipe @fd of its @len bytes by the means @how, checking them. */
static bool drain(struct splicer *s, int how, int p[2], int q[2], int null,
		  int file, size_t len, char *buf, size_t npages)
{
	loff_t off = 0;
	ssize_t n, t;

	switch (how) {
	case 0:
		n = read_full(p[0], buf, len);
		s->reads++;
		return check(&s->c, n == (ssize_t)len, "read: %zd of %zu: %s",
			     n, len, strerror(errno)) &&
		       data_ok(&s->c, "read() after vmsplice()", buf, len, 0,
			       PAGE_STAMP_OR_ZERO, npages);
	case 1:
		t = tee(p[0], q[1], len, SPLICE_F_NONBLOCK);
		if (t < 0)
			return errno_ok(&s->c, "tee", errno, vmsplice_errnos) &&
			       drain(s, 0, p, q, null, file, len, buf, npages);
		s->tees++;
		n = read_full(q[0], buf, t);
		if (!check(&s->c, n == t, "read tee()d: %zd of %zd", n, t) ||
		    !data_ok(&s->c, "the tee()d copy", buf, t, 0,
			     PAGE_STAMP_OR_ZERO, npages))
			return false;
		return drain(s, 0, p, q, null, file, len, buf, npages);
	case 2:
		n = splice(p[0], NULL, file, &off, len, 0);
		if (!check(&s->c, n > 0, "splice to a file: %zd: %s", n,
			   strerror(errno)))
			return false;
		s->to_file++;
		t = pread(file, buf, n, 0);
		if (!check(&s->c, t == n, "pread: %zd of %zd", t, n) ||
		    !data_ok(&s->c, "splice() to a file", buf, n, 0,
			     PAGE_STAMP_OR_ZERO, npages))
			return false;
		if (n < (ssize_t)len)	/* the rest of it, read */
			return check(&s->c, read_full(p[0], buf, len - n) ==
					    (ssize_t)(len - n),
				     "read the rest") &&
			       data_ok(&s->c, "read() after splice()", buf,
				       len - n, n, PAGE_STAMP_OR_ZERO,
				       npages);
		return true;
	case 3:
		n = splice(p[0], NULL, null, NULL, len, 0);
		s->to_null++;
		return check(&s->c, n == (ssize_t)len,
			     "splice to /dev/null: %zd of %zu: %s", n, len,
			     strerror(errno));
	}
	return true;
}

static void *splicer_fn(void *arg)
{
	struct splicer *s = arg;
	struct region *r = s->r;
	size_t npages = r->len / pagesize;
	int p[2], q[2], null, file;
	char *buf;

	buf = malloc(SPAN_PAGES * pagesize);
	null = open("/dev/null", O_WRONLY);
	file = memfd_create("pin_stress_splice", 0);
	if (!check(&s->c, buf && null >= 0 && file >= 0, "setup: %s",
		   strerror(errno)) || !new_pipes(&s->c, p, q)) {
		pthread_barrier_wait(&ready);
		goto out;
	}
	pthread_barrier_wait(&ready);
	while (!stopped() && s->c.ok) {
		size_t first = rnd(&s->seed) % npages;
		size_t n = 1 + rnd(&s->seed) % SPAN_PAGES;
		struct iovec iov;
		ssize_t ret;
		int how;

		if (first + n > npages)
			n = npages - first;
		iov.iov_base = r->addr + first * pagesize;
		iov.iov_len = n * pagesize;
		ret = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
		s->calls++;
		if (ret < 0) {
			s->failed++;
			errno_ok(&s->c, "vmsplice", errno, vmsplice_errnos);
			continue;
		}
		s->bytes += ret;
		how = rnd(&s->seed) % 5;
		if (how == 4) {		/* close it with the data unread */
			close_pipes(p, q);
			s->closed++;
			if (!new_pipes(&s->c, p, q))
				goto out;
			continue;
		}
		drain(s, how, p, q, null, file, ret, buf, npages);
	}
	close_pipes(p, q);
out:
	free(buf);
	if (null >= 0)
		close(null);
	if (file >= 0)
		close(file);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	return NULL;
}

#define NR_SPLICERS	2

static void stress_vmsplice(enum mem_kind kind)
{
	struct splicer s[NR_SPLICERS] = {};
	pthread_t st[NR_SPLICERS], mt;
	struct mutator m = {};
	struct check c = CHECK_INIT;
	unsigned long calls = 0, bytes = 0, failed = 0;
	char name[96];
	struct pins from;
	struct region r;
	long held;
	int i;

	snprintf(name, sizeof(name),
		 "vmsplice stress, %s: data intact, pins balanced",
		 mem_name[kind]);
	if (!region_map(&r, kind, REGION_PAGES * pagesize)) {
		ksft_test_result_skip("%s (no %s memory)\n", name,
				      mem_name[kind]);
		return;
	}
	pins_now(&from);
	stop = false;
	pthread_barrier_init(&ready, NULL, NR_SPLICERS + 1);
	for (i = 0; i < NR_SPLICERS; i++) {
		s[i] = (struct splicer){ .r = &r, .c = CHECK_INIT,
					 .seed = 7 + 31 * i };
		pthread_create(&st[i], NULL, splicer_fn, &s[i]);
	}
	pthread_barrier_wait(&ready);
	m = (struct mutator){ .r = &r, .c = CHECK_INIT, .seed = 1 };
	pthread_create(&mt, NULL, mutator_fn, &m);
	sleep(stress_seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(mt, NULL);
	check(&c, m.c.ok, "%s", m.c.why);
	for (i = 0; i < NR_SPLICERS; i++) {
		pthread_join(st[i], NULL);
		check(&c, s[i].c.ok, "%s", s[i].c.why);
		calls += s[i].calls;
		bytes += s[i].bytes;
		failed += s[i].failed;
		ksft_print_msg(FMT_SPLICER, i, s[i].reads, s[i].tees,
			       s[i].to_file, s[i].to_null, s[i].closed);
	}
	pthread_barrier_destroy(&ready);
	ksft_print_msg(FMT_VMSPLICE, mem_name[kind], calls, failed,
		       bytes >> 20, m.remaps, m.holes, m.dontneeds, m.forks,
		       m.fills);
	check(&c, calls > failed, "no vmsplice() succeeded");
	region_unmap(&r);
	held = have_counters ? pins_held_since(&from) : 0;
	check(&c, !held, "%ld pins still held after the pipes were closed",
	      held);
	check_report(&c, name);
}

/* ---------------------------------------------------------- uring stress */

#ifdef LOCAL_CONFIG_HAVE_LIBURING

static const int uring_errnos[] = { EFAULT, ENOMEM, EAGAIN, 0 };

/* One SQE, waited for; the CQE's result. */
static int uring_rw(struct io_uring *ring, bool write, int fd, void *buf,
		    unsigned int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, 0);
	ret = io_uring_submit(ring);
	if (ret != 1)	/* 0: no request could be allocated */
		return ret < 0 ? ret : -EAGAIN;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* A file of @len bytes of stamps, for READ_FIXED. */
static int stamp_file(size_t len)
{
	struct region tmp;
	int fd = memfd_create("pin_stress_stamps", 0);

	if (fd < 0)
		return -1;
	if (!region_map(&tmp, MEM_ANON, len) ||
	    pwrite(fd, tmp.addr, len, 0) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	region_unmap(&tmp);
	return fd;
}

struct uring_worker {
	struct region *r;
	unsigned long registered, refused, writes, reads;
	struct check c;
	unsigned int seed;
};

static void *uring_fn(void *arg)
{
	struct uring_worker *u = arg;
	struct region *r = u->r;
	struct io_uring ring;
	int out, in, ret;
	struct iovec iov;
	char *buf;

	buf = malloc(r->len);
	out = memfd_create("pin_stress_out", 0);
	in = stamp_file(r->len);
	ret = io_uring_queue_init(4, &ring, 0);
	pthread_barrier_wait(&ready);
	if (!check(&u->c, buf && out >= 0 && in >= 0 && !ret,
		   "setup: %s", strerror(ret ? -ret : errno)))
		goto out;
	iov.iov_base = r->addr;
	iov.iov_len = r->len;
	while (!stopped() && u->c.ok) {
		ret = io_uring_register_buffers(&ring, &iov, 1);
		if (ret) {
			u->refused++;
			errno_ok(&u->c, "register_buffers", -ret,
				 uring_errnos);
			continue;
		}
		u->registered++;
		if (rnd(&u->seed) & 1) {
			ret = uring_rw(&ring, false, in, r->addr, r->len);
			check(&u->c, ret == (int)r->len,
			      "READ_FIXED: %d of %zu", ret, r->len);
			u->reads++;
		}
		ret = uring_rw(&ring, true, out, r->addr, r->len);
		u->writes++;
		if (check(&u->c, ret == (int)r->len, "WRITE_FIXED: %d of %zu",
			  ret, r->len) &&
		    check(&u->c, pread(out, buf, r->len, 0) == (ssize_t)r->len,
			  "pread: %s", strerror(errno)))
			data_ok(&u->c, "WRITE_FIXED from the registered buffer",
				buf, r->len, 0, STAMP_OR_ZERO, 0);
		ret = io_uring_unregister_buffers(&ring);
		check(&u->c, !ret, "unregister_buffers: %s", strerror(-ret));
	}
	io_uring_queue_exit(&ring);
out:
	free(buf);
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	return NULL;
}

#define NR_URING	2

static void stress_uring(enum mem_kind kind)
{
	struct uring_worker u[NR_URING] = {};
	pthread_t ut[NR_URING], mt;
	struct check c = CHECK_INIT;
	unsigned long registered = 0, refused = 0, writes = 0, reads = 0;
	struct mutator m;
	struct pins from;
	struct region r;
	char name[96];
	long held;
	int i;

	snprintf(name, sizeof(name),
		 "io_uring stress, %s: data intact, pins balanced",
		 mem_name[kind]);
	if (!region_map(&r, kind, REGION_PAGES / 2 * pagesize)) {
		ksft_test_result_skip("%s (no %s memory)\n", name,
				      mem_name[kind]);
		return;
	}
	pins_now(&from);
	stop = false;
	pthread_barrier_init(&ready, NULL, NR_URING + 1);
	for (i = 0; i < NR_URING; i++) {
		u[i] = (struct uring_worker){ .r = &r, .c = CHECK_INIT,
					      .seed = 11 + 13 * i };
		pthread_create(&ut[i], NULL, uring_fn, &u[i]);
	}
	pthread_barrier_wait(&ready);
	m = (struct mutator){ .r = &r, .c = CHECK_INIT, .seed = 3 };
	pthread_create(&mt, NULL, mutator_fn, &m);
	sleep(stress_seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(mt, NULL);
	check(&c, m.c.ok, "%s", m.c.why);
	for (i = 0; i < NR_URING; i++) {
		pthread_join(ut[i], NULL);
		check(&c, u[i].c.ok, "%s", u[i].c.why);
		registered += u[i].registered;
		refused += u[i].refused;
		writes += u[i].writes;
		reads += u[i].reads;
	}
	pthread_barrier_destroy(&ready);
	ksft_print_msg(FMT_URING, mem_name[kind], registered, refused, writes,
		       reads, m.remaps, m.holes, m.dontneeds, m.forks);
	check(&c, registered > 0, "no registration succeeded");
	region_unmap(&r);
	held = have_counters ? pins_held_since(&from) : 0;
	check(&c, !held, "%ld pins still held after unregistering", held);
	check_report(&c, name);
}

#endif /* LOCAL_CONFIG_HAVE_LIBURING */

/* -------------------------------------------------------- procmem stress */

/*
 * The target: a child with a churned region (its own thread maps, unmaps,
 * DONTNEEDs and refills it) and a quiet one, which starts out stamped and
 * which the parent overwrites with "settled" stamps: pages [0, 3) through
 * /proc/pid/mem, [3, 6) with process_vm_writev(), [6, 8) with
 * PTRACE_POKEDATA, so that each interface's writes are checked on their
 * own.  Told on its command pipe to finish, the target stops churning and
 * checks the quiet region.
 */
#define QUIET_PAGES	8
#define QUIET_VM	3
#define QUIET_POKE	6
#define SETTLED_MAGIC	0x5e77ULL

static inline uint64_t settled(uint64_t word)
{
	return SETTLED_MAGIC << 48 | word;
}

struct target {
	pid_t pid;
	int cmd;		/* write end: a byte means "finish" */
	struct region churn;
	char *quiet;
	char *fresh;		/* never touched by the target */
};

/* Every fault-injection call into the fresh region gets its own PMD. */
#define FRESH_CHUNK	(2UL << 20)
#define FRESH_CHUNKS	128

static void *target_churn_fn(void *arg)
{
	struct mutator *m = arg;
	struct region *r = m->r;
	size_t npages = r->len / pagesize;

	while (!stopped()) {
		size_t first = rnd(&m->seed) % npages;
		size_t n = 1 + rnd(&m->seed) % 4;
		size_t off = first * pagesize, len;

		if (first + n > npages)
			n = npages - first;
		len = n * pagesize;
		switch (rnd(&m->seed) % 4) {
		case 0:
			madvise(r->addr + off, len, MADV_DONTNEED);
			break;
		case 1:		/* a hole for a moment, then mapped again */
		case 2:		/* mapped again at once */
			if (rnd(&m->seed) & 1) {
				munmap(r->addr + off, len);
				usleep(20);
			}
			if (mmap(r->addr + off, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != r->addr + off)
				_exit(3);
			region_fill(r, off, len);
			break;
		default:
			region_fill(r, off, len);
			break;
		}
	}
	return NULL;
}

static void target_main(struct target *t, int cmd, bool churn)
{
	struct mutator m = { .r = &t->churn, .seed = 5 };
	pthread_t th;
	size_t i;
	char x;

	if (churn && pthread_create(&th, NULL, target_churn_fn, &m))
		_exit(3);
	/* blocks; PTRACE_INTERRUPT stops it here and PTRACE_CONT resumes */
	while (read(cmd, &x, 1) < 0 && errno == EINTR)
		;
	if (churn) {
		__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
	}
	for (i = 0; i < QUIET_PAGES * pagesize / 8; i++)
		if (((uint64_t *)t->quiet)[i] != settled(i)) {
			fprintf(stderr,
				"# target: quiet word %zu is 0x%016llx, not the parent's write\n",
				i, (unsigned long long)((uint64_t *)t->quiet)[i]);
			_exit(2);
		}
	_exit(0);
}

static bool target_start(struct check *c, struct target *t, bool churn)
{
	size_t i;
	int p[2];

	memset(t, 0, sizeof(*t));
	t->pid = -1;
	if (!region_map(&t->churn, MEM_ANON, REGION_PAGES / 2 * pagesize))
		return check(c, false, "mmap: %s", strerror(errno));
	t->quiet = mmap(NULL, QUIET_PAGES * pagesize, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!check(c, t->quiet != MAP_FAILED, "mmap: %s", strerror(errno)) ||
	    !check(c, !pipe(p), "pipe: %s", strerror(errno)))
		return false;
	for (i = 0; i < QUIET_PAGES * pagesize / 8; i++)
		((uint64_t *)t->quiet)[i] = stamp(i);
	t->fresh = mmap(NULL, FRESH_CHUNKS * FRESH_CHUNK,
			PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!check(c, t->fresh != MAP_FAILED, "mmap: %s", strerror(errno)))
		return false;
	t->pid = fork();
	if (!t->pid) {
		close(p[1]);
		stop = false;
		target_main(t, p[0], churn);
	}
	close(p[0]);
	t->cmd = p[1];
	return check(c, t->pid > 0, "fork: %s", strerror(errno));
}

/* Tell the target to finish; its verdict on the quiet region. */
static void target_finish(struct check *c, struct target *t)
{
	int status;

	if (t->pid > 0) {
		if (write(t->cmd, "x", 1) != 1)
			kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		check(c, WIFEXITED(status) && !WEXITSTATUS(status),
		      "target: %s %d%s", WIFEXITED(status) ? "exit" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) :
		      WTERMSIG(status),
		      WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
		      " (the quiet region lacks the parent's writes)" : "");
		close(t->cmd);
	}
	region_unmap(&t->churn);
	if (t->quiet && t->quiet != MAP_FAILED)
		munmap(t->quiet, QUIET_PAGES * pagesize);
	if (t->fresh && t->fresh != MAP_FAILED)
		munmap(t->fresh, FRESH_CHUNKS * FRESH_CHUNK);
}

/* The settled stamps of the quiet region's [off, off + len) into @buf. */
static void settled_fill(char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		((uint64_t *)buf)[i] = settled(off / 8 + i);
}

static const int remote_errnos[] = { EIO, EFAULT, ENOMEM, ESRCH, 0 };

struct remote {
	struct target *t;
	unsigned long reads, writes, failed, peeks, pokes, stops;
	struct check c;
	unsigned int seed;
};

/* /proc/pid/mem and process_vm_{read,write}v against the churned memory. */
static void *remote_mem_fn(void *arg)
{
	struct remote *rm = arg;
	struct target *t = rm->t;
	size_t npages = t->churn.len / pagesize;
	char path[64], *buf;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	fd = open(path, O_RDWR);
	buf = malloc(QUIET_PAGES * pagesize);
	if (!check(&rm->c, fd >= 0 && buf, "%s: %s", path, strerror(errno)))
		goto out;
	/* its part of the quiet region, through /proc/pid/mem */
	settled_fill(buf, 0, QUIET_VM * pagesize);
	check(&rm->c, pwrite(fd, buf, QUIET_VM * pagesize,
			     (uintptr_t)t->quiet) ==
			     (ssize_t)(QUIET_VM * pagesize),
	      "pwrite %s: %s", path, strerror(errno));
	while (!stopped() && rm->c.ok) {
		size_t first = rnd(&rm->seed) % npages;
		size_t n = 1 + rnd(&rm->seed) % 4;
		uintptr_t addr;
		struct iovec local, remote;
		size_t off, len;
		ssize_t ret;
		int how = rnd(&rm->seed) % (have_process_vm ? 4 : 2);

		if (first + n > npages)
			n = npages - first;
		off = first * pagesize + (rnd(&rm->seed) % 64) * 8;
		len = n * pagesize - (off % pagesize);
		addr = (uintptr_t)t->churn.addr + off;
		local = (struct iovec){ buf, len };
		remote = (struct iovec){ (void *)addr, len };
		if (how & 1) {		/* write the stamps that are there */
			uint64_t *w = (uint64_t *)buf;
			size_t i;

			for (i = 0; i < len / 8; i++)
				w[i] = stamp(off / 8 + i);
			ret = how == 1 ? pwrite(fd, buf, len, addr) :
			      process_vm_writev(t->pid, &local, 1, &remote, 1,
						0);
			rm->writes++;
		} else {
			ret = how == 0 ? pread(fd, buf, len, addr) :
			      process_vm_readv(t->pid, &local, 1, &remote, 1,
					       0);
			rm->reads++;
			if (ret > 0)
				data_ok(&rm->c, how == 0 ? "/proc/pid/mem read"
					: "process_vm_readv", buf, ret & ~7UL,
					off, STAMP_OR_ZERO, 0);
		}
		if (ret < 0) {
			rm->failed++;
			errno_ok(&rm->c, "remote access", errno,
				 remote_errnos);
		}
	}
	/* and the next part with process_vm_writev() */
	{
		size_t off = QUIET_VM * pagesize;
		size_t len = (QUIET_POKE - QUIET_VM) * pagesize;
		struct iovec local = { buf, len };
		struct iovec remote = { t->quiet + off, len };

		settled_fill(buf, off, len);
		if (have_process_vm)
			check(&rm->c, process_vm_writev(t->pid, &local, 1,
							&remote, 1, 0) ==
				      (ssize_t)len,
			      "process_vm_writev: %s", strerror(errno));
		else	/* no CONFIG_CROSS_MEMORY_ATTACH */
			check(&rm->c, pwrite(fd, buf, len, (uintptr_t)t->quiet +
					     off) == (ssize_t)len,
			      "pwrite %s: %s", path, strerror(errno));
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * PTRACE_PEEKDATA/POKEDATA: stop the target's main thread (its churning
 * thread runs on), peek and poke the churned memory, resume, repeat; at the
 * last stop, settle the last part of the quiet region.
 */
static void *remote_ptrace_fn(void *arg)
{
	struct remote *rm = arg;
	struct target *t = rm->t;
	size_t words = t->churn.len / 8, qw;
	int status, i;

	if (!check(&rm->c, !ptrace(PTRACE_SEIZE, t->pid, 0, 0),
		   "PTRACE_SEIZE: %s", strerror(errno)))
		return NULL;
	while (rm->c.ok) {
		bool last = stopped();

		if (!check(&rm->c, !ptrace(PTRACE_INTERRUPT, t->pid, 0, 0),
			   "PTRACE_INTERRUPT: %s", strerror(errno)) ||
		    !check(&rm->c, waitpid(t->pid, &status, __WALL) == t->pid,
			   "waitpid: %s", strerror(errno)))
			break;
		rm->stops++;
		for (i = 0; i < 64; i++) {
			size_t w = rnd(&rm->seed) % words;
			void *addr = t->churn.addr + 8 * w;
			long v;

			errno = 0;
			if (rnd(&rm->seed) & 1) {
				v = ptrace(PTRACE_PEEKDATA, t->pid, addr, 0);
				rm->peeks++;
				if (!errno)
					data_ok(&rm->c, "PTRACE_PEEKDATA",
						(char *)&v, 8, 8 * w,
						STAMP_OR_ZERO, 0);
			} else {
				ptrace(PTRACE_POKEDATA, t->pid, addr,
				       (void *)stamp(w));
				rm->pokes++;
			}
			if (errno) {
				rm->failed++;
				errno_ok(&rm->c, "ptrace", errno,
					 remote_errnos);
			}
		}
		if (last) {
			for (qw = QUIET_POKE * pagesize / 8;
			     qw < QUIET_PAGES * pagesize / 8 && rm->c.ok; qw++)
				check(&rm->c, !ptrace(PTRACE_POKEDATA, t->pid,
						      t->quiet + 8 * qw,
						      (void *)settled(qw)),
				      "PTRACE_POKEDATA (quiet): %s",
				      strerror(errno));
			check(&rm->c, !ptrace(PTRACE_DETACH, t->pid, 0, 0),
			      "PTRACE_DETACH: %s", strerror(errno));
			return NULL;
		}
		if (!check(&rm->c, !ptrace(PTRACE_CONT, t->pid, 0, 0),
			   "PTRACE_CONT: %s", strerror(errno)))
			break;
		usleep(200);
	}
	ptrace(PTRACE_DETACH, t->pid, 0, 0);
	return NULL;
}

static void stress_procmem(void)
{
	const char *name =
		"/proc/pid/mem, process_vm and ptrace stress: data intact, pins balanced";
	struct check c = CHECK_INIT;
	struct remote mem, pt;
	pthread_t mt, pth;
	struct target t;
	struct pins from;
	long held;

	pins_now(&from);
	stop = false;
	if (!target_start(&c, &t, true)) {
		target_finish(&c, &t);
		check_report(&c, name);
		return;
	}
	mem = (struct remote){ .t = &t, .c = CHECK_INIT, .seed = 17 };
	pt = (struct remote){ .t = &t, .c = CHECK_INIT, .seed = 19 };
	pthread_create(&mt, NULL, remote_mem_fn, &mem);
	pthread_create(&pth, NULL, remote_ptrace_fn, &pt);
	sleep(stress_seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(mt, NULL);
	pthread_join(pth, NULL);
	check(&c, mem.c.ok, "%s", mem.c.why);
	check(&c, pt.c.ok, "%s", pt.c.why);
	target_finish(&c, &t);
	ksft_print_msg(FMT_PROCMEM, mem.reads, mem.writes, mem.failed,
		       pt.stops, pt.peeks, pt.pokes, pt.failed);
	check(&c, mem.reads + mem.writes > mem.failed &&
	      pt.peeks + pt.pokes > pt.failed, "no remote access succeeded");
	held = have_counters ? pins_held_since(&from) : 0;
	check(&c, !held, "%ld pins still held", held);
	check_report(&c, name);
}

/* ------------------------------------------------------- fault injection */

/*
 * One pinning call per fault-injection site on its path.  @op sets up,
 * makes the call between fail_nth_arm(nth) and fail_nth_fired(), checks the
 * outcome and tears down; it returns whether the armed failure fired.  A
 * call on which nothing fired has passed every site: the enumeration ends.
 */
struct fault_ctx {
	struct check c;
	struct region *r;
	struct target *t;
	bool fresh;		/* the memory is not populated before the call */
	unsigned int chunk;	/* the next fresh chunk of the target */
	unsigned long calls, injected, failed;
	unsigned int nth;
	bool unsupported;	/* ENOSYS */
	void *priv;
};

/*
 * Populated memory takes GUP through the page tables only; unpopulated
 * memory makes it fault pages and page tables in, which allocates: both
 * paths are enumerated.  Returns what the call may read.
 */
static enum match fault_prepare(struct fault_ctx *f)
{
	struct region *r = f->r;

	if (!f->fresh) {
		region_fill(r, 0, r->len);
		return STAMP_ONLY;
	}
	madvise(r->addr, r->len, r->kind == MEM_SHMEM ? MADV_REMOVE :
		MADV_DONTNEED);
	return STAMP_OR_ZERO;
}

typedef bool (*fault_op)(struct fault_ctx *f);

/* The armed call's outcome: success, or a proper errno after an injection */
static bool fault_outcome(struct fault_ctx *f, const char *what, bool fired,
			  long ret, int err, const int *allowed)
{
	f->calls++;
	f->injected += fired;
	if (ret >= 0)
		return true;
	f->failed++;
	if (err == ENOSYS && !fired) {
		f->unsupported = true;
		return false;
	}
	if (!fired)
		return check(&f->c, false,
			     "%s failed (%s) with no failure injected", what,
			     strerror(err));
	return errno_ok(&f->c, what, err, allowed);
}

static void fault_enumerate(struct fault_ctx *f, fault_op op, const char *what)
{
	struct pins from;
	long held;

	for (f->nth = 1; f->nth <= MAX_SITES && f->c.ok; f->nth++) {
		bool fired;

		pins_now(&from);
		fired = op(f);
		held = have_counters ? pins_held_since(&from) : 0;
		check(&f->c, !held,
		      "%s with allocation %u failing: %ld pins left behind",
		      what, f->nth, held);
		if (!fired)
			break;
	}
}

static bool fault_vmsplice(struct fault_ctx *f)
{
	size_t len = SPAN_PAGES * pagesize;
	struct iovec iov = { f->r->addr + pagesize, len };
	enum match match = fault_prepare(f);
	char *buf = f->priv;
	int p[2] = { -1, -1 };
	bool fired = false;
	ssize_t ret;
	int err;

	if (!check(&f->c, !pipe(p), "pipe: %s", strerror(errno)) ||
	    !check(&f->c, fcntl(p[1], F_SETPIPE_SZ, 2 * len) >= (int)len,
		   "F_SETPIPE_SZ: %s", strerror(errno)))
		goto out;
	fail_nth_arm(f->nth);
	ret = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	err = errno;
	fired = fail_nth_fired() == 1;
	if (fault_outcome(f, "vmsplice", fired, ret, err, vmsplice_errnos) &&
	    ret > 0 &&
	    check(&f->c, read_full(p[0], buf, ret) == ret, "read: %s",
		  strerror(errno)))
		data_ok(&f->c, "read() after vmsplice()", buf, ret, pagesize,
			match, 0);
out:
	close(p[0]);
	close(p[1]);
	return fired;
}

/*
 * splice() of vmspliced pages to a file.  (tee() is not among the cases: it
 * allocates nothing, it takes references on the pipe buffers.)
 */
static bool fault_splice_file(struct fault_ctx *f)
{
	size_t len = SPAN_PAGES * pagesize;
	struct iovec iov = { f->r->addr, len };
	enum match match = fault_prepare(f);
	int p[2] = { -1, -1 }, file = -1;
	char *buf = f->priv;
	bool fired = false;
	loff_t off = 0;
	ssize_t ret;
	int err;

	if (!check(&f->c, !pipe(p), "pipe: %s", strerror(errno)) ||
	    !check(&f->c, fcntl(p[1], F_SETPIPE_SZ, 2 * len) >= (int)len,
		   "F_SETPIPE_SZ: %s", strerror(errno)) ||
	    !check(&f->c, vmsplice(p[1], &iov, 1, 0) == (ssize_t)len,
		   "vmsplice: %s", strerror(errno)))
		goto out;
	file = memfd_create("pin_stress_fault", 0);
	if (!check(&f->c, file >= 0, "memfd: %s", strerror(errno)))
		goto out;
	fail_nth_arm(f->nth);
	ret = splice(p[0], NULL, file, &off, len, 0);
	err = errno;
	fired = fail_nth_fired() == 1;
	if (fault_outcome(f, "splice to a file", fired, ret, err,
			  vmsplice_errnos) && ret > 0 &&
	    check(&f->c, pread(file, buf, ret, 0) == ret, "pread: %s",
		  strerror(errno)))
		data_ok(&f->c, "splice() to a file", buf, ret, 0, match, 0);
out:
	close(p[0]);
	close(p[1]);
	if (file >= 0)
		close(file);
	return fired;
}

#ifdef LOCAL_CONFIG_HAVE_LIBURING
static bool fault_uring(struct fault_ctx *f, bool armed_register)
{
	size_t len = SPAN_PAGES * pagesize;
	struct iovec iov = { f->r->addr, len };
	enum match match = fault_prepare(f);
	struct io_uring ring;
	char *buf = f->priv;
	bool fired = false;
	int out, ret;

	out = memfd_create("pin_stress_fault", 0);
	ret = io_uring_queue_init(2, &ring, 0);
	if (!check(&f->c, out >= 0 && !ret, "setup: %s",
		   strerror(ret ? -ret : errno)))
		goto out;
	if (armed_register)
		fail_nth_arm(f->nth);
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (armed_register) {
		fired = fail_nth_fired() == 1;
		if (!fault_outcome(f, "io_uring buffer registration", fired,
				   ret, -ret, uring_errnos))
			goto exit;
	} else if (!check(&f->c, !ret, "register_buffers: %s",
			  strerror(-ret))) {
		goto exit;
	}
	if (ret)
		goto exit;
	if (!armed_register)
		fail_nth_arm(f->nth);
	ret = uring_rw(&ring, true, out, f->r->addr, len);
	if (!armed_register) {
		fired = fail_nth_fired() == 1;
		if (!fault_outcome(f, "WRITE_FIXED", fired, ret, -ret,
				   uring_errnos))
			ret = -1;
	}
	if (ret > 0 &&
	    check(&f->c, pread(out, buf, ret, 0) == ret, "pread: %s",
		  strerror(errno)))
		data_ok(&f->c, "WRITE_FIXED from the registered buffer", buf,
			ret, 0, match, 0);
	io_uring_unregister_buffers(&ring);
exit:
	io_uring_queue_exit(&ring);
out:
	if (out >= 0)
		close(out);
	return fired;
}

static bool fault_uring_register(struct fault_ctx *f)
{
	return fault_uring(f, true);
}

static bool fault_uring_write(struct fault_ctx *f)
{
	return fault_uring(f, false);
}
#endif

/* /proc/pid/mem, process_vm_*v and ptrace into a quiet target */
enum {
	REMOTE_MEM_WRITE, REMOTE_MEM_READ, REMOTE_VM_WRITE, REMOTE_VM_READ,
	REMOTE_POKE, REMOTE_PEEK
};

static bool fault_remote(struct fault_ctx *f, int how)
{
	static const char * const what[] = {
		"/proc/pid/mem write", "/proc/pid/mem read",
		"process_vm_writev", "process_vm_readv", "PTRACE_POKEDATA",
		"PTRACE_PEEKDATA",
	};
	struct target *t = f->t;
	size_t len = 2 * pagesize, off = pagesize - 64;
	char *base = f->fresh ? t->fresh + FRESH_CHUNK *
		     (f->chunk++ % FRESH_CHUNKS) : t->quiet;
	struct iovec local = { f->priv, len };
	struct iovec remote = { base + off, len };
	uintptr_t addr = (uintptr_t)base + off;
	char path[64];
	bool fired;
	long ret;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	fd = open(path, O_RDWR);
	if (!check(&f->c, fd >= 0, "%s: %s", path, strerror(errno)))
		return false;
	settled_fill(f->priv, off, len);
	errno = 0;
	fail_nth_arm(f->nth);
	switch (how) {
	case REMOTE_MEM_WRITE:
		ret = pwrite(fd, f->priv, len, addr);
		break;
	case REMOTE_MEM_READ:
		ret = pread(fd, f->priv, len, addr);
		break;
	case REMOTE_VM_WRITE:
		ret = process_vm_writev(t->pid, &local, 1, &remote, 1, 0);
		break;
	case REMOTE_VM_READ:
		ret = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
		break;
	case REMOTE_POKE:
		ret = ptrace(PTRACE_POKEDATA, t->pid, addr,
			     (void *)settled(off / 8));
		break;
	default:
		ret = ptrace(PTRACE_PEEKDATA, t->pid, addr, 0);
		if (!errno) {
			memcpy(f->priv, &ret, 8);
			ret = 8;
		} else {
			ret = -1;
		}
		break;
	}
	err = errno;
	fired = fail_nth_fired() == 1;
	if (fault_outcome(f, what[how], fired, ret, err, remote_errnos) &&
	    ret > 0) {
		if (how == REMOTE_MEM_READ || how == REMOTE_VM_READ ||
		    how == REMOTE_PEEK) {
			data_ok(&f->c, what[how], f->priv, ret, off,
				f->fresh ? STAMP_OR_ZERO : STAMP_ONLY, 0);
		} else {
			/* what was written must read back */
			char *back = (char *)f->priv + len;

			settled_fill(f->priv, off, len);
			if (check(&f->c, pread(fd, back, len, addr) ==
				  (ssize_t)len, "read back: %s",
				  strerror(errno)))
				check(&f->c, !memcmp(back, f->priv,
						     how == REMOTE_POKE ? 8 :
						     ret),
				      "%s: the target does not have what was written",
				      what[how]);
		}
	}
	close(fd);
	return fired;
}

static bool fault_mem_write(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_MEM_WRITE);
}

static bool fault_mem_read(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_MEM_READ);
}

static bool fault_vm_write(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_VM_WRITE);
}

static bool fault_vm_read(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_VM_READ);
}

static bool fault_poke(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_POKE);
}

static bool fault_peek(struct fault_ctx *f)
{
	return fault_remote(f, REMOTE_PEEK);
}

static long mem_available_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *fp;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			kb = -1;
		close(fd);
	}
	fp = fopen("/proc/meminfo", "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

struct fault_case {
	const char *name;
	fault_op op;
	bool remote;		/* needs the target, not a region */
	bool traced;		/* and to be its tracer */
};

/* A quiet target for the remote cases; at the end, settle its quiet region */
static void fault_remote_case(struct fault_ctx *f, const struct fault_case *fc)
{
	size_t len = QUIET_PAGES * pagesize;
	unsigned int sites = 0;
	struct target t;
	char path[64];
	int round, status, fd;

	if (!target_start(&f->c, &t, false))
		goto out;
	f->t = &t;
	if (fc->traced &&
	    (!check(&f->c, !ptrace(PTRACE_SEIZE, t.pid, 0, 0) &&
		    !ptrace(PTRACE_INTERRUPT, t.pid, 0, 0) &&
		    waitpid(t.pid, &status, __WALL) == t.pid,
		    "ptrace: %s", strerror(errno))))
		goto out;
	for (round = 0; round < 2 * fault_rounds && f->c.ok &&
	     !f->unsupported; round++) {
		f->fresh = round & 1;
		fault_enumerate(f, fc->op, fc->name);
		if (f->nth > sites)
			sites = f->nth;
	}
	if (fc->traced)
		check(&f->c, !ptrace(PTRACE_DETACH, t.pid, 0, 0),
		      "PTRACE_DETACH: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/mem", t.pid);
	fd = open(path, O_WRONLY);
	settled_fill(f->priv, 0, len);
	check(&f->c, fd >= 0 && pwrite(fd, f->priv, len, (uintptr_t)t.quiet) ==
	      (ssize_t)len, "settle: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	f->nth = sites;
out:
	target_finish(&f->c, &t);
}

static const struct fault_case fault_cases[] = {
	{ .name = "vmsplice", .op = fault_vmsplice },
	{ .name = "splice to a file", .op = fault_splice_file },
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	{ .name = "io_uring buffer registration", .op = fault_uring_register },
	{ .name = "io_uring WRITE_FIXED", .op = fault_uring_write },
#endif
	{ .name = "/proc/pid/mem write", .op = fault_mem_write, .remote = true },
	{ .name = "/proc/pid/mem read", .op = fault_mem_read, .remote = true },
	{ .name = "process_vm_writev", .op = fault_vm_write, .remote = true },
	{ .name = "process_vm_readv", .op = fault_vm_read, .remote = true },
	{ .name = "PTRACE_POKEDATA", .op = fault_poke, .remote = true, .traced = true },
	{ .name = "PTRACE_PEEKDATA", .op = fault_peek, .remote = true, .traced = true },
};

static void fault_run_case(const struct fault_case *fc)
{
	struct fault_ctx f = { .c = CHECK_INIT };
	unsigned long sites = 0;
	char name[128];
	int kind, round;

	snprintf(name, sizeof(name),
		 "fault injection, %s: each allocation failing in turn: proper errno or correct data, no pin left",
		 fc->name);
	f.priv = malloc(4 * SPAN_PAGES * pagesize);
	if (!check(&f.c, f.priv, "malloc"))
		goto out;
	if (fc->remote) {
		fault_remote_case(&f, fc);
		sites = f.nth;
		goto out;
	}
	for (kind = 0; kind < NR_MEM_KINDS && f.c.ok; kind++) {
		struct region r;

		if (!region_map(&r, kind, REGION_PAGES * pagesize))
			continue;	/* no hugetlb pages: the others */
		f.r = &r;
		for (round = 0; round < 2 * fault_rounds && f.c.ok; round++) {
			f.fresh = round & 1;
			fault_enumerate(&f, fc->op, fc->name);
			if (f.nth > sites)
				sites = f.nth;
		}
		region_unmap(&r);
	}
out:
	free(f.priv);
	if (f.unsupported) {
		ksft_test_result_skip("%s (ENOSYS)\n", name);
		return;
	}
	ksft_print_msg(FMT_FAULT_CASE, fc->name, f.calls, f.injected,
		       f.failed, sites ? sites - 1 : 0);
	check(&f.c, f.injected > 0, "no failure was ever injected");
	check_report(&f.c, name);
}

static void fault_run_all(void)
{
	struct check c = CHECK_INIT;
	long before, after;
	size_t i;
	int ret;

	ret = fault_inject_setup();
	if (ret <= 0) {
		if (ret < 0)
			ksft_exit_fail_msg("fault injection setup: %s\n",
					   strerror(errno));
		ksft_set_plan(1);
		ksft_test_result_skip(FMT_NO_FAULT_INJECTION);
		return;
	}
	ksft_set_plan(ARRAY_SIZE(fault_cases) + 1);
	before = mem_available_kb();
	for (i = 0; i < ARRAY_SIZE(fault_cases); i++)
		fault_run_case(&fault_cases[i]);
	fault_inject_restore();
	after = mem_available_kb();
	ksft_print_msg("MemAvailable %ld kB before, %ld kB after\n", before,
		       after);
	check(&c, before > 0 && after > 0, "no MemAvailable in /proc/meminfo");
	check(&c, before - after < MAX_LEAK_KB,
	      "MemAvailable dropped by %ld kB over the injected failures",
	      before - after);
	check_report(&c, "fault injection: no memory lost (MemAvailable)");
}

/* ------------------------------------------------------------------ main */

static void stress_all(void)
{
	int kind;

#ifdef LOCAL_CONFIG_HAVE_LIBURING
	ksft_set_plan(2 * NR_MEM_KINDS + 1);
#else
	ksft_set_plan(NR_MEM_KINDS + 2);
#endif
	for (kind = 0; kind < NR_MEM_KINDS; kind++)
		stress_vmsplice(kind);
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	for (kind = 0; kind < NR_MEM_KINDS; kind++)
		stress_uring(kind);
#else
	ksft_test_result_skip("io_uring stress (built without liburing)\n");
#endif
	stress_procmem();
}

int main(int argc, char **argv)
{
	bool faults = false;
	long a, r;
	int opt;

	while ((opt = getopt(argc, argv, "t:fr:")) != -1) {
		switch (opt) {
		case 't':
			stress_seconds = atoi(optarg);
			if (stress_seconds < 1 || stress_seconds > 3600)
				ksft_exit_fail_msg("-t: 1..3600 seconds\n");
			break;
		case 'f':
			faults = true;
			break;
		case 'r':
			fault_rounds = atoi(optarg);
			if (fault_rounds < 1 || fault_rounds > 1000)
				ksft_exit_fail_msg("-r: 1..1000 rounds\n");
			break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] | -f [-r ROUNDS]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	pagesize = getpagesize();
	thpsize = read_pmd_pagesize();
	hugetlbsize = get_free_hugepages() ? default_huge_page_size() : 0;
	ksft_print_header();
	have_counters = read_pin_counters(&a, &r) == 1;
	have_process_vm = process_vm_readv(getpid(), NULL, 0, NULL, 0, 0) == 0 ||
			  errno != ENOSYS;
	if (!have_counters)
		ksft_print_msg("%s\n",
			       "pin counters unavailable or inexact (not root?): the pin checks are left out");
	if (faults)
		fault_run_all();
	else
		stress_all();
	ksft_finished();
}
