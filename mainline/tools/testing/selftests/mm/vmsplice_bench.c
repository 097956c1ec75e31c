// SPDX-License-Identifier: GPL-2.0
/*
 * vmsplice() throughput: user memory into a pipe, spliced on to /dev/null
 * (from one buffer, or from memory written anew each time: "fresh"), to a
 * unix stream socket and to a TCP socket over loopback, with writes
 * of 4 KiB, 64 KiB and 1 MiB, against the copying alternative: write() of
 * the same buffer into the pipe, then the same splice() on.
 *
 * Each combination runs for -s seconds after a warm-up round (the first
 * vmsplice() of a page may have to migrate it, see FOLL_LONGTERM), -n
 * times; every round prints
 *
 *   # VMSPLICE <sink> <bytes per write> <vmsplice|write> <bytes/s>
 *
 * A thread drains the socket's far end.  Not a test: it passes unless a
 * system call fails.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "../kselftest.h"

#define PIPE_SIZE	(1024 * 1024)

/*
 * "fresh": to /dev/null, but from memory mapped and written anew for every
 * write, as a program that splices what it has just produced would: the
 * page faults are in both columns, and so, for vmsplice(), is whatever a
 * long-term pin of new memory costs (its migration out of ZONE_MOVABLE).
 */
enum sink { SINK_NULL, SINK_FRESH, SINK_UNIX, SINK_TCP, NR_SINKS };
static const char * const sink_name[NR_SINKS] = {
	"null", "fresh", "unix", "tcp"
};

static const size_t sizes[] = { 4096, 65536, 1 << 20 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	static char buf[PIPE_SIZE];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int tcp_pair(int sv[2])
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&addr, &len))
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	sv[1] = accept(l, NULL, NULL);
	close(l);
	return sv[1] < 0 ? -1 : 0;
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

/* bytes/s moved through the pipe to @out for @seconds, or -1 */
static double run(int pfd[2], int out, char *buf, size_t size, bool copy,
		  bool fresh, double seconds)
{
	double start = now(), t;
	unsigned long long bytes = 0;

	do {
		if (fresh) {
			buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (buf == MAP_FAILED)
				return -1;
			memset(buf, 0x5a, size);
		}
		if (fill_pipe(pfd[1], buf, size, copy) ||
		    empty_pipe(pfd[0], out, size))
			return -1;
		if (fresh)
			munmap(buf, size);
		bytes += size;
		t = now() - start;
	} while (t < seconds);
	return bytes / t;
}

static int bench(enum sink sink, double seconds, int rounds)
{
	int pfd[2], sv[2], out, s, r, m;
	pthread_t reader;
	char *buf;

	if (pipe(pfd) || fcntl(pfd[0], F_SETPIPE_SZ, PIPE_SIZE) < 0)
		return -1;
	if (sink == SINK_NULL || sink == SINK_FRESH) {
		out = open("/dev/null", O_WRONLY);
		if (out < 0)
			return -1;
	} else {
		if (sink == SINK_UNIX ?
		    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) : tcp_pair(sv))
			return -1;
		out = sv[0];
		if (pthread_create(&reader, NULL, drain, &sv[1])) {
			errno = EAGAIN;
			return -1;
		}
	}
	buf = aligned_alloc(4096, sizes[2]);
	if (!buf)
		return -1;
	memset(buf, 0x5a, sizes[2]);
	for (s = 0; s < 3; s++) {
		for (m = 0; m < 2; m++)		/* warm-up */
			if (run(pfd, out, buf, sizes[s], m,
				sink == SINK_FRESH, seconds / 4) < 0)
				return -1;
		for (r = 0; r < rounds; r++) {
			for (m = 0; m < 2; m++) {
				double bps = run(pfd, out, buf, sizes[s], m,
						 sink == SINK_FRESH, seconds);

				if (bps < 0)
					return -1;
				printf("# VMSPLICE %s %zu %s %.0f\n",
				       sink_name[sink], sizes[s],
				       m ? "write" : "vmsplice", bps);
				fflush(stdout);
			}
		}
	}
	close(out);
	if (sink == SINK_UNIX || sink == SINK_TCP) {
		shutdown(sv[1], SHUT_RDWR);
		pthread_join(reader, NULL);
		close(sv[1]);
	}
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	int rounds = 5, opt, s;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'n':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-s seconds] [-n rounds]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (seconds <= 0 || rounds <= 0) {
		fprintf(stderr, "-s and -n must be positive\n");
		return KSFT_FAIL;
	}
	ksft_print_header();
	ksft_set_plan(NR_SINKS);
	for (s = 0; s < NR_SINKS; s++) {
		if (bench(s, seconds, rounds))
			ksft_test_result_fail("%s: %s\n", sink_name[s],
					      strerror(errno));
		else
			ksft_test_result_pass("%s: %d rounds of %.2f s\n",
					      sink_name[s], rounds, seconds);
	}
	ksft_finished();
}
