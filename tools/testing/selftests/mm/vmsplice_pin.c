// SPDX-License-Identifier: GPL-2.0
/*
 * vmsplice() of user memory into a pipe, and everything that can happen to
 * the pipe afterwards: read(), tee(), splice() to another pipe, to a file,
 * to /dev/null, to a unix and a TCP socket, SPLICE_F_GIFT, close() unread.
 * And what real users do: vmsplice() a response once, tee() it into a pipe
 * per request and splice() those to TCP (haproxy), writing to the buffer
 * after the vmsplice() (libfuse fixes up the header it spliced), with and
 * without a fork() in between (-t runs only these).
 *
 * The data must always arrive as it was when it was spliced in, and the
 * FOLL_PIN accounting must balance: vmsplice() takes one pin per page it
 * puts in the pipe (nr_foll_pin_acquired), each pipe buffer tee() or a
 * partial splice() makes takes one more, and every buffer that goes away
 * releases one (nr_foll_pin_released).
 *
 * With pins, fork() and COW must never leak data between parent and child
 * through the pipe, for anonymous and hugetlb memory, when fork() races
 * with vmsplice().  And since the pins are long-term (FOLL_LONGTERM), a
 * page vmspliced by an unprivileged user from ZONE_MOVABLE is migrated out
 * of it first, so that the memory block can still be offlined (-o; boot
 * with movablecore= for that case; it needs root for the offlining and
 * /proc/kpageflags, while the vmsplice() runs as nobody).
 */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "../kselftest.h"
#include "vm_util.h"
#include "hugepage_settings.h"
#include "pin_check.h"

#define NR_PAGES	16
#define OFFLINE_SECONDS	20
#define NAME_RACE_INTO_PARENT_HUGETLB \
	"fork() racing vmsplice(), hugetlb: no leak from the child into the parent"
#define NAME_RACE_INTO_CHILD_HUGETLB \
	"vmsplice() in the child racing parent writes, hugetlb: no leak into the child"
#define NAME_OFFLINE \
	"memory offline: the block the vmspliced pages were in goes offline"
#define NAME_OFFLINE_DATA \
	"memory offline: the pipe still has the data"
#define OFFLINE_BUFFER	(160UL << 20)
#define OFFLINE_PAGES	256
#define KPF_RESERVED	32

static size_t pagesize, hpage_size;

/* The pin counters, folded first; false where they are not exact. */
static bool pin_counters(long *acquired, long *released)
{
	return read_pin_counters(acquired, released) == 1;
}

struct pins {
	long acquired, released;
};

static void pins_now(struct pins *p)
{
	if (!pin_counters(&p->acquired, &p->released)) {
		p->acquired = 0;
		p->released = 0;
	}
}

static bool have_counters;

/* A result on the pin counters: a skip where they cannot be read exactly. */
static void report_pins(const struct check *c, const char *name)
{
	if (have_counters)
		check_report(c, name);
	else
		ksft_test_result_skip("%s\n", name);
}

/*
 * Pins held now that were not held at @from: nr_foll_pin_acquired minus
 * nr_foll_pin_released, both since @from, must be @held.  Only the net
 * count is exact: a long-term pin of a page in ZONE_MOVABLE pins, unpins,
 * migrates and pins again.  Counts are machine-wide: nothing else in the
 * test guest pins meanwhile.
 */
static bool pins_since(struct check *c, const struct pins *from, long held,
		       const char *when)
{
	struct pins now;
	long acquired, released;

	if (!have_counters)
		return true;	/* the result is a skip */
	pins_now(&now);
	acquired = now.acquired - from->acquired;
	released = now.released - from->released;
	return check(c, acquired - released == held,
		     "%s: %ld pins held (%ld acquired, %ld released), expected %ld",
		     when, acquired - released, acquired, released, held);
}

/* nr_foll_pin_acquired since @from */
static long pins_acquired_since(const struct pins *from)
{
	struct pins now;

	pins_now(&now);
	return now.acquired - from->acquired;
}

static char *map_anon(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static char *map_hugetlb(void)
{
	char *p = mmap(NULL, hpage_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* HugePages_@what of /proc/meminfo */
static unsigned long hugepages(const char *what)
{
	unsigned long n = 0;
	char line[128], key[64];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	snprintf(key, sizeof(key), "HugePages_%s: %%lu", what);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, key, &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Every byte of page i of @p is 1 + (seed + i) % 255: never 0 */
static void fill(char *p, size_t size, int seed)
{
	size_t i;

	for (i = 0; i < size; i += pagesize)
		memset(p + i, 1 + (seed + i / pagesize) % 255,
		       size - i < pagesize ? size - i : pagesize);
}

static ssize_t vmsplice_all(int fd, const char *p, size_t size,
			    unsigned int flags)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = size };
	ssize_t done = 0, n;

	while (iov.iov_len) {
		n = vmsplice(fd, &iov, 1, flags);
		if (n < 0)
			return done ? done : -errno;
		if (n == 0)
			break;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= n;
		done += n;
	}
	return done;
}

static bool splice_in(struct check *c, int fd, const char *p, size_t size,
		      unsigned int flags)
{
	ssize_t n = vmsplice_all(fd, p, size, flags);

	return check(c, n == (ssize_t)size, "vmsplice: %zd of %zu bytes%s%s",
		     n < 0 ? 0 : n, size, n < 0 ? ": " : "",
		     n < 0 ? strerror(-n) : "");
}

static ssize_t read_all(int fd, char *p, size_t size)
{
	ssize_t done = 0, n;

	while ((size_t)done < size) {
		n = read(fd, p + done, size - done);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/* read @size bytes from @fd: they must be @want */
static bool read_matches(struct check *c, int fd, const char *want,
			 size_t size, const char *what)
{
	char *got = malloc(size);
	ssize_t n;
	bool ok;

	if (!check(c, got, "malloc"))
		return false;
	n = read_all(fd, got, size);
	if (n < 0)
		ok = check(c, false, "%s: read: %s", what, strerror(-n));
	else
		ok = check(c, n == (ssize_t)size && !memcmp(got, want, size),
			   "%s: read %zd of %zu bytes%s", what, n, size,
			   n == (ssize_t)size ? ", the data differs" : "");
	free(got);
	return ok;
}

static int set_pipe_size(int fd, size_t size)
{
	return fcntl(fd, F_SETPIPE_SZ, (int)size) < 0 ? -errno : 0;
}

static void setup_failed(const char *name, int results)
{
	int err = errno;

	while (results--)
		ksft_test_result_fail("%s: setup: %s\n", name, strerror(err));
}

/*
 * read(): the data as spliced; one pin per page while in the pipe, every
 * pin released by the read.
 */
static void test_read(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p = map_anon(size);
	struct pins start;
	int fds[2];

	if (!p || pipe(fds))
		return setup_failed("read", 2);
	fill(p, size, 1);
	pins_now(&start);
	splice_in(&data, fds[1], p, size, 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	read_matches(&data, fds[0], p, size, "pipe");
	pins_since(&pins, &start, 0, "after read()");
	check_report(&data, "read(): the data as spliced");
	report_pins(&pins, "read(): a pin per page, all released by the read");
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/*
 * Several iovecs at odd offsets and lengths: the return value counts the
 * bytes; each page fragment is one buffer holding one pin.
 */
static void test_iovecs(void)
{
	const size_t size = 8 * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p = map_anon(size), *want;
	const long frags = 6;
	struct iovec iov[3];
	struct pins start;
	size_t total, off;
	int fds[2], i;
	ssize_t n;

	want = malloc(size);
	if (!p || !want || pipe(fds))
		return setup_failed("iovecs", 2);
	fill(p, size, 2);
	iov[0].iov_base = p + 100;			/* 2 fragments */
	iov[0].iov_len = pagesize;
	iov[1].iov_base = p + 3 * pagesize - 1;		/* 3 fragments */
	iov[1].iov_len = pagesize + 2;
	iov[2].iov_base = p + 6 * pagesize + 7;		/* 1 fragment */
	iov[2].iov_len = 9;
	for (total = 0, i = 0; i < 3; i++)
		total += iov[i].iov_len;
	for (off = 0, i = 0; i < 3; off += iov[i].iov_len, i++)
		memcpy(want + off, iov[i].iov_base, iov[i].iov_len);
	pins_now(&start);
	n = vmsplice(fds[1], iov, 3, 0);
	check(&data, n == (ssize_t)total, "vmsplice returned %zd, not %zu",
	      n, total);
	pins_since(&pins, &start, frags, "in the pipe");
	read_matches(&data, fds[0], want, total, "pipe");
	pins_since(&pins, &start, 0, "after read()");
	check_report(&data, "iovecs at odd offsets: the byte count and the data");
	report_pins(&pins, "iovecs at odd offsets: a pin per page fragment, all released");
	free(want);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/*
 * A pipe with room for 4 buffers takes 4 pages of a 16-page vmsplice(),
 * then, full, fails SPLICE_F_NONBLOCK with EAGAIN.  The pages that did not
 * fit are not left pinned.
 */
static void test_partial(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	struct iovec iov = { .iov_len = size };
	char *p = map_anon(size);
	struct pins start;
	int fds[2];
	ssize_t n;

	if (!p || pipe(fds) || set_pipe_size(fds[0], 4 * pagesize))
		return setup_failed("partial", 2);
	fill(p, size, 3);
	iov.iov_base = p;
	pins_now(&start);
	n = vmsplice(fds[1], &iov, 1, SPLICE_F_NONBLOCK);
	check(&data, n == (ssize_t)(4 * pagesize),
	      "first vmsplice returned %zd, not %zu", n, 4 * pagesize);
	n = vmsplice(fds[1], &iov, 1, SPLICE_F_NONBLOCK);
	check(&data, n == -1 && errno == EAGAIN,
	      "second vmsplice, full pipe: %zd (%s), not EAGAIN", n,
	      n < 0 ? strerror(errno) : "no error");
	pins_since(&pins, &start, 4, "in the pipe");
	/* 4 pins, and 4 more at most if migration pinned them twice */
	check(&pins, !have_counters || pins_acquired_since(&start) <= 8,
	      "%ld pins taken for 4 pages", pins_acquired_since(&start));
	read_matches(&data, fds[0], p, 4 * pagesize, "pipe");
	pins_since(&pins, &start, 0, "after read()");
	check_report(&data, "full pipe: a partial transfer, then EAGAIN");
	report_pins(&pins, "full pipe: only the pages that fit are pinned, all released");
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/* close() of a pipe nobody read releases every pin */
static void test_close_unread(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check pins = { .ok = true };
	char *p = map_anon(size);
	struct pins start;
	int fds[2];

	if (!p || pipe(fds))
		return setup_failed("close", 1);
	fill(p, size, 4);
	pins_now(&start);
	splice_in(&pins, fds[1], p, size, 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	close(fds[0]);
	close(fds[1]);
	pins_since(&pins, &start, 0, "after close()");
	report_pins(&pins, "close() of an unread pipe releases every pin");
	munmap(p, size);
}

/* tee() duplicates each buffer with a pin of its own */
static void test_tee(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p = map_anon(size);
	struct pins start;
	int a[2], b[2];
	ssize_t n;

	if (!p || pipe(a) || pipe(b))
		return setup_failed("tee", 2);
	fill(p, size, 5);
	pins_now(&start);
	splice_in(&data, a[1], p, size, 0);
	n = tee(a[0], b[1], size, 0);
	check(&data, n == (ssize_t)size, "tee returned %zd (%s)", n,
	      n < 0 ? strerror(errno) : "short");
	pins_since(&pins, &start, 2 * NR_PAGES, "after tee()");
	read_matches(&data, b[0], p, size, "second pipe");
	pins_since(&pins, &start, NR_PAGES, "second pipe drained");
	read_matches(&data, a[0], p, size, "first pipe");
	pins_since(&pins, &start, 0, "both pipes drained");
	check_report(&data, "tee(): the data in both pipes");
	report_pins(&pins, "tee(): a pin per copy, all released");
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	munmap(p, size);
}

/*
 * splice() pipe to pipe moves whole buffers; a length that ends inside a
 * buffer splits it, and the split-off part takes its own pin.
 */
static void test_pipe_to_pipe(void)
{
	const size_t size = NR_PAGES * pagesize, part = 3 * pagesize + 100;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p = map_anon(size);
	struct pins start;
	int a[2], b[2];
	ssize_t n;

	if (!p || pipe(a) || pipe(b))
		return setup_failed("pipe to pipe", 2);
	fill(p, size, 6);
	pins_now(&start);
	splice_in(&data, a[1], p, size, 0);
	n = splice(a[0], NULL, b[1], NULL, part, 0);
	check(&data, n == (ssize_t)part, "splice returned %zd (%s)", n,
	      n < 0 ? strerror(errno) : "short");
	/* 3 buffers moved, the 4th split: one pin more */
	pins_since(&pins, &start, NR_PAGES + 1, "after splice()");
	read_matches(&data, b[0], p, part, "second pipe");
	read_matches(&data, a[0], p + part, size - part, "first pipe");
	pins_since(&pins, &start, 0, "both pipes drained");
	check_report(&data, "splice() pipe to pipe, a buffer split: the data");
	report_pins(&pins,
		    "splice() pipe to pipe, a buffer split: a pin for the split, all released");
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	munmap(p, size);
}

/* splice() to /dev/null consumes the buffers and releases their pins */
static void test_devnull(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check pins = { .ok = true };
	char *p = map_anon(size);
	struct pins start;
	int fds[2], null;
	ssize_t n;

	null = open("/dev/null", O_WRONLY);
	if (!p || null < 0 || pipe(fds))
		return setup_failed("/dev/null", 1);
	fill(p, size, 7);
	pins_now(&start);
	splice_in(&pins, fds[1], p, size, 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	n = splice(fds[0], NULL, null, NULL, size, 0);
	check(&pins, n == (ssize_t)size, "splice returned %zd (%s)", n,
	      n < 0 ? strerror(errno) : "short");
	pins_since(&pins, &start, 0, "after splice()");
	report_pins(&pins, "splice() to /dev/null: every pin released");
	close(null);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/*
 * splice() to a file, plain, or SPLICE_F_GIFT pages spliced on with
 * SPLICE_F_MOVE: the file gets the data, and writing to the buffer
 * afterwards does not change it.  (A file write copies; only fuse and
 * virtio_console would steal a gifted page, and a pinned one they never
 * get: that is not exercised here.)
 */
static void test_file(bool gift)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char path[] = "/tmp/vmsplice_pin.XXXXXX";
	char *p = map_anon(size), *want;
	struct pins start;
	int fds[2], fd;
	ssize_t n;

	want = malloc(size);
	fd = mkstemp(path);
	if (!p || !want || fd < 0 || pipe(fds))
		return setup_failed("file", 2);
	unlink(path);
	fill(p, size, gift ? 8 : 9);
	memcpy(want, p, size);
	pins_now(&start);
	splice_in(&data, fds[1], p, size, gift ? SPLICE_F_GIFT : 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	n = splice(fds[0], NULL, fd, NULL, size, gift ? SPLICE_F_MOVE : 0);
	check(&data, n == (ssize_t)size, "splice returned %zd (%s)", n,
	      n < 0 ? strerror(errno) : "short");
	pins_since(&pins, &start, 0, "after splice()");
	memset(p, 0x5a, size);
	check(&data, lseek(fd, 0, SEEK_SET) == 0, "lseek: %s",
	      strerror(errno));
	read_matches(&data, fd, want, size, "file");
	check_report(&data, gift ?
	       "SPLICE_F_GIFT, splice(SPLICE_F_MOVE) to a file: the data" :
	       "splice() to a file: the data");
	report_pins(&pins, gift ?
	       "SPLICE_F_GIFT, splice(SPLICE_F_MOVE) to a file: every pin released" :
	       "splice() to a file: every pin released");
	free(want);
	close(fd);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/* a connected pair of sockets: unix stream, or TCP over loopback */
static int socket_pair(bool tcp, int sv[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int l;

	if (!tcp)
		return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&addr, &len))
		goto fail;
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[0] < 0)
		goto fail;
	if (connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)))
		goto fail_close;
	sv[1] = accept(l, NULL, NULL);
	if (sv[1] < 0)
		goto fail_close;
	close(l);
	return 0;
fail_close:
	close(sv[0]);
fail:
	close(l);
	return -1;
}

struct reader {
	int fd;
	char *buf;
	size_t size;
	ssize_t got;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->got = read_all(r->fd, r->buf, r->size);
	return NULL;
}

/*
 * splice() to a socket: the skbs take page references of their own; the
 * pins go as the pipe buffers are consumed.  A thread reads the far end
 * meanwhile: the data may not fit the socket's buffers.
 */
static void test_socket(bool tcp)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p = map_anon(size);
	struct reader rd = { 0 };
	struct pins start;
	int fds[2], sv[2];
	pthread_t t;
	ssize_t n, m;

	if (!p || pipe(fds) || socket_pair(tcp, sv))
		return setup_failed(tcp ? "TCP socket" : "unix socket", 2);
	fill(p, size, tcp ? 10 : 11);
	pins_now(&start);
	splice_in(&data, fds[1], p, size, 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	rd.fd = sv[1];
	rd.size = size;
	rd.buf = malloc(size);
	if (!check(&data, rd.buf && !pthread_create(&t, NULL, reader_fn, &rd),
		   "reader thread: %s", strerror(errno)))
		goto out;
	for (n = 0; n < (ssize_t)size; n += m) {
		m = splice(fds[0], NULL, sv[0], NULL, size - n, 0);
		if (!check(&data, m > 0, "splice returned %zd (%s)", m,
			   m < 0 ? strerror(errno) : "nothing"))
			break;
	}
	if (!data.ok)		/* the reader waits for what never comes */
		shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	pins_since(&pins, &start, 0, "after splice()");
	check(&data, rd.got == (ssize_t)size && !memcmp(rd.buf, p, size),
	      "socket: read %zd of %zu bytes%s", rd.got, size,
	      rd.got == (ssize_t)size ? ", the data differs" : "");
out:
	free(rd.buf);
	check_report(&data, tcp ? "splice() to a TCP socket: the data" :
	       "splice() to a unix socket: the data");
	report_pins(&pins, tcp ? "splice() to a TCP socket: every pin released" :
	       "splice() to a unix socket: every pin released");
	close(sv[0]);
	close(sv[1]);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/* ------------------------------------------ tee() and splice() to TCP */

#define TEE_PAGES	2
#define TEE_REQUESTS	4
#define NAME_TEE_TCP \
	"vmsplice tee splice tcp: every request gets the response"
#define NAME_TEE_TCP_WRITE \
	"vmsplice tee splice tcp: write after vmsplice() reaches the socket"
#define NAME_TEE_TCP_FORK \
	"vmsplice tee splice tcp: write after fork() reaches the socket"

enum tee_write { TEE_NO_WRITE, TEE_WRITE, TEE_WRITE_AFTER_FORK };

/*
 * Why the socket did not get @want (what our buffer holds now) in each of
 * the TEE_REQUESTS copies in @got: how many bytes are as the buffer is
 * now ("new"), as it was when vmspliced (@old, "old"), or neither, and
 * what each request got: all "new", all "old", "mixed", or "short".
 */
static void why_received(struct check *c, const char *got, ssize_t len,
			 const char *want, const char *old, size_t size)
{
	size_t nr_new = 0, nr_old = 0, nr_other = 0, i, in_new, in_old;
	char per[TEE_REQUESTS * 6 + 1] = "", *s = per;
	int r;

	for (r = 0; r < TEE_REQUESTS; r++, got += size, len -= size) {
		in_new = 0;
		in_old = 0;
		for (i = 0; i < size && (ssize_t)i < len; i++) {
			if (got[i] == want[i])
				in_new++;
			else if (got[i] == old[i])
				in_old++;
		}
		nr_new += in_new;
		nr_old += in_old;
		nr_other += i - in_new - in_old;
		s += sprintf(s, "%s%s", r ? "," : " ", i < size ? "short" :
			     in_new == size ? "new" :
			     in_old == size ? "old" : "mixed");
	}
	check(c, false,
	      "socket: %zu of %zu bytes read: %zu new (as written after the vmsplice()), %zu old (as vmspliced), %zu neither; requests:%s",
	      nr_new + nr_old + nr_other, TEE_REQUESTS * size, nr_new, nr_old,
	      nr_other, per);
}

/*
 * What haproxy does for a static response: vmsplice() it (no gift) once
 * into a master pipe, tee() that into a pipe per request, and splice()
 * the request's pipe to its TCP socket.  Here four requests on one
 * connection over loopback: the far end must read the buffer four times.
 *
 * @how: the buffer is written over after the vmsplice(), before the tee()
 * and splice()s, as libfuse's fuse_send_data_iov() fixes up the header it
 * vmspliced: the pipe holds our page, so the socket gets what we wrote.
 * Unless fork() came in between: with page references, fork() shares the
 * page copy-on-write, our write copies it, and the pipe keeps the old
 * page.  A long-term pin makes fork() copy the page for the child instead,
 * so that we keep the pinned one and our write lands in it.
 */
static void test_tee_tcp(enum tee_write how)
{
	const size_t size = TEE_PAGES * pagesize, total = TEE_REQUESTS * size;
	const char *name = how == TEE_NO_WRITE ? NAME_TEE_TCP :
			   how == TEE_WRITE ? NAME_TEE_TCP_WRITE :
			   NAME_TEE_TCP_FORK;
	int master[2] = { -1, -1 }, req[2], go[2] = { -1, -1 }, sv[2], status;
	struct check data = CHECK_INIT;
	struct reader rd = { 0 };
	char *p, *old = NULL;
	bool reading = false;
	pid_t child = -1;
	ssize_t n, m;
	size_t i;
	pthread_t t;
	int r;

	if (socket_pair(true, sv)) {
		ksft_print_msg("%s: no TCP over loopback: %s\n", name,
			       strerror(errno));
		ksft_test_result_skip("%s\n", name);
		return;
	}
	p = map_anon(size);
	old = malloc(size);
	rd.buf = malloc(total);
	if (!check(&data, p && old && rd.buf, "setup: %s", strerror(errno)) ||
	    !check(&data, !pipe(master) && !pipe(go), "pipe: %s",
		   strerror(errno)))
		goto out;
	fill(p, size, 23 + how);
	memcpy(old, p, size);
	if (!splice_in(&data, master[1], p, size, 0))
		goto out;
	if (how == TEE_WRITE_AFTER_FORK) {
		fflush(stdout);
		child = fork();
		if (!check(&data, child >= 0, "fork: %s", strerror(errno)))
			goto out;
		if (child == 0) {
			char ch;

			/* keep our copy of the mapping until told to go */
			close(go[1]);
			_exit(read(go[0], &ch, 1) < 0);
		}
	}
	if (how != TEE_NO_WRITE) {
		for (i = 0; i < size; i++)
			p[i] = ~p[i];
		if (child > 0)
			check(&data, waitpid(child, &status, WNOHANG) == 0,
			      "the child was gone before the write");
	}
	rd.fd = sv[1];
	rd.size = total;
	if (!check(&data, !pthread_create(&t, NULL, reader_fn, &rd),
		   "reader thread failed"))
		goto out;
	reading = true;
	for (r = 0; r < TEE_REQUESTS && data.ok; r++) {
		if (!check(&data, !pipe(req), "request %d: pipe: %s", r,
			   strerror(errno)))
			break;
		n = tee(master[0], req[1], size, 0);
		check(&data, n == (ssize_t)size,
		      "request %d: tee returned %zd (%s)", r, n,
		      n < 0 ? strerror(errno) : "short");
		for (m = 0; data.ok && n > 0; n -= m) {
			m = splice(req[0], NULL, sv[0], NULL, n, 0);
			check(&data, m > 0,
			      "request %d: splice returned %zd (%s)", r, m,
			      m < 0 ? strerror(errno) : "nothing");
		}
		close(req[0]);
		close(req[1]);
	}
out:
	if (reading) {
		if (!data.ok)	/* the reader waits for what never comes */
			shutdown(sv[0], SHUT_WR);
		pthread_join(t, NULL);
		for (r = 0; r < TEE_REQUESTS; r++)
			if (memcmp(rd.buf + r * size, p, size))
				break;
		if (rd.got < 0)
			check(&data, false, "socket: read: %s",
			      strerror(-rd.got));
		else if (rd.got != (ssize_t)total || r < TEE_REQUESTS)
			why_received(&data, rd.buf, rd.got, p, old, size);
	}
	if (go[1] >= 0)
		close(go[1]);	/* the child may go */
	if (child > 0)
		waitpid(child, &status, 0);
	check_report(&data, name);
	if (go[0] >= 0)
		close(go[0]);
	if (master[0] >= 0) {
		close(master[0]);
		close(master[1]);
	}
	close(sv[0]);
	close(sv[1]);
	free(rd.buf);
	free(old);
	if (p)
		munmap(p, size);
}

/*
 * Memory never written reads as zeroes.  (What a write after the vmsplice()
 * does is not defined: without pins the pipe kept the shared zero page, a
 * long-term pin unshares it first, so the pipe has the page the process
 * then writes to, as for memory that was written before.)
 */
static void test_untouched(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true };
	char *p = map_anon(size), *zero = calloc(1, size);
	int fds[2];

	if (!p || !zero || pipe(fds))
		return setup_failed("untouched memory", 1);
	splice_in(&data, fds[1], p, size, 0);
	read_matches(&data, fds[0], zero, size, "pipe");
	check_report(&data, "untouched memory: zeroes");
	free(zero);
	close(fds[0]);
	close(fds[1]);
	munmap(p, size);
}

/* A shared mapping (shmem): its pages stay in the pipe after munmap() */
static void test_shared(void)
{
	const size_t size = NR_PAGES * pagesize;
	struct check data = { .ok = true }, pins = { .ok = true };
	char *p, *want = malloc(size);
	struct pins start;
	int fds[2];

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || !want || pipe(fds))
		return setup_failed("shmem", 2);
	fill(p, size, 12);
	memcpy(want, p, size);
	pins_now(&start);
	splice_in(&data, fds[1], p, size, 0);
	pins_since(&pins, &start, NR_PAGES, "in the pipe");
	munmap(p, size);
	read_matches(&data, fds[0], want, size, "pipe");
	pins_since(&pins, &start, 0, "after read()");
	check_report(&data, "shmem, unmapped before the read: the data");
	report_pins(&pins, "shmem: a pin per page, all released");
	free(want);
	close(fds[0]);
	close(fds[1]);
}

/* ------------------------------------------------------------- fork races */

struct fork_race {
	char *mem;
	size_t size;
	int go[2];		/* parent -> child: write now */
	pid_t child;
};

/*
 * What a race splices of @size bytes: all, up to the 1 MiB an unprivileged
 * pipe can hold (pipe-max-size); pinning any page of a huge page unshares
 * or migrates all of it.
 */
static size_t splice_len(size_t size)
{
	return size < (1UL << 20) ? size : 1UL << 20;
}

/* The child modifies its (COW) copy when told, and exits. */
static void *fork_thread(void *arg)
{
	struct fork_race *r = arg;
	char c;

	r->child = fork();
	if (r->child == 0) {
		if (read(r->go[0], &c, 1) != 1)
			_exit(1);
		memset(r->mem, 0xff, r->size);
		_exit(0);
	}
	return NULL;
}

/*
 * fork() in a second thread while the parent vmsplices, the parent unmaps
 * its copy, then the child writes to its own: the parent's pipe must still
 * hold what the parent spliced.  With a mere reference (FOLL_GET), a child
 * could reuse the page the pipe holds once it is the only one mapping it:
 * hugetlb COW decides by mapcount.
 */
static void race_child_into_parent(struct check *c, char *(*map)(size_t),
				   size_t size, int iterations)
{
	size_t len = splice_len(size);
	char *want = malloc(size);
	struct fork_race r;
	int i, fds[2], status;

	if (!check(c, want && !pipe(fds) && !set_pipe_size(fds[0], len),
		   "setup: %s", strerror(errno)))
		return;
	for (i = 0; c->ok && i < iterations; i++) {
		pthread_t t;

		r.size = size;
		r.mem = map(size);
		if (!check(c, r.mem && !pipe(r.go), "mmap: %s",
			   strerror(errno)))
			break;
		fill(r.mem, size, 13 + i);
		memcpy(want, r.mem, size);
		if (!check(c, !pthread_create(&t, NULL, fork_thread, &r),
			   "pthread_create failed"))
			break;
		splice_in(c, fds[1], r.mem, len, 0);
		pthread_join(t, NULL);
		munmap(r.mem, size);
		if (check(c, r.child > 0, "fork: %s", strerror(errno))) {
			check(c, write(r.go[1], "g", 1) == 1, "write");
			waitpid(r.child, &status, 0);
		}
		close(r.go[0]);
		close(r.go[1]);
		if (!c->ok)
			break;
		if (!read_matches(c, fds[0], want, len, "pipe"))
			snprintf(c->why + strlen(c->why),
				 sizeof(c->why) - strlen(c->why),
				 " (leak from the child, iteration %d)", i);
	}
	free(want);
	close(fds[0]);
	close(fds[1]);
}

/*
 * The child vmsplices its copy, in odd rounds while the parent keeps
 * writing to its own; the child unmaps, the parent writes: the child's
 * pipe must hold the memory as it was at fork().  With a mere reference,
 * the parent could reuse (hugetlb: by mapcount) the page the child's pipe
 * holds.
 */
static void race_parent_into_child(struct check *c, char *(*map)(size_t),
				   size_t size, int iterations)
{
	size_t len = splice_len(size);
	int i, status, ready[2], done[2], fds[2];
	char *want = malloc(size), ch;

	if (!check(c, want, "malloc"))
		return;
	for (i = 0; c->ok && i < iterations; i++) {
		char *mem = map(size);
		pid_t child;

		if (!check(c, mem && !pipe(ready) && !pipe(done),
			   "setup: %s", strerror(errno)))
			break;
		fill(mem, size, 17 + i);
		memcpy(want, mem, size);
		fflush(stdout);
		child = fork();
		if (!check(c, child >= 0, "fork: %s", strerror(errno))) {
			munmap(mem, size);
			break;
		}
		if (child == 0) {
			struct check in_child = { .ok = true };

			close(ready[0]);
			close(done[1]);
			if (pipe(fds) || set_pipe_size(fds[0], len)) {
				ksft_print_msg("child: pipe: %s\n",
					       strerror(errno));
				fflush(stdout);
				_exit(2);
			}
			if (!splice_in(&in_child, fds[1], mem, len, 0)) {
				ksft_print_msg("child: %s (free huge pages %lu, reserved %lu)\n",
					       in_child.why, hugepages("Free"),
					       hugepages("Rsvd"));
				fflush(stdout);
				_exit(2);
			}
			munmap(mem, size);
			if (write(ready[1], "r", 1) != 1 ||
			    read(done[0], &ch, 1) != 1)
				_exit(2);
			_exit(read_matches(&in_child, fds[0], want, len,
					   "pipe") ? 0 : 1);
		}
		/* a child that dies must not leave us waiting */
		close(ready[1]);
		close(done[0]);
		/*
		 * Odd rounds write while the child splices; every round writes
		 * after the child's munmap(), when only the parent maps the
		 * page (unless it copied it on an earlier write).
		 */
		while (i % 2) {
			struct pollfd pfd = { .fd = ready[0], .events = POLLIN };

			memset(mem, 0xee, size);
			if (poll(&pfd, 1, 0) != 0)
				break;
		}
		check(c, read(ready[0], &ch, 1) == 1,
		      "iteration %d: the child failed to vmsplice", i);
		memset(mem, 0xdd, size);
		check(c, write(done[1], "d", 1) == 1, "write");
		waitpid(child, &status, 0);
		check(c, WIFEXITED(status) && WEXITSTATUS(status) != 2,
		      "iteration %d: the child failed", i);
		check(c, WIFEXITED(status) && WEXITSTATUS(status) != 1,
		      "iteration %d: leak from the parent into the child", i);
		munmap(mem, size);
		close(ready[0]);
		close(done[1]);
	}
	free(want);
}

static char *map_anon_sized(size_t size)
{
	return map_anon(size);
}

static char *map_hugetlb_sized(size_t size)
{
	return size == hpage_size ? map_hugetlb() : NULL;
}

static void test_fork_races(bool hugetlb)
{
	char *(*map)(size_t) = hugetlb ? map_hugetlb_sized : map_anon_sized;
	size_t size = hugetlb ? hpage_size : 4 * pagesize;
	int iterations = hugetlb ? 10 : 50;
	struct check into_parent = { .ok = true }, into_child = { .ok = true };

	if (hugetlb && (!hpage_size || hugepages("Free") < 4)) {
		ksft_print_msg("hugetlb: fewer than 4 free huge pages\n");
		ksft_test_result_skip("%s\n", NAME_RACE_INTO_PARENT_HUGETLB);
		ksft_test_result_skip("%s\n", NAME_RACE_INTO_CHILD_HUGETLB);
		return;
	}
	race_child_into_parent(&into_parent, map, size, iterations);
	check_report(&into_parent, hugetlb ? NAME_RACE_INTO_PARENT_HUGETLB :
	       "fork() racing vmsplice(), anon: no leak from the child into the parent");
	race_parent_into_child(&into_child, map, size, iterations);
	check_report(&into_child, hugetlb ? NAME_RACE_INTO_CHILD_HUGETLB :
	       "vmsplice() in the child racing parent writes, anon: no leak into the child");
}

/* ---------------------------------------------------------- memory offline */

static long block_size;

static long read_long(const char *path, int base)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, base);
	fclose(f);
	return v;
}

static bool block_is_movable(long block)
{
	char path[96], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/memory/memory%ld/valid_zones", block);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strcmp(buf, "Movable\n");
}

/* No PG_reserved page in the block: nothing but our pages can stop it */
static bool block_has_reserved(long block)
{
	long pages = block_size / pagesize, i, n;
	uint64_t *flags = malloc(pages * sizeof(*flags));
	bool reserved = true;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || !flags)
		goto out;
	n = pread(fd, flags, pages * sizeof(*flags),
		  block * pages * sizeof(*flags));
	if (n != (long)(pages * sizeof(*flags)))
		goto out;
	reserved = false;
	for (i = 0; i < pages; i++)
		if (flags[i] & (1ULL << KPF_RESERVED))
			reserved = true;
out:
	if (fd >= 0)
		close(fd);
	free(flags);
	return reserved;
}

static long pfn_of(int pagemap, unsigned long addr)
{
	uint64_t e;

	if (pread(pagemap, &e, sizeof(e), addr / pagesize * sizeof(e)) !=
	    sizeof(e) || !(e & (1ULL << 63)))
		return -1;
	return e & ((1ULL << 55) - 1);
}

static void set_nr_hugepages(long n)
{
	FILE *f;

	if (n < 0)
		return;
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (!f)
		return;
	fprintf(f, "%ld\n", n);
	if (fclose(f))
		ksft_print_msg("vm.nr_hugepages = %ld: %s\n", n,
			       strerror(errno));
	else if (read_long("/proc/sys/vm/nr_hugepages", 10) != n)
		ksft_print_msg("vm.nr_hugepages = %ld: got %ld\n", n,
			       read_long("/proc/sys/vm/nr_hugepages", 10));
}

static void on_alarm(int sig)
{
}

/* echo @state > memoryN/state, interrupted after @seconds; 0 or -errno */
static int set_block_state(long block, const char *state, int seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/memory/memory%ld/state", block);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: EINTR */
	alarm(seconds);
	if (write(fd, state, strlen(state)) < 0)
		ret = -errno;
	alarm(0);
	close(fd);
	return ret;
}

/*
 * The unprivileged side: map and fill a large buffer, report its address,
 * receive the indices of the pages to splice, vmsplice() them, report, and
 * stay (the mapping too) until killed.
 */
static void offline_child(int cmd, int rep, int pipefd)
{
	struct iovec iov[OFFLINE_PAGES];
	int idx[OFFLINE_PAGES], n, i;
	unsigned long addr;
	ssize_t done = 0, r;
	char *p;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534) ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL))
		_exit(1);
	p = map_anon(OFFLINE_BUFFER);
	if (!p)
		_exit(1);
	fill(p, OFFLINE_BUFFER, 21);
	addr = (unsigned long)p;
	if (write(rep, &addr, sizeof(addr)) != sizeof(addr) ||
	    read(cmd, &n, sizeof(n)) != sizeof(n) || n < 1 ||
	    n > OFFLINE_PAGES ||
	    read(cmd, idx, n * sizeof(int)) != (ssize_t)(n * sizeof(int)))
		_exit(1);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = p + idx[i] * pagesize;
		iov[i].iov_len = pagesize;
	}
	for (i = 0; i < n; ) {
		r = vmsplice(pipefd, iov + i, n - i, 0);
		if (r <= 0) {
			done = -errno;
			break;
		}
		done += r;
		i += r / pagesize;
	}
	if (write(rep, &done, sizeof(done)) != sizeof(done))
		_exit(1);
	pause();
	_exit(0);
}

static long block_of(long pfn)
{
	return pfn * (long)pagesize / block_size;
}

/*
 * An unprivileged child fills a 160 MiB buffer, much of it in ZONE_MOVABLE
 * with the hugetlb pool given back; root picks the offlinable movable
 * block that holds most of it, the child vmsplices (up to 256 of) its
 * pages there, and root offlines that block.
 */
static void test_offline(void)
{
	const long nr = OFFLINE_BUFFER / pagesize;
	struct check offline = { .ok = true }, data = { .ok = true };
	long i, block = -1, best = 0, moved = 0, nr_hugepages;
	uint64_t *pm = malloc(nr * sizeof(*pm));
	int cmd[2], rep[2], fds[2], pagemap = -1, n = 0, ret;
	int idx[OFFLINE_PAGES];
	char path[64], *want;
	unsigned long addr;
	long count[1024];
	pid_t child;
	ssize_t r;

	block_size = read_long("/sys/devices/system/memory/block_size_bytes",
			       16);
	if (block_size <= 0 || geteuid() != 0) {
		ksft_print_msg("memory offline: needs root and memory hotplug\n");
		ksft_test_result_skip("%s\n", NAME_OFFLINE);
		ksft_test_result_skip("%s\n", NAME_OFFLINE_DATA);
		return;
	}
	want = malloc(OFFLINE_PAGES * pagesize);
	if (!pm || !want || pipe(cmd) || pipe(rep) || pipe(fds) ||
	    set_pipe_size(fds[0], OFFLINE_PAGES * pagesize))
		return setup_failed("memory offline", 2);
	/*
	 * The hugetlb pool is allocated from ZONE_MOVABLE first, and may fill
	 * it: give it back for the duration, so that the buffer lands there.
	 */
	nr_hugepages = read_long("/proc/sys/vm/nr_hugepages", 10);
	set_nr_hugepages(0);
	fflush(stdout);
	child = fork();
	if (child == 0)
		offline_child(cmd[0], rep[1], fds[1]);
	if (child < 0) {
		setup_failed("memory offline: fork", 2);
		set_nr_hugepages(nr_hugepages);
		return;
	}
	/* the child's ends: a child that dies must not leave us waiting */
	close(fds[1]);
	close(cmd[0]);
	close(rep[1]);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", child);
	if (read(rep[0], &addr, sizeof(addr)) == sizeof(addr))
		pagemap = open(path, O_RDONLY);
	if (pagemap < 0 || pread(pagemap, pm, nr * sizeof(*pm),
				 addr / pagesize * sizeof(*pm)) !=
			   (ssize_t)(nr * sizeof(*pm))) {
		setup_failed("memory offline: the unprivileged child", 2);
		goto out_kill;
	}
	for (i = 0; i < nr; i++)
		pm[i] = (pm[i] & (1ULL << 63)) ? pm[i] & ((1ULL << 55) - 1) : 0;
	/* the offlinable ZONE_MOVABLE block with most of the buffer */
	memset(count, 0, sizeof(count));
	for (i = 0; i < nr; i++)
		if (pm[i] && block_of(pm[i]) < 1024)
			count[block_of(pm[i])]++;
	for (i = 0; i < 1024; i++) {
		if (!count[i] || !block_is_movable(i))
			continue;
		if (block_has_reserved(i)) {
			ksft_print_msg("memory%ld: %ld pages of the buffer, %s\n",
				       i, count[i], "but reserved pages too");
			continue;
		}
		if (count[i] > best) {
			best = count[i];
			block = i;
		}
	}
	if (block < 0) {
		ksft_print_msg("memory offline: %s (boot with movablecore=)\n",
			       "no page of the buffer in an offlinable ZONE_MOVABLE block");
		ksft_test_result_skip("%s\n", NAME_OFFLINE);
		ksft_test_result_skip("%s\n", NAME_OFFLINE_DATA);
		goto out_kill;
	}
	for (i = 0; i < nr && n < OFFLINE_PAGES; i++)
		if (pm[i] && block_of(pm[i]) == block) {
			memset(want + n * pagesize, 1 + (21 + i) % 255,
			       pagesize);
			idx[n++] = i;
		}
	/* vmsplice() as nobody */
	if (write(cmd[1], &n, sizeof(n)) != sizeof(n) ||
	    write(cmd[1], idx, n * sizeof(int)) != (ssize_t)(n * sizeof(int)) ||
	    read(rep[0], &r, sizeof(r)) != sizeof(r) ||
	    r != (ssize_t)(n * pagesize)) {
		setup_failed("memory offline: the unprivileged vmsplice()", 2);
		goto out_kill;
	}
	for (i = 0; i < n; i++)
		if (pfn_of(pagemap, addr + idx[i] * pagesize) != (long)pm[idx[i]])
			moved++;
	ksft_print_msg("memory%ld (ZONE_MOVABLE): %d pages vmspliced, %ld of them %s\n",
		       block, n, moved, "moved elsewhere");
	ret = set_block_state(block, "offline", OFFLINE_SECONDS);
	if (ret == -EINTR)
		check(&offline, false,
		      "interrupted after %d s (EINTR): migration kept failing",
		      OFFLINE_SECONDS);
	else
		check(&offline, !ret, "%s", strerror(-ret));
	/* a long-term pin migrates each page out of ZONE_MOVABLE first */
	check(&offline, moved == n, "%ld of the %d vmspliced pages left ZONE_MOVABLE",
	      moved, n);
	if (!ret) {
		ret = set_block_state(block, "online_movable", 60);
		check(&offline, !ret, "memory%ld offlined, but online_movable: %s",
		      block, strerror(-ret));
	}
	check_report(&offline, NAME_OFFLINE);
	/* the pipe keeps the pages after their owner is gone */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = 0;
	read_matches(&data, fds[0], want, n * pagesize, "pipe");
	check_report(&data, NAME_OFFLINE_DATA);
out_kill:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (pagemap >= 0)
		close(pagemap);
	close(fds[0]);
	set_nr_hugepages(nr_hugepages);
	free(want);
	free(pm);
}

int main(int argc, char **argv)
{
	bool offline = false, only_tee = false;
	struct pins p;
	int opt;

	while ((opt = getopt(argc, argv, "ot")) != -1) {
		if (opt == 'o')
			offline = true;
		else if (opt == 't')
			only_tee = true;
		else
			break;
	}
	if (opt != -1 || optind < argc || (offline && only_tee)) {
		fprintf(stderr, "usage: %s [-o | -t]\n"
			"  -o  also offline (and online again) a ZONE_MOVABLE memory block\n"
			"  -t  only vmsplice(), tee() and splice() to TCP, with writes after them\n",
			argv[0]);
		return KSFT_FAIL;
	}
	pagesize = getpagesize();
	hpage_size = default_huge_page_size();
	/* a child that failed early must not kill us when we write to it */
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	if (only_tee) {
		ksft_set_plan(3);
		test_tee_tcp(TEE_NO_WRITE);
		test_tee_tcp(TEE_WRITE);
		test_tee_tcp(TEE_WRITE_AFTER_FORK);
		ksft_finished();
	}
	have_counters = pin_counters(&p.acquired, &p.released);
	if (!have_counters)
		ksft_print_msg("%s (needs root): the pin results skip\n",
			       "nr_foll_pin_acquired/_released cannot be read exactly");
	ksft_set_plan(32);
	test_read();
	test_iovecs();
	test_partial();
	test_close_unread();
	test_tee();
	test_pipe_to_pipe();
	test_devnull();
	test_file(false);
	test_file(true);
	test_socket(false);
	test_socket(true);
	test_tee_tcp(TEE_NO_WRITE);
	test_tee_tcp(TEE_WRITE);
	test_tee_tcp(TEE_WRITE_AFTER_FORK);
	test_untouched();
	test_shared();
	test_fork_races(false);
	test_fork_races(true);
	if (offline) {
		test_offline();
	} else {
		ksft_print_msg("memory offline: not asked for (-o)\n");
		ksft_test_result_skip("%s\n", NAME_OFFLINE);
		ksft_test_result_skip("%s\n", NAME_OFFLINE_DATA);
	}
	ksft_finished();
}
