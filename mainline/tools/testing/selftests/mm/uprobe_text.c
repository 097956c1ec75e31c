// SPDX-License-Identifier: GPL-2.0
/*
 * uprobes write breakpoints into a process's text with GUP
 * (uprobe_write_opcode(): one page, its VMA, under mmap_lock): register a
 * uprobe on a function of this program through tracefs, check that the
 * breakpoint is in the text while the probe is enabled and that every call
 * hits it, then that disabling the probe restores the original bytes, and
 * that the text of a child forked in between is right too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "../kselftest.h"

#define TRACEFS		"/sys/kernel/tracing"
#define GROUP		"gup_selftest"
#define CALLS		25

static int probed_fn(int x)
{
	asm volatile("" : "+r" (x));
	return x + 1;
}

/* Through a pointer the compiler cannot see through: never inlined. */
static int probed(int x)
{
	int (*fn)(int) = probed_fn;

	asm volatile("" : "+r" (fn));
	return fn(x);
}

static bool write_file(const char *path, const char *s, bool append)
{
	int fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s);
}

/* The file offset of @addr in this program's mapping of its executable. */
static long file_offset(unsigned long addr)
{
	unsigned long start, end, off;
	char line[512], perms[8];
	long ret = -1;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %lx", &start, &end, perms,
			   &off) != 4)
			continue;
		if (addr >= start && addr < end) {
			ret = addr - start + off;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Disable and remove our probe, whatever state it is in. */
static void remove_probe(void)
{
	write_file(TRACEFS "/events/" GROUP "/probed/enable", "0", false);
	write_file(TRACEFS "/uprobe_events", "-:" GROUP "/probed\n", true);
}

/* Hits of our probe in uprobe_profile, or -1. */
static long hits(void)
{
	char line[512], name[256];
	long n = -1, h;
	FILE *f;

	f = fopen(TRACEFS "/uprobe_profile", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %255s %ld", name, &h) == 2 &&
		    strstr(name, "probed"))
			n = h;
	fclose(f);
	return n;
}

int main(void)
{
	unsigned char orig[16], now[16];
	char exe[256], cmd[512];
	long off, before;
	int i, status, sum = 0;
	ssize_t len;
	pid_t pid;

	ksft_print_header();
	ksft_set_plan(4);

	if (access(TRACEFS "/uprobe_events", W_OK) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		ksft_exit_skip("no tracefs at " TRACEFS ": %s\n",
			       strerror(errno));
	if (access(TRACEFS "/uprobe_events", W_OK))
		ksft_exit_skip("no uprobe_events (CONFIG_UPROBE_EVENTS)\n");
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		ksft_exit_fail_msg("readlink: %s\n", strerror(errno));
	exe[len] = '\0';
	off = file_offset((unsigned long)probed_fn);
	if (off < 0)
		ksft_exit_fail_msg("probed_fn() is in no mapping\n");

	memcpy(orig, (void *)probed_fn, sizeof(orig));
	/* A run that died half-way may have left it behind. */
	remove_probe();
	snprintf(cmd, sizeof(cmd), "p:" GROUP "/probed %s:0x%lx\n", exe, off);
	if (!write_file(TRACEFS "/uprobe_events", cmd, true))
		ksft_exit_fail_msg("uprobe_events: %s", cmd);
	if (!write_file(TRACEFS "/events/" GROUP "/probed/enable", "1",
			false)) {
		remove_probe();
		ksft_exit_fail_msg("enable: %s\n", strerror(errno));
	}

	/* The breakpoint is in our text now: the bytes differ. */
	memcpy(now, (void *)probed_fn, sizeof(now));
	ksft_test_result(memcmp(orig, now, sizeof(orig)) != 0,
			 "the enabled probe patched the text\n");

	before = hits();
	for (i = 0; i < CALLS; i++)
		sum += probed(i);
	pid = fork();
	if (!pid) {
		/* The child inherits the patched text. */
		bool same = !memcmp(now, (void *)probed_fn, sizeof(now));

		_exit(probed(1) == 2 && same ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ksft_test_result(hits() - before == CALLS + 1 &&
			 sum == CALLS * (CALLS + 1) / 2,
			 "%ld hits for %d calls here and 1 in a child\n",
			 hits() - before, CALLS);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "a forked child runs the probed function\n");

	remove_probe();
	memcpy(now, (void *)probed_fn, sizeof(now));
	ksft_test_result(!memcmp(orig, now, sizeof(orig)) && probed(1) == 2,
			 "disabling the probe restored the text\n");
	ksft_finished();
}
