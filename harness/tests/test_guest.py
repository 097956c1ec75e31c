"""QEMU command line: ICOUNT= (instruction counting) and the guest clock."""

import os
import unittest
from unittest import mock

from gupharness import guest
from gupharness.util import HarnessError


class IcountTest(unittest.TestCase):
    def cmd(self, **envs):
        with mock.patch.dict(os.environ, envs, clear=False):
            return guest.qemu_cmd("k", "i", "a", "c", "t")[0]

    def test_off_by_default(self):
        with mock.patch.dict(os.environ, {"ACCEL": "tcg"}):
            os.environ.pop("ICOUNT", None)
            self.assertNotIn("-icount", self.cmd())
            self.assertNotIn("tsc_early_khz=1000000",
                             guest.clock_args("tcg"))

    def test_icount(self):
        cmd = self.cmd(ACCEL="tcg", ICOUNT="3")
        i = cmd.index("-icount")
        self.assertEqual(cmd[i + 1], "shift=3,sleep=off")
        # before the serial ports, which must stay last
        self.assertLess(i, cmd.index("-serial"))
        with mock.patch.dict(os.environ, {"ACCEL": "tcg", "ICOUNT": "3"}):
            self.assertEqual(guest.clock_args("tcg"),
                             "tsc=reliable tsc_early_khz=1000000")

    def test_bad_values(self):
        for value in ("x", "11", "-1", "3 "):
            with self.assertRaisesRegex(HarnessError, "ICOUNT="):
                self.cmd(ACCEL="tcg", ICOUNT=value)
        with self.assertRaisesRegex(HarnessError, "needs TCG"):
            self.cmd(ACCEL="kvm", ICOUNT="3")


if __name__ == "__main__":
    unittest.main()
