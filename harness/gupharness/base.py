"""The base tree: Debian's linux-source-6.12, unpacked once into a cached git
repository with a deterministic base commit and a tag, or the user's own
kernel tree (KSRC=) cloned with --shared so their checkout is never touched.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from .util import (HarnessError, cache_dir, caller_path, env, out, read,
                   run, say, sha256_file, stage, warn_loud, write)

PACKAGE = "linux-source-6.12"
PINNED_VERSION = "6.12.117-1~deb12u1"

# Files in the cached base that the harness itself creates and git ignores.
LOCAL_EXCLUDES = [".build*/", "/.gupharness*"]


def tag_for(version):
    # git ref names cannot hold '~'
    return "debian/" + version.replace("~", "_")


class Tree:
    """A kernel git repository plus the commit the series applies onto."""

    def __init__(self, repo, base_rev, label, checkout):
        self.repo = repo            # git repository (cache-owned)
        self.base_rev = base_rev    # commit id of the base
        self.label = label          # human description
        self.checkout = checkout    # directory checked out at base_rev

    def state_dir(self):
        d = self.repo + ".gupharness"
        os.makedirs(d, exist_ok=True)
        return d


def _git(repo, *args, **kw):
    return run(["git", "-C", repo, *args], **kw)


def _available_versions():
    text = out(["apt-cache", "madison", PACKAGE])
    versions = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[0] == PACKAGE:
            versions.append(parts[1])
    return versions


def _newest(versions):
    """Debian version order (dpkg --compare-versions), newest of the 6.12s."""
    import functools

    def cmp(a, b):
        if a == b:
            return 0
        gt = subprocess.run(["dpkg", "--compare-versions", a, "gt", b])
        return 1 if gt.returncode == 0 else -1
    return sorted(versions, key=functools.cmp_to_key(cmp))[-1]


def _download(version, dest):
    """apt-get download the package; fall back loudly to the newest 6.12."""
    os.makedirs(dest, exist_ok=True)
    for old in glob.glob(os.path.join(dest, "*.deb")):
        os.unlink(old)
    proc = run(["apt-get", "download", f"{PACKAGE}={version}"], cwd=dest,
               check=False, capture=True)
    if proc.returncode != 0:
        say(proc.stdout.strip())
        versions = _available_versions()
        if not versions:
            raise HarnessError(
                f"apt cannot find {PACKAGE} at all (did apt-get update run? "
                "is Debian's archive reachable?)")
        newest = _newest(versions)
        warn_loud(f"{PACKAGE} {version} is no longer in the archive; using "
                  f"the newest 6.12 package, {newest}, instead. Line numbers "
                  "in shared/SERIES.md may be off and the series may not "
                  "apply.")
        version = newest
        run(["apt-get", "download", f"{PACKAGE}={version}"], cwd=dest)
    debs = glob.glob(os.path.join(dest, "*.deb"))
    if len(debs) != 1:
        raise HarnessError(f"expected one .deb in {dest}, found {debs}")
    return version, debs[0]


def _unpack(deb, repo, version):
    """Unpack the tarball inside the .deb into repo and commit it."""
    tmp = tempfile.mkdtemp(prefix="unpack.", dir=os.path.dirname(repo))
    try:
        say(f"    extracting the source tarball from {os.path.basename(deb)}")
        run(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | '
             'tar -x -C "$2" --wildcards "./usr/src/linux-source-*.tar.xz"',
             "sh", deb, tmp])
        tarballs = glob.glob(os.path.join(tmp, "usr/src/linux-source-*.tar.xz"))
        if len(tarballs) != 1:
            raise HarnessError(f"no kernel tarball inside {deb}")
        tarball = tarballs[0]
        mtime = int(os.stat(tarball).st_mtime)
        maintainer = out(["dpkg-deb", "-f", deb, "Maintainer"])
        m = re.match(r"(.*?)\s*<(.*)>", maintainer)
        name, email = (m.group(1), m.group(2)) if m else (maintainer, "")
        for old in (repo, repo + ".gupharness"):    # and its worktrees
            if os.path.exists(old):
                shutil.rmtree(old)
        os.makedirs(repo)
        say("    unpacking (about 15 s)")
        run(["tar", "-x", "-J", "-f", tarball, "-C", repo,
             "--strip-components=1"])
        deb_sha = sha256_file(deb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    say("    creating the base commit (git add of ~88k files, 1-2 minutes)")
    _git(repo, "init", "-q")
    _git(repo, "config", "core.autocrlf", "false")
    _git(repo, "config", "gc.auto", "0")
    with open(os.path.join(repo, ".git/info/exclude"), "a") as f:
        f.write("\n".join(LOCAL_EXCLUDES) + "\n")
    _git(repo, "add", "-A", "-f", ".")
    # A fixed identity and date make the base commit id the same on every
    # machine, so "base-commit:" in the cover letter means something.
    ident = {
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": f"{mtime} +0000",
        "GIT_COMMITTER_DATE": f"{mtime} +0000",
    }
    msg = (f"Debian {PACKAGE} {version}\n\n"
           f"Unpacked from {os.path.basename(deb)}\n"
           f"sha256 {deb_sha}\n")
    run(["git", "-C", repo, "-c", "commit.gpgsign=false", "commit", "-q",
         "--no-verify", "-m", msg], env_extra=ident)
    _git(repo, "tag", "-f", tag_for(version))
    return deb_sha


def debian_base():
    """Return the cached Debian base Tree, creating it if needed."""
    version = env("BASE_VERSION", PINNED_VERSION)
    root = os.path.join(cache_dir(), "base")
    os.makedirs(root, exist_ok=True)
    stamp_path = os.path.join(root, "current")
    stamp = read(stamp_path, "").split()
    # stamp: <version> <repo dir> <commit>
    if len(stamp) == 3 and (stamp[0] == version or env("BASE_VERSION") is None):
        ver, repo, commit = stamp
        if _valid(repo, ver, commit):
            if ver != PINNED_VERSION:
                warn_loud(f"the cached base is {ver}, not the pinned "
                          f"{PINNED_VERSION}")
            return Tree(repo, commit, f"Debian {PACKAGE} {ver}", repo)
        say(f"    the cached base in {repo} is not valid; fetching it again")

    stage(f"base tree: fetching {PACKAGE} {version}")
    ver, deb = _download(version, os.path.join(root, "download"))
    repo = os.path.join(root, ver.replace("~", "_"))
    _unpack(deb, repo, ver)
    commit = out(["git", "-C", repo, "rev-parse", "HEAD"])
    write(stamp_path, f"{ver} {repo} {commit}\n")
    say(f"    base {tag_for(ver)} = {commit}")
    return Tree(repo, commit, f"Debian {PACKAGE} {ver}", repo)


def _valid(repo, version, commit):
    """A cached base is valid when its tag and checkout are the base commit
    and no tracked file was modified. Cheap: no unpacking, no git add."""
    if not os.path.isdir(os.path.join(repo, ".git")):
        return False
    try:
        tagged = out(["git", "-C", repo, "rev-parse",
                      f"{tag_for(version)}^{{commit}}"])
        head = out(["git", "-C", repo, "rev-parse", "HEAD"])
    except HarnessError:
        return False
    if tagged != commit or head != commit:
        return False
    dirty = out(["git", "-C", repo, "status", "--porcelain",
                 "--untracked-files=no"])
    if dirty:
        say("    the cached base checkout had modified files; restoring them")
        _git(repo, "checkout", "-q", "-f", commit)
    return True


def user_tree(ksrc):
    """The user's kernel tree, KSRC=path: clone it with --shared into the
    cache (the user's checkout, branch, index and refs are only read) and use
    its HEAD commit as the base."""
    path = caller_path(ksrc)
    if not os.path.isdir(path):
        raise HarnessError(f"KSRC={ksrc}: no such directory")
    try:
        top = out(["git", "-C", path, "rev-parse", "--show-toplevel"])
        head = out(["git", "-C", path, "rev-parse", "--verify", "HEAD^{commit}"])
    except HarnessError:
        raise HarnessError(f"KSRC={ksrc} is not a git work tree with a commit "
                           "(the series is applied with git am)")
    if not os.path.isfile(os.path.join(top, "Makefile")) or \
            not os.path.isfile(os.path.join(top, "mm", "gup.c")):
        raise HarnessError(f"KSRC={ksrc} does not look like a Linux tree "
                           "(no Makefile or mm/gup.c at its top)")
    # --no-optional-locks: a plain `git status` would refresh (write) the
    # user's index
    dirty = out(["git", "--no-optional-locks", "-C", top, "status",
                 "--porcelain", "--untracked-files=no"])
    describe = out(["git", "-C", top, "log", "-1", "--format=%h %s", head])
    if dirty:
        warn_loud(f"KSRC={top} has uncommitted changes; they are ignored: "
                  f"the series is applied onto its HEAD commit ({describe})")
    key = re.sub(r"[^A-Za-z0-9]+", "_", top).strip("_")
    repo = os.path.join(cache_dir(), "ksrc", key)
    if os.path.isdir(os.path.join(repo, ".git")) and run(
            ["git", "-C", repo, "cat-file", "-e", f"{head}^{{tree}}"],
            check=False, capture=True).returncode != 0:
        # the user gc'd objects our --shared clone relied on: start over
        say("    the cached clone of KSRC lost objects; cloning it again")
        shutil.rmtree(repo)
        shutil.rmtree(repo + ".gupharness", ignore_errors=True)
    if not os.path.isdir(os.path.join(repo, ".git")):
        stage(f"user tree: cloning {top} (--shared, read-only use)")
        os.makedirs(os.path.dirname(repo), exist_ok=True)
        run(["git", "clone", "-q", "--shared", "--no-checkout", top, repo])
        with open(os.path.join(repo, ".git/info/exclude"), "a") as f:
            f.write("\n".join(LOCAL_EXCLUDES) + "\n")
    # The user's objects are reachable through the --shared alternates, so
    # their HEAD commit can be checked out here without a fetch.
    _git(repo, "checkout", "-q", "-f", "--detach", head)
    return Tree(repo, head, f"{top} at {describe}", repo)


def get_tree():
    ksrc = env("KSRC")
    return user_tree(ksrc) if ksrc else debian_base()
