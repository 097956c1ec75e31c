"""Config fragments are checked after olddefconfig; the suite manifest."""

import os
import subprocess
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

    def test_a_later_fragment_overrides_an_earlier_one(self):
        common = self._file("common", "CONFIG_A=y\nCONFIG_DEBUG_VM=y\n")
        bench = self._file("bench", "# CONFIG_DEBUG_VM is not set\n")
        dotconfig = self._file(".config", "CONFIG_A=y\n")
        self.assertEqual(kbuild.check_config(dotconfig, [common, bench]), [])
        bad = kbuild.check_config(dotconfig, [bench, common])
        self.assertEqual(len(bad), 1, bad)
        self.assertTrue(bad[0].startswith("CONFIG_DEBUG_VM=y requested, got "
                                          "not set (common)"), bad)

    def test_bench_kernels(self):
        names = {k: [os.path.basename(f) for f in kbuild.fragments_for(k)]
                 for k in ("base", "patched", "bench-base", "bench-patched")}
        self.assertEqual(names["bench-base"], ["kernel.config",
                                               "bench.config"])
        self.assertEqual(names["bench-patched"], ["kernel.config",
                                                  "series.config",
                                                  "bench.config"])
        self.assertNotIn("bench.config", names["patched"] + names["base"])
        # production settings: no DEBUG_VM, -O2 as distributions build
        self.assertEqual(kbuild.parse_fragment(kbuild.BENCH_FRAGMENT),
                         {"CONFIG_DEBUG_VM": "n",
                          "CONFIG_CC_OPTIMIZE_FOR_PERFORMANCE": "y",
                          "CONFIG_CC_OPTIMIZE_FOR_SIZE": "n"})
        self.assertTrue(guest.has_series("bench-patched"))
        self.assertFalse(guest.has_series("bench-base"))

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


class BisectFragmentTest(unittest.TestCase):
    def test_options_a_prefix_does_not_declare_are_dropped(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "src")
            os.makedirs(os.path.join(src, "mm"))
            with open(os.path.join(src, "mm", "Kconfig"), "w") as f:
                f.write("config FOO\n\tbool \"foo\"\n")
            subprocess.run(["git", "init", "-q", src], check=True)
            subprocess.run(["git", "-C", src, "add", "."], check=True)
            frag = os.path.join(d, "series.config")
            with open(frag, "w") as f:
                f.write("# comment\nCONFIG_FOO=y\nCONFIG_BAR=y\n"
                        "# CONFIG_BAZ is not set\n")
            saved = kbuild.SERIES_FRAGMENT
            kbuild.SERIES_FRAGMENT = frag
            try:
                path = kbuild.series_fragment_for_prefix(src, d)
            finally:
                kbuild.SERIES_FRAGMENT = saved
            self.assertEqual(kbuild.parse_fragment(path), {"CONFIG_FOO": "y"})


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

    def test_series_programs_are_left_out_of_the_base(self):
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("a check 10 x,+y,z.sh ./z.sh\nk check 0 - kunit k\n")
            f.flush()
            suites = guest.read_suites(f.name)
        self.assertEqual(guest.suite_programs(suites, "patched"),
                         ["x", "y", "z.sh"])
        self.assertEqual(guest.suite_programs(suites, "base"), ["x", "z.sh"])

    def test_shared_programs_run_on_both_kernels(self):
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("b bench 10 x,=bench ./bench\n")
            f.flush()
            suites = guest.read_suites(f.name)
        self.assertEqual(guest.suite_programs(suites, "base"),
                         ["bench", "x"])
        self.assertEqual(guest.suite_programs(suites, "patched"),
                         ["bench", "x"])
        self.assertEqual(guest.shared_programs(suites), ["bench"])

    def test_bundles_are_host_programs_not_selftests(self):
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("n check 10 =t,@nfs ./t\n")
            f.flush()
            suites = guest.read_suites(f.name)
        self.assertEqual(suites[0].bundles, ["nfs"])
        self.assertEqual(guest.suite_programs(suites, "base"), ["t"])
        self.assertEqual(guest.suite_programs(suites, "patched"), ["t"])
        with tempfile.NamedTemporaryFile("w", suffix=".suites") as f:
            f.write("n check 10 @nope ./t\n")
            f.flush()
            with self.assertRaises(HarnessError):
                guest.read_suites(f.name)

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


class MovableTest(unittest.TestCase):
    def setUp(self):
        self.saved = os.environ.pop("MOVABLECORE", None)
        self.addCleanup(self._restore)

    def _restore(self):
        os.environ.pop("MOVABLECORE", None)
        if self.saved is not None:
            os.environ["MOVABLECORE"] = self.saved

    def test_default_and_override(self):
        self.assertEqual(guest.movable_arg(), "movablecore=256M ")
        os.environ["MOVABLECORE"] = "1G"
        self.assertEqual(guest.movable_arg(), "movablecore=1G ")
        os.environ["MOVABLECORE"] = "0"
        self.assertEqual(guest.movable_arg(), "")

    def test_garbage_is_an_error(self):
        for bad in ("1 G", "lots", "1G quiet", "-1"):
            os.environ["MOVABLECORE"] = bad
            with self.assertRaises(HarnessError):
                guest.movable_arg()


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


class BaseFallbackTest(unittest.TestCase):
    def test_newest_7_3_after_the_rc(self):
        """When 7.3~rc7 leaves the archive, the fallback takes the newest
        linux-source-7.3 there: an rc8 or the release sorts after rc7."""
        from gupharness import base
        self.assertEqual(base._newest(["7.3~rc7-1~exp1", "7.3~rc8-1~exp1"]),
                         "7.3~rc8-1~exp1")
        self.assertEqual(base._newest(["7.3~rc8-1~exp1", "7.3-1~exp1",
                                       "7.3~rc7-1~exp1"]), "7.3-1~exp1")
        self.assertEqual(base.tag_for(base.BASE[1]), "debian/7.3_rc7-1_exp1")


class BaseStampTest(unittest.TestCase):
    """The cached base is reused only for the version it was asked for:
    after a fallback (asked rc7, got rc8) as long as rc7 is pinned, and
    never once the pinned version moves."""

    def _run(self, stamp, pinned, base_version=None):
        from unittest import mock
        from gupharness import base
        with tempfile.TemporaryDirectory() as cache:
            os.makedirs(os.path.join(cache, "base"))
            with open(os.path.join(cache, "base",
                                   "current-linux-source-7.3"), "w") as f:
                f.write(stamp)
            env = {"CACHE": cache}
            if base_version:
                env["BASE_VERSION"] = base_version
            fetched = []

            def download(package, version, suite, dest):
                fetched.append(version)
                raise HarnessError("fetch")
            with mock.patch.dict(os.environ, env), \
                    mock.patch.object(base, "BASE", ("linux-source-7.3",
                                                     pinned, "experimental")), \
                    mock.patch.object(base, "_valid", lambda *a: True), \
                    mock.patch.object(base, "_download", download), \
                    mock.patch.object(base, "warn_loud", lambda m: None), \
                    mock.patch.object(base, "stage", lambda m: None):
                if not base_version:
                    os.environ.pop("BASE_VERSION", None)
                try:
                    tree = base.debian_base()
                except HarnessError:
                    return None, fetched
                return tree.label, fetched

    def test_reuse_and_refetch(self):
        self.assertEqual(self._run("7.3~rc7-1~exp1 /r c 7.3~rc7-1~exp1\n",
                                   "7.3~rc7-1~exp1"),
                         ("Debian linux-source-7.3 7.3~rc7-1~exp1", []))
        # an old three-field stamp is its own asked-for version
        self.assertEqual(self._run("7.3~rc7-1~exp1 /r c\n",
                                   "7.3~rc7-1~exp1")[1], [])
        # a fallback stays in use while the same version is pinned
        self.assertEqual(self._run("7.3~rc8-1~exp1 /r c 7.3~rc7-1~exp1\n",
                                   "7.3~rc7-1~exp1"),
                         ("Debian linux-source-7.3 7.3~rc8-1~exp1", []))
        # the pinned version moved: fetch it
        self.assertEqual(self._run("7.3~rc7-1~exp1 /r c 7.3~rc7-1~exp1\n",
                                   "7.3-1~exp1"), (None, ["7.3-1~exp1"]))
        # BASE_VERSION= asks for another one, and then back again
        self.assertEqual(self._run("7.3~rc7-1~exp1 /r c 7.3~rc7-1~exp1\n",
                                   "7.3~rc7-1~exp1", "7.3~rc8-1~exp1"),
                         (None, ["7.3~rc8-1~exp1"]))
        self.assertEqual(self._run("7.3~rc8-1~exp1 /r c 7.3~rc8-1~exp1\n",
                                   "7.3~rc7-1~exp1"),
                         (None, ["7.3~rc7-1~exp1"]))
