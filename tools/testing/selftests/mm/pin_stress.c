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
 *            unregistration, while another thread munmap()s, maps again,
 *            MADV_DONTNEEDs and fork()s over the registered memory;
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
 * splice() to a file, io_uring buffer registration and a WRITE_FIXED
 * submission, /proc/pid/mem, process_vm_readv()/writev(),
 * PTRACE_PEEKDATA/POKEDATA) is made once for each fault-injection site on
 * its path with that site failing (/proc/thread-self/fail-nth: only the
 * test's own thread sees failures; failslab and fail_page_alloc make the
 * allocations among the sites fail), on populated and on unpopulated
 * memory, -r times: the local calls on anon, THP, shmem and hugetlb memory,
 * the remote ones on a target's anon memory.  Each call must succeed with
 * correct data or fail with the errno its path can return, and leave no pin
 * behind.  After all of them, no huge page may be missing from the hugetlb
 * pool and free memory (after drop_caches, the per-CPU lists included) may
 * not have dropped by MAX_LEAK_KB: that catches a leak of a few pages per
 * injected failure (a pinned span left behind shows in the pin counters
 * already), not of a single 4K page.
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
#include "hugepage_settings.h"
#include "pin_check.h"
#include "local_config.h_gen"
#ifdef LOCAL_CONFIG_HAVE_LIBURING
#include <liburing.h>
#endif

#define STAMP_MAGIC	0x5a17ULL	/* top 16 bits of a stamp */
#define CHILD_MAGIC	0xc5c5ULL	/* what a fork()ed child writes */
#define REGION_PAGES	64
#define SPAN_PAGES	16
#define MAX_SITES	400
#define MAX_LEAK_KB	(4 * 1024)

#define FMT_SPLICER \
	"  splicer %d: %lu read, %lu tee, %lu to a file, %lu to /dev/null, %lu closed unread\n"
#define FMT_VMSPLICE \
	"vmsplice, %s: %lu calls (%lu failed: %lu ENOMEM, the others holes), %lu MiB spliced; %lu remaps (%lu after a hole), %lu DONTNEED, %lu fork()s (%lu without a free huge page), %lu refills\n"
#define FMT_URING \
	"io_uring, %s: %lu registrations (%lu refused: %lu ENOMEM, the others holes), %lu WRITE_FIXED, %lu READ_FIXED; %lu remaps (%lu after a hole), %lu DONTNEED, %lu fork()s (%lu without a free huge page)\n"
#define FMT_PROCMEM \
	"procmem: %lu reads, %lu writes (%lu failed: holes); ptrace: %lu stops, %lu PEEKDATA, %lu POKEDATA (%lu failed)\n"
#define FMT_NO_FAULT_INJECTION \
	"fault injection: no /proc/thread-self/fail-nth or failslab/fail_page_alloc in debugfs (CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC; root)\n"
#define FMT_FAULT_CASE \
	"%s: %lu calls, %lu with a failure injected, %lu failed (%s); %lu sites on the longest path\n"
#define MEMORY_NAME \
	"fault injection: no memory lost (free huge pages, free pages)"
#define FMT_MEMORY \
	"free (buddy and per-CPU lists) %ld kB before, %ld kB after; HugePages_Free %ld before, %ld after\n"
#define FMT_FAULT_NAME \
	"fault injection, %s: each fault-injection site failing in turn: proper errno or correct data, no pin left"

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

/* Sleep @secs seconds, less if a worker failed and stopped everything. */
static void sleep_unless_stopped(int secs)
{
	int i;

	for (i = 0; i < 10 * secs && !stopped(); i++)
		usleep(100000);
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
	if (kind == MEM_THP) {
		/* two PMD-mapped THPs at least */
		if (!thpsize)
			return false;
		len = (len + thpsize - 1) & ~(thpsize - 1);
		if (len < 2 * thpsize)
			len = 2 * thpsize;
		r->len = len;
	}
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
	if (kind == MEM_THP &&
	    !check_huge_anon(p, len, len / thpsize, thpsize)) {
		munmap(p, len);	/* THP disabled, or none to be had */
		r->addr = NULL;
		return false;
	}
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
	STAMP_OR_ZERO,		/* each byte 0 or its stamp's, see data_ok() */
	STAMP_ONLY,		/* the stamps of exactly their place */
};

/* The bytes of @w that are not 0. */
static uint64_t nonzero_bytes(uint64_t w)
{
	uint64_t mask = 0;
	int b;

	for (b = 0; b < 64; b += 8)
		if ((w >> b) & 0xff)
			mask |= 0xffULL << b;
	return mask;
}

/*
 * @len bytes that came from offset @pos of a region.  A region that is
 * being refilled (zapped, then stamped) while the kernel copies from or to
 * it may give a word that is part 0, part its stamp: the kernel's copies
 * (copy_to_user(), the iov_iter and bvec copies, rep movsb) are not atomic
 * per word.  So STAMP_OR_ZERO accepts each byte being 0 or its stamp's
 * byte; a stamp of another place, a child's write or foreign data still
 * fail.
 */
static bool data_ok(struct check *c, const char *what, const char *buf,
		    size_t len, uint64_t pos, enum match match)
{
	const uint64_t *w = (const uint64_t *)buf;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		uint64_t word = pos / 8 + i;

		if (match == STAMP_OR_ZERO &&
		    !((w[i] ^ stamp(word)) & nonzero_bytes(w[i])))
			continue;
		if (w[i] != stamp(word))
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
	unsigned long remaps, holes, dontneeds, forks, fork_enomem, fills;
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
		if (r->kind == MEM_HUGETLB) {	/* whole huge pages */
			off &= ~(hugetlbsize - 1);
			len = hugetlbsize;
		}
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
			/* one VMA again, and the rest of it stays THP */
			if (r->kind == MEM_THP)
				madvise(r->addr, r->len, MADV_HUGEPAGE);
			region_fill(r, off, len);
			m->remaps++;
			break;
		case 3:
			pid = fork();
			if (!pid)
				child_scribble(r);
			/*
			 * A pinned hugetlb page is copied into the child at
			 * fork(): with no free huge page left, fork() fails.
			 */
			if (pid < 0 && errno == ENOMEM &&
			    r->kind == MEM_HUGETLB) {
				m->fork_enomem++;
				break;
			}
			if (!check(&m->c, pid > 0, "fork: %s", strerror(errno)))
				goto out;
			if (!check(&m->c, waitpid(pid, &status, 0) == pid,
				   "waitpid: %s", strerror(errno)))
				goto out;
			/* its COW of a hugetlb page found the pool empty */
			if (r->kind == MEM_HUGETLB && WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGBUS)
				m->fork_enomem++;
			else
				check(&m->c, WIFEXITED(status) &&
				      !WEXITSTATUS(status),
				      "fork()ed child: status 0x%x", status);
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

/*
 * vmsplice(SPLICE_F_NONBLOCK) in the stress: EFAULT for a hole the mutator
 * opened, EAGAIN for a full pipe, ENOMEM when the long-term pin could not
 * migrate a page out of ZONE_MOVABLE first (another thread holds a pin or
 * reference on it for the moment: migrate_longterm_unpinnable_folios()
 * gives up after its retries; for hugetlb also no free huge page outside
 * ZONE_MOVABLE); tee(SPLICE_F_NONBLOCK): EAGAIN.
 */
static const int vmsplice_errnos[] = { EFAULT, EAGAIN, ENOMEM, 0 };
static const int tee_errnos[] = { EAGAIN, 0 };

struct splicer {
	struct region *r;
	unsigned long calls, bytes, failed, enomem, reads, tees, to_file,
		      to_null, closed;
	struct check c;
	unsigned int seed;
};

static bool new_pipes(struct check *c, int p[2], int q[2])
{
	if (!check(c, !pipe(p), "pipe: %s", strerror(errno)))
		return false;
	if (check(c, !pipe(q), "pipe: %s", strerror(errno)))
		return true;
	close(p[0]);
	close(p[1]);
	return false;
}

static void close_pipes(int p[2], int q[2])
{
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/*
 * Empty the pipe p[0] of the @len bytes vmspliced from offset @pos of the
 * region by the means @how, checking them.
 */
static bool drain(struct splicer *s, int how, int p[2], int q[2], int null,
		  int file, size_t len, uint64_t pos, char *buf)
{
	loff_t off = 0;
	ssize_t n, t;

	switch (how) {
	case 0:
		n = read_full(p[0], buf, len);
		s->reads++;
		return check(&s->c, n == (ssize_t)len, "read: %zd of %zu: %s",
			     n, len, strerror(errno)) &&
		       data_ok(&s->c, "read() after vmsplice()", buf, len, pos,
			       STAMP_OR_ZERO);
	case 1:
		t = tee(p[0], q[1], len, SPLICE_F_NONBLOCK);
		if (t < 0)	/* q is full */
			return errno_ok(&s->c, "tee", errno, tee_errnos) &&
			       drain(s, 0, p, q, null, file, len, pos, buf);
		s->tees++;
		n = read_full(q[0], buf, t);
		if (!check(&s->c, n == t, "read tee()d: %zd of %zd", n, t) ||
		    !data_ok(&s->c, "the tee()d copy", buf, t, pos,
			     STAMP_OR_ZERO))
			return false;
		return drain(s, 0, p, q, null, file, len, pos, buf);
	case 2:
		n = splice(p[0], NULL, file, &off, len, 0);
		if (!check(&s->c, n > 0, "splice to a file: %zd: %s", n,
			   strerror(errno)))
			return false;
		s->to_file++;
		t = pread(file, buf, n, 0);
		if (!check(&s->c, t == n, "pread: %zd of %zd", t, n) ||
		    !data_ok(&s->c, "splice() to a file", buf, n, pos,
			     STAMP_OR_ZERO))
			return false;
		if (n < (ssize_t)len)	/* the rest of it, read */
			return check(&s->c, read_full(p[0], buf, len - n) ==
					    (ssize_t)(len - n),
				     "read the rest") &&
			       data_ok(&s->c, "read() after splice()", buf,
				       len - n, pos + n, STAMP_OR_ZERO);
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
			s->enomem += errno == ENOMEM;
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
		drain(s, how, p, q, null, file, ret, first * pagesize, buf);
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
	unsigned long calls = 0, bytes = 0, failed = 0, enomem = 0;
	char name[96];
	struct pins from;
	struct region r;
	long held;
	int i, ret;

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
		/* the barrier would wait for it forever */
		ret = pthread_create(&st[i], NULL, splicer_fn, &s[i]);
		if (ret)
			ksft_exit_fail_msg("pthread_create: %s\n",
					   strerror(ret));
	}
	pthread_barrier_wait(&ready);
	m = (struct mutator){ .r = &r, .c = CHECK_INIT, .seed = 1 };
	ret = pthread_create(&mt, NULL, mutator_fn, &m);
	if (ret)
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(ret));
	sleep_unless_stopped(stress_seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(mt, NULL);
	check(&c, m.c.ok, "%s", m.c.why);
	for (i = 0; i < NR_SPLICERS; i++) {
		pthread_join(st[i], NULL);
		check(&c, s[i].c.ok, "%s", s[i].c.why);
		calls += s[i].calls;
		bytes += s[i].bytes;
		failed += s[i].failed;
		enomem += s[i].enomem;
		ksft_print_msg(FMT_SPLICER, i, s[i].reads, s[i].tees,
			       s[i].to_file, s[i].to_null, s[i].closed);
	}
	pthread_barrier_destroy(&ready);
	ksft_print_msg(FMT_VMSPLICE, mem_name[kind], calls, failed, enomem,
		       bytes >> 20, m.remaps, m.holes, m.dontneeds, m.forks,
		       m.fork_enomem, m.fills);
	check(&c, calls > failed, "no vmsplice() succeeded");
	region_unmap(&r);
	held = have_counters ? pins_held_since(&from) : 0;
	check(&c, !held, "%ld pins still held after the pipes were closed",
	      held);
	check_report(&c, name);
}

/* ---------------------------------------------------------- uring stress */

#ifdef LOCAL_CONFIG_HAVE_LIBURING

/*
 * Registration in the stress: EFAULT for a hole the mutator opened, ENOMEM
 * for a migration that did not succeed (as for vmsplice above).
 */
static const int uring_errnos[] = { EFAULT, ENOMEM, 0 };

/*
 * Whether this process can set up a ring and register a buffer: NULL, or
 * why not (a skip, not a failure).
 */
static const char *uring_unusable(size_t len)
{
	static char why[96];
	struct io_uring ring;
	struct iovec iov;
	int ret;

	ret = io_uring_queue_init(2, &ring, 0);
	if (ret) {
		snprintf(why, sizeof(why), "io_uring_setup: %s%s",
			 strerror(-ret), ret == -EPERM ?
			 " (kernel.io_uring_disabled?)" : "");
		return why;
	}
	/* RLIMIT_MEMLOCK (not root) must allow @len */
	iov.iov_base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	iov.iov_len = len;
	ret = iov.iov_base == MAP_FAILED ? -ENOMEM :
	      io_uring_register_buffers(&ring, &iov, 1);
	if (!ret)
		io_uring_unregister_buffers(&ring);
	io_uring_queue_exit(&ring);
	if (iov.iov_base != MAP_FAILED)
		munmap(iov.iov_base, len);
	if (!ret)
		return NULL;
	snprintf(why, sizeof(why), "io_uring buffer registration: %s%s",
		 strerror(-ret), ret == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
	return why;
}

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
	unsigned long registered, refused, enomem, writes, reads;
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
	if (!check(&u->c, !ret, "io_uring_queue_init: %s", strerror(-ret)))
		goto out;
	if (!check(&u->c, buf && out >= 0 && in >= 0, "setup: %s",
		   strerror(errno)))
		goto exit;
	iov.iov_base = r->addr;
	iov.iov_len = r->len;
	while (!stopped() && u->c.ok) {
		ret = io_uring_register_buffers(&ring, &iov, 1);
		if (ret) {
			u->refused++;
			u->enomem += ret == -ENOMEM;
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
				buf, r->len, 0, STAMP_OR_ZERO);
		ret = io_uring_unregister_buffers(&ring);
		check(&u->c, !ret, "unregister_buffers: %s", strerror(-ret));
	}
exit:
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
	unsigned long enomem = 0;
	struct mutator m;
	struct pins from;
	struct region r;
	const char *why;
	char name[96];
	long held;
	int i, ret;

	snprintf(name, sizeof(name),
		 "io_uring stress, %s: data intact, pins balanced",
		 mem_name[kind]);
	if (!region_map(&r, kind, REGION_PAGES / 2 * pagesize)) {
		ksft_test_result_skip("%s (no %s memory)\n", name,
				      mem_name[kind]);
		return;
	}
	why = uring_unusable(NR_URING * r.len);	/* both registered at once */
	if (why) {
		region_unmap(&r);
		ksft_test_result_skip("%s (%s)\n", name, why);
		return;
	}
	pins_now(&from);
	stop = false;
	pthread_barrier_init(&ready, NULL, NR_URING + 1);
	for (i = 0; i < NR_URING; i++) {
		u[i] = (struct uring_worker){ .r = &r, .c = CHECK_INIT,
					      .seed = 11 + 13 * i };
		ret = pthread_create(&ut[i], NULL, uring_fn, &u[i]);
		if (ret)
			ksft_exit_fail_msg("pthread_create: %s\n",
					   strerror(ret));
	}
	pthread_barrier_wait(&ready);
	m = (struct mutator){ .r = &r, .c = CHECK_INIT, .seed = 3 };
	ret = pthread_create(&mt, NULL, mutator_fn, &m);
	if (ret)
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(ret));
	sleep_unless_stopped(stress_seconds);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(mt, NULL);
	check(&c, m.c.ok, "%s", m.c.why);
	for (i = 0; i < NR_URING; i++) {
		pthread_join(ut[i], NULL);
		check(&c, u[i].c.ok, "%s", u[i].c.why);
		registered += u[i].registered;
		refused += u[i].refused;
		enomem += u[i].enomem;
		writes += u[i].writes;
		reads += u[i].reads;
	}
	pthread_barrier_destroy(&ready);
	ksft_print_msg(FMT_URING, mem_name[kind], registered, refused, enomem,
		       writes, reads, m.remaps, m.holes, m.dontneeds, m.forks,
		       m.fork_enomem);
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

/*
 * What the parent writes into the target: word index in the low 32 bits,
 * @tag in bits 32-47 (0 in the stress and for the quiet region's final
 * state; the fault-injection calls tag each write with its call number, so
 * that a write that did not happen cannot pass for one that did).
 */
static inline uint64_t settled(uint64_t word, unsigned int tag)
{
	return SETTLED_MAGIC << 48 | (uint64_t)(tag & 0xffff) << 32 | word;
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
		if (((uint64_t *)t->quiet)[i] != settled(i, 0)) {
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
	if (!check(c, t->fresh != MAP_FAILED, "mmap: %s", strerror(errno))) {
		close(p[0]);
		close(p[1]);
		return false;
	}
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
		if (!check(c, waitpid(t->pid, &status, 0) == t->pid,
			   "waitpid: %s", strerror(errno)))
			status = 0;
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

/* The settled stamps of [off, off + len) into @buf. */
static void settled_fill(char *buf, size_t off, size_t len, unsigned int tag)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		((uint64_t *)buf)[i] = settled(off / 8 + i, tag);
}

/*
 * Remote accesses in the stress: a hole the churning thread opened is EIO
 * (/proc/pid/mem, ptrace: nothing copied) or EFAULT (process_vm_*v).
 */
static const int remote_errnos[] = { EIO, EFAULT, 0 };

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
	settled_fill(buf, 0, QUIET_VM * pagesize, 0);
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
					off, STAMP_OR_ZERO);
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

		settled_fill(buf, off, len, 0);
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
						STAMP_OR_ZERO);
			} else {
				ptrace(PTRACE_POKEDATA, t->pid, addr,
				       (void *)(uintptr_t)stamp(w));
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
						      (void *)(uintptr_t)settled(qw, 0)),
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

/*
 * Whether a child of ours may be traced and its /proc/pid/mem opened: NULL,
 * or why not (Yama's ptrace_scope 3, or 2 without CAP_SYS_PTRACE: a skip).
 */
static const char *ptrace_refused(void)
{
	static char why[96];
	char path[64];
	int status, fd, err = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return "fork failed";
	if (!pid) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR);
	if (fd < 0)
		err = errno;
	else
		close(fd);
	if (!err && ptrace(PTRACE_SEIZE, pid, 0, 0))
		err = errno;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (!err)
		return NULL;
	snprintf(why, sizeof(why), "ptrace or /proc/pid/mem refused: %s%s",
		 strerror(err), err == EPERM || err == EACCES ?
		 " (Yama ptrace_scope?)" : "");
	return why;
}

static void stress_procmem(void)
{
	const char *name =
		"/proc/pid/mem, process_vm and ptrace stress: data intact, pins balanced";
	struct check c = CHECK_INIT;
	struct remote mem, pt;
	pthread_t mt, pth;
	const char *why;
	struct target t;
	struct pins from;
	long held;
	int ret;

	why = ptrace_refused();
	if (why) {
		ksft_test_result_skip("%s (%s)\n", name, why);
		return;
	}
	pins_now(&from);
	stop = false;
	if (!target_start(&c, &t, true)) {
		target_finish(&c, &t);
		check_report(&c, name);
		return;
	}
	mem = (struct remote){ .t = &t, .c = CHECK_INIT, .seed = 17 };
	pt = (struct remote){ .t = &t, .c = CHECK_INIT, .seed = 19 };
	ret = pthread_create(&mt, NULL, remote_mem_fn, &mem);
	if (!ret)
		ret = pthread_create(&pth, NULL, remote_ptrace_fn, &pt);
	if (ret)
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(ret));
	sleep_unless_stopped(stress_seconds);
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
	uint64_t errs;		/* the errnos (< 64) the calls failed with */
	unsigned int nth;
	const char *skip;	/* why the case cannot run here */
	void *priv;
};

/* Make the f->nth site from here on fail; false (a failure) if it cannot. */
static bool fault_arm(struct fault_ctx *f)
{
	return check(&f->c, !fail_nth_arm(f->nth), "arming fail-nth: %s",
		     strerror(errno));
}

/* Disarm; whether the armed failure was injected. */
static bool fault_fired(struct fault_ctx *f)
{
	int err = errno, ret = fail_nth_fired();

	check(&f->c, ret >= 0, "reading fail-nth: %s", strerror(errno));
	errno = err;
	return ret == 1;
}

/*
 * Populated memory takes GUP through the page tables only; unpopulated
 * memory makes it fault pages and page tables in, which allocates: both
 * paths are enumerated.  Returns what the call may read.
 */
static enum match fault_prepare(struct fault_ctx *f)
{
	struct region *r = f->r;

	if (!f->fresh) {
		/* what the calls use: SPAN_PAGES from offset 0 or pagesize */
		region_fill(r, 0, (SPAN_PAGES + 1) * pagesize);
		return STAMP_ONLY;
	}
	madvise(r->addr, r->len, r->kind == MEM_SHMEM ? MADV_REMOVE :
		MADV_DONTNEED);
	return STAMP_OR_ZERO;
}

typedef bool (*fault_op)(struct fault_ctx *f);

/*
 * The errnos an injected failure may bring, path by path (GUP turns a
 * failed allocation, VM_FAULT_OOM included, into -ENOMEM):
 *  vmsplice(), splice() to a file: ENOMEM;
 *  io_uring buffer registration: ENOMEM, or EFAULT when only some of the
 *  pages could be pinned (io_pin_pages());
 *  an io_uring submission: ENOMEM, EAGAIN (no request could be allocated),
 *  ECANCELED (the request was dropped on the way);
 *  /proc/pid/mem: ENOMEM (its bounce page), EIO (nothing copied);
 *  process_vm_readv()/writev(): EFAULT (process_vm_rw_pages() reports any
 *  failure to pin as -EFAULT);
 *  PTRACE_PEEKDATA/POKEDATA: EIO (nothing copied).
 */
static const int fault_pipe_errnos[] = { ENOMEM, 0 };
#ifdef LOCAL_CONFIG_HAVE_LIBURING
static const int fault_uring_errnos[] = { ENOMEM, EFAULT, 0 };
static const int fault_submit_errnos[] = { ENOMEM, EAGAIN, ECANCELED, 0 };
#endif
static const int fault_mem_errnos[] = { ENOMEM, EIO, 0 };
static const int fault_vm_errnos[] = { EFAULT, 0 };
static const int fault_ptrace_errnos[] = { EIO, 0 };

/* The armed call's outcome: success, or a proper errno after an injection */
static bool fault_outcome(struct fault_ctx *f, const char *what, bool fired,
			  long ret, long want, int err, const int *allowed)
{
	f->calls++;
	f->injected += fired;
	if (ret >= 0)	/* short only if a failure was injected */
		return check(&f->c, ret == want || fired,
			     "%s: %ld of %ld bytes with no failure injected",
			     what, ret, want);
	f->failed++;
	if (err > 0 && err < 64)
		f->errs |= 1ULL << err;
	if (err == ENOSYS && !fired) {
		f->skip = "ENOSYS";
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

	for (f->nth = 1; f->c.ok && !f->skip; f->nth++) {
		bool fired;

		if (!check(&f->c, f->nth <= MAX_SITES,
			   "%s: more than %d fault-injection sites", what,
			   MAX_SITES))
			break;
		pins_now(&from);
		fired = op(f);
		held = have_counters ? pins_held_since(&from) : 0;
		check(&f->c, !held,
		      "%s with fault-injection site %u failing: %ld pins left behind",
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
		   "F_SETPIPE_SZ: %s", strerror(errno)) ||
	    !fault_arm(f))
		goto out;
	ret = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	err = errno;
	fired = fault_fired(f);
	if (fault_outcome(f, "vmsplice", fired, ret, len, err,
			  fault_pipe_errnos) && ret > 0 &&
	    check(&f->c, read_full(p[0], buf, ret) == ret, "read: %s",
		  strerror(errno)))
		data_ok(&f->c, "read() after vmsplice()", buf, ret, pagesize,
			match);
out:
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
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
	if (!check(&f->c, file >= 0, "memfd: %s", strerror(errno)) ||
	    !fault_arm(f))
		goto out;
	ret = splice(p[0], NULL, file, &off, len, 0);
	err = errno;
	fired = fault_fired(f);
	if (fault_outcome(f, "splice to a file", fired, ret, len, err,
			  fault_pipe_errnos) && ret > 0 &&
	    check(&f->c, pread(file, buf, ret, 0) == ret, "pread: %s",
		  strerror(errno)))
		data_ok(&f->c, "splice() to a file", buf, ret, 0, match);
out:
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
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
	if (!check(&f->c, out >= 0, "memfd: %s", strerror(errno)))
		return false;
	ret = io_uring_queue_init(2, &ring, 0);
	if (!check(&f->c, !ret, "io_uring_queue_init: %s", strerror(-ret)))
		goto out;
	if (armed_register && !fault_arm(f))
		goto exit;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (armed_register) {
		fired = fault_fired(f);
		if (!fault_outcome(f, "io_uring buffer registration", fired,
				   ret, 0, -ret, fault_uring_errnos))
			goto exit;
	} else if (!check(&f->c, !ret, "register_buffers: %s",
			  strerror(-ret))) {
		goto exit;
	}
	if (ret)
		goto exit;
	if (!armed_register && !fault_arm(f))
		goto unregister;
	ret = uring_rw(&ring, true, out, f->r->addr, len);
	if (!armed_register) {
		fired = fault_fired(f);
		if (!fault_outcome(f, "WRITE_FIXED submission", fired, ret,
				   len, -ret, fault_submit_errnos))
			ret = -1;
	}
	if (ret > 0 &&
	    check(&f->c, pread(out, buf, ret, 0) == ret, "pread: %s",
		  strerror(errno)))
		data_ok(&f->c, "WRITE_FIXED from the registered buffer", buf,
			ret, 0, match);
unregister:
	ret = io_uring_unregister_buffers(&ring);
	check(&f->c, !ret, "unregister_buffers: %s", strerror(-ret));
exit:
	io_uring_queue_exit(&ring);
out:
	close(out);
	return fired;
}

static bool fault_uring_register(struct fault_ctx *f)
{
	return fault_uring(f, true);
}

/*
 * A WRITE_FIXED from a registered buffer, its submission failing: the
 * request takes a reference on the buffer, which a failed submission must
 * drop.  Only the submitting thread is armed: what io-wq does later for a
 * punted request runs without the failure.
 */
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
	unsigned int tag;
	char path[64];
	bool fired;
	long ret;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	fd = open(path, O_RDWR);
	if (!check(&f->c, fd >= 0, "%s: %s", path, strerror(errno)))
		return false;
	tag = f->calls + 1;
	settled_fill(f->priv, off, len, tag);
	if (!fault_arm(f)) {
		close(fd);
		return false;
	}
	errno = 0;
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
			     (void *)(uintptr_t)settled(off / 8, tag));
		if (!ret)
			ret = 8;
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
	fired = fault_fired(f);
	if (fault_outcome(f, what[how], fired, ret,
			  how >= REMOTE_POKE ? 8 : (long)len, err,
			  how >= REMOTE_POKE ? fault_ptrace_errnos :
			  how >= REMOTE_VM_WRITE ? fault_vm_errnos :
			  fault_mem_errnos) &&
	    ret > 0) {
		if (how == REMOTE_MEM_READ || how == REMOTE_VM_READ ||
		    how == REMOTE_PEEK) {
			data_ok(&f->c, what[how], f->priv, ret, off,
				f->fresh ? STAMP_OR_ZERO : STAMP_ONLY);
		} else {
			/* what was written must read back */
			char *back = (char *)f->priv + len;

			settled_fill(f->priv, off, len, tag);
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

/*
 * Free memory in kB, after dropping the page cache and reclaimable slab:
 * the buddy allocator's free pages plus those on the per-CPU lists
 * (/proc/zoneinfo), which MemAvailable leaves out, and which hold freed
 * THPs as well (several MiB on two CPUs).  -1 if it cannot be read.
 */
static long free_kb(void)
{
	long pages = 0, n, found = 0;
	char line[256];
	FILE *fp;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			ksft_print_msg("drop_caches: %s\n", strerror(errno));
		close(fd);
	}
	fp = fopen("/proc/zoneinfo", "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, " pages free %ld", &n) == 1) {
			pages += n;
			found++;
		} else if (sscanf(line, " count: %ld", &n) == 1) {
			pages += n;
		}
	}
	fclose(fp);
	return found ? pages * (long)(pagesize / 1024) : -1;
}

struct fault_case {
	const char *name;
	fault_op op;
	bool remote;		/* needs the target, not a region */
	bool traced;		/* and to be its tracer */
	bool uring;		/* needs io_uring */
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
	    !check(&f->c, !ptrace(PTRACE_SEIZE, t.pid, 0, 0) &&
		   !ptrace(PTRACE_INTERRUPT, t.pid, 0, 0) &&
		   waitpid(t.pid, &status, __WALL) == t.pid,
		   "ptrace: %s", strerror(errno)))
		goto out;
	for (round = 0; round < 2 * fault_rounds && f->c.ok && !f->skip;
	     round++) {
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
	settled_fill(f->priv, 0, len, 0);
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
	{ .name = "io_uring buffer registration", .op = fault_uring_register,
	  .uring = true },
	{ .name = "io_uring WRITE_FIXED submission", .op = fault_uring_write,
	  .uring = true },
#else
	{ .name = "io_uring buffer registration", .uring = true },
	{ .name = "io_uring WRITE_FIXED submission", .uring = true },
#endif
	{ .name = "/proc/pid/mem write", .op = fault_mem_write, .remote = true },
	{ .name = "/proc/pid/mem read", .op = fault_mem_read, .remote = true },
	{ .name = "process_vm_writev", .op = fault_vm_write, .remote = true },
	{ .name = "process_vm_readv", .op = fault_vm_read, .remote = true },
	{ .name = "PTRACE_POKEDATA", .op = fault_poke, .remote = true, .traced = true },
	{ .name = "PTRACE_PEEKDATA", .op = fault_peek, .remote = true, .traced = true },
};

/* "ENOMEM EFAULT" for the errnos in @errs */
static const char *errno_names(uint64_t errs, char *buf, size_t size)
{
	size_t len = 0;
	int e;

	buf[0] = '\0';
	for (e = 1; e < 64 && len < size; e++)
		if (errs & (1ULL << e))
			len += snprintf(buf + len, size - len, "%s%s",
					len ? " " : "", strerrorname_np(e));
	return len ? buf : "no errno";
}

static void fault_run_case(const struct fault_case *fc)
{
	struct fault_ctx f = { .c = CHECK_INIT };
	unsigned long sites = 0;
	char name[160], errs[64];
	int kind, round;

	snprintf(name, sizeof(name), FMT_FAULT_NAME, fc->name);
#ifdef LOCAL_CONFIG_HAVE_LIBURING
	if (fc->uring)
		f.skip = uring_unusable(hugetlbsize > SPAN_PAGES * pagesize ?
					hugetlbsize : SPAN_PAGES * pagesize);
#else
	if (fc->uring)
		f.skip = "built without liburing";
#endif
	if (fc->remote)
		f.skip = ptrace_refused();
	if (f.skip)
		goto out;
	f.priv = malloc(4 * SPAN_PAGES * pagesize);
	if (!check(&f.c, f.priv, "malloc"))
		goto out;
	if (fc->remote) {
		fault_remote_case(&f, fc);
		sites = f.nth;
		goto out;
	}
	for (kind = 0; kind < NR_MEM_KINDS && f.c.ok && !f.skip; kind++) {
		struct region r;

		if (!region_map(&r, kind, REGION_PAGES * pagesize))
			continue;	/* no hugetlb pages, no THP: the others */
		f.r = &r;
		for (round = 0; round < 2 * fault_rounds && f.c.ok && !f.skip;
		     round++) {
			f.fresh = round & 1;
			fault_enumerate(&f, fc->op, fc->name);
			if (f.nth > sites)
				sites = f.nth;
		}
		region_unmap(&r);
	}
out:
	free(f.priv);
	if (f.skip) {
		ksft_test_result_skip("%s (%s)\n", name, f.skip);
		return;
	}
	ksft_print_msg(FMT_FAULT_CASE, fc->name, f.calls, f.injected,
		       f.failed, errno_names(f.errs, errs, sizeof(errs)),
		       sites ? sites - 1 : 0);
	check(&f.c, f.injected > 0, "no failure was ever injected");
	check_report(&f.c, name);
}

/* How many times the huge zero page was allocated (/proc/vmstat). */
static long huge_zero_allocs(void)
{
	char line[128];
	long n = 0;
	FILE *fp = fopen("/proc/vmstat", "r");

	while (fp && fgets(line, sizeof(line), fp))
		if (sscanf(line, "thp_zero_page_alloc %ld", &n) == 1)
			break;
	if (fp)
		fclose(fp);
	return n;
}

static long hugepages_free(void)
{
	return hugetlbsize ? (long)hugetlb_free_default_pages() : 0;
}

static void fault_run_all(void)
{
	struct check c = CHECK_INIT;
	long before, after, huge_before, huge_after, zero, allowed;
	size_t i;
	int ret;

	ret = fault_inject_setup();
	if (ret < 0)
		ksft_exit_fail_msg("fault injection setup: %s\n",
				   strerror(errno));
	if (!ret)
		ksft_exit_skip(FMT_NO_FAULT_INJECTION);
	ksft_set_plan(ARRAY_SIZE(fault_cases) + 1);
	before = free_kb();
	huge_before = hugepages_free();
	zero = huge_zero_allocs();
	for (i = 0; i < ARRAY_SIZE(fault_cases); i++)
		fault_run_case(&fault_cases[i]);
	fault_inject_restore();
	after = free_kb();
	huge_after = hugepages_free();
	/*
	 * A read fault on fresh THP memory maps the huge zero page, which
	 * stays until the shrinker frees it: not a leak.
	 */
	allowed = MAX_LEAK_KB + (huge_zero_allocs() - zero) * (thpsize / 1024);
	ksft_print_msg(FMT_MEMORY, before, after, huge_before, huge_after);
	check(&c, before > 0 && after > 0, "no free pages in /proc/zoneinfo");
	check(&c, huge_after == huge_before,
	      "%ld huge pages missing from the pool after the injected failures",
	      huge_before - huge_after);
	if (kasan_kernel())	/* its quarantine keeps freed slab for a while */
		ksft_print_msg("KASAN: the free memory bound is not checked\n");
	else
		check(&c, before - after < allowed,
		      "free memory dropped by %ld kB over the injected failures",
		      before - after);
	check_report(&c, MEMORY_NAME);
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
	if (sizeof(long) != 8)	/* stamps are 64-bit words */
		ksft_exit_skip("pin_stress: 64-bit only\n");
	pagesize = getpagesize();
	thpsize = read_pmd_pagesize();
	/*
	 * hugetlb: a region, a copy for fork() of a pinned page, and one for
	 * a child's COW of an unpinned one (else SIGBUS in the child)
	 */
	hugetlbsize = hugetlb_free_default_pages() >= 3 ?
		      default_huge_page_size() : 0;
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
