import os
import tempfile
import unittest

from gupharness import lint
from gupharness.util import HarnessError


class IncludedCFilesTest(unittest.TestCase):
    def test_a_test_file_included_by_its_neighbour(self):
        with tempfile.TemporaryDirectory() as src:
            os.makedirs(os.path.join(src, "fs/ceph"))
            os.makedirs(os.path.join(src, "fs/nfs"))
            with open(os.path.join(src, "fs/ceph/file.c"), "w") as f:
                f.write('int x;\n#if 1\n#include "file_kunit.c"\n#endif\n')
            for p in ("fs/ceph/file_kunit.c", "fs/nfs/direct.c"):
                with open(os.path.join(src, p), "w") as f:
                    f.write('#include "file_kunit.c"\n')
            files = ["fs/ceph/file.c", "fs/ceph/file_kunit.c",
                     "fs/nfs/direct.c"]
            # only the neighbour in the same directory counts
            self.assertEqual(lint.included_c_files(src, files),
                             {"fs/ceph/file_kunit.c": "fs/ceph/file.c"})

    def test_nothing_included(self):
        with tempfile.TemporaryDirectory() as src:
            with open(os.path.join(src, "a.c"), "w") as f:
                f.write('#include "b.h"\n')
            self.assertEqual(lint.included_c_files(src, ["a.c"]), {})


class SparseSelectionTest(unittest.TestCase):
    def test_a_file_the_config_does_not_build_is_not_compiled(self):
        """Kbuild compiles an unselected single target all the same: a
        file the .config does not build is a skip, asked of a dry run,
        never a sparse run on a file the kernel does not contain."""
        import subprocess
        from gupharness import kbuild
        calls = []

        def fake(src, build, *targets, check=False, arch=None, **kw):
            calls.append(targets)
            text = ""
            if targets[0] == "-n":
                text = "  gcc -c -o fs/nfs/direct.o ../fs/nfs/direct.c\n"
            elif targets[-1] == "fs/nfs/direct.o":
                text = ("../fs/nfs/direct.c:5:1: warning: symbol 'x' was "
                        "not declared. Should it be static?\n")
            return subprocess.CompletedProcess(targets, 0, text)
        orig = kbuild.kmake
        kbuild.kmake = fake
        try:
            with tempfile.TemporaryDirectory() as src:
                os.makedirs(os.path.join(src, "fs/nfs"))
                open(os.path.join(src, "fs/nfs/Makefile"), "w").close()
                got, proc = lint._sparse(src, src, "fs/nfs/inode.c",
                                         {"fs/nfs/inode.c"})
                self.assertIsNone(got)
                self.assertEqual(calls, [("-n", "fs/nfs/")])
                calls.clear()
                got, proc = lint._sparse(src, src, "fs/nfs/direct.c",
                                         {"fs/nfs/direct.c"})
                # CHECK=: the sparse checker.py chose for this tree
                self.assertEqual(calls, [("-n", "fs/nfs/"),
                                         ("C=2", *kbuild.sparse_args(src),
                                          "fs/nfs/direct.o")])
                self.assertEqual(sum(got.values()), 1)
        finally:
            kbuild.kmake = orig

    def test_one_dry_run_per_directory_and_build(self):
        """sparse() asks each build dir (base, patched) once which of the
        touched files its .config builds; a dry run that fails is a
        failed row, not the end of make check."""
        import subprocess
        import types
        from gupharness import kbuild
        calls = []

        def fake(src, build, *targets, check=False, arch=None, **kw):
            calls.append((os.path.basename(build), targets))
            if targets[0] == "-n":
                return subprocess.CompletedProcess(targets, 0, (
                    "  gcc -c -o mm/gup.o ../mm/gup.c\n"
                    "  gcc -c -o fs/splice.o ../fs/splice.c\n"))
            return subprocess.CompletedProcess(targets, 0, "")
        orig = (kbuild.kmake, kbuild.configured_build)
        kbuild.kmake = fake
        kbuild.configured_build = lambda src, kind, rev: \
            os.path.join(src, ".build-" + kind)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                srcs = []
                for kind in ("base", "patched"):
                    src = os.path.join(tmp, kind)
                    for d in ("mm", "fs"):
                        os.makedirs(os.path.join(src, d))
                        open(os.path.join(src, d, "Makefile"), "w").close()
                    for f in ("mm/gup.c", "mm/memory.c", "fs/splice.c"):
                        open(os.path.join(src, f), "w").close()
                    srcs.append(src)
                touched = {f: ("M", None) for f in
                           ("mm/gup.c", "mm/memory.c", "fs/splice.c")}
                tree = types.SimpleNamespace(base_rev="b" * 40)
                c, files = lint.sparse(tree, srcs[0], srcs[1], "HEAD",
                                       touched)
                self.assertEqual((c.passed, c.skipped, c.failed), (2, 1, 0))
                dry = sorted(x for x in calls if x[1][0] == "-n")
                self.assertEqual(dry, [(".build-base", ("-n", "fs/")),
                                       (".build-base", ("-n", "mm/")),
                                       (".build-patched", ("-n", "fs/")),
                                       (".build-patched", ("-n", "mm/"))])
                self.assertNotIn((".build-patched", ("C=2", "mm/memory.o")),
                                 calls)
                kbuild.kmake = lambda src, build, *t, **kw: \
                    subprocess.CompletedProcess(t, 2, "make: *** boom\n")
                c, files = lint.sparse(tree, srcs[0], srcs[1], "HEAD",
                                       touched)
                self.assertEqual((c.passed, c.failed), (0, 3))
        finally:
            kbuild.kmake, kbuild.configured_build = orig


if __name__ == "__main__":
    unittest.main()


class SparseRefusedTest(unittest.TestCase):
    def test_a_sparse_kbuild_refuses_is_an_error(self):
        """Kbuild drops C= with a warning when checker-valid.sh rejects
        the sparse (7.3 and bookworm's 0.6.4): that checked nothing and
        must not pass as clean."""
        from gupharness import kbuild
        kbuild.sparse_ran("  CC mm/gup.o\n", "x")      # ran: no error
        with self.assertRaises(HarnessError):
            kbuild.sparse_ran("Makefile:1311: C=2 specified, but sparse is "
                              "not available or not up to date\n", "x")
