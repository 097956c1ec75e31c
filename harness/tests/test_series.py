"""The series workflow on toy git trees: git am, make tree / export / verify,
stale copies, first failing patch, and KSRC= leaving the user's tree alone."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from gupharness import base, postings, series
from gupharness.util import HarnessError

IDENT = {"GIT_AUTHOR_NAME": "Toy Author", "GIT_AUTHOR_EMAIL": "toy@example.org",
         "GIT_COMMITTER_NAME": "Toy Author",
         "GIT_COMMITTER_EMAIL": "toy@example.org"}


def set_env(test, **values):
    """Set environment variables for one test (None unsets); restored after."""
    for key, val in values.items():
        test.addCleanup(
            lambda k=key, v=os.environ.get(key):
            os.environ.pop(k, None) if v is None else os.environ.update({k: v}))
        if val is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = val


def git(repo, *args, text=True):
    env = dict(os.environ, **IDENT)
    return subprocess.run(["git", "-C", repo, *args], check=True, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=text).stdout


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def toy_kernel(path):
    """A tiny 'kernel' repository with the files the checks look for."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "master")
    # like Debian's linux-source tree: everything at the top level ignored
    write(os.path.join(path, ".gitignore"), "/*\n!/debian/\n")
    write(os.path.join(path, "Makefile"), "VERSION = 6\n")
    write(os.path.join(path, "README"), "Linux kernel\n")
    write(os.path.join(path, "mm/gup.c"),
          "".join(f"int line{i};\n" for i in range(40)))
    write(os.path.join(path, "include/linux/mm.h"), "#define MM 1\n")
    write(os.path.join(path, "scripts/x.sh"), "#!/bin/sh\necho x\n")
    os.chmod(os.path.join(path, "scripts/x.sh"), 0o755)
    git(path, "add", "-A", "-f")
    git(path, "commit", "-q", "-m", "base")
    return git(path, "rev-parse", "HEAD").strip()


class SeriesWorkflowTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gupharness-test.")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.kernel = os.path.join(self.tmp, "kernel")
        self.base_rev = toy_kernel(self.kernel)
        self.tree = base.Tree(self.kernel, self.base_rev, "toy base",
                              self.kernel)
        self.proj = os.path.join(self.tmp, "project")
        os.makedirs(os.path.join(self.proj, "patches"))
        write(os.path.join(self.proj, "patches", "series"), "# order\n")
        set_env(self, GUP_PROJECT_ROOT=self.proj, PATCHES=None,
                CACHE=os.path.join(self.tmp, "cache"), **IDENT)

    def _checks(self):
        return {name: ok for name, ok, _ in series.verify(self.tree)}

    def _commit_in_tree(self, msg, edits):
        t = series.tree_dir()
        for path, text in edits.items():
            if text is None:
                git(t, "rm", "-q", path)
            else:
                write(os.path.join(t, path), text)
                git(t, "add", "-f", path)
        git(t, "commit", "-q", "-s", "-m", msg)

    def _fill_cover(self):
        p = os.path.join(self.proj, "patches", series.COVER)
        with open(p) as f:
            text = f.read()
        text = text.replace("*** SUBJECT HERE ***", "toy: a test series")
        text = text.replace("*** BLURB HERE ***", "Why the toy series.")
        with open(p, "w") as f:
            f.write(text)

    def test_empty_series_verifies(self):
        checks = self._checks()
        self.assertTrue(all(checks.values()), checks)

    def test_verify_runs_extra_checks_on_the_applied_series(self):
        series.make_tree(self.tree)
        self._commit_in_tree("mm/gup: change line 3", {
            "mm/gup.c": "int changed;\n"})
        series.export(self.tree)
        calls = []

        def extra(tree, head, patches, cover, start):
            calls.append((head, [os.path.basename(p) for p in patches],
                          cover))
            return [("extra check", False, "it ran")]
        rows = series.verify(self.tree, extra=(extra,))
        self.assertIn(("extra check", False, "it ran"), rows)
        (head, names, cover), = calls
        self.assertEqual(names, ["0001-mm-gup-change-line-3.patch"])
        self.assertEqual(cover, os.path.join(self.proj, "patches",
                                             series.COVER))
        self.assertEqual(git(self.kernel, "show", f"{head}:mm/gup.c"),
                         "int changed;\n")

    def test_tree_export_verify_round_trip(self):
        series.make_tree(self.tree)
        self._commit_in_tree("mm/gup: change line 3", {
            "mm/gup.c": "int changed;\n" + "".join(
                f"int line{i};\n" for i in range(1, 40)),
            "mm/new.c": "int new;\n"})
        self._commit_in_tree("scripts: drop x.sh", {"scripts/x.sh": None})
        series.export(self.tree)
        names = read(os.path.join(self.proj, "patches/series"))
        self.assertIn("0001-mm-gup-change-line-3.patch", names)
        self.assertIn("0002-scripts-drop-x.sh.patch", names)
        with open(os.path.join(self.proj, "mm/new.c")) as f:
            self.assertEqual(f.read(), "int new;\n")
        self.assertFalse(os.path.exists(os.path.join(self.proj, "scripts")))
        checks = self._checks()
        self.assertFalse(checks["cover letter filled in and current"])
        self._fill_cover()
        checks = self._checks()
        self.assertTrue(all(checks.values()), checks)

        # a copy edited by hand no longer equals base + series
        with open(os.path.join(self.proj, "mm/gup.c"), "a") as f:
            f.write("int stray;\n")
        self.assertFalse(self._checks()[
            "post-series copies equal base + series"])
        # a stale copy of a file the series does not touch is caught
        series.export(self.tree)
        write(os.path.join(self.proj, "include/linux/mm.h"), "#define MM 1\n")
        self.assertFalse(self._checks()["no stale copies"])
        os.unlink(os.path.join(self.proj, "include/linux/mm.h"))

        # a cover letter whose shortlog no longer matches the patches
        series.export(self.tree)
        cover_path = os.path.join(self.proj, "patches", series.COVER)
        good = read(cover_path)
        write(cover_path, good.replace("(2):", "(3):"))
        self.assertFalse(self._checks()["cover letter filled in and current"])
        write(cover_path, good)

        # re-export keeps the cover letter text and drops nothing else
        self._commit_in_tree("mm: third", {"mm/new.c": "int newer;\n"})
        series.export(self.tree)
        cover = read(os.path.join(self.proj, "patches", series.COVER))
        self.assertIn("[PATCH 0/3] toy: a test series", cover)
        self.assertIn("Why the toy series.", cover)
        checks = self._checks()
        self.assertTrue(all(checks.values()), checks)

    def test_cover_to_cc_from_get_maintainer(self):
        # a get_maintainer.pl that answers like the real one
        write(os.path.join(self.kernel, "scripts/get_maintainer.pl"),
              'print "Ann Gup <ann\\@example.org> (maintainer:GUP)\\n";\n'
              'print "Rev Iewer <rev\\@example.org> (reviewer:GUP)\\n";\n'
              'print "Fs Person <fs\\@example.org> (maintainer:FS)\\n";\n'
              'print "linux-mm\\@example.org (open list:GUP)\\n";\n'
              'print "misc\\@example.org (open list:MISC)\\n";\n'
              'print "lkml\\@example.org (open list)\\n";\n')
        git(self.kernel, "add", "-f", "scripts/get_maintainer.pl")
        git(self.kernel, "commit", "-q", "-m", "get_maintainer")
        self.base_rev = git(self.kernel, "rev-parse", "HEAD").strip()
        self.tree = base.Tree(self.kernel, self.base_rev, "toy base",
                              self.kernel)
        series.make_tree(self.tree)
        self._commit_in_tree("mm/gup: a change", {"mm/gup.c": "int x;\n"})
        series.export(self.tree)
        self._fill_cover()
        cover_path = os.path.join(self.proj, "patches", series.COVER)
        cover = read(cover_path)
        self.assertEqual(series.cover_addresses(cover), (
            [("Ann Gup", "ann@example.org"), ("Fs Person", "fs@example.org"),
             ("", "linux-mm@example.org")],
            [("Rev Iewer", "rev@example.org"), ("", "misc@example.org"),
             ("", "lkml@example.org")]))
        self.assertIn("To: Ann Gup <ann@example.org>,\n    Fs Person", cover)
        checks = self._checks()
        self.assertTrue(all(checks.values()), checks)
        # someone dropped from Cc by hand is caught
        write(cover_path, cover.replace("    misc@example.org,\n", ""))
        self.assertFalse(self._checks()[
            "cover letter To/Cc = get_maintainer.pl"])
        # and make export puts them back, keeping the text
        series.export(self.tree)
        self.assertTrue(all(self._checks().values()))

    def test_set_cover_addresses(self):
        text = ("From 0 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 0/1] x\n"
                " y\nTo: old <o@x>,\n    older <p@x>\n\nbody\n")
        new = series.set_cover_addresses(text, ["a <a@x>"],
                                         ['"Liang, Kan" <k@x>', "c@x"])
        self.assertEqual(new, "From 0 Mon Sep 17 00:00:00 2001\n"
                         "Subject: [PATCH 0/1] x\n y\nTo: a <a@x>\n"
                         'Cc: "Liang, Kan" <k@x>,\n    c@x\n\nbody\n')
        self.assertEqual(series.cover_addresses(new),
                         ([("a", "a@x")], [("Liang, Kan", "k@x"),
                                           ("", "c@x")]))

    def test_export_refuses_new_files_git_ignores(self):
        series.make_tree(self.tree)
        write(os.path.join(series.tree_dir(), "mm/forgotten.c"), "int x;\n")
        with self.assertRaises(HarnessError) as cm:
            series.export(self.tree)
        self.assertIn("mm/forgotten.c", str(cm.exception))
        self.assertIn("git add -f", str(cm.exception))
        with self.assertRaises(HarnessError):
            series.make_tree(self.tree)

    def test_tree_refuses_to_drop_unexported_work(self):
        series.make_tree(self.tree)
        self._commit_in_tree("mm: unexported", {"mm/new.c": "x\n"})
        with self.assertRaises(HarnessError) as cm:
            series.make_tree(self.tree)
        self.assertIn("make export", str(cm.exception))
        series.make_tree(self.tree, force=True)

    def test_first_failing_patch_and_file_are_named(self):
        series.make_tree(self.tree)
        self._commit_in_tree("mm: one", {"mm/new.c": "a\n"})
        self._commit_in_tree("mm: two", {
            "mm/gup.c": "int changed;\n" + "".join(
                f"int line{i};\n" for i in range(1, 40))})
        series.export(self.tree)
        # the base moves on underneath: patch 2 no longer applies
        write(os.path.join(self.kernel, "mm/gup.c"), "int other;\n")
        git(self.kernel, "commit", "-q", "-am", "moved")
        moved = base.Tree(self.kernel, git(self.kernel, "rev-parse",
                                           "HEAD").strip(), "moved", self.kernel)
        with self.assertRaises(HarnessError) as cm:
            series.applied(moved)
        msg = str(cm.exception)
        self.assertIn("0002-mm-two.patch", msg)
        self.assertIn("mm/gup.c", msg)

    def test_unlisted_patch_is_an_error(self):
        write(os.path.join(self.proj, "patches", "0001-x.patch"), "From x\n")
        with self.assertRaises(HarnessError):
            series.read_series()


class UserTreeTest(unittest.TestCase):
    """KSRC=: the user's checkout, branch, index and refs stay as they are."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gupharness-test.")
        self.addCleanup(shutil.rmtree, self.tmp)
        set_env(self, CACHE=os.path.join(self.tmp, "cache"), PATCHES=None)

    def _state(self, repo):
        return {
            "head": git(repo, "rev-parse", "HEAD"),
            "branch": git(repo, "symbolic-ref", "HEAD"),
            "status": git(repo, "status", "--porcelain"),
            "index": git(repo, "diff", "--cached"),
            "worktree": git(repo, "diff"),
            "refs": git(repo, "for-each-ref"),
            "worktrees": git(repo, "worktree", "list", "--porcelain"),
            "config": read(os.path.join(repo, ".git/config")),
        }

    def test_user_tree_untouched(self):
        user = os.path.join(self.tmp, "linux")
        toy_kernel(user)
        git(user, "checkout", "-q", "-b", "my-work")
        write(os.path.join(user, "mm/gup.c"), "int staged;\n")
        git(user, "add", "-f", "mm/gup.c")
        write(os.path.join(user, "README"), "edited, not staged\n")
        write(os.path.join(user, "untracked.txt"), "mine\n")
        before = self._state(user)

        # a one-patch series against the user's HEAD
        pdir = os.path.join(self.tmp, "patches")
        os.makedirs(pdir)
        scratch = os.path.join(self.tmp, "scratch")
        subprocess.run(["git", "clone", "-q", user, scratch], check=True)
        write(os.path.join(scratch, "mm/extra.c"), "int extra;\n")
        git(scratch, "add", "-f", "mm/extra.c")
        git(scratch, "commit", "-q", "-m", "mm: extra")
        git(scratch, "format-patch", "-q", "-o", pdir, "HEAD~1")
        write(os.path.join(pdir, "series"), "0001-mm-extra.patch\n")
        set_env(self, PATCHES=pdir)

        tree = base.user_tree(user)
        head = series.applied(tree)
        wt = series.checkout_for_build(tree, "patched", head)
        self.assertTrue(os.path.isfile(os.path.join(wt, "mm/extra.c")))
        # twice: the cached clone is reused
        tree = base.user_tree(user)
        series.applied(tree)
        self.assertEqual(before, self._state(user))
        self.assertEqual(read(os.path.join(user, "untracked.txt")), "mine\n")

    def test_not_a_kernel_tree(self):
        plain = os.path.join(self.tmp, "plain")
        os.makedirs(plain)
        git(plain, "init", "-q")
        with self.assertRaises(HarnessError) as cm:
            base.user_tree(plain)
        self.assertIn("not a git work tree with a commit", str(cm.exception))
        with self.assertRaises(HarnessError):
            base.user_tree(os.path.join(self.tmp, "nowhere"))


if __name__ == "__main__":
    unittest.main()


def numbered(lines, changes):
    """mm/gup.c's 40 toy lines with some replaced: {index: text}."""
    return "".join(changes.get(i, f"int line{i};\n") for i in range(40))


class PostingsTest(unittest.TestCase):
    """patches/ as postings: each formatted on the base + its
    prerequisites alone, with b4's trailer, and the whole stack."""

    def setUp(self):
        SeriesWorkflowTest.setUp(self)
        pdir = os.path.join(self.proj, "patches")
        for name in ("01-first", "02-second", "03-third"):
            write(os.path.join(pdir, name, "series"), "# order\n")
        write(os.path.join(pdir, "series"),
              "# postings\n01-first\n02-second\n03-third: 01-first\n")
        series.make_tree(self.tree)

    def _commit(self, msg, edits):
        SeriesWorkflowTest._commit_in_tree(self, msg, edits)

    def _posting_files(self, name):
        d = os.path.join(self.proj, "patches", name)
        return sorted(f for f in os.listdir(d) if f.endswith(".patch")
                      and f != series.COVER)

    def _build(self):
        """01 changes line 3, 02 line 30 (made on the base alone), 03 line
        4, next to 01's change, so it declares 01."""
        pdir = os.path.join(self.proj, "patches")
        # export gives a new commit to the posting of the commit before
        # it: add the postings one at a time, each with a commit
        for name in ("02-second", "03-third"):
            os.rename(os.path.join(pdir, name), os.path.join(self.tmp, name))
        steps = [("01-first", "mm: one", {3: "int a;\n"}),
                 ("02-second", "mm: two", {30: "int b;\n"}),
                 ("03-third: 01-first", "mm: three", {4: "int c;\n"})]
        lines, lines_done = {}, []
        for entry, msg, change in steps:
            name = entry.split(":")[0]
            if name != "01-first":
                os.rename(os.path.join(self.tmp, name),
                          os.path.join(pdir, name))
                stub = msg.replace(": ", "-").replace(" ", "-")
                write(os.path.join(pdir, name, f"0001-{stub}.patch"),
                      f"Subject: [PATCH 1/1] {msg}\n\n")
                write(os.path.join(pdir, name, "series"),
                      f"0001-{stub}.patch\n")
            lines_done.append(entry)
            write(os.path.join(pdir, "series"),
                  "# postings\n" + "\n".join(lines_done) + "\n")
            lines.update(change)
            self._commit(msg, {"mm/gup.c": numbered(40, lines)})
            series.export(self.tree)
        for name in ("01-first", "02-second", "03-third"):
            p = os.path.join(pdir, name, series.COVER)
            text = read(p).replace("*** SUBJECT HERE ***", f"toy {name}")
            write(p, text.replace("*** BLURB HERE ***", "Why."))

    def _rows(self):
        return {name: ok for name, ok, _ in series.verify(self.tree)}

    def test_each_posting_on_its_prerequisites_alone(self):
        self._build()
        rows = self._rows()
        self.assertTrue(all(rows.values()), rows)
        pdir = os.path.join(self.proj, "patches")
        # 02 was formatted on the base: its context is the base's line 3
        two = read(os.path.join(pdir, "02-second",
                                "0001-mm-two.patch"))
        self.assertIn("@@ -28,7 +28,7 @@", two)
        self.assertNotIn("int a;", two)
        # 03 names 01 in b4's form: change-id and patch-ids of 01's files
        cover = read(os.path.join(pdir, "03-third", series.COVER))
        one = os.path.join(pdir, "01-first",
                           self._posting_files("01-first")[0])
        cid = re.search(r"^change-id: (\S+)$",
                        read(os.path.join(pdir, "01-first", series.COVER)),
                        re.M).group(1)
        self.assertIn(f"prerequisite-change-id: {cid}:v1\n"
                      f"prerequisite-patch-id: {postings.patch_id(one)}\n",
                      cover)
        self.assertNotIn("02-second", cover)
        self.assertNotIn(postings.change_id("02-second"), cover)
        # the whole stack: all three changes, in the copies too
        gup = read(os.path.join(self.proj, "mm/gup.c"))
        for line in ("int a;", "int b;", "int c;"):
            self.assertIn(line, gup)
        # a prerequisite line edited by hand is caught
        p = os.path.join(pdir, "03-third", series.COVER)
        write(p, cover.replace("prerequisite-patch-id: ",
                               "prerequisite-patch-id: 0", 1))
        self.assertFalse(self._rows()[
            "03-third: cover letter filled in and current"])

    def test_undeclared_prerequisite_is_named(self):
        self._build()
        pdir = os.path.join(self.proj, "patches")
        write(os.path.join(pdir, "series"),
              "# postings\n01-first\n02-second\n03-third\n")
        with self.assertRaisesRegex(HarnessError,
                                    "posting 03-third: 'mm: three' does not "
                                    "apply on the base \\+ its prerequisites "
                                    "\\(none\\)"):
            series.export(self.tree)
        # verify: 03's files (made on 01) do not apply on the base alone
        rows = self._rows()
        self.assertFalse(rows["every posting applies with git am on the "
                              "base + its prerequisites, and they stack"])

    def test_more_than_fifteen_patches_fail(self):
        self._build()
        for i in range(15):
            self._commit(f"mm: more {i}", {"mm/new.c": f"int n{i};\n"})
        series.export(self.tree)
        rows = self._rows()
        self.assertFalse(rows["03-third: at most 15 patches"])
        self.assertTrue(rows["02-second: at most 15 patches"])

    def test_series_file_errors(self):
        pdir = os.path.join(self.proj, "patches")
        write(os.path.join(pdir, "series"), "01-first: 02-second\n")
        with self.assertRaisesRegex(HarnessError, "not a posting listed "
                                    "before it"):
            series.read_postings()
        write(os.path.join(pdir, "series"), "01-first\n02-second\n")
        with self.assertRaisesRegex(HarnessError, "not listed in its "
                                    "series: 03-third"):
            series.read_postings()
        write(os.path.join(pdir, "series"), "first\n")
        with self.assertRaisesRegex(HarnessError, "not a posting name"):
            series.read_postings()

    def test_closure_in_stack_order(self):
        P = postings.Posting
        ps = [P("01-a", None, [], []), P("02-b", None, [], []),
              P("03-c", None, [], ["02-b"]),
              P("04-d", None, [], ["03-c", "01-a"])]
        self.assertEqual([q.name for q in postings.closure(ps[3], ps)],
                         ["01-a", "02-b", "03-c"])
        self.assertEqual(postings.closure(ps[1], ps), [])

    def test_postings_that_collide_do_not_stack(self):
        self._build()
        # 02 now rewrites the line 01 changes: it does not apply on the
        # base alone, and export says which posting and commit
        git(series.tree_dir(), "reset", "-q", "--hard", "base")
        self._commit("mm: one", {"mm/gup.c": numbered(40, {3: "int a;\n"})})
        self._commit("mm: two", {"mm/gup.c": numbered(40, {3: "int z;\n"})})
        self._commit("mm: three", {"mm/gup.c": numbered(
            40, {3: "int z;\n", 30: "int c;\n"})})
        with self.assertRaisesRegex(HarnessError, "posting 02-second: "
                                    "'mm: two' does not apply"):
            series.export(self.tree)


class PostingSuitesTest(unittest.TestCase):
    """harness/posting-suites: every line names a posting and suites that
    exist; the real file is checked against patches/ and harness/suites."""

    def _rows(self, text, names=("05-a", "06-b"), suites=("s1", "s2")):
        from gupharness import main
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        old = main.POSTING_SUITES
        main.POSTING_SUITES = f.name
        self.addCleanup(setattr, main, "POSTING_SUITES", old)
        return main.read_posting_suites(list(names),
                                        {s: s for s in suites})

    def test_rows(self):
        self.assertEqual(self._rows("# c\n05-a  s1,s2\n06-b s2 # x\n"),
                         [("05-a", ["s1", "s2"]), ("06-b", ["s2"])])

    def test_errors(self):
        with self.assertRaisesRegex(HarnessError, "07-c is not a posting"):
            self._rows("07-c s1\n")
        with self.assertRaisesRegex(HarnessError, "unknown or no suites: "
                                    "s3"):
            self._rows("05-a s1,s3\n")
        with self.assertRaisesRegex(HarnessError, "unknown or no suites"):
            self._rows("05-a\n")

    def test_the_real_file(self):
        from gupharness import guest, main
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        set_env(self, GUP_PROJECT_ROOT=root, PATCHES=None)
        names = [p.name for p in series.read_postings()]
        rows = main.read_posting_suites(
            names, {s.name: s for s in guest.read_suites()})
        self.assertTrue(rows)
