// SPDX-License-Identifier: GPL-2.0
/*
 * The gup_test debugfs file passes user-supplied gup_flags to GUP.  Flags
 * that break one of GUP's argument rules must fail the ioctl with EINVAL,
 * and must not make the kernel warn: a WARN is for in-kernel misuse.
 *
 * Each case runs one ioctl on one page and watches /dev/kmsg for a warning
 * while it does.
 */
#define __SANE_USERSPACE_TYPES__ // Use ll64
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <mm/gup_test.h>
#include "../kselftest.h"

#define GUP_TEST_FILE "/sys/kernel/debug/gup_test"

/* include/linux/mm_types.h: the flags callers may pass */
#define FOLL_WRITE		0x00001
#define FOLL_GET		0x00002
#define FOLL_NOWAIT		0x00010
#define FOLL_LONGTERM		0x00100
#define FOLL_PCI_P2PDMA		0x00400
#define FOLL_INTERRUPTIBLE	0x00800
/* mm/internal.h: the flags only GUP itself may set */
#define FOLL_PIN		0x80000

struct gup_args_case {
	const char *name;
	unsigned long cmd;
	unsigned int gup_flags;
	unsigned int test_flags;
	int error;		/* 0: the ioctl succeeds */
};

static const struct gup_args_case cases[] = {
	{ "get_user_pages, FOLL_WRITE", GUP_BASIC_TEST, FOLL_WRITE, 0, 0 },
	{ "pin_user_pages_fast, FOLL_WRITE", PIN_FAST_BENCHMARK, FOLL_WRITE,
	  0, 0 },
	{ "pin_user_pages, FOLL_LONGTERM", PIN_LONGTERM_BENCHMARK, 0, 0, 0 },
	{ "get_user_pages, FOLL_LONGTERM without a pin", GUP_BASIC_TEST,
	  FOLL_LONGTERM, 0, EINVAL },
	{ "pin_user_pages, FOLL_GET and FOLL_PIN", PIN_BASIC_TEST, FOLL_GET,
	  0, EINVAL },
	{ "pin_user_pages_fast, internal FOLL_PIN", PIN_FAST_BENCHMARK,
	  FOLL_PIN, 0, EINVAL },
	{ "pin_user_pages, FOLL_LONGTERM with FOLL_NOWAIT",
	  PIN_LONGTERM_BENCHMARK, FOLL_NOWAIT, 0, EINVAL },
	{ "pin_user_pages, FOLL_LONGTERM with FOLL_PCI_P2PDMA",
	  PIN_LONGTERM_BENCHMARK, FOLL_PCI_P2PDMA, 0, EINVAL },
	{ "get_user_pages, FOLL_PCI_P2PDMA without a pin", GUP_BASIC_TEST,
	  FOLL_PCI_P2PDMA, 0, EINVAL },
	{ "get_user_pages_fast, FOLL_NOWAIT", GUP_FAST_BENCHMARK, FOLL_NOWAIT,
	  0, EINVAL },
	{ "pin_user_pages_fast, FOLL_INTERRUPTIBLE", PIN_FAST_BENCHMARK,
	  FOLL_INTERRUPTIBLE, 0, EINVAL },
	{ "dump test, pin_user_pages, FOLL_GET", DUMP_USER_PAGES_TEST,
	  FOLL_GET, GUP_TEST_FLAG_DUMP_PAGES_USE_PIN, EINVAL },
};

/* Open /dev/kmsg at its end, so that reads return only new records. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Did the kernel log a warning since the last call? */
static bool kmsg_warned(int fd)
{
	char rec[8192];
	bool warned = false;
	ssize_t n;

	if (fd < 0)
		return false;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, "WARNING:") || strstr(rec, "invalid arguments"))
			warned = true;
	}
	return warned;
}

int main(void)
{
	size_t pagesize = getpagesize();
	struct gup_test gup;
	int fd, kmsg, ret;
	unsigned int i;
	char *mem;

	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(cases));

	fd = open(GUP_TEST_FILE, O_RDWR);
	if (fd < 0) {
		if (errno == ENOENT || errno == EACCES || errno == EPERM)
			ksft_exit_skip("%s: %s (CONFIG_GUP_TEST, debugfs, root)\n",
				       GUP_TEST_FILE, strerror(errno));
		ksft_exit_fail_msg("%s: %s\n", GUP_TEST_FILE, strerror(errno));
	}
	kmsg = kmsg_open();
	if (kmsg < 0)
		ksft_print_msg("/dev/kmsg: %s: not checking for warnings\n",
			       strerror(errno));

	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(mem, 1, pagesize);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct gup_args_case *c = &cases[i];
		bool warned;
		int err;

		memset(&gup, 0, sizeof(gup));
		gup.addr = (unsigned long)mem;
		gup.size = pagesize;
		gup.nr_pages_per_call = 1;
		gup.gup_flags = c->gup_flags;
		gup.test_flags = c->test_flags;
		gup.which_pages[0] = 1;

		kmsg_warned(kmsg);
		ret = ioctl(fd, c->cmd, &gup);
		err = ret ? errno : 0;
		warned = kmsg_warned(kmsg);

		if (err != c->error)
			ksft_test_result_fail("%s: ioctl returned %s, expected %s\n",
					      c->name, err ? strerror(err) : "success",
					      c->error ? strerror(c->error) : "success");
		else if (warned)
			ksft_test_result_fail("%s: the kernel warned\n", c->name);
		else
			ksft_test_result_pass("%s: %s\n", c->name,
					      err ? strerror(err) : "success");
	}

	munmap(mem, pagesize);
	if (kmsg >= 0)
		close(kmsg);
	close(fd);
	ksft_finished();
}
