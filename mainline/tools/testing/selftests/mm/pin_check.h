/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One test result of the tests of the FOLL_PIN users: the first failure
 * recorded explains it, on a line of its own, so that the test's name stays
 * the same whether it passed or not.
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
#include "../kselftest.h"

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

#endif /* __PIN_CHECK_H */
