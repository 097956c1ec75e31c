// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: reads of another process's memory through /proc/pid/mem,
 * with and without an mmap_lock writer in that process.
 *
 * A child maps a region of populated anonymous memory between two
 * PROT_NONE guard pages (so that nothing else merges with it) and waits.
 * Reader threads of the parent pread() one page at a time from
 * /proc/<child>/mem, walking the region, for a fixed time, while a thread
 * of the child works on a buffer of its own elsewhere in its address
 * space, taking mmap_lock for write:
 *
 *   nowriter	nothing: the baseline;
 *   mmap	recycles the buffer as an allocator that hands large buffers
 *		back to the kernel does: mmap(MAP_FIXED) of a fresh anonymous
 *		mapping over the old one, whose pages are unmapped with
 *		mmap_lock held for write, then a write to every page;
 *   mprotect	flips the populated buffer between read-only and read-write,
 *		as a JIT or a garbage collector does: each call walks all of
 *		its page table entries with mmap_lock held for write.
 *
 * Rounds are run with 1 to -r reader threads, each kind in turn.  Each
 * round prints reads per second and the writer's loops per second:
 *
 *   # BENCH <nowriter|mmap|mprotect> <readers> <reads/s> <writer loops/s>
 *
 * With -l, the rounds measure latency instead: one reader times a pread()
 * every 0.5-1 ms (at random, as an occasional reader such as a debugger or
 * a profiler would come) while the mprotect writer flips 0 (no writer), 1,
 * 4 and 16 times -w MiB, so that each of its calls holds mmap_lock for
 * write for longer.  A reader that waits for the writer sees its latency
 * grow with the hold time; one that does not, does not:
 *
 *   # LATENCY <writer MiB> <reads> <p50 us> <p99 us> <max us> <hold us>
 *
 * where hold is the writer's mean time per mprotect() call, waiting for
 * the lock included.  A writer-size round of few reads (the largest
 * writer slows the reader down) has a p99 close to its maximum: the
 * reads column says how many there were.  -r does not apply to -l.
 *
 * This is a benchmark, not a test: it fails only if it cannot run, or if
 * a read fails or returns wrong data.
 *
 * Usage: proc_mem_bench [-r readers] [-s seconds] [-n rounds] [-m MiB]
 *			 [-w writer MiB] [-l]
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "../kselftest.h"

/* Shared between the parent and the child. */
enum writer_mode { NOWRITER, MMAP, MPROTECT, NR_MODES };

static const char * const mode_name[NR_MODES] = {
	"nowriter", "mmap", "mprotect",
};

struct control {
	atomic_int writer_on;		/* enum writer_mode */
	atomic_int quit;		/* the child exits */
	atomic_long writer_loops;	/* loops done (see writer()) */
	atomic_int writer_errors;	/* mmap() or mprotect() failed */
	atomic_ulong writer_len;	/* bytes of the buffer it works on */
	atomic_llong hold_ns;		/* time in mprotect() calls (-l) */
	atomic_long hold_calls;
	atomic_int writer_busy;		/* inside a loop */
	atomic_ulong region;		/* the child's region, once set up */
};

static struct control *ctl;
static size_t pagesize, region_size, writer_size;
static int mem_fd;
static atomic_int stop_readers, read_errors;
static atomic_long total_reads;
static atomic_uint reader_runs;
static double *lat;			/* -l: one reader's pread() times, s */
static long lat_max, lat_n;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
	char *buf = arg;
	size_t off, len;
	double t;

	while (!atomic_load(&ctl->quit)) {
		atomic_store(&ctl->writer_busy, 1);
		len = atomic_load(&ctl->writer_len);
		switch (atomic_load(&ctl->writer_on)) {
		case MMAP:
			if (mmap(buf, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != buf) {
				atomic_fetch_add(&ctl->writer_errors, 1);
				atomic_store(&ctl->writer_busy, 0);
				continue;
			}
			for (off = 0; off < len; off += pagesize)
				buf[off] = 1;
			break;
		case MPROTECT:
			t = now();
			if (mprotect(buf, len, PROT_READ) ||
			    mprotect(buf, len, PROT_READ | PROT_WRITE)) {
				atomic_fetch_add(&ctl->writer_errors, 1);
				atomic_store(&ctl->writer_busy, 0);
				continue;
			}
			atomic_fetch_add(&ctl->hold_ns, (now() - t) * 1e9);
			atomic_fetch_add(&ctl->hold_calls, 2);
			break;
		default:
			atomic_store(&ctl->writer_busy, 0);
			usleep(1000);
			continue;
		}
		atomic_fetch_add(&ctl->writer_loops, 1);
		atomic_store(&ctl->writer_busy, 0);
	}
	return NULL;
}

static void child(void)
{
	pthread_t thread;
	char *g, *buf;

	/* guard | region | guard */
	g = mmap(NULL, region_size + 2 * pagesize, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		_exit(2);
	if (mprotect(g + pagesize, region_size, PROT_READ | PROT_WRITE))
		_exit(3);
	madvise(g + pagesize, region_size, MADV_NOHUGEPAGE);
	memset(g + pagesize, 0x5a, region_size);
	buf = mmap(NULL, writer_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(5);
	memset(buf, 1, writer_size);
	if (pthread_create(&thread, NULL, writer, buf))
		_exit(4);
	atomic_store(&ctl->region, (unsigned long)(g + pagesize));
	while (!atomic_load(&ctl->quit))
		usleep(10000);
	pthread_join(thread, NULL);
	_exit(0);
}

static void *reader(void *arg)
{
	unsigned long off = (unsigned long)arg * pagesize * 7;
	unsigned long region = atomic_load(&ctl->region);
	/* a different, reproducible sequence of pauses in every round */
	unsigned int seed = atomic_fetch_add(&reader_runs, 1) + 1;
	char *buf = malloc(pagesize);
	long n = 0;

	if (!buf) {
		atomic_fetch_add(&read_errors, 1);
		return NULL;
	}

	while (!atomic_load(&stop_readers)) {
		double t;
		ssize_t got;

		if (lat) {
			struct timespec ts = {
				.tv_nsec = 500000 + rand_r(&seed) % 500000,
			};

			nanosleep(&ts, NULL);
		}
		t = lat ? now() : 0;
		off = (off + pagesize) % region_size;
		got = pread(mem_fd, buf, pagesize, region + off);
		if (lat && lat_n < lat_max)
			lat[lat_n++] = now() - t;
		if (got != (ssize_t)pagesize) {
			ksft_print_msg("pread: %s\n", got < 0 ?
				       strerror(errno) : "short read");
			atomic_fetch_add(&read_errors, 1);
			break;
		}
		if (buf[0] != 0x5a || buf[pagesize - 1] != 0x5a) {
			ksft_print_msg("read wrong data at %#lx\n", off);
			atomic_fetch_add(&read_errors, 1);
			break;
		}
		n++;
	}
	atomic_fetch_add(&total_reads, n);
	free(buf);
	return NULL;
}

/* One round: @readers threads for @seconds; reads/s, writer loops/s. */
static bool round_once(int readers, int seconds, enum writer_mode mode,
		       double *reads_s, double *loops_s)
{
	pthread_t threads[64];
	long loops0;
	double t0, t;
	int i, err = 0;

	atomic_store(&stop_readers, 0);
	atomic_store(&total_reads, 0);
	atomic_store(&ctl->writer_on, mode);
	usleep(20000);
	loops0 = atomic_load(&ctl->writer_loops);
	t0 = now();
	for (i = 0; i < readers; i++) {
		err = pthread_create(&threads[i], NULL, reader,
				     (void *)(unsigned long)i);
		if (err)
			break;
	}
	if (!err)
		usleep(seconds * 1000000L);
	else
		ksft_print_msg("pthread_create: %s\n", strerror(err));
	atomic_store(&stop_readers, 1);
	while (i--)
		pthread_join(threads[i], NULL);
	if (err)
		return false;
	t = now() - t0;
	atomic_store(&ctl->writer_on, NOWRITER);
	if (atomic_load(&read_errors) || atomic_load(&ctl->writer_errors))
		return false;
	*reads_s = atomic_load(&total_reads) / t;
	*loops_s = (atomic_load(&ctl->writer_loops) - loops0) / t;
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @p quantile of the latencies recorded, in microseconds. */
static double quantile(double p)
{
	long i = lround(p * (lat_n - 1));

	return lat[i] * 1e6;
}

/*
 * -l: one reader, the mprotect writer on @mib MiB of its buffer (none if
 * 0); prints the LATENCY line.
 */
static bool latency_round(int seconds, int mib)
{
	double reads_s, loops_s, hold;
	long long ns;
	long calls;

	atomic_store(&ctl->writer_len, (size_t)mib << 20);
	atomic_store(&ctl->hold_ns, 0);
	atomic_store(&ctl->hold_calls, 0);
	lat_n = 0;
	if (!round_once(1, seconds, mib ? MPROTECT : NOWRITER, &reads_s,
			&loops_s) || !lat_n)
		return false;
	/* the writer may be inside a call still: let it finish */
	while (atomic_load(&ctl->writer_busy))
		usleep(1000);
	calls = atomic_load(&ctl->hold_calls);
	ns = atomic_load(&ctl->hold_ns);
	hold = calls ? ns / 1e3 / calls : 0;
	qsort(lat, lat_n, sizeof(*lat), cmp_double);
	ksft_print_msg("LATENCY %d %ld %.1f %.1f %.1f %.1f\n", mib, lat_n,
		       quantile(0.5), quantile(0.99), lat[lat_n - 1] * 1e6,
		       hold);
	fflush(stdout);
	return true;
}

int main(int argc, char **argv)
{
	int readers = 2, seconds = 2, rounds = 5, mib = 4, wmib = 4;
	int opt, i, status;
	bool latency = false;
	char path[64];
	pid_t pid;

	while ((opt = getopt(argc, argv, "r:s:n:m:w:l")) != -1) {
		switch (opt) {
		case 'r':
			readers = atoi(optarg);
			break;
		case 's':
			seconds = atoi(optarg);
			break;
		case 'n':
			rounds = atoi(optarg);
			break;
		case 'm':
			mib = atoi(optarg);
			break;
		case 'w':
			wmib = atoi(optarg);
			break;
		case 'l':
			latency = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-r readers] [-s seconds] [-n rounds] [-m MiB] [-w MiB] [-l]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (readers < 1 || readers > 64 || seconds < 1 || rounds < 1 ||
	    mib < 1 || wmib < 1 || wmib > (latency ? 64 : 1024) ||
	    mib > 1024) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return KSFT_FAIL;
	}

	pagesize = getpagesize();
	region_size = (size_t)mib << 20;
	/* -l: the writer flips up to 16 times -w MiB */
	writer_size = (size_t)wmib << (latency ? 24 : 20);
	ksft_print_header();
	ksft_set_plan(1);

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	atomic_store(&ctl->writer_len, writer_size);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child();
	}
	while (!atomic_load(&ctl->region)) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			ksft_exit_fail_msg("child failed to set up\n");
		usleep(1000);
	}
	if (latency) {
		lat_max = (long)seconds * 2000 + 16;	/* a read per 0.5 ms */
		lat = malloc(lat_max * sizeof(*lat));
		if (!lat)
			ksft_exit_fail_msg("malloc: %s\n", strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem_fd = open(path, O_RDONLY);
	if (mem_fd < 0 && (errno == EACCES || errno == EPERM))
		ksft_exit_skip("%s: %s\n", path, strerror(errno));
	if (mem_fd < 0)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));

	/* Interleave the kinds of round, so that drift hits all. */
	for (i = 0; latency && i < rounds; i++) {
		static const int times[] = { 0, 1, 4, 16 };
		int t;

		for (t = 0; t < 4; t++) {
			if (!latency_round(seconds, times[t] * wmib)) {
				atomic_store(&ctl->quit, 1);
				waitpid(pid, &status, 0);
				ksft_exit_fail_msg("a reader failed\n");
			}
		}
	}
	for (i = 0; !latency && i < rounds; i++) {
		enum writer_mode w;
		int r;

		for (r = 1; r <= readers; r++) {
			for (w = NOWRITER; w < NR_MODES; w++) {
				double reads_s, loops_s;

				if (!round_once(r, seconds, w, &reads_s,
						&loops_s)) {
					atomic_store(&ctl->quit, 1);
					waitpid(pid, &status, 0);
					ksft_exit_fail_msg("a reader failed\n");
				}
				ksft_print_msg("BENCH %s %d %.0f %.0f\n",
					       mode_name[w], r, reads_s,
					       loops_s);
				fflush(stdout);
			}
		}
	}

	atomic_store(&ctl->quit, 1);
	waitpid(pid, &status, 0);
	if (latency)
		ksft_test_result_pass("%d latency rounds of %d s, writer on 0 to %d MiB\n",
				      rounds, seconds, 16 * wmib);
	else
		ksft_test_result_pass("%d rounds of %d s with 1 to %d reader(s)\n",
				      rounds, seconds, readers);
	ksft_finished();
}
