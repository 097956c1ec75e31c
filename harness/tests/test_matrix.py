"""make bisect's build matrix: diagnostics, objects per patch, configs."""

import os
import tempfile
import unittest

from gupharness import matrix
from gupharness.util import HarnessError


class MatrixTest(unittest.TestCase):
    def test_diagnostics(self):
        log = ("  CC      mm/gup.o\n"
               "../mm/gup.c:120:5: warning: no previous prototype for "
               "'f' [-Wmissing-prototypes]\n"
               "../mm/gup.c:120:5: note: declared here\n"
               "mm/gup.c:2101:9: warning: context imbalance in 'g'\n"
               "../include/linux/mm.h:7: error: boom\n"
               "make[3]: *** [scripts/Makefile.build:229: mm/gup.o] "
               "Error 1\n")
        d = matrix.diagnostics(log)
        self.assertEqual(d[("mm/gup.c", "warning: context imbalance in "
                                        "'g'")], 1)
        self.assertIn(("include/linux/mm.h", "error: boom"), d)
        self.assertEqual(sum(d.values()), 3)
        # the same message on another line is the same key
        moved = log.replace(":120:5:", ":130:5:")
        self.assertEqual(matrix.diagnostics(moved), d)

    def test_objects(self):
        with tempfile.TemporaryDirectory() as src:
            os.makedirs(os.path.join(src, "fs/ceph"))
            with open(os.path.join(src, "fs/ceph/file.c"), "w") as f:
                f.write('#include "file_kunit.c"\n')
            with open(os.path.join(src, "fs/ceph/file_kunit.c"), "w") as f:
                f.write("\n")
            touched = {p: ("M", "100644") for p in
                       ("mm/gup.c", "fs/ceph/file.c", "fs/ceph/file_kunit.c",
                        "include/linux/mm.h", "tools/testing/x.c",
                        "Documentation/a.rst")}
            touched["mm/old.c"] = ("D", "000000")
            objs = matrix.series_objects(src, touched)
        self.assertEqual(objs, {"fs/ceph/file.o": ["fs/ceph/file.c",
                                                   "fs/ceph/file_kunit.c"],
                                "mm/gup.o": ["mm/gup.c"]})
        self.assertEqual(matrix.patch_objects(["fs/ceph/file_kunit.c"], objs),
                         ["fs/ceph/file.o"])
        self.assertEqual(matrix.patch_objects(["MAINTAINERS"], objs), [])
        # a header: every object of the series
        self.assertEqual(matrix.patch_objects(["include/linux/mm.h"], objs),
                         ["fs/ceph/file.o", "mm/gup.o"])
        # a selftest header is not a kernel header
        self.assertEqual(matrix.patch_objects(
            ["tools/testing/selftests/mm/vm_util.h"], objs), [])

    def test_chosen_configs(self):
        old = os.environ.get("MATRIX")
        try:
            os.environ["MATRIX"] = "nommu,arm64"
            self.assertEqual([c.name for c in matrix.chosen_configs()],
                             ["nommu", "arm64"])
            os.environ["MATRIX"] = "nommu,mips"
            with self.assertRaises(HarnessError):
                matrix.chosen_configs()
            del os.environ["MATRIX"]
            self.assertEqual(len(matrix.chosen_configs()), 4)
        finally:
            if old is not None:
                os.environ["MATRIX"] = old
            else:
                os.environ.pop("MATRIX", None)

    def test_chosen_prefixes(self):
        old = os.environ.pop("PREFIXES", None)
        try:
            self.assertEqual(matrix.chosen_prefixes(42), (1, 42))
            for spec, want in (("12-20", (12, 20)), ("23-", (23, 42)),
                               ("7", (7, 7)), ("1-42", (1, 42))):
                os.environ["PREFIXES"] = spec
                self.assertEqual(matrix.chosen_prefixes(42), want, spec)
            for spec in ("0", "43", "20-12", "x", "3-x", "-5", "1-43"):
                os.environ["PREFIXES"] = spec
                with self.assertRaises(HarnessError, msg=spec):
                    matrix.chosen_prefixes(42)
        finally:
            os.environ.pop("PREFIXES", None)
            if old is not None:
                os.environ["PREFIXES"] = old

    def test_for_config(self):
        known = {c.name: c for c in matrix.CONFIGS}
        mte = "arch/arm64/kernel/mte.o"
        self.assertTrue(matrix.for_config(known["arm64"], mte))
        self.assertFalse(matrix.for_config(known["nommu"], mte))
        self.assertFalse(matrix.for_config(known["x86-test"], mte))
        self.assertTrue(matrix.for_config(known["x86-allno"],
                                          "arch/x86/mm/fault.o"))
        self.assertTrue(matrix.for_config(known["nommu"], "mm/gup.o"))

    def test_make_command_per_config(self):
        """Every configuration's make goes through kbuild.kmake(): ARCH=
        and the cross compiler of its architecture, none for x86."""
        from gupharness import kbuild
        seen = []
        orig = kbuild.run
        kbuild.run = lambda cmd, **kw: seen.append(cmd)
        try:
            for cfg in matrix.CONFIGS:
                matrix._make(cfg, "/src", "/src/.build-x", "vmlinux")
        finally:
            kbuild.run = orig
        args = {cfg.name: cmd for cfg, cmd in zip(matrix.CONFIGS, seen)}
        self.assertNotIn("ARCH", " ".join(args["x86-test"]))
        self.assertIn("ARCH=x86_64", args["x86-allno"])
        self.assertIn("CC=ccache gcc", args["x86-allno"])
        self.assertNotIn("CROSS_COMPILE", " ".join(args["x86-allno"]))
        self.assertIn("CROSS_COMPILE=arm-linux-gnueabi-", args["nommu"])
        self.assertIn("CC=ccache arm-linux-gnueabi-gcc", args["nommu"])
        self.assertIn("CROSS_COMPILE=aarch64-linux-gnu-", args["arm64"])
        for cmd in seen:
            self.assertEqual(cmd[-1], "vmlinux")
            self.assertIn("O=.build-x", cmd)

    def test_nothing_to_check_prepares_nothing(self):
        """A prefix with no object for a configuration (an arm64 object
        in nommu, or no object at all) neither prepares nor counts."""
        from gupharness.results import Counts
        known = {c.name: c for c in matrix.CONFIGS}
        orig = matrix.prepare
        matrix.prepare = lambda *a: self.fail("prepared with nothing to do")
        try:
            with tempfile.TemporaryDirectory() as src:
                os.makedirs(os.path.join(src, "arch/arm64/kernel"))
                with open(os.path.join(src, "arch/arm64/kernel/mte.c"),
                          "w") as f:
                    f.write("\n")
                c = Counts()
                for cfg, objs in ((known["arm64"], []),
                                  (known["arm64"], ["mm/gone.o"]),
                                  (known["nommu"],
                                   ["arch/arm64/kernel/mte.o"])):
                    matrix.check_prefix(cfg, src, "HEAD", objs, None, c,
                                        "0001-x.patch")
        finally:
            matrix.prepare = orig
        self.assertEqual((c.passed, c.total), (0, 0))

    def test_configured_objects_from_a_dry_run(self):
        """Kbuild compiles an unselected single target anyway (and fails,
        or passes for nothing): whether a configuration builds an object
        comes from one make -n dir/ per directory with the objects moved
        aside, and an object it does not build is never compiled."""
        import subprocess
        from gupharness import kbuild
        dry = ("make -f ../scripts/Makefile.build obj=mm need-builtin=1\n"
               "  ccache gcc -Wp,-MMD,mm/.gup.o.d -nostdinc -c -o mm/gup.o "
               "../mm/gup.c\n"
               "  ccache gcc -Wp,-MMD,mm/.nommu.o.d -c -o mm/nommu.o;\n"
               "  ccache gcc -c -o mm/tests/gup_kunit.o x.c\n"
               "  ccache gcc -c -o mm/gup_test.o.tmp x.c\n"
               ":\n")
        calls = []
        with tempfile.TemporaryDirectory() as b:
            gup = os.path.join(b, "mm/gup.o")
            stale = os.path.join(b, "mm/memory.o")

            def fake(src, build, *targets, check=False, arch=None, **kw):
                calls.append((targets, arch, os.path.exists(gup),
                              os.path.exists(stale)))
                if targets[0] == "-n":
                    return subprocess.CompletedProcess(targets, 0, dry)
                return subprocess.CompletedProcess(targets, 0, "")
            orig = kbuild.kmake
            kbuild.kmake = fake
            try:
                nommu = {c.name: c for c in matrix.CONFIGS}["nommu"]
                os.makedirs(os.path.join(b, "mm/tests"))
                with open(os.path.join(b, "mm/Makefile"), "w") as f:
                    f.write("obj-y += gup.o\n")
                for path in (gup, stale):
                    with open(path, "w") as f:
                        f.write("")
                    os.utime(path, (1000, 1000))
                objs = ["mm/gup.o", "mm/nommu.o", "mm/memory.o",
                        "mm/gup_test.o", "mm/tests/gup_kunit.o"]
                got = kbuild.built_objects(b, b, objs, "arm")
                self.assertEqual(got, {"mm/gup.o", "mm/nommu.o",
                                       "mm/tests/gup_kunit.o"})
                # one dry run for mm/ (its Makefile lists gup_kunit.o),
                # with the objects aside, so that Kbuild cannot print ":"
                self.assertEqual(calls, [(("-n", "mm/"), "arm", False,
                                          False)])
                # and put back untouched: nothing is relinked for it
                for path in (gup, stale):
                    self.assertEqual(os.stat(path).st_mtime, 1000)
                calls.clear()
                got = matrix.check_object(nommu, b, b, "mm/memory.o")
                self.assertEqual(got,
                                 (None, "not built by this configuration"))
                self.assertEqual([c[0] for c in calls],
                                 [("-n", "mm/")])    # no compile
                calls.clear()
                got, why = matrix.check_object(nommu, b, b, "mm/gup.o",
                                               {"mm/gup.o"})
                self.assertIsNone(why)
                # no second dry run; an up-to-date object (compiled with
                # W=1 at an earlier prefix) is removed, so it compiles
                self.assertEqual(calls, [(("W=1", "C=2",
                                           *kbuild.sparse_args(b),
                                           "mm/gup.o"), "arm", False,
                                          True)])

                # a dry run that fails, or is interrupted, raises and
                # puts the object back all the same
                seen = []

                def failing(src, build, *targets, **kw):
                    seen.append(os.path.exists(gup))
                    return subprocess.CompletedProcess(targets, 2,
                                                       "make: *** boom\n")

                def interrupted(src, build, *targets, **kw):
                    seen.append(os.path.exists(gup))
                    raise KeyboardInterrupt
                for make, exc in ((failing, HarnessError),
                                  (interrupted, KeyboardInterrupt)):
                    with open(gup, "w") as f:
                        f.write("")
                    os.utime(gup, (1000, 1000))
                    kbuild.kmake = make
                    with self.assertRaises(exc):
                        kbuild.built_objects(b, b, ["mm/gup.o"])
                    self.assertEqual(seen.pop(), False)
                    self.assertEqual(os.stat(gup).st_mtime, 1000)
                    self.assertFalse(os.path.exists(gup + kbuild.ASIDE))
                # a file left aside by a killed run does not stay
                os.replace(gup, gup + kbuild.ASIDE)
                kbuild.kmake = fake
                kbuild.built_objects(b, b, ["mm/gup.o"])
                self.assertFalse(os.path.exists(gup + kbuild.ASIDE))
                # a dry run that shows no compile of mm/gup.o, which every
                # configuration builds, is a parser that no longer matches
                kbuild.kmake = lambda src, build, *t, **kw: \
                    subprocess.CompletedProcess(t, 0, "  CC mm/gup.o\n")
                with self.assertRaises(HarnessError):
                    kbuild.built_objects(b, b, ["mm/gup.o", "mm/nommu.o"])
                self.assertEqual(kbuild.built_objects(b, b, ["mm/nommu.o"]),
                                 set())
                with self.assertRaises(HarnessError):
                    kbuild.built_objects(b, b, ["gup.o"])   # no Makefile
            finally:
                kbuild.kmake = orig

    def test_one_dry_run_per_prefix(self):
        """check_prefix asks kbuild.built_objects() once for all of the
        prefix's objects and hands its answer to every check."""
        from gupharness import kbuild
        from gupharness.results import Counts
        known = {c.name: c for c in matrix.CONFIGS}
        objs = ["fs/splice.o", "mm/gup.o", "mm/memory.o"]
        asked, checked = [], []
        basew = type("B", (), {"get": lambda self, cfg, o: None})()

        def built_objects(src, build, got, arch=None):
            asked.append((list(got), arch))
            return {"mm/gup.o", "fs/splice.o"}

        def check_object(cfg, src, build, obj, built=None):
            checked.append((obj, built))
            return (None, "not built by this configuration") \
                if obj not in built else (matrix.collections.Counter(),
                                          None)
        orig = (kbuild.built_objects, matrix.check_object)
        kbuild.built_objects, matrix.check_object = built_objects, \
            check_object
        try:
            with tempfile.TemporaryDirectory() as src:
                for o in objs:
                    os.makedirs(os.path.join(src, os.path.dirname(o)),
                                exist_ok=True)
                    open(os.path.join(src, o[:-2] + ".c"), "w").close()
                c = Counts()
                matrix.check_prefix(known["x86-allno"], src, "HEAD", objs,
                                    basew, c, "0003-x.patch")
        finally:
            kbuild.built_objects, matrix.check_object = orig
        self.assertEqual(asked, [(objs, "x86_64")])
        self.assertEqual([o for o, _ in checked], objs)
        self.assertTrue(all(b == {"mm/gup.o", "fs/splice.o"}
                            for _, b in checked))
        self.assertEqual((c.passed, c.failed), (2, 0))

    def test_new_file_not_built_is_not_a_failure(self):
        """A file the series adds (the KUnit suite) is an object the base
        does not build; a configuration that does not build it either
        (no KUnit) is not 'built on the base, not at this prefix'."""
        import types
        from gupharness.results import Counts
        known = {c.name: c for c in matrix.CONFIGS}
        obj = "mm/tests/gup_kunit.o"
        with tempfile.TemporaryDirectory() as tmp:
            base_src = os.path.join(tmp, "base")
            src = os.path.join(tmp, "prefix")
            os.makedirs(os.path.join(base_src, "mm"))
            os.makedirs(os.path.join(src, "mm/tests"))
            with open(os.path.join(src, "mm/tests/gup_kunit.c"), "w") as f:
                f.write("\n")
            tree = types.SimpleNamespace(checkout=base_src, base_rev="b" * 40)
            basew = matrix.BaseWarnings(tree)
            self.assertIsNone(basew.get(known["nommu"], obj))
            from gupharness import kbuild
            orig = (matrix.check_object, matrix.prepare,
                    kbuild.built_objects)
            matrix.check_object = lambda *a: (None, "not built by this "
                                                    "configuration")
            matrix.prepare = lambda *a: self.fail("nommu is a full build")
            asked = []

            def built_objects(*a):
                asked.append(a)
                return set()
            kbuild.built_objects = built_objects
            try:
                c = Counts()
                matrix.check_prefix(known["nommu"], src, "HEAD", [obj],
                                    basew, c, "0007-x.patch")
            finally:
                (matrix.check_object, matrix.prepare,
                 kbuild.built_objects) = orig
            self.assertEqual((c.failed, c.notes), (0, []))
            self.assertEqual(len(asked), 1)
            # and a cached answer says the same
            self.assertIsNone(matrix.BaseWarnings(tree).get(known["nommu"],
                                                            obj))
