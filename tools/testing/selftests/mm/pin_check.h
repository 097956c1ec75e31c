/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Results and pin accounting for the tests of the FOLL_PIN users.
 *
 * Static inline on purpose: the counters ksft_test_result() reports into
 * are static to each program (kselftest.h), so this cannot live in
 * vm_util.o.
 */
#ifndef __PIN_CHECK_H
#define __PIN_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include "../kselftest.h"
/* and vm_util.h (read_pin_counters()) before this: it has no include guard */

/* One test's verdict: the first reason it failed, if it did. */
struct check {
	bool ok;
	char why[240];
};

#define CHECK_INIT { .ok = true }

static inline bool __printf(3, 4)
check(struct check *c, bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	if (c->ok) {
		va_start(ap, fmt);
		vsnprintf(c->why, sizeof(c->why), fmt, ap);
		va_end(ap);
	}
	c->ok = false;
	return false;
}

static inline void check_report(const struct check *c, const char *name)
{
	if (!c->ok)
		ksft_print_msg("%s: %s\n", name, c->why);
	ksft_test_result(c->ok, "%s\n", name);
}

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

#endif /* __PIN_CHECK_H */
