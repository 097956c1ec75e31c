"""The base tree: Debian's linux-source-X.Y, unpacked once into a cached git
repository with a deterministic base commit and a tag, or the user's own
kernel tree (KSRC=) cloned with --shared so their checkout is never touched.

BASE names the base once: its package, the version the series is written
against, and the Debian suite that carries it. A suite the machine's apt
does not list (experimental) is reached through a sources list and lists
directory of the harness's own, under the cache; the machine's apt
configuration is only read.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from .util import (HarnessError, cache_dir, caller_path, env, out, read,
                   run, say, sha256_file, stage, warn_loud, write)

# (package, pinned version, suite). suite None: the machine's own apt
# sources carry it. Moving the series to a new -rc or release is a change
# of this line, then a rebase of patches/ and a green make check (README,
# "Moving the base").
BASE = ("linux-source-7.3", "7.3~rc7-1~exp1", "experimental")
MACHINE_SOURCES = "/etc/apt/sources.list.d/debian.sources"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

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


def debian_mirror(path=MACHINE_SOURCES):
    """The Debian mirror URI of the machine's deb822 sources file: the
    first stanza of Types deb whose Suites are not -security ones."""
    text = read(path)
    if text is None:
        raise HarnessError(f"{path} is missing: no Debian mirror to take "
                           "the base from")
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                fields[m.group(1).lower()] = m.group(2).split()
        if "deb" not in fields.get("types", []):
            continue
        if any(x.endswith("-security") for x in fields.get("suites", [])):
            continue
        if fields.get("uris"):
            return fields["uris"][0].rstrip("/")
    raise HarnessError(f"{path}: no Debian (non-security) deb stanza")


def apt_options(suite):
    """apt-get/apt-cache options reaching `suite`; [] for the machine's own
    sources. The private list is refreshed (apt-get update) once per run."""
    if suite is None:
        return []
    root = os.path.join(cache_dir(), "apt", suite)
    lists = os.path.join(root, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    os.makedirs(os.path.join(root, "cache", "archives", "partial"),
                exist_ok=True)
    sources = os.path.join(root, "sources.list")
    write(sources, f"deb [signed-by={KEYRING}] {debian_mirror()} "
          f"{suite} main\n")
    opts = ["-o", f"Dir::Etc::sourcelist={sources}",
            "-o", "Dir::Etc::sourceparts=/dev/null",
            "-o", f"Dir::State::Lists={lists}",
            "-o", f"Dir::Cache={os.path.join(root, 'cache')}",
            # the cache belongs to the user running the harness: apt's
            # _apt sandbox user cannot write there
            "-o", "APT::Sandbox::User=root"]
    if root not in _UPDATED:
        proc = run(["apt-get", *opts, "-q", "update"], capture=True,
                   check=False)
        if proc.returncode != 0 or re.search(r"^(W|E): ", proc.stdout,
                                             re.M):
            raise HarnessError(f"apt-get update of {suite} failed:\n"
                               + proc.stdout.strip()[-800:])
        _UPDATED.add(root)
    return opts


_UPDATED = set()


def _available_versions(package, suite):
    text = out(["apt-cache", *apt_options(suite), "madison", package])
    versions = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[0] == package:
            versions.append(parts[1])
    return versions


def _newest(versions):
    """Debian version order (dpkg --compare-versions), the newest."""
    import functools

    def cmp(a, b):
        if a == b:
            return 0
        gt = subprocess.run(["dpkg", "--compare-versions", a, "gt", b])
        return 1 if gt.returncode == 0 else -1
    return sorted(versions, key=functools.cmp_to_key(cmp))[-1]


def _download(package, version, suite, dest):
    """apt-get download the package; fall back loudly to the newest one of
    the same package (the next -rc, the release, a stable update)."""
    os.makedirs(dest, exist_ok=True)
    for old in glob.glob(os.path.join(dest, "*.deb")):
        os.unlink(old)
    opts = apt_options(suite)
    proc = run(["apt-get", *opts, "download", f"{package}={version}"],
               cwd=dest, check=False, capture=True)
    if proc.returncode != 0:
        say(proc.stdout.strip())
        versions = _available_versions(package, suite)
        if not versions:
            raise HarnessError(
                f"apt cannot find {package} at all (did apt-get update run? "
                "is Debian's archive reachable?)")
        newest = _newest(versions)
        warn_loud(f"{package} {version} is no longer in the archive; using "
                  f"the newest {package} package, {newest}, instead. The "
                  "series may not apply; the base commit id changes.")
        version = newest
        run(["apt-get", *opts, "download", f"{package}={version}"],
            cwd=dest)
    debs = glob.glob(os.path.join(dest, "*.deb"))
    if len(debs) != 1:
        raise HarnessError(f"expected one .deb in {dest}, found {debs}")
    return version, debs[0]


def _unpack(deb, repo, package, version):
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
    msg = (f"Debian {package} {version}\n\n"
           f"Unpacked from {os.path.basename(deb)}\n"
           f"sha256 {deb_sha}\n")
    run(["git", "-C", repo, "-c", "commit.gpgsign=false", "commit", "-q",
         "--no-verify", "-m", msg], env_extra=ident)
    _git(repo, "tag", "-f", tag_for(version))
    return deb_sha


def debian_base():
    """Return the cached Debian base Tree, creating it if needed."""
    package, pinned, suite = BASE
    version = env("BASE_VERSION", pinned)
    root = os.path.join(cache_dir(), "base")
    os.makedirs(root, exist_ok=True)
    stamp_path = os.path.join(root, f"current-{package}")
    stamp = read(stamp_path, "").split()
    # stamp: <version> <repo dir> <commit> <version asked for>; the last
    # differs from the first after a fallback, and a stamp is reused only
    # for the version it was asked for, so that a new pinned version (or
    # BASE_VERSION=) fetches again.
    if len(stamp) == 3:
        stamp.append(stamp[0])
    if len(stamp) == 4 and stamp[3] == version:
        ver, repo, commit, _ = stamp
        if _valid(repo, ver, commit):
            if ver != pinned:
                warn_loud(f"the cached base is {ver}, not the pinned "
                          f"{pinned}")
            return Tree(repo, commit, f"Debian {package} {ver}", repo)
        say(f"    the cached base in {repo} is not valid; fetching it again")

    stage(f"base tree: fetching {package} {version}"
          + (f" (Debian {suite})" if suite else ""))
    ver, deb = _download(package, version, suite,
                         os.path.join(root, "download"))
    repo = os.path.join(root, ver.replace("~", "_"))
    _unpack(deb, repo, package, ver)
    commit = out(["git", "-C", repo, "rev-parse", "HEAD"])
    write(stamp_path, f"{ver} {repo} {commit} {version}\n")
    say(f"    base {tag_for(ver)} = {commit}")
    return Tree(repo, commit, f"Debian {package} {ver}", repo)


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
