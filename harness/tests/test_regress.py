import unittest

from gupharness import regress


class CompareTest(unittest.TestCase):
    def test_regression_only_when_base_passed(self):
        rows = regress.compare([("a", "pass"), ("b", "fail"), ("c", "pass")],
                               [("a", "pass"), ("b", "pass"), ("c", "skip")])
        by = {r[0]: r for r in rows}
        self.assertFalse(by["a"][4])
        self.assertEqual(by["b"][3], "passes patched only")
        self.assertFalse(by["b"][4])
        self.assertTrue(by["c"][4])          # pass -> skip is a regression

    def test_missing_on_patched_is_a_regression(self):
        rows = regress.compare([("gone", "pass")], [])
        self.assertEqual(rows, [("gone", "pass", "missing", "REGRESSION",
                                 True)])

    def test_numbers_in_names_match(self):
        rows = regress.compare([("Extra pages 0 (0.0%)", "pass")],
                               [("Extra pages 1 (0.1%)", "pass")])
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][3], "same")

    def test_repeated_names_pair_in_order(self):
        rows = regress.compare([("t", "pass"), ("t", "pass")],
                               [("t", "pass"), ("t", "fail")])
        self.assertEqual([r[4] for r in rows], [False, True])


if __name__ == "__main__":
    unittest.main()
