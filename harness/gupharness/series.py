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

from .util import (HarnessError, TestFailure, caller_path, out, repo_root,
                   run, say, stage)

COVER = "0000-cover-letter.patch"
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


def read_series(pdir=None):
    """The ordered list of patch paths, after checking patches/ is whole."""
    pdir = pdir or patches_dir()
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
                included += read_series(other)
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
    return included + [os.path.join(pdir, n) for n in names]


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


def applied(tree):
    """base + series, as a commit in tree.repo (built in a scratch worktree
    so that the build worktree only sees files that really changed).
    Done once per harness run."""
    patches = read_series()
    key = (tree.repo, tree.base_rev, tuple(
        (p, os.path.getmtime(p), os.path.getsize(p)) for p in patches))
    if key not in _APPLIED:
        _APPLIED[key] = _apply_to_scratch(tree, patches)
    return _APPLIED[key]


def _apply_to_scratch(tree, patches):
    stage(f"series: git am {len(patches)} patch(es) onto {tree.label}")
    wt = ensure_worktree(tree.repo, os.path.join(tree.state_dir(), "applied"),
                         tree.base_rev)
    head = apply_series(wt, tree.base_rev, patches, tree.label)
    say(f"    patched = {head[:12]} ({len(patches)} commit(s) on "
        f"{tree.base_rev[:12]})")
    return head


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
    patches = read_series()
    if os.path.isdir(os.path.join(path, ".git")):
        pending = _unexported(path, tree.base_rev)
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
    head = apply_series(path, tree.base_rev, patches, tree.label,
                        scratch=False)
    run(["git", "-C", path, "branch", "-q", "-f", "series", head])
    run(["git", "-C", path, "checkout", "-q", "series"])
    say(f"    tree/ is on branch 'series': base + {len(patches)} commit(s). "
        "Edit, commit (git commit -s), then `make export`.")


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


def _unexported(path, base_rev):
    status = out(["git", "-C", path, "status", "--porcelain",
                  "--untracked-files=no"])
    if status:
        return "uncommitted changes"
    new = untracked_files(path)
    if new:
        return f"files git does not track: {', '.join(new[:5])}"
    with tempfile.TemporaryDirectory() as tmp:
        _format_patch(path, base_rev, tmp)
        theirs = sorted(f for f in os.listdir(tmp) if f != COVER)
        ours = [os.path.basename(p) for p in read_series()]
        if theirs != ours:
            return f"{len(theirs)} commit(s) vs {len(ours)} patch(es)"
        for name in theirs:
            if not filecmp.cmp(os.path.join(tmp, name),
                               os.path.join(patches_dir(), name),
                               shallow=False):
                return f"{name} differs"
    return None


# -------------------------------------------------------------- make export

def _format_patch(src, base_rev, outdir):
    count = int(out(["git", "-C", src, "rev-list", "--count",
                     f"{base_rev}..HEAD"]))
    if count == 0:
        return 0
    run(["git", "-C", src, "format-patch", "-q", "--cover-letter",
         "--zero-commit", "--no-signature", "--abbrev=12",
         f"--base={base_rev}", "-o", outdir, f"{base_rev}..HEAD"],
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


# The section whose maintainers and list a GUP series is addressed To:;
# everyone else get_maintainer.pl names goes on Cc:.
TO_SECTION = "MEMORY MANAGEMENT - GUP (GET USER PAGES)"


def maintainers(src, patch_files):
    """(to, cc) for the series, from the scripts/get_maintainer.pl of the
    tree at src (its MAINTAINERS as the series leaves it): To: the GUP
    section's maintainers and list, Cc: the rest, in the script's order."""
    script = os.path.join(src, "scripts", "get_maintainer.pl")
    if not os.path.isfile(script) or not patch_files:
        return [], []
    proc = run(["perl", script, "--no-git", "--no-git-fallback", "--no-tree",
                *patch_files], cwd=src, capture=True, check=False)
    if proc.returncode != 0:
        raise HarnessError("get_maintainer.pl failed:\n"
                           + (proc.stdout or "")[-500:])
    to, cc = [], []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(.*?) \((.*)\)$", line.strip())
        who, role = (m.group(1), m.group(2)) if m else (line.strip(), "")
        if not who or "@" not in who:
            continue
        main = (f"maintainer:{TO_SECTION}" in role
                or (role.startswith("open list:") and TO_SECTION in role))
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
    stage("export: git format-patch tree/ into patches/")
    subject, blurb = _cover_text(os.path.join(pdir, COVER))
    old_cover = open(os.path.join(pdir, COVER)).read() \
        if os.path.isfile(os.path.join(pdir, COVER)) else ""
    with tempfile.TemporaryDirectory() as tmp:
        count = _format_patch(src, tree.base_rev, tmp)
        names = sorted(f for f in os.listdir(tmp) if f != COVER)
        if count:
            cover = os.path.join(tmp, COVER)
            with open(cover) as f:
                text = f.read()
            if subject:
                text = text.replace("*** SUBJECT HERE ***", subject, 1)
            if blurb:
                text = text.replace("*** BLURB HERE ***\n", blurb, 1)
            to, cc = maintainers(src, [os.path.join(tmp, n)
                                       for n in names])
            # the same people as before: keep their order (the script's
            # is not stable from one run to the next)
            old = cover_addresses(old_cover)
            if [set(o) for o in old] != [set(parsed(to)), set(parsed(cc))]:
                text = set_cover_addresses(text, to, cc)
            else:
                text = set_cover_addresses(
                    text, [email.utils.formataddr(a) for a in old[0]],
                    [email.utils.formataddr(a) for a in old[1]])
            with open(cover, "w") as f:
                f.write(text)
        for old in os.listdir(pdir):
            if old.endswith(".patch"):
                os.unlink(os.path.join(pdir, old))
        for name in os.listdir(tmp):
            shutil.copyfile(os.path.join(tmp, name), os.path.join(pdir, name))
    with open(os.path.join(pdir, "series"), "w") as f:
        f.write("# Order in which `git am` applies the series "
                "(written by `make export`).\n")
        for name in names:
            f.write(name + "\n")
    say(f"    {count} patch(es) written to patches/"
        + (" (cover letter: fill in its subject and blurb)"
           if count and not subject else ""))
    touched = touched_files(src, tree.base_rev, "HEAD")
    _refresh_copies(src, touched)


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
    """The series applies with git am, patches/ is what format-patch writes,
    and every post-series copy equals base + series. Returns a list of
    (check, ok, detail). `extra`: more checks of the applied series,
    called as check(tree, head, patches, cover or None) -> rows."""
    results = []
    patches = read_series()
    wt = ensure_worktree(tree.repo, os.path.join(tree.state_dir(), "applied"),
                         tree.base_rev)
    stage(f"verify: git am {len(patches)} patch(es) onto {tree.label}")
    head = apply_series(wt, tree.base_rev, patches, tree.label)
    results.append(("series applies with git am", True,
                    f"{len(patches)} patch(es)"))

    # patches/ is exactly what git format-patch writes for those commits
    with tempfile.TemporaryDirectory() as tmp:
        _format_patch(wt, tree.base_rev, tmp)
        regenerated = sorted(f for f in os.listdir(tmp) if f != COVER)
        listed = [os.path.basename(p) for p in patches]
        diffs = [n for n in regenerated if n not in listed or not
                 filecmp.cmp(os.path.join(tmp, n),
                             os.path.join(patches_dir(), n), shallow=False)]
        diffs += [n for n in listed if n not in regenerated]
        results.append(("patches/ is git format-patch output", not diffs,
                        ", ".join(diffs) or "round trip identical"))
        regen_cover = os.path.join(tmp, COVER)
        regen_cover = open(regen_cover).read() \
            if os.path.isfile(regen_cover) else ""
    cover = os.path.join(patches_dir(), COVER)
    if patches:
        text = open(cover).read() if os.path.isfile(cover) else ""
        problems = []
        if not text:
            problems.append("missing")
        for marker in ("*** SUBJECT HERE ***", "*** BLURB HERE ***"):
            if marker in text:
                problems.append(f"still has {marker}")
        if text and not problems and \
                _cover_skeleton(text) != _cover_skeleton(regen_cover):
            problems.append("its headers, shortlog or diffstat do not match "
                            "the patches (run `make export`)")
        results.append(("cover letter filled in and current", not problems,
                        ", ".join(problems) or COVER))
        if text:
            want = tuple(parsed(a) for a in maintainers(wt, patches))
            have = cover_addresses(text)
            # get_maintainer.pl's order is not stable (perl hash order)
            same = [set(h) == set(w) for h, w in zip(have, want)] == \
                [True, True]
            results.append((
                "cover letter To/Cc = get_maintainer.pl", same,
                f"To {len(want[0])}, Cc {len(want[1])}" if same else
                "differs (run `make export`): missing "
                + ", ".join(a for _, a in sorted(set(want[0] + want[1])
                                                 - set(have[0] + have[1])))
                [:200] + "; extra "
                + ", ".join(a for _, a in sorted(set(have[0] + have[1])
                                                 - set(want[0] + want[1])))
                [:200]))
    else:
        results.append(("no cover letter without patches",
                        not os.path.exists(cover), COVER))
    for check in extra:
        results += check(tree, head, patches,
                         cover if os.path.isfile(cover) else None)

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


def report_verify(results):
    for name, ok, detail in results:
        say(f"    {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
    failed = [r for r in results if not r[1]]
    if failed:
        raise TestFailure(f"verify: {len(failed)} check(s) failed: "
                          + "; ".join(r[0] for r in failed))
