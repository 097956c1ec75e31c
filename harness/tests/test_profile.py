import unittest

from gupharness import guest, profile
from gupharness.util import HarnessError


def suite(name, command):
    return guest.Suite(name, ["profile"], 300, ["=vmsplice_bench"], command)


class ProfileTest(unittest.TestCase):
    def test_pairs(self):
        one = suite("prof_x_1", "./vmsplice_bench -k null -z 4096 -i 10")
        two = suite("prof_x_2", "./vmsplice_bench -k null -z 4096 -i 30")
        self.assertEqual(profile.pairs([one, two]), {"prof_x": (one, two)})
        self.assertEqual(profile.workload(two.command), (30, 1))
        self.assertEqual(profile.workload("./vmsplice_bench -z 65536 -i 3"),
                         (3, 16))
        self.assertEqual(profile.workload("./gup_test -L -T -n 512 -r 2 "
                                          "-m 32"), (2, 8192))
        with self.assertRaises(HarnessError):       # another command
            profile.pairs([one, suite("prof_x_2", one.command.replace(
                "null", "tee").replace("-i 10", "-i 20"))])
        with self.assertRaises(HarnessError):       # no partner
            profile.pairs([one])
        with self.assertRaises(HarnessError):       # not more iterations
            profile.pairs([one, suite("prof_x_2", one.command)])
        with self.assertRaises(HarnessError):       # not a pair name
            profile.pairs([suite("prof_x", one.command)])
        with self.assertRaises(HarnessError):       # no -i
            profile.workload("./vmsplice_bench -z 4096")

    def test_the_suites_file_pairs_up(self):
        suites = [s for s in guest.read_suites() if "profile" in s.groups]
        self.assertTrue(profile.pairs(suites))

    def test_attribution(self):
        syms = ([0x1000, 0x1100, 0x1200], ["a", "b", "c"])
        one = profile.per_function("1000 5\n1004 5\n1100 7\n", syms)
        self.assertEqual(one, {"a": 10, "b": 7})
        two = profile.per_function("1000 25\n1004 25\n1100 7\n1250 40\n",
                                   syms)
        diff = profile.difference(one, two, 10)
        self.assertEqual(diff, {"a": 4.0, "b": 0.0, "c": 4.0})
        with self.assertRaises(HarnessError):
            profile.per_function("# table full: addresses dropped\n", syms)

    def test_table(self):
        res = {"base": {"put_page": 14.0, "gup": 100.0},
               "patched": {"unpin": 20.0, "gup": 130.0}}
        text = profile.table("null 1M", 100, res)
        lines = text.splitlines()
        self.assertIn("base 114.0, patched 150.0, difference +36.0", lines[0])
        # ordered by the size of the difference; unchanged rows left out
        self.assertEqual([line.split()[0] for line in lines[2:]],
                         ["gup", "unpin", "put_page"])


if __name__ == "__main__":
    unittest.main()
