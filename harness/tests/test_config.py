"""Config fragments are checked after olddefconfig; the suite manifest."""

import os
import tempfile
import unittest

from gupharness import guest, kbuild
from gupharness.util import HarnessError


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def _file(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_dropped_and_changed_options_are_reported(self):
        frag = self._file("frag", "CONFIG_A=y\nCONFIG_B=y\n"
                          "# CONFIG_C is not set\nCONFIG_D=4\nCONFIG_E=n\n")
        dotconfig = self._file(".config", "CONFIG_A=y\n# CONFIG_B is not "
                               "set\nCONFIG_C=y\nCONFIG_D=8\n")
        bad = kbuild.check_config(dotconfig, [frag])
        self.assertEqual(len(bad), 3, bad)
        self.assertTrue(any(b.startswith("CONFIG_B=y requested, got not set")
                            for b in bad))
        self.assertTrue(any(b.startswith("CONFIG_C=n requested, got y")
                            for b in bad))
        self.assertTrue(any(b.startswith("CONFIG_D=4 requested, got 8")
                            for b in bad))

    def test_garbage_in_a_fragment_is_an_error(self):
        frag = self._file("frag", "CONFIG_A=y\nnot a config line\n")
        with self.assertRaises(HarnessError):
            kbuild.parse_fragment(frag)

    def test_the_shipped_fragments_parse(self):
        want = kbuild.parse_fragment(kbuild.COMMON_FRAGMENT)
        for opt in ("CONFIG_PER_VMA_LOCK", "CONFIG_GUP_TEST", "CONFIG_KUNIT",
                    "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_HUGETLBFS",
                    "CONFIG_CMA", "CONFIG_MEMORY_HOTREMOVE", "CONFIG_IO_URING",
                    "CONFIG_FUSE_FS", "CONFIG_NFS_FS", "CONFIG_NFSD",
                    "CONFIG_CEPH_FS", "CONFIG_DEBUG_VM", "CONFIG_DEBUG_FS",
                    "CONFIG_SERIAL_8250_CONSOLE", "CONFIG_BLK_DEV_INITRD",
                    "CONFIG_DEVTMPFS", "CONFIG_SMP"):
            self.assertEqual(want.get(opt), "y", opt)
        kbuild.parse_fragment(kbuild.SERIES_FRAGMENT)


class SuitesTest(unittest.TestCase):
    def test_manifest_parses_and_has_the_check_group(self):
        suites = guest.read_suites()
        check = [s.name for s in suites if "check" in s.groups]
        for name in ("gup_test", "cow"):
            self.assertIn(name, check)
        for s in suites:
            self.assertGreaterEqual(s.timeout, 0)
            if s.kunit:
                self.assertEqual(len(s.command.split()), 2)

    def test_bad_manifest_lines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("a check 10 - true\na check 10 - true\n")
            f.flush()
            with self.assertRaises(HarnessError):
                guest.read_suites(f.name)
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("a check ten - true\n")
            f.flush()
            with self.assertRaises(HarnessError):
                guest.read_suites(f.name)


if __name__ == "__main__":
    unittest.main()


class AccelTest(unittest.TestCase):
    def setUp(self):
        self.saved = os.environ.pop("ACCEL", None)
        self.addCleanup(self._restore)

    def _restore(self):
        os.environ.pop("ACCEL", None)
        if self.saved is not None:
            os.environ["ACCEL"] = self.saved

    def test_paravirtual_kvm_without_vmx_gets_tcg(self):
        accel, why = guest.choose_accel("flags\t: fpu sse2 pdpe1gb\n", True)
        self.assertEqual(accel, "tcg")
        self.assertIn("no vmx/svm", why)

    def test_real_kvm(self):
        self.assertEqual(guest.choose_accel("flags\t: fpu vmx\n", True)[0],
                         "kvm")
        self.assertEqual(guest.choose_accel("flags\t: fpu svm\n", False)[0],
                         "tcg")

    def test_override(self):
        os.environ["ACCEL"] = "kvm"
        self.assertEqual(guest.choose_accel("flags\t: fpu\n", False)[0], "kvm")
        os.environ["ACCEL"] = "xen"
        with self.assertRaises(HarnessError):
            guest.choose_accel("", False)


class KunitconfigTest(unittest.TestCase):
    def test_kunitconfig_has_every_series_kunit_option(self):
        path = os.path.join(os.path.dirname(kbuild.CONFIG_DIR), "kunit",
                            ".kunitconfig")
        have = kbuild.parse_fragment(path)
        self.assertEqual(have.get("CONFIG_KUNIT"), "y")
        for opt, val in kbuild.parse_fragment(kbuild.SERIES_FRAGMENT).items():
            self.assertEqual(have.get(opt), val, opt)


class BaseVersionTest(unittest.TestCase):
    def test_newest_uses_debian_version_order(self):
        from gupharness import base
        self.assertEqual(base._newest(["6.12.9-1", "6.12.117-1~deb12u1",
                                       "6.12.115-2~deb12u1",
                                       "6.12.117-1~deb12u1.1"]),
                         "6.12.117-1~deb12u1.1")
        self.assertEqual(base.tag_for("6.12.117-1~deb12u1"),
                         "debian/6.12.117-1_deb12u1")
