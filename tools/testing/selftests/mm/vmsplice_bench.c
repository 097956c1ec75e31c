// SPDX-License-Identifier: GPL-2.0
/*
 * vmsplice() throughput: user memory into a pipe, spliced on to /dev/null
 * (from one buffer, or from memory written anew each time: "fresh"), to a
 * unix stream socket and to a TCP socket over loopback, with writes
 * of 4 KiB, 64 KiB and 1 MiB, against the copying alternative: write() of
 * the same buffer into the pipe, then the same splice() on.
 *
 * "tee" is the shape of a vmsplice() user that serves one response to many
 * clients (a load generator, a cache): the response goes into a master
 * pipe, tee() copies the master's buffers (references, not data) into one
 * pipe per request, and each of those is spliced to its own TCP connection
 * over loopback.  One round fills the master, serves NR_REQUESTS requests
 * from it and empties it again.
 *
 * Each combination runs for -s seconds (or -i iterations) after a warm-up
 * iteration (the first vmsplice() of a page may have to migrate it, see
 * FOLL_LONGTERM), -n times; every round prints
 *
 *   # VMSPLICE <sink> <bytes per write> <vmsplice|write> <bytes/s>
 *
 * counting the bytes that reached the sink.  -k SINK, -z BYTES and
 * -m vmsplice|write run one sink, one size or one column only.  A thread
 * drains the sockets' far ends.  Not a test: it passes unless a system
 * call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "../kselftest.h"

#define PIPE_SIZE	(1024 * 1024)
#define NR_REQUESTS	4

/*
 * "fresh": to /dev/null, but from memory mapped and written anew for every
 * write, as a program that splices what it has just produced would: the
 * page faults are in both columns, and so, for vmsplice(), is whatever a
 * long-term pin of new memory costs (its migration out of ZONE_MOVABLE).
 */
enum sink { SINK_NULL, SINK_FRESH, SINK_UNIX, SINK_TCP, SINK_TEE, NR_SINKS };
static const char * const sink_name[NR_SINKS] = {
	"null", "fresh", "unix", "tcp", "tee"
};

static const size_t sizes[] = { 4096, 65536, 1 << 20 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct far_ends {
	int fd[NR_REQUESTS];
	int nr;
};

/* Read whatever arrives on any of the far ends until they all close. */
static void *drain(void *arg)
{
	struct far_ends *far = arg;
	struct pollfd pfd[NR_REQUESTS];
	static char buf[PIPE_SIZE];
	int i, open = far->nr;

	for (i = 0; i < far->nr; i++)
		pfd[i] = (struct pollfd){ .fd = far->fd[i], .events = POLLIN };
	while (open) {
		if (poll(pfd, far->nr, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < far->nr; i++) {
			if (!pfd[i].revents)
				continue;
			if (read(pfd[i].fd, buf, sizeof(buf)) <= 0) {
				pfd[i].fd = -1;
				open--;
			}
		}
	}
	return NULL;
}

static int tcp_pair(int sv[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int l = socket(AF_INET, SOCK_STREAM, 0), err;

	sv[0] = -1;
	sv[1] = -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&addr, &len))
		goto fail;
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)))
		goto fail;
	sv[1] = accept(l, NULL, NULL);
	if (sv[1] < 0)
		goto fail;
	close(l);
	return 0;
fail:
	err = errno;
	if (sv[0] >= 0)
		close(sv[0]);
	if (l >= 0)
		close(l);
	sv[0] = -1;
	errno = err;
	return -1;
}

/* Put @size bytes of @buf into the pipe, by vmsplice() or by write(). */
static int fill_pipe(int fd, char *buf, size_t size, bool copy)
{
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	ssize_t n;

	while (iov.iov_len) {
		n = copy ? write(fd, iov.iov_base, iov.iov_len) :
			   vmsplice(fd, &iov, 1, 0);
		if (n <= 0)
			return -1;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= n;
	}
	return 0;
}

static int empty_pipe(int fd, int out, size_t size)
{
	ssize_t n;

	while (size) {
		n = splice(fd, NULL, out, NULL, size, SPLICE_F_MOVE);
		if (n <= 0)
			return -1;
		size -= n;
	}
	return 0;
}

/* Duplicate all @size bytes of pipe @in into the empty pipe @out. */
static int tee_all(int in, int out, size_t size)
{
	ssize_t n = tee(in, out, size, 0);

	if (n == (ssize_t)size)
		return 0;
	if (n >= 0)		/* room for all of it: a short tee() is a bug */
		errno = EIO;
	return -1;
}

struct bench_fds {
	enum sink sink;
	int pfd[2];			/* the pipe, or the master pipe */
	int out[NR_REQUESTS];		/* /dev/null, or the sockets */
	int req[NR_REQUESTS][2];	/* "tee": the per-request pipes */
	int null;			/* "tee": empties the master */
	struct far_ends far;
	pthread_t reader;
	bool reading;			/* reader started: join it */
};

/* One iteration: @size bytes through the pipe(s); bytes delivered, or -1 */
static long long iteration(struct bench_fds *st, char *buf, size_t size,
			   bool copy)
{
	int r;

	if (fill_pipe(st->pfd[1], buf, size, copy))
		return -1;
	if (st->sink != SINK_TEE)
		return empty_pipe(st->pfd[0], st->out[0], size) ? -1 :
		       (long long)size;
	for (r = 0; r < NR_REQUESTS; r++)
		if (tee_all(st->pfd[0], st->req[r][1], size) ||
		    empty_pipe(st->req[r][0], st->out[r], size))
			return -1;
	return empty_pipe(st->pfd[0], st->null, size) ? -1 :
	       (long long)size * NR_REQUESTS;
}

/* bytes/s delivered for @seconds, or @iters iterations if not 0; or -1 */
static double run(struct bench_fds *st, char *buf, size_t size, bool copy,
		  double seconds, long iters)
{
	bool fresh = st->sink == SINK_FRESH;
	double start = now(), t;
	unsigned long long bytes = 0;
	long done = 0;
	long long n;

	do {
		if (fresh) {
			buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (buf == MAP_FAILED)
				return -1;
			memset(buf, 0x5a, size);
		}
		n = iteration(st, buf, size, copy);
		if (fresh)
			munmap(buf, size);
		if (n < 0)
			return -1;
		bytes += n;
		t = now() - start;
	} while (iters ? ++done < iters : t < seconds);
	return bytes / t;
}

/* The fds of @sink; every one is -1 until opened. */
static int open_sink(struct bench_fds *st, enum sink sink)
{
	int sv[2], r, err, nr = sink == SINK_TEE ? NR_REQUESTS : 1;

	memset(st, -1, sizeof(*st));
	st->sink = sink;
	st->far.nr = 0;
	st->reading = false;
	if (pipe(st->pfd) || fcntl(st->pfd[0], F_SETPIPE_SZ, PIPE_SIZE) < 0)
		return -1;
	if (sink == SINK_NULL || sink == SINK_FRESH) {
		st->out[0] = open("/dev/null", O_WRONLY);
		return st->out[0] < 0 ? -1 : 0;
	}
	if (sink == SINK_TEE) {
		st->null = open("/dev/null", O_WRONLY);
		if (st->null < 0)
			return -1;
	}
	for (r = 0; r < nr; r++) {
		if (sink == SINK_UNIX ?
		    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) : tcp_pair(sv))
			return -1;
		st->out[r] = sv[0];
		st->far.fd[r] = sv[1];
		if (sink == SINK_TEE &&
		    (pipe(st->req[r]) ||
		     fcntl(st->req[r][0], F_SETPIPE_SZ, PIPE_SIZE) < 0))
			return -1;
	}
	st->far.nr = nr;
	err = pthread_create(&st->reader, NULL, drain, &st->far);
	if (err) {
		errno = err;
		return -1;
	}
	st->reading = true;
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Close what open_sink() opened; errno is left as it was. */
static void close_sink(struct bench_fds *st)
{
	int r, err = errno;

	for (r = 0; r < st->far.nr; r++)
		shutdown(st->far.fd[r], SHUT_RDWR);
	if (st->reading)
		pthread_join(st->reader, NULL);
	for (r = 0; r < NR_REQUESTS; r++) {
		close_fd(st->out[r]);
		close_fd(st->far.fd[r]);
		close_fd(st->req[r][0]);
		close_fd(st->req[r][1]);
	}
	close_fd(st->null);
	close_fd(st->pfd[0]);
	close_fd(st->pfd[1]);
	errno = err;
}

static const char * const mode_name[2] = { "vmsplice", "write" };

static int bench(enum sink sink, double seconds, long iters, int rounds,
		 size_t only_size, int only_mode)
{
	struct bench_fds st;
	int s, r, m, ret = -1;
	char *buf;

	/* page-aligned, so that a size is that many pages' worth */
	buf = mmap(NULL, sizes[2], PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	memset(buf, 0x5a, sizes[2]);
	if (open_sink(&st, sink))
		goto out;
	for (s = 0; s < 3; s++) {
		if (only_size && sizes[s] != only_size)
			continue;
		for (m = 0; m < 2; m++)		/* warm-up */
			if ((only_mode < 0 || m == only_mode) &&
			    run(&st, buf, sizes[s], m, 0, 1) < 0)
				goto out;
		for (r = 0; r < rounds; r++) {
			for (m = 0; m < 2; m++) {
				double bps;

				if (only_mode >= 0 && m != only_mode)
					continue;
				bps = run(&st, buf, sizes[s], m, seconds,
					  iters);
				if (bps < 0)
					goto out;
				ksft_print_msg("VMSPLICE %s %zu %s %.0f\n",
					       sink_name[sink], sizes[s],
					       mode_name[m], bps);
				fflush(stdout);
			}
		}
	}
	ret = 0;
out:
	close_sink(&st);
	munmap(buf, sizes[2]);
	return ret;
}

static int lookup(const char *name, const char * const *names, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

static void help(const char *name)
{
	fprintf(stderr,
		"usage: %s [-s seconds | -i iterations] [-n rounds]\n"
		"       [-k null|fresh|unix|tcp|tee] [-z 4096|65536|1048576] [-m vmsplice|write]\n",
		name);
}

/* A whole positive number, or 0 */
static unsigned long number(const char *arg)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	return errno || end == arg || *end || arg[0] == '-' ? 0 : v;
}

int main(int argc, char **argv)
{
	int rounds = 5, opt, s, only_sink = -1, only_mode = -1;
	bool bad = false, timed = false;
	size_t only_size = 0;
	double seconds = 0.5;
	long iters = 0;
	char *end;

	while ((opt = getopt(argc, argv, "s:n:i:k:z:m:")) != -1) {
		switch (opt) {
		case 's':
			seconds = strtod(optarg, &end);
			bad |= *end || end == optarg || !(seconds > 0 &&
							  seconds < 3600);
			timed = true;
			break;
		case 'n':
			rounds = number(optarg);
			bad |= rounds <= 0;
			break;
		case 'i':
			iters = number(optarg);
			bad |= iters <= 0;
			break;
		case 'k':
			only_sink = lookup(optarg, sink_name, NR_SINKS);
			bad |= only_sink < 0;
			break;
		case 'z':
			only_size = number(optarg);
			bad |= only_size != sizes[0] && only_size != sizes[1] &&
			       only_size != sizes[2];
			break;
		case 'm':
			only_mode = lookup(optarg, mode_name, 2);
			bad |= only_mode < 0;
			break;
		default:
			bad = true;
			break;
		}
	}
	if (bad || (timed && iters) || optind != argc) {
		help(argv[0]);
		return KSFT_FAIL;
	}
	ksft_print_header();
	ksft_set_plan(only_sink < 0 ? NR_SINKS : 1);
	for (s = 0; s < NR_SINKS; s++) {
		if (only_sink >= 0 && s != only_sink)
			continue;
		if (bench(s, seconds, iters, rounds, only_size, only_mode))
			ksft_test_result_fail("%s: %s\n", sink_name[s],
					      strerror(errno));
		else if (iters)
			ksft_test_result_pass("%s: %d rounds of %ld iterations\n",
					      sink_name[s], rounds, iters);
		else
			ksft_test_result_pass("%s: %d rounds of %.2f s\n",
					      sink_name[s], rounds, seconds);
	}
	ksft_finished();
}
