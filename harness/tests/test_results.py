"""The result readers: nested TAP/KTAP, splats, the test log, the summary."""

import unittest

from gupharness import results

RUN_VMTESTS = """\
TAP version 13
# --------------------
# running ./cow
# --------------------
# TAP version 13
# 1..4
# # [RUN] Basic COW after fork() ... with base page
# ok 1 No leak from parent into child
# ok 2 No leak from child into parent # SKIP MADV_PAGEOUT did not work
# ok 3 vmsplice() + unmap in child with hugetlb (2048 kB) # XFAIL leak
# not ok 4 R/O-mapping a page registered as iouring fixed buffer
# # Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0
# [FAIL]
not ok 1 cow # exit=1
# --------------------
# running ./gup_test -u
# --------------------
# TAP version 13
# 1..1
# # GUP_FAST_BENCHMARK: Time: get:10 put:2 us
# ok 1 ioctl status 0
# # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0
# [PASS]
ok 2 gup_test -u
# SUMMARY: PASS=1 SKIP=0 FAIL=1
1..2
"""

KUNIT = """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: gup_rules
    # module: gup_kunit
    1..2
        KTAP version 1
        # Subtest: combos
        ok 1 flags=0x0
        ok 2 flags=0x1
    # combos: pass:2 fail:0 skip:0 total:2
    ok 1 combos
    ok 2 nowait_keeps_lock # SKIP no per-VMA locks
# gup_rules: pass:1 fail:0 skip:1 total:2
ok 1 gup_rules
    KTAP version 1
    # Subtest: other
    1..1
    not ok 1 broken
not ok 2 other
"""


class TapTest(unittest.TestCase):
    def test_nested_kselftest_leaves(self):
        c = results.count_level(results.parse_tap(RUN_VMTESTS.splitlines()))
        # cow: 1 pass, 1 skip, 1 xfail, 1 fail; gup_test: 1 pass
        self.assertEqual((c.passed, c.failed, c.skipped, c.xfail),
                         (2, 1, 1, 1))
        self.assertIn("cow: R/O-mapping", c.notes[0])

    def test_kunit_indentation_and_params(self):
        c = results.count_level(results.parse_tap(KUNIT.splitlines()))
        self.assertEqual((c.passed, c.failed, c.skipped), (2, 1, 1))

    def test_parent_failure_without_failing_child_counts(self):
        text = "TAP version 13\n# 1..1\n# ok 1 a\nnot ok 1 prog # exit=139\n1..1\n"
        c = results.count_level(results.parse_tap(text.splitlines()))
        self.assertEqual((c.passed, c.failed), (1, 1))
        self.assertIn("exit=139", c.notes[0])

    def test_unmet_plan_is_a_failure(self):
        text = "TAP version 13\n1..3\nok 1 a\nok 2 b\n"
        c = results.count_level(results.parse_tap(text.splitlines()))
        self.assertEqual((c.passed, c.failed), (2, 1))
        self.assertIn("planned 3", c.notes[0])

    def test_subtests_without_parent_line_are_a_failure(self):
        text = ("TAP version 13\n# TAP version 13\n# 1..5\n# ok 1 a\n"
                "# ok 2 b\n")
        c = results.count_level(results.parse_tap(text.splitlines()))
        self.assertEqual(c.passed, 2)
        self.assertGreaterEqual(c.failed, 1)

    def test_timeout_directive_fails(self):
        c = results.count_level(results.parse_tap(
            ["not ok 1 selftests: mm: cow # TIMEOUT 45 seconds"]))
        self.assertEqual(c.failed, 1)

    def test_not_ok_skip_is_a_skip(self):
        c = results.count_level(results.parse_tap(
            ["1..1", "not ok 1 x # SKIP not supported"]))
        self.assertEqual((c.skipped, c.failed), (1, 0))


CONSOLE = """\
[    0.000000] Linux version 6.12.117 (gup-harness@qemu)
[    1.000000] KTAP version 1
[    1.000001] 1..1
[    1.000002]     KTAP version 1
[    1.000003]     # Subtest: gup_rules
[    1.000004]     1..1
[    1.000005]     ok 1 rule_table
[    1.000006] ok 1 gup_rules
[    1.200000] Run /init as init process
[    1.300000] gupharness: init started
[    1.400000] gupharness: suite-begin cow
[    2.000000] ------------[ cut here ]------------
[    2.000001] WARNING: CPU: 1 PID: 88 at mm/gup.c:123 try_grab_folio+0x1/0x2
[    2.000002] Modules linked in:
[    2.000003] Call Trace:
[    3.000000] gupharness: suite-end cow rc=0
[    3.100000] gupharness: suite-begin gup_test
[    3.200000] BUG: Bad page state in process gup_test  pfn:01234
[    3.200001] page dumped because: nonzero _refcount
[    3.500000] gupharness: suite-end gup_test rc=0
[    3.600000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[    3.700000] gupharness: done
"""


class ConsoleTest(unittest.TestCase):
    def test_splats_are_charged_to_the_running_suite(self):
        lines = results.console_lines(CONSOLE)
        splats, init = results.scan_console(lines)
        self.assertTrue(init)
        self.assertEqual([k for k, _ in splats["cow"]], ["WARNING"])
        self.assertIn("at mm/gup.c:123", splats["cow"][0][1])
        # "BUG: Bad page state" and "page dumped" are one splat
        self.assertEqual([k for k, _ in splats["gup_test"]], ["BUG"])
        self.assertEqual([k for k, _ in splats["init"]], ["RCU stall"])

    def test_kunit_section_from_console(self):
        lines = results.console_lines(CONSOLE)
        counts, extra = results.evaluate_kunit(["gup_rules", "missing"],
                                               lines)
        self.assertEqual(counts["gup_rules"].passed, 1)
        self.assertEqual(counts["missing"].failed, 1)
        self.assertEqual(extra, [])

    def test_unlisted_kunit_failure_and_unmet_plan_count(self):
        lines = results.console_lines(
            "[    1.0] KTAP version 1\n[    1.0] 1..3\n"
            "[    1.1]     # Subtest: listed\n[    1.1]     1..1\n"
            "[    1.1]     ok 1 a\n[    1.1] ok 1 listed\n"
            "[    1.2]     # Subtest: other\n[    1.2]     1..1\n"
            "[    1.2]     not ok 1 b\n[    1.2] not ok 2 other\n"
            "[    1.3] gupharness: init started\n")
        counts, extra = results.evaluate_kunit(["listed"], lines)
        self.assertEqual(counts["listed"].passed, 1)
        self.assertEqual(extra, ["other"])
        # "other" failed, and the plan said 3 suites but 2 reported
        self.assertEqual(counts[None].failed, 2)

    def test_kunit_counted_notes_are_per_suite(self):
        lines = results.console_lines(
            "[    1.0] KTAP version 1\n[    1.0] 1..2\n"
            "[    1.1]     # Subtest: gup\n[    1.1]     1..1\n"
            "[    1.1]     # gup_args: 311373 combinations of flags\n"
            "[    1.1]     ok 1 gup_args\n[    1.1] ok 1 gup\n"
            "[    1.2]     # Subtest: other\n[    1.2]     1..1\n"
            "[    1.2]     # x: 7 combinations\n"
            "[    1.2]     ok 1 x\n[    1.2] ok 2 other\n"
            "[    1.3] gupharness: init started\n")
        self.assertEqual(results.kunit_counted(lines, "gup"),
                         ["311373 combinations"])
        self.assertEqual(results.kunit_counted(lines, "missing"), [])

    def test_clean_boot_has_no_splats(self):
        lines = results.console_lines(
            "[    0.1] x86/fpu: Supporting XSAVE feature 0x001\n"
            "[    0.2] Spectre V2 : Mitigation: Retpolines\n"
            "[    0.3] gupharness: init started\n"
            "[    0.4] gupharness: suite-begin gup_test\n"
            "[    0.5] page: refcount:1 mapcount:1 mapping:0 index:0x0\n"
            "[    0.6] page dumped because: gup_test: dump_pages() test\n"
            "[    0.7] gupharness: suite-end gup_test rc=0\n")
        splats, init = results.scan_console(lines)
        self.assertEqual(splats, {})
        self.assertTrue(init)

    def test_panic_and_oops_detected(self):
        lines = results.console_lines(
            "[    0.3] gupharness: init started\n"
            "[    0.4] gupharness: suite-begin s\n"
            "[    5.0] BUG: kernel NULL pointer dereference, address: 0\n"
            "[    5.0] #PF: supervisor read access in kernel mode\n"
            "[    5.1] Oops: 0000 [#1] PREEMPT SMP\n"
            "[    9.0] Kernel panic - not syncing: Fatal exception\n")
        splats, _ = results.scan_console(lines)
        self.assertEqual([k for k, _ in splats["s"]], ["BUG", "panic"])


TESTLOG = """\
### init 6.12.117
### suite-begin cow\r
TAP version 13\r
# 1..1\r
# ok 1 a\r
ok 1 cow\r
1..1\r
### suite-end cow rc=0 pins=10/10 taint=0/0 secs=12\r
### suite-begin leaky\r
TAP version 13\r
ok 1 x\r
1..1\r
### suite-end leaky rc=0 pins=5/4\r
### suite-begin hung\r
TAP version 13\r
ok 1 first\r
### suite-end hung rc=137 pins=0/0\r
### suite-begin crashed\r
TAP version 13\r
ok 1 first\r
"""


class TestLogTest(unittest.TestCase):
    def setUp(self):
        self.suites, self.vmstat, self.done = results.split_testlog(TESTLOG)

    def test_split(self):
        self.assertEqual(sorted(self.suites),
                         ["cow", "crashed", "hung", "leaky"])
        self.assertIsNone(self.vmstat)
        self.assertFalse(self.done)

    def test_clean_suite(self):
        c = results.evaluate_suite("cow", self.suites["cow"])
        self.assertEqual((c.passed, c.failed), (1, 0))

    def test_suite_duration(self):
        # the guest's uptime at suite-begin and -end; older logs lack it
        self.assertEqual(self.suites["cow"]["secs"], 12)
        self.assertNotIn("secs", self.suites["leaky"])

    def test_pin_leak_fails_the_suite(self):
        c = results.evaluate_suite("leaky", self.suites["leaky"])
        self.assertEqual(c.failed, 1)
        self.assertIn("pin leak", c.notes[0])

    def test_timeout_fails(self):
        c = results.evaluate_suite("hung", self.suites["hung"])
        self.assertIn("timeout", " ".join(c.notes))

    def test_unfinished_suite_fails(self):
        c = results.evaluate_suite("crashed", self.suites["crashed"])
        self.assertIn("did not finish", " ".join(c.notes))

    def test_suite_with_no_results_fails(self):
        for lines, rc in ((["TAP version 13", "1..0"], 0),
                          (["Please run this test as root"], 4),
                          (["1..1", "ok 1 x # SKIP no debugfs"], 4)):
            c = results.evaluate_suite("empty", {"lines": lines, "rc": rc,
                                                 "pins": (0, 0)})
            self.assertGreaterEqual(c.failed, 1, lines)

    def test_new_taint_fails_the_suite(self):
        c = results.evaluate_suite("t", {"lines": ["1..1", "ok 1 a"],
                                         "rc": 0, "pins": (0, 0),
                                         "taint": (0, 512)})
        self.assertEqual(c.failed, 1)
        self.assertIn("W", c.notes[0])

    def test_missing_suite_fails(self):
        c = results.evaluate_suite("ghost", None)
        self.assertEqual(c.failed, 1)


class SummaryTest(unittest.TestCase):
    def test_zero_tests_is_a_failure(self):
        s = results.Summary()
        s.add("empty", results.Counts())
        self.assertFalse(s.ok())
        self.assertEqual(s.final_line(), "0 passed, 1 failed, 0 skipped")

    def test_final_line_counts_xfail_as_passed(self):
        s = results.Summary()
        c = results.Counts()
        c.passed, c.xfail, c.skipped = 5, 2, 3
        s.add("x", c)
        self.assertTrue(s.ok())
        self.assertEqual(s.final_line(), "7 passed, 0 failed, 3 skipped")
        self.assertRegex(s.render().splitlines()[-1], r"^total\s+5\s+0\s+3\s+2")


if __name__ == "__main__":
    unittest.main()
