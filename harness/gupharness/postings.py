"""The series as postings: patches/ holds one directory per posting (each
`git format-patch --cover-letter` output with its own `series` order), and
patches/series names the postings in the order they stack, each with the
postings it needs (its prerequisites). A posting is formatted against
base + its prerequisites alone, so it applies there with plain `git am`;
the whole stack (every posting in order) is built by applying each posting
where it was formatted and cherry-picking its commits onto the stack, the
way a maintainer's merge of two trees takes two postings that touch the
same file in different places.

patches/series:
    # comment
    01-gup-pin-einval
    05-gup-args: 01-gup-pin-einval

A directory whose series lists patch files (a failure demo, a user's
PATCHES=) is one posting on top of whatever it includes with `< DIR`."""

import hashlib
import os
import re
import tempfile

from .util import HarnessError, out, run

COVER = "0000-cover-letter.patch"
MAX_PATCHES = 15
NAME = re.compile(r"^[0-9]{2}-[a-z0-9][a-z0-9-]*$")


class Posting:
    def __init__(self, name, path, patches, prereqs):
        self.name = name          # directory name, e.g. 05-gup-args
        self.path = path          # its directory
        self.patches = patches    # its patch files, in order
        self.prereqs = prereqs    # names of the postings it applies on

    def cover(self):
        p = os.path.join(self.path, COVER)
        return p if os.path.isfile(p) else None

    def __repr__(self):
        return f"Posting({self.name}, {len(self.patches)} patches)"


def is_postings_dir(pdir):
    """patches/series names postings (directories), not patch files."""
    series = os.path.join(pdir, "series")
    if not os.path.isfile(series):
        return False
    with open(series) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            return not line.endswith(".patch") and not line.startswith("<")
    return False


def parse_postings(pdir, read_flat):
    """[Posting] from a postings directory's series file. read_flat(dir)
    reads one posting's own (flat) series."""
    series = os.path.join(pdir, "series")
    postings = []
    seen = set()
    with open(series) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, rest = line.partition(":")
            name = name.strip()
            prereqs = rest.split()
            where = f"{series}:{n}"
            if not NAME.match(name):
                raise HarnessError(f"{where}: {name!r} is not a posting name "
                                   "(NN-words-with-dashes)")
            if name in seen:
                raise HarnessError(f"{where}: {name} listed twice")
            for q in prereqs:
                if q not in seen:
                    raise HarnessError(
                        f"{where}: prerequisite {q} of {name} is not a "
                        "posting listed before it")
            path = os.path.join(pdir, name)
            if not os.path.isdir(path):
                raise HarnessError(f"{where}: {path} is not a directory")
            postings.append(Posting(name, path, read_flat(path), prereqs))
            seen.add(name)
    listed = {p.name for p in postings}
    strays = sorted(d for d in os.listdir(pdir)
                    if os.path.isdir(os.path.join(pdir, d))
                    and d not in listed)
    if strays:
        raise HarnessError(f"directories in {pdir} not listed in its "
                           "series: " + ", ".join(strays))
    return postings


def closure(posting, postings):
    """The postings `posting` applies on (its prerequisites, theirs, ...),
    in stack order."""
    by_name = {p.name: p for p in postings}
    need = set()
    todo = list(posting.prereqs)
    while todo:
        q = todo.pop()
        if q not in need:
            need.add(q)
            todo += by_name[q].prereqs
    return [p for p in postings if p.name in need]


# ------------------------------------------------------------ cherry-picks

class Picker:
    """Cherry-picks without a worktree: each commit's change applied onto
    a commit with `git apply --cached --3way` in a private index (kept from
    one pick to the next, so a chain of picks reads the tree once)."""

    def __init__(self, repo, env):
        self.repo, self.env = repo, env
        self.tmp = tempfile.TemporaryDirectory(prefix="gup-pick.")
        self.ienv = dict(env, GIT_INDEX_FILE=os.path.join(self.tmp.name,
                                                          "index"))
        self.loaded = None      # the commit the index holds

    def close(self):
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pick(self, onto, commit):
        """commit's change on top of onto; returns the new commit, or
        raises PickConflict naming the files that conflict."""
        repo = self.repo
        diff = out_raw(["git", "-C", repo, "diff-tree", "-p", "--full-index",
                        "--binary", "-M", f"{commit}^", commit])
        if self.loaded != onto:
            run(["git", "-C", repo, "read-tree", onto], env_extra=self.ienv,
                capture=True)
            self.loaded = onto
        proc = run(["git", "-C", repo, "apply", "--cached", "--3way", "-"],
                   env_extra=self.ienv, capture=True, check=False,
                   input_text=diff)
        if proc.returncode != 0:
            self.loaded = None
            text = (proc.stdout or "").strip()
            files = sorted(set(re.findall(r"^U (\S+)$", text, re.M)
                               + re.findall(r"patch failed: (\S+?):\d+",
                                            text)))
            raise PickConflict(commit, files, text)
        tree = run(["git", "-C", repo, "write-tree"], env_extra=self.ienv,
                   capture=True).stdout.strip()
        msg = out_raw(["git", "-C", repo, "log", "-1", "--format=%B",
                       commit])
        author = out(["git", "-C", repo, "log", "-1",
                      "--format=%an%x00%ae%x00%ad", "--date=raw", commit])
        name, email, date = author.split("\0")
        e = dict(self.env, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
                 GIT_AUTHOR_DATE=date)
        new = run(["git", "-C", repo, "commit-tree", tree, "-p", onto],
                  env_extra=e, capture=True,
                  input_text=msg).stdout.strip()
        self.loaded = new
        return new


class PickConflict(HarnessError):
    def __init__(self, commit, files, detail):
        self.commit, self.files = commit, files
        super().__init__(f"{commit[:12]} conflicts in "
                         f"{', '.join(files) or '(see git apply)'}:\n"
                         + "\n".join("    " + line for line in
                                     detail.splitlines()[-8:]))


def out_raw(cmd):
    """stdout exactly (a commit message keeps its trailing newline)."""
    return run(cmd, capture=True).stdout


def commits(repo, start, tip):
    text = out(["git", "-C", repo, "rev-list", "--reverse",
                f"{start}..{tip}"])
    return text.split()


def subject_of(repo, commit):
    return out(["git", "-C", repo, "log", "-1", "--format=%s", commit])


def apply_postings(repo, worktree, base_rev, postings, am, env):
    """Every posting applied where it was formatted, and the stack.
    am(worktree, start, patches, where) -> tip applies one posting's files
    with plain git am. Returns (stack head, {name: (start, tip)})."""
    with Picker(repo, env) as picker:
        return _apply_postings(picker, repo, worktree, base_rev, postings,
                               am)


def pick_all(picker, onto, revs, why):
    """revs picked one after the other onto `onto`; on a conflict,
    HarnessError(why(commit) + the conflict)."""
    for c in revs:
        try:
            onto = picker.pick(onto, c)
        except PickConflict as e:
            raise HarnessError(f"{why(c)}\n{e}")
    return onto


def _apply_postings(picker, repo, worktree, base_rev, postings, am):
    stack = base_rev
    done = []
    tips = {}
    for p in postings:
        deps = closure(p, postings)
        where = "the base" + "".join(f" + {q.name}" for q in deps)
        if [q.name for q in deps] == done:
            start = stack
        else:
            start = base_rev
            for q in deps:
                start = pick_all(
                    picker, start, commits(repo, *tips[q.name]),
                    lambda c, q=q: (
                        f"posting {p.name}: its prerequisite {q.name} does "
                        "not apply on the base + the prerequisites before "
                        f"it ({subject_of(repo, c)!r}); declare the "
                        "posting it needs in patches/series"))
        tip = am(worktree, start, p.patches, f"{where} (posting {p.name})")
        tips[p.name] = (start, tip)
        if start == stack:
            stack = tip
        else:
            stack = pick_all(
                picker, stack, commits(repo, start, tip),
                lambda c: (f"posting {p.name} does not stack on the "
                           f"postings before it: {subject_of(repo, c)!r} "
                           "conflicts with a posting it does not declare "
                           "as a prerequisite"))
        done.append(p.name)
    return stack, tips


# ------------------------------------------------------- the cover trailer

def change_id(name):
    """b4's change-id for a posting: a date, the posting's words, a hash."""
    words = name.split("-", 1)[1]
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    return f"20261207-{words}-{digest}"


def patch_id_of(text):
    """git patch-id --stable of a patch or diff (what b4 looks up)."""
    proc = run(["git", "patch-id", "--stable"], capture=True,
               input_text=text)
    return proc.stdout.split()[0] if proc.stdout.strip() else ""


def patch_id(path):
    """patch_id_of() one patch file."""
    with open(path) as f:
        return patch_id_of(f.read())


def cover_change_id(text):
    m = re.search(r"^change-id: (\S+)$", text or "", re.M)
    return m.group(1) if m else None


def trailer(base_rev, cid, deps):
    """The lines that end a posting's cover letter, in b4's form:
    base-commit, change-id, then for every posting it applies on (deps:
    [(change-id, patch files)], in stack order) its prerequisite-change-id
    and the patch-ids of its patches."""
    lines = [f"base-commit: {base_rev}", f"change-id: {cid}"]
    for dcid, files in deps:
        lines.append(f"prerequisite-change-id: {dcid}:v1")
        lines += [f"prerequisite-patch-id: {patch_id(f)}" for f in files]
    return "\n".join(lines) + "\n"


def set_trailer(text, lines):
    """The cover letter text with git's base-commit block replaced."""
    m = re.search(r"^base-commit: \S+\n(?:(?:prerequisite-patch-id|"
                  r"change-id|prerequisite-change-id): \S+\n)*", text, re.M)
    if not m:
        return text.rstrip("\n") + "\n\n" + lines
    return text[:m.start()] + lines + text[m.end():]
