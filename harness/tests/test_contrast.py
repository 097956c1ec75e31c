"""Base against patched, test by test (harness/contrast)."""

import os
import re
import tempfile
import unittest

from gupharness import contrast, results
from gupharness.util import HarnessError

TAP_BASE = """TAP version 13
1..4
ok 1 read(): the data as spliced
not ok 2 read(): a pin per page: pins acquired 0
ok 3 # SKIP memory offline: no ZONE_MOVABLE page
not ok 4 hugetlb: no leak into the child
"""
TAP_PATCHED = """TAP version 13
1..4
ok 1 read(): the data as spliced
ok 2 read(): a pin per page
ok 3 # SKIP memory offline: no ZONE_MOVABLE page
ok 4 hugetlb: no leak into the child
"""


def outcomes(text):
    return results.leaf_outcomes(results.parse_tap(text.splitlines()))


def pats(*texts):
    return [(t, re.compile(t)) for t in texts]


class ContrastTest(unittest.TestCase):
    def test_leaf_outcomes(self):
        got = outcomes(TAP_BASE)
        # the trailing text of a result line stays part of its name
        self.assertEqual([o for _, o in got],
                         ["pass", "fail", "skip", "fail"])
        self.assertEqual(got[0][0], "read(): the data as spliced")

    def test_fixed_and_kept(self):
        base = [("read(): the data as spliced", "pass"),
                ("read(): a pin per page", "fail"),
                ("offline", "skip"), ("hugetlb: no leak", "fail")]
        patched = [("read(): the data as spliced", "pass"),
                   ("read(): a pin per page", "pass"),
                   ("offline", "skip"), ("hugetlb: no leak", "pass")]
        c, lines = contrast.compare("vmsplice", base, patched,
                                    pats("pin", "hugetlb: no leak"))
        self.assertEqual((c.passed, c.failed), (4, 0), c.notes)
        self.assertEqual(sum(" fixed base " in x for x in lines), 2)

    def test_a_fix_that_passes_on_base_is_a_failure(self):
        same = [("a pin per page", "pass")]
        c, _ = contrast.compare("s", same, same, pats("pin"))
        self.assertEqual(c.failed, 1)
        self.assertIn("fails on base, passes patched", c.notes[0])

    def test_a_kept_test_that_changes_is_a_failure(self):
        c, _ = contrast.compare("s", [("data", "fail")], [("data", "pass")],
                                [])
        self.assertEqual(c.failed, 1)
        self.assertIn("the same on both", c.notes[0])

    def test_missing_tests_and_stale_patterns(self):
        c, _ = contrast.compare("s", [("only base", "pass")],
                                [("only patched", "pass")], pats("nothing"))
        self.assertEqual(c.failed, 3, c.notes)   # missing, base-only, stale
        c, _ = contrast.compare("s", [], [], [])
        self.assertEqual(c.failed, 1)           # nothing ran

    def test_read_contrast(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "contrast")
            with open(path, "w") as f:
                f.write("# comment\n\nvmsplice   pin\nvmsplice a (b|c)\n")
            got = contrast.read_contrast(path)
            self.assertEqual([p for p, _ in got["vmsplice"]],
                             ["pin", "a (b|c)"])
            for bad in ("vmsplice\n", "vmsplice (unclosed\n"):
                with open(path, "w") as f:
                    f.write(bad)
                with self.assertRaises(HarnessError):
                    contrast.read_contrast(path)

    def test_the_shipped_file_parses(self):
        self.assertIn("vmsplice", contrast.read_contrast())


if __name__ == "__main__":
    unittest.main()
