"""checker: the cached sparse build's stamp logic and the pure helpers,
with a fake builder and a fake checker-valid.sh (no network)."""

import os
import stat
import tempfile
import unittest
from unittest import mock

from gupharness import checker
from gupharness.util import HarnessError, read


def fake_sparse(path, accepted=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + ("" if accepted else
                                 "echo 'error: bad' >&2\n"))
    os.chmod(path, 0o755)


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        patcher = mock.patch.dict(os.environ, {"CACHE": self.dir.name,
                                               "GUP_CALLER_PWD": "/"})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.calls = []

    def builder(self, ok=True, built=None):
        def build(version, root, log):
            self.calls.append(version)
            with open(log, "w") as f:
                f.write("compiling\nsomething broke here\n")
            if not ok:
                raise HarnessError("make failed" + checker._tail(log))
            fake_sparse(os.path.join(root, "bin", "sparse"))
            return built or version
        return build

    def test_built_once_then_cached(self):
        path = checker.cached_sparse("9.9-1", self.builder())
        self.assertEqual(path, os.path.join(
            self.dir.name, "sparse", "9.9-1", "bin", "sparse"))
        self.assertEqual(checker.cached_sparse("9.9-1", self.builder()), path)
        self.assertEqual(self.calls, ["9.9-1"])
        # another version is another build
        checker.cached_sparse("9.9-2", self.builder())
        self.assertEqual(self.calls, ["9.9-1", "9.9-2"])

    def test_no_stamp_means_rebuild(self):
        root = checker.sparse_root("9.9-1")
        # a binary from an interrupted build, no stamp
        fake_sparse(os.path.join(root, "bin", "sparse"))
        checker.cached_sparse("9.9-1", self.builder())
        self.assertEqual(self.calls, ["9.9-1"])
        # stamp present but binary gone
        os.unlink(os.path.join(root, "bin", "sparse"))
        checker.cached_sparse("9.9-1", self.builder())
        self.assertEqual(self.calls, ["9.9-1", "9.9-1"])

    def test_fallback_version_is_stamped_under_the_asked_one(self):
        checker.cached_sparse("9.9-1", self.builder(built="10.0-1"))
        stamp = read(os.path.join(checker.sparse_root("9.9-1"),
                                  checker.STAMP))
        self.assertEqual(stamp, "9.9-1\n10.0-1\n")
        checker.cached_sparse("9.9-1", self.builder())
        self.assertEqual(self.calls, ["9.9-1"])

    def test_failed_build_raises_with_log_tail_and_no_stamp(self):
        with self.assertRaises(HarnessError) as cm:
            checker.cached_sparse("9.9-1", self.builder(ok=False))
        self.assertIn("something broke here", str(cm.exception))
        self.assertFalse(os.path.exists(os.path.join(
            checker.sparse_root("9.9-1"), checker.STAMP)))

    def test_builder_leaving_no_binary_raises(self):
        def build(version, root, log):
            return version
        with self.assertRaises(HarnessError):
            checker.cached_sparse("9.9-1", build)

    def _tree(self):
        tree = os.path.join(self.dir.name, "tree")
        os.makedirs(os.path.join(tree, "scripts"))
        script = os.path.join(tree, "scripts", "checker-valid.sh")
        with open(script, "w") as f:
            # the shape of the kernel's: any "error" output means no
            f.write('[ ! -x "$(command -v "$1")" ] && exit 1\n'
                    '"$@" /dev/null 2>&1 | '
                    "awk -v c=1 '/error/{c=0}END{print c}'\n")
        os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
        return tree

    def test_accepted(self):
        tree = self._tree()
        good = os.path.join(self.dir.name, "good", "sparse")
        bad = os.path.join(self.dir.name, "bad", "sparse")
        fake_sparse(good)
        fake_sparse(bad, accepted=False)
        self.assertTrue(checker.accepted(tree, good))
        self.assertFalse(checker.accepted(tree, bad))
        self.assertFalse(checker.accepted(tree, "/nonexistent/sparse"))
        # an old tree without the script takes any sparse there is
        self.assertTrue(checker.accepted(self.dir.name, good))

    def test_sparse_for_prefers_accepted_system_sparse(self):
        tree = self._tree()
        system = os.path.join(self.dir.name, "sys", "sparse")
        fake_sparse(system)
        with mock.patch("shutil.which", return_value=system), \
                mock.patch.object(checker, "cached_sparse") as cached:
            self.assertEqual(checker.sparse_for(tree), system)
            cached.assert_not_called()

    def test_sparse_for_builds_when_system_refused(self):
        tree = self._tree()
        system = os.path.join(self.dir.name, "sys", "sparse")
        fake_sparse(system, accepted=False)
        built = os.path.join(self.dir.name, "built", "sparse")
        fake_sparse(built)
        with mock.patch("shutil.which", return_value=system), \
                mock.patch.object(checker, "cached_sparse",
                                  return_value=built) as cached:
            self.assertEqual(checker.sparse_for(tree), built)
            cached.assert_called_once_with(checker.SPARSE_DEBIAN)
        fake_sparse(built, accepted=False)
        with mock.patch("shutil.which", return_value=None), \
                mock.patch.object(checker, "cached_sparse",
                                  return_value=built):
            with self.assertRaises(HarnessError):
                checker.sparse_for(tree)

    def test_pure_helpers(self):
        self.assertEqual(
            checker.source_list("http://m/debian", "sid", "/k.gpg"),
            "deb-src [signed-by=/k.gpg] http://m/debian sid main\n")
        self.assertEqual(checker.upstream_version("0.6.5~rc1-2"),
                         "0.6.5~rc1")
        self.assertEqual(checker.upstream_version("1:2.0-1+b1"), "2.0")
        self.assertEqual(checker.upstream_version("0.6.4"), "0.6.4")
        self.assertEqual(checker.source_versions(
            "Package: sparse\nVersion: 0.6.5~rc1-2\n\n"
            "Package: sparse\nVersion: 0.6.4-5\n"),
            ["0.6.5~rc1-2", "0.6.4-5"])


if __name__ == "__main__":
    unittest.main()
