"""The series: patches/ (source of truth), applying it with git am, the
developer work tree (make tree), export (make export) and verify (make
verify)."""

import email.utils
import filecmp
import os
import re
import shutil
import stat
import subprocess
import tempfile

from . import postings
from .util import (HarnessError, TestFailure, caller_path, out, repo_root,
                   run, say, stage)

COVER = postings.COVER
# Top-level names of this repository that are its own, not kernel paths.
PROJECT_OWN = {"Makefile", "README", ".gitignore", ".ci", "harness",
               "patches", ".git", "tree"}


def project_root():
    """Where the series lives: this repository, with patches/, the
    post-series copies and tree/ (tests point GUP_PROJECT_ROOT at a scratch
    copy)."""
    if os.environ.get("GUP_PROJECT_ROOT"):
        return os.environ["GUP_PROJECT_ROOT"]
    return repo_root()


def patches_dir():
    override = os.environ.get("PATCHES")
    if override:
        path = caller_path(override)
        if not os.path.isdir(path):
            raise HarnessError(f"PATCHES={override}: no such directory")
        return path
    return os.path.join(project_root(), "patches")


def read_postings(pdir=None):
    """The series as postings, in stack order (postings.py). patches/ is a
    postings directory; a flat directory (a failure demo, a user's
    PATCHES=) is one posting on top of the postings it includes."""
    pdir = pdir or patches_dir()
    if postings.is_postings_dir(pdir):
        return postings.parse_postings(pdir, _own_patches)
    included, own = _read_flat(pdir)
    if own:
        included.append(postings.Posting(
            os.path.basename(os.path.normpath(pdir)), pdir, own,
            [q.name for q in included]))
    return included


def read_series(pdir=None):
    """The ordered list of every patch, posting after posting."""
    return [f for p in read_postings(pdir) for f in p.patches]


def _own_patches(pdir):
    included, own = _read_flat(pdir)
    if included:
        raise HarnessError(f"{pdir}/series: a posting cannot include "
                           "another (`<`); name its prerequisites in "
                           "patches/series")
    return own


def _read_flat(pdir):
    """(included postings, this directory's patch paths) after checking
    the directory is whole."""
    series = os.path.join(pdir, "series")
    if not os.path.isfile(series):
        raise HarnessError(f"{series} is missing")
    names = []
    included = []
    with open(series) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("<"):
                # `< DIR`: the series of another patches directory first
                # (relative to this one), e.g. a failure demo on top of
                # the whole series
                if names:
                    raise HarnessError(f"{series}:{n}: `<` must come "
                                       "before the patches")
                other = os.path.normpath(os.path.join(pdir,
                                                      line[1:].strip()))
                if not os.path.isdir(other):
                    raise HarnessError(f"{series}:{n}: {other} is not a "
                                       "directory")
                included += read_postings(other)
                continue
            if "/" in line or not line.endswith(".patch"):
                raise HarnessError(f"{series}:{n}: {line!r} is not a patch "
                                   "file name in patches/")
            if line == COVER:
                raise HarnessError(f"{series}:{n}: the cover letter is not "
                                   "part of the series order")
            if not os.path.isfile(os.path.join(pdir, line)):
                raise HarnessError(f"{series}:{n}: {line} does not exist")
            if line in names:
                raise HarnessError(f"{series}:{n}: {line} listed twice")
            names.append(line)
    present = {f for f in os.listdir(pdir) if f.endswith(".patch")}
    unlisted = sorted(present - set(names) - {COVER})
    if unlisted:
        raise HarnessError(f"patches not listed in {series}: "
                           + ", ".join(unlisted))
    return included, [os.path.join(pdir, n) for n in names]


def git_identity():
    """Committer identity for git am: the machine's, or a neutral one."""
    ident = {}
    for key, var in (("user.name", "GIT_COMMITTER_NAME"),
                     ("user.email", "GIT_COMMITTER_EMAIL")):
        try:
            val = out(["git", "config", key])
        except HarnessError:
            val = ""
        ident[var] = val or ("gup-harness" if key == "user.name"
                             else "gup-harness@localhost")
    return ident


def pristine_git():
    """Environment for git am / format-patch that ignores the machine's git
    configuration (format.signOff, diff.noprefix, am.messageid...), so that
    export and verify write and expect the same bytes everywhere."""
    env = git_identity()
    env.update(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    return env


def ensure_worktree(repo, path, rev):
    """A detached worktree of repo at path (created once, reused)."""
    if os.path.exists(os.path.join(path, ".git")) and run(
            ["git", "-C", path, "rev-parse", "--git-dir"], check=False,
            capture=True).returncode == 0:
        return path
    if os.path.exists(path):
        shutil.rmtree(path)
    run(["git", "-C", repo, "worktree", "prune"])
    say(f"    checking out a worktree at {path} (once; ~30 s)")
    run(["git", "-C", repo, "worktree", "add", "-q", "--detach", path, rev])
    return path


def _am_failure(output, patches, where):
    """Name the first failing patch and file from git am's output."""
    m = re.search(r"Patch failed at (\d+) (.*)", output)
    idx = int(m.group(1)) - 1 if m else None
    name = os.path.basename(patches[idx]) if idx is not None and \
        idx < len(patches) else (m.group(2) if m else "?")
    files = re.findall(r"error: patch failed: (\S+?):\d+", output) + \
        re.findall(r"error: (\S+): (?:does not exist in index|"
                   r"already exists in index|No such file)", output)
    detail = files[0] if files else "(see git am output below)"
    # git am's advice on --continue/--skip/--abort does not apply: the
    # harness has already aborted
    keep = [line for line in output.strip().splitlines()
            if not line.startswith(("hint:", "When you have", "If you prefer",
                                    "To restore"))]
    tail = "\n".join("    " + line for line in keep[-12:])
    return (f"the series does not apply to {where}: first failing patch "
            f"{name}, file {detail}\n{tail}")


def apply_series(worktree, base_rev, patches, where, scratch=True):
    """Reset worktree to base_rev and git am the series. Returns HEAD.
    A scratch worktree is cleaned of ignored files too (Debian's top-level
    .gitignore ignores everything, so a file a previous series created
    would otherwise survive and make `git am` fail)."""
    run(["git", "-C", worktree, "am", "--abort"], check=False, capture=True)
    run(["git", "-C", worktree, "checkout", "-q", "-f", "--detach", base_rev])
    run(["git", "-C", worktree, "clean", "-q", "-f", "-d"]
        + (["-x"] if scratch else []))
    if patches:
        proc = run(["git", "-C", worktree, "-c", "commit.gpgsign=false",
                    "am", "-q", "--no-3way", "--keep-cr", *patches],
                   check=False, capture=True, env_extra=pristine_git())
        if proc.returncode != 0:
            run(["git", "-C", worktree, "am", "--abort"], check=False,
                capture=True)
            raise HarnessError(_am_failure(proc.stdout, patches, where))
    return out(["git", "-C", worktree, "rev-parse", "HEAD"])


_APPLIED = {}


def stack(repo, worktree, base_rev, posts, where, scratch=True):
    """Every posting applied with git am on the base + its prerequisites,
    and the whole stack. Returns (stack head, {name: (start, tip)})."""
    def am(wt, start, patches, label):
        return apply_series(wt, start, patches, f"{where}: {label}",
                            scratch=scratch)
    return postings.apply_postings(repo, worktree, base_rev, posts, am,
                                   pristine_git())


def applied(tree, with_tips=False):
    """base + series, as a commit in tree.repo (built in a scratch worktree
    so that the build worktree only sees files that really changed).
    Done once per harness run. with_tips: (head, {posting: (start, tip)})."""
    posts = read_postings()
    key = (tree.repo, tree.base_rev, tuple(
        (p.name, tuple(p.prereqs), tuple(
            (f, os.path.getmtime(f), os.path.getsize(f)) for f in p.patches))
        for p in posts))
    if key not in _APPLIED:
        _APPLIED[key] = _apply_to_scratch(tree, posts)
    return _APPLIED[key] if with_tips else _APPLIED[key][0]


def _apply_to_scratch(tree, posts):
    n = sum(len(p.patches) for p in posts)
    stage(f"series: git am {n} patch(es) in {len(posts)} posting(s) onto "
          f"{tree.label}")
    wt = ensure_worktree(tree.repo, os.path.join(tree.state_dir(), "applied"),
                         tree.base_rev)
    head, tips = stack(wt, wt, tree.base_rev, posts, tree.label)
    say(f"    patched = {head[:12]} ({n} commit(s) on "
        f"{tree.base_rev[:12]})")
    return head, tips


def checkout_for_build(tree, name, rev):
    """A worktree used for building `rev`; only changed files are touched,
    so incremental builds stay incremental."""
    if name == "base" and rev == tree.base_rev:
        return tree.checkout
    wt = ensure_worktree(tree.repo, os.path.join(tree.state_dir(), name), rev)
    run(["git", "-C", wt, "checkout", "-q", "-f", "--detach", rev])
    return wt


# ---------------------------------------------------------------- make tree

def tree_dir():
    return os.path.join(project_root(), "tree")


def make_tree(tree, force=False):
    """tree/ = base + git am of the series on branch 'series'."""
    path = tree_dir()
    posts = read_postings()
    n = sum(len(p.patches) for p in posts)
    if os.path.isdir(os.path.join(path, ".git")):
        pending = _unexported(path, tree)
        if pending and not force:
            raise HarnessError(
                f"tree/ has work that is not in patches/ ({pending}); run "
                "`make export` first, or `make tree FORCE=1` to discard it")
        stage("tree: resetting tree/ to base + series")
    else:
        stage(f"tree: cloning the base into tree/ ({tree.label})")
        run(["git", "clone", "-q", "--shared", "--no-checkout", tree.repo,
             path])
    run(["git", "-C", path, "tag", "-f", "base", tree.base_rev], capture=True)
    run(["git", "-C", path, "checkout", "-q", "-f", "-B", "series",
         tree.base_rev])
    head, _ = stack(path, path, tree.base_rev, posts, tree.label,
                    scratch=False)
    run(["git", "-C", path, "checkout", "-q", "-f", "-B", "series", head])
    say(f"    tree/ is on branch 'series': base + {n} commit(s) in "
        f"{len(posts)} posting(s). Edit, commit (git commit -s), then "
        "`make export`.")


def untracked_files(path):
    """Files in tree/ that git does not track, ignored ones included:
    Debian's top-level .gitignore ignores every new file (`git add -f`)."""
    text = out(["git", "-C", path, "status", "--porcelain", "--ignored",
                "--untracked-files=all"])
    # .build-*/ are kernel build dirs (`make -C tree O=.build-dev`): output,
    # not source, like the harness's own build dirs in its worktrees.
    return [line[3:] for line in text.splitlines()
            if line.startswith(("?? ", "!! "))
            and not line[3:].startswith(".build-")]


def _unexported(path, tree):
    status = out(["git", "-C", path, "status", "--porcelain",
                  "--untracked-files=no"])
    if status:
        return "uncommitted changes"
    new = untracked_files(path)
    if new:
        return f"files git does not track: {', '.join(new[:5])}"
    ours = _stack_commits(path, tree.base_rev, "HEAD")
    theirs = _stack_commits(tree.repo, tree.base_rev, applied(tree))
    if len(ours) != len(theirs):
        return f"{len(ours)} commit(s) vs {len(theirs)} patch(es)"
    for (subject, a), (_, b) in zip(ours, theirs):
        if a != b:
            return f"{subject!r} differs"
    return None


def _stack_commits(repo, base_rev, head):
    """[(subject, message + patch-id)] of base..head, to compare two
    stacks commit by commit."""
    found = []
    for c in postings.commits(repo, base_rev, head):
        msg = postings.out_raw(["git", "-C", repo, "log", "-1",
                                "--format=%an <%ae>%n%B", c])
        diff = postings.out_raw(["git", "-C", repo, "diff-tree", "-p",
                                 "--binary", f"{c}^", c])
        found.append((msg.splitlines()[1], msg + postings.patch_id_of(diff)))
    return found


# -------------------------------------------------------------- make export

def _format_patch(src, base_rev, outdir, start=None, tip="HEAD"):
    """git format-patch of start..tip (start: the base by default) with a
    cover letter and the base-commit line."""
    start = start or base_rev
    count = int(out(["git", "-C", src, "rev-list", "--count",
                     f"{start}..{tip}"]))
    if count == 0:
        return 0
    run(["git", "-C", src, "format-patch", "-q", "--cover-letter",
         "--zero-commit", "--no-signature", "--abbrev=12",
         f"--base={base_rev}", "-o", outdir, f"{start}..{tip}"],
        env_extra=pristine_git())
    return count


def _cover_text(path):
    """Subject and blurb of an existing cover letter, if any."""
    if not os.path.isfile(path):
        return None, None
    with open(path) as f:
        text = f.read()
    m = re.search(r"^Subject: \[PATCH[^\]]*\] (.*(?:\n [^\n]*)*)", text, re.M)
    subject = m.group(1).replace("\n ", " ") if m else None
    head, _, body = text.partition("\n\n")
    # the blurb ends where git's shortlog starts: "Name (N):"
    m = re.search(r"^\S.* \(\d+\):$", body, re.M)
    blurb = body[:m.start()].rstrip() + "\n" if m else None
    return subject, blurb


def maintainers(src, patch_files, rev=None):
    """(to, cc) for a posting, from scripts/get_maintainer.pl of the tree at
    src, reading the MAINTAINERS file of `rev` (the posting's last commit:
    the file as base + prerequisites + the posting leave it; default: src's
    own). To: every maintainer it names and the lists of their sections;
    Cc: reviewers, other lists, in the script's order."""
    script = os.path.join(src, "scripts", "get_maintainer.pl")
    if not os.path.isfile(script) or not patch_files:
        return [], []
    with tempfile.TemporaryDirectory() as tmp:
        mpath = []
        blob = run(["git", "-C", src, "rev-parse", "-q", "--verify",
                    f"{rev}:MAINTAINERS"], check=False, capture=True) \
            if rev else None
        if blob and blob.returncode == 0:
            mfile = os.path.join(tmp, "MAINTAINERS")
            with open(mfile, "wb") as f:
                f.write(_cat_blob(src, blob.stdout.strip()))
            mpath = ["--mpath", mfile]
        proc = run(["perl", script, "--no-git", "--no-git-fallback",
                    "--no-tree", *mpath, *patch_files], cwd=src,
                   capture=True, check=False)
    if proc.returncode != 0:
        raise HarnessError("get_maintainer.pl failed:\n"
                           + (proc.stdout or "")[-500:])
    rows = []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(.*?) \((.*)\)$", line.strip())
        who, role = (m.group(1), m.group(2)) if m else (line.strip(), "")
        if who and "@" in who:
            rows.append((who, role))
    sections = {r.split(":", 1)[1] for _, role in rows
                for r in re.split(r",(?=[a-z ]+:)", role)
                if r.startswith(("maintainer:", "supporter:"))}
    to, cc = [], []
    for who, role in rows:
        roles = re.split(r",(?=[a-z ]+:)", role)
        main = any(r.startswith(("maintainer:", "supporter:")) or
                   (r.startswith(("open list:", "moderated list:")) and
                    r.split(":", 1)[1] in sections) for r in roles)
        (to if main else cc).append(who)
    return to, cc


def _address_header(name, addrs):
    return f"{name}: " + ",\n    ".join(addrs) + "\n" if addrs else ""


def cover_addresses(text):
    """The To: and Cc: headers of a cover letter, as lists of (name,
    address) pairs (a quoted name may hold a comma)."""
    head = text.partition("\n\n")[0]
    found = {"To": [], "Cc": []}
    for m in re.finditer(r"^(To|Cc): (.*(?:\n[ \t][^\n]*)*)", head, re.M):
        found[m.group(1)] = email.utils.getaddresses(
            [m.group(2).replace("\n", " ")])
    return found["To"], found["Cc"]


def parsed(addrs):
    """get_maintainer.pl's lines as (name, address) pairs."""
    return email.utils.getaddresses(addrs)


def set_cover_addresses(text, to, cc):
    """text with its To:/Cc: headers replaced by these."""
    head, sep, body = text.partition("\n\n")
    head = re.sub(r"^(To|Cc): .*(?:\n[ \t][^\n]*)*\n?", "", head + "\n",
                  flags=re.M).rstrip("\n")
    head += "\n" + _address_header("To", to) + _address_header("Cc", cc)
    return head.rstrip("\n") + sep + body


def export(tree):
    src = tree_dir()
    if not os.path.isdir(os.path.join(src, ".git")):
        raise HarnessError("no tree/: run `make tree` first")
    status = out(["git", "-C", src, "status", "--porcelain",
                  "--untracked-files=no"])
    if status:
        raise HarnessError("tree/ has uncommitted changes; commit them first:"
                           f"\n{status}")
    new = untracked_files(src)
    if new:
        raise HarnessError(
            "tree/ has files git does not track (Debian's top-level "
            ".gitignore ignores every new file: `git add -f` them, or delete "
            "them):\n    " + "\n    ".join(new[:20]))
    try:
        run(["git", "-C", src, "merge-base", "--is-ancestor", tree.base_rev,
             "HEAD"], capture=True)
    except HarnessError:
        raise HarnessError("tree/ HEAD is not based on the base commit "
                           f"{tree.base_rev[:12]}")
    pdir = patches_dir()
    os.makedirs(pdir, exist_ok=True)
    by_postings = postings.is_postings_dir(pdir)
    if not os.path.isfile(os.path.join(pdir, "series")):
        with open(os.path.join(pdir, "series"), "w") as f:
            f.write("# order\n")
    posts = read_postings(pdir) if by_postings else [
        postings.Posting("series", pdir, _read_flat(pdir)[1], [])]
    revs = postings.commits(src, tree.base_rev, "HEAD")
    own = _split(src, revs, posts)
    stage(f"export: git format-patch tree/ into {len(posts)} posting(s) in "
          "patches/")
    tips = {}
    written = {}
    with tempfile.TemporaryDirectory() as tmp, \
            postings.Picker(src, pristine_git()) as picker:
        for p in posts:
            deps = postings.closure(p, posts)
            start = tree.base_rev
            for q in deps:
                start = postings.pick_all(
                    picker, start, postings.commits(src, *tips[q.name]),
                    lambda c: f"{postings.subject_of(src, c)!r} no longer "
                    "applies")
            tip = postings.pick_all(
                picker, start, own[p.name],
                lambda c: (f"posting {p.name}: "
                           f"{postings.subject_of(src, c)!r} does not apply "
                           "on the base + its prerequisites ("
                           + (", ".join(q.name for q in deps) or "none")
                           + "): name the posting it needs in "
                           "patches/series"))
            tips[p.name] = (start, tip)
            outdir = os.path.join(tmp, p.name)
            os.makedirs(outdir)
            written[p.name] = _write_posting(
                src, tree.base_rev, p, start, tip, outdir,
                [(q, written[q.name]) for q in deps] if by_postings
                else None)
        for p in posts:
            for old in os.listdir(p.path):
                if old.endswith(".patch"):
                    os.unlink(os.path.join(p.path, old))
            outdir = os.path.join(tmp, p.name)
            for name in os.listdir(outdir):
                shutil.copyfile(os.path.join(outdir, name),
                                os.path.join(p.path, name))
            with open(os.path.join(p.path, "series"), "w") as f:
                f.write("# Order in which `git am` applies "
                        + ("this posting" if by_postings else "the series")
                        + " (written by `make export`).\n")
                for name in written[p.name]:
                    f.write(os.path.basename(name) + "\n")
    count = sum(len(v) for v in written.values())
    say(f"    {count} patch(es) written to patches/"
        + (f" in {len(posts)} posting(s)" if by_postings else ""))
    touched = touched_files(src, tree.base_rev, "HEAD")
    _refresh_copies(src, touched)


def _patch_subject(path):
    with open(path) as f:
        head = f.read().partition("\n\n")[0]
    m = re.search(r"^Subject: (?:\[[^\]]*\] )?(.*(?:\n [^\n]*)*)", head,
                  re.M)
    return re.sub(r"\n ", " ", m.group(1)) if m else None


def _split(src, revs, posts):
    """{posting: [commit]}: each commit of tree/ goes to the posting whose
    patch has its subject; a new commit to the posting of the commit
    before it (the first posting for the first)."""
    owner = {}
    for p in posts:
        for f in p.patches:
            owner[_patch_subject(f)] = p.name
    order = [p.name for p in posts]
    current = order[0] if order else None
    own = {n: [] for n in order}
    last = 0
    for r in revs:
        current = owner.get(postings.subject_of(src, r), current)
        if current is None:
            raise HarnessError("patches/series names no posting")
        i = order.index(current)
        if i < last:
            raise HarnessError(
                f"tree/: {postings.subject_of(src, r)!r} (posting "
                f"{current}) comes after commits of posting {order[last]}: "
                "keep each posting's commits together, in the order of "
                "patches/series (git rebase -i)")
        last = i
        own[current].append(r)
    empty = [n for n in order if not own[n]]
    if empty and len(order) > 1:
        raise HarnessError("posting(s) with no commit in tree/: "
                           + ", ".join(empty) + " (remove them from "
                           "patches/series)")
    return own


def _write_posting(src, base_rev, p, start, tip, outdir, deps):
    """format-patch one posting into outdir, its cover letter's subject,
    blurb, To/Cc and (deps given: postings mode) b4 trailer filled in.
    Returns its patch files."""
    count = _format_patch(src, base_rev, outdir, start, tip)
    names = sorted(os.path.join(outdir, f) for f in os.listdir(outdir)
                   if f != COVER)
    if not count:
        return names
    subject, blurb = _cover_text(os.path.join(p.path, COVER))
    old_cover = open(os.path.join(p.path, COVER)).read() \
        if os.path.isfile(os.path.join(p.path, COVER)) else ""
    cover = os.path.join(outdir, COVER)
    with open(cover) as f:
        text = f.read()
    if subject:
        text = text.replace("*** SUBJECT HERE ***", subject, 1)
    if blurb:
        text = text.replace("*** BLURB HERE ***\n", blurb, 1)
    to, cc = maintainers(src, names, tip)
    # the same people as before: keep their order (the script's is not
    # stable from one run to the next)
    old = cover_addresses(old_cover)
    if [set(o) for o in old] != [set(parsed(to)), set(parsed(cc))]:
        text = set_cover_addresses(text, to, cc)
    else:
        text = set_cover_addresses(
            text, [email.utils.formataddr(a) for a in old[0]],
            [email.utils.formataddr(a) for a in old[1]])
    if deps is not None:
        text = postings.set_trailer(text, _trailer(
            base_rev, p, old_cover, [(q, files) for q, files in deps]))
    with open(cover, "w") as f:
        f.write(text)
    return names


def _trailer(base_rev, p, cover_text, deps):
    """b4's lines for p's cover: its change-id (kept from the cover), and
    for each posting it applies on, its change-id and patch-ids."""
    return postings.trailer(
        base_rev, postings.cover_change_id(cover_text) or
        postings.change_id(p.name),
        [(postings.cover_change_id(_read(q.cover())) or
          postings.change_id(q.name), files) for q, files in deps])


def _read(path):
    if not path or not os.path.isfile(path):
        return ""
    with open(path) as f:
        return f.read()


def touched_files(repo, base, head):
    """{path: (status, mode)} for every file the series changes."""
    text = out(["git", "-C", repo, "diff", "--no-renames", "--raw", "-z",
                base, head])
    result = {}
    fields = text.split("\0")
    i = 0
    while i < len(fields) - 1:
        meta = fields[i].split()
        path = fields[i + 1]
        i += 2
        if len(meta) < 5:
            continue
        status, newmode = meta[4], meta[1]
        result[path] = (status, newmode)
    return result


def kernel_roots(repo, rev):
    names = out(["git", "-C", repo, "ls-tree", "--name-only", rev]).split("\n")
    return sorted(n for n in names if n and n not in PROJECT_OWN)


def _check_representable(touched):
    sub = [p for p, (_, mode) in touched.items() if mode == "160000"]
    if sub:
        raise HarnessError("the series changes submodules, which cannot be "
                           "kept as files here: " + ", ".join(sub))
    bad = [p for p in touched if p.split("/")[0] in PROJECT_OWN]
    if bad:
        raise HarnessError("the series touches files that collide with this "
                           "repository's own files: " + ", ".join(bad))


def _refresh_copies(src, touched):
    _check_representable(touched)
    root = project_root()
    for path, (status, mode) in sorted(touched.items()):
        dest = os.path.join(root, path)
        if os.path.lexists(dest):
            os.unlink(dest)
        if status == "D":
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        blob = out(["git", "-C", src, "rev-parse", f"HEAD:{path}"])
        if mode == "120000":
            os.symlink(_cat_blob(src, blob).decode(), dest)
            continue
        with open(dest, "wb") as f:
            f.write(_cat_blob(src, blob))
        os.chmod(dest, 0o755 if mode == "100755" else 0o644)
    stale = stale_copies(src, "HEAD", touched)
    for path in stale:
        os.unlink(os.path.join(root, path))
        say(f"    removed stale copy {path}")
    _prune_empty_dirs(src, "HEAD")
    say(f"    {len([t for t in touched.values() if t[0] != 'D'])} post-series "
        "file(s) refreshed at their kernel paths")


def _cat_blob(repo, blob):
    return subprocess.run(["git", "-C", repo, "cat-file", "blob", blob],
                          check=True, stdout=subprocess.PIPE).stdout


def stale_copies(repo, rev, touched):
    root = project_root()
    stale = []
    for top in kernel_roots(repo, rev):
        p = os.path.join(root, top)
        if os.path.isfile(p) or os.path.islink(p):
            if top not in touched or touched[top][0] == "D":
                stale.append(top)
            continue
        for dirpath, _, files in os.walk(p):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if rel not in touched or touched[rel][0] == "D":
                    stale.append(rel)
    return sorted(stale)


def _prune_empty_dirs(repo, rev):
    root = project_root()
    for top in kernel_roots(repo, rev):
        p = os.path.join(root, top)
        if not os.path.isdir(p):
            continue
        for dirpath, dirs, files in os.walk(p, topdown=False):
            if not os.listdir(dirpath):
                os.rmdir(dirpath)


# -------------------------------------------------------------- make verify

def _cover_skeleton(text):
    """The parts of a cover letter that git writes: everything but its Date,
    subject text and blurb."""
    head, _, body = text.partition("\n\n")
    head = re.sub(r"^Date: .*$", "Date:", head, flags=re.M)
    head = re.sub(r"^(To|Cc): .*(?:\n[ \t][^\n]*)*\n?", "", head + "\n",
                  flags=re.M).rstrip("\n")
    head = re.sub(r"^(Subject: \[PATCH[^\]]*\]).*(?:\n [^\n]*)*",
                  r"\1", head, flags=re.M)
    m = re.search(r"^\S.* \(\d+\):$", body, re.M)
    return head + "\n\n" + (body[m.start():] if m else "")


def verify(tree, extra=()):
    """Every posting applies with git am on the base + its prerequisites,
    patches/ is what format-patch writes for each, and every post-series
    copy equals the whole stack. Returns a list of (check, ok, detail).
    `extra`: more checks of each applied posting, called as
    check(tree, tip, patches, cover or None, start) -> rows."""
    results = []
    pdir = patches_dir()
    by_postings = postings.is_postings_dir(pdir)
    posts = read_postings()
    n = sum(len(p.patches) for p in posts)
    wt = ensure_worktree(tree.repo, os.path.join(tree.state_dir(), "applied"),
                         tree.base_rev)
    stage(f"verify: git am {n} patch(es) in {len(posts)} posting(s) onto "
          f"{tree.label}")
    try:
        head, tips = stack(wt, wt, tree.base_rev, posts, tree.label)
    except HarnessError as e:
        results.append(("every posting applies with git am on the base + "
                        "its prerequisites, and they stack", False, str(e)))
        return results
    results.append(("every posting applies with git am on the base + its "
                    "prerequisites, and they stack", True,
                    f"{len(posts)} posting(s), {n} patch(es)"))
    if not posts:
        results.append(("no cover letter without patches",
                        not os.path.exists(os.path.join(pdir, COVER)),
                        COVER))
    for p in posts:
        start, tip = tips[p.name]
        label = f"{p.name}: " if by_postings else ""
        results += _verify_posting(wt, tree, p, posts, start, tip, label,
                                   by_postings)
        for check in extra:
            results += [(label + name, ok, detail) for name, ok, detail in
                        check(tree, tip, p.patches, p.cover(), start)]

    touched = touched_files(wt, tree.base_rev, head)
    try:
        _check_representable(touched)
    except HarnessError as e:
        results.append(("series representable", False, str(e)))
        return results
    root = project_root()
    mismatched = []
    for path, (status, mode) in sorted(touched.items()):
        dest = os.path.join(root, path)
        if status == "D":
            if os.path.lexists(dest):
                mismatched.append(f"{path} (deleted by the series)")
            continue
        blob = out(["git", "-C", wt, "rev-parse", f"{head}:{path}"])
        if mode == "120000":
            if not os.path.islink(dest) or \
                    os.readlink(dest) != _cat_blob(wt, blob).decode():
                mismatched.append(f"{path} (symlink)")
            continue
        if not os.path.isfile(dest) or os.path.islink(dest):
            mismatched.append(f"{path} (missing)")
            continue
        with open(dest, "rb") as f:
            if f.read() != _cat_blob(wt, blob):
                mismatched.append(f"{path} (content)")
                continue
        want_x = mode == "100755"
        if bool(os.stat(dest).st_mode & stat.S_IXUSR) != want_x:
            mismatched.append(f"{path} (mode)")
    n_files = len([t for t in touched.values() if t[0] != "D"])
    results.append(("post-series copies equal base + series",
                    not mismatched,
                    "; ".join(mismatched) or f"{n_files} file(s) identical"))
    stale = stale_copies(wt, head, touched)
    results.append(("no stale copies", not stale,
                    ", ".join(stale) or "none"))
    return results


def _verify_posting(wt, tree, p, posts, start, tip, label, by_postings):
    results = []
    if by_postings:
        results.append((label + f"at most {postings.MAX_PATCHES} patches",
                        len(p.patches) <= postings.MAX_PATCHES,
                        f"{len(p.patches)} patch(es)"))
    with tempfile.TemporaryDirectory() as tmp:
        _format_patch(wt, tree.base_rev, tmp, start, tip)
        regenerated = sorted(f for f in os.listdir(tmp) if f != COVER)
        listed = [os.path.basename(f) for f in p.patches]
        diffs = [f for f in regenerated if f not in listed or not
                 filecmp.cmp(os.path.join(tmp, f),
                             os.path.join(p.path, f), shallow=False)]
        diffs += [f for f in listed if f not in regenerated]
        results.append((label + "patches are git format-patch output",
                        not diffs, ", ".join(diffs) or
                        "round trip identical"))
        regen_cover = _read(os.path.join(tmp, COVER))
    text = _read(p.cover())
    problems = []
    if not text:
        problems.append("missing")
    for marker in ("*** SUBJECT HERE ***", "*** BLURB HERE ***"):
        if marker in text:
            problems.append(f"still has {marker}")
    if by_postings and text:
        deps = postings.closure(p, posts)
        regen_cover = postings.set_trailer(regen_cover, _trailer(
            tree.base_rev, p, text, [(q, q.patches) for q in deps]))
    if text and not problems and \
            _cover_skeleton(text) != _cover_skeleton(regen_cover):
        problems.append("its headers, shortlog, diffstat or base-commit and "
                        "prerequisite lines do not match the patches (run "
                        "`make export`)")
    results.append((label + "cover letter filled in and current",
                    not problems, ", ".join(problems) or COVER))
    if text:
        want = tuple(parsed(a) for a in maintainers(wt, p.patches, tip))
        have = cover_addresses(text)
        # get_maintainer.pl's order is not stable (perl hash order)
        same = [set(h) == set(w) for h, w in zip(have, want)] == [True, True]
        results.append((
            label + "cover letter To/Cc = get_maintainer.pl", same,
            f"To {len(want[0])}, Cc {len(want[1])}" if same else
            "differs (run `make export`): missing "
            + ", ".join(a for _, a in sorted(set(want[0] + want[1])
                                             - set(have[0] + have[1])))
            [:200] + "; extra "
            + ", ".join(a for _, a in sorted(set(have[0] + have[1])
                                             - set(want[0] + want[1])))
            [:200]))
    return results


def report_verify(results):
    for name, ok, detail in results:
        say(f"    {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
    failed = [r for r in results if not r[1]]
    if failed:
        raise TestFailure(f"verify: {len(failed)} check(s) failed: "
                          + "; ".join(r[0] for r in failed))
