"""A sparse the kernel tree accepts for make C=1.

Newer trees run scripts/checker-valid.sh on $(CHECK) and, when it does
not print 1, warn "sparse is not available or not up to date" and check
nothing. Linux 7.x feeds it __typeof_unqual__, which bookworm's sparse
0.6.4 rejects; sid's binary package needs a newer libc. So, when the
machine's sparse is refused, sparse is built once from Debian's own
source package (apt-get source through a deb-src list of the harness's
own, under the cache; the machine's apt configuration is only read) and
kept under cache_dir()/sparse/<version>/.
"""

import fcntl
import glob
import os
import re
import shutil
import subprocess
import tempfile

from .base import KEYRING, debian_mirror
from .util import (HarnessError, cache_dir, out, quote, read, say, warn_loud,
                   write)

# the Debian source package built when the machine's sparse is refused,
# and the suite that carries it
SPARSE_DEBIAN = "0.6.5~rc1-2"
SPARSE_SUITE = "sid"

# what the kernel's Makefile passes checker-valid.sh for x86_64, less the
# -D defines that do not matter to it
CHECK_FLAGS = ("--arch=x86_64", "-mlittle-endian", "-m64")

STAMP = "stamp"


def accepted(tree_src, sparse, flags=CHECK_FLAGS):
    """Whether tree_src/scripts/checker-valid.sh accepts this sparse. A
    tree without the script takes any sparse."""
    script = os.path.join(tree_src, "scripts", "checker-valid.sh")
    if not os.path.exists(script):
        return bool(sparse) and os.access(sparse, os.X_OK)
    proc = subprocess.run(["sh", script, sparse, *flags], text=True,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    return proc.stdout.strip() == "1"


def sparse_for(tree_src, flags=CHECK_FLAGS):
    """The path of a sparse binary that tree_src's checker-valid.sh
    accepts: the machine's, or else one built from Debian's source
    package, cached."""
    system = shutil.which("sparse")
    if system and accepted(tree_src, system, flags):
        return system
    path = cached_sparse(SPARSE_DEBIAN)
    if not accepted(tree_src, path, flags):
        raise HarnessError(
            f"{path} (Debian sparse {SPARSE_DEBIAN}) is not accepted by "
            f"{tree_src}/scripts/checker-valid.sh either: a newer sparse "
            "is needed (checker.SPARSE_DEBIAN)")
    return path


def sparse_root(version):
    return os.path.join(cache_dir(), "sparse", version)


def complete(root, version):
    """The binary of a complete build under root, or None."""
    binary = os.path.join(root, "bin", "sparse")
    stamp = read(os.path.join(root, STAMP))
    if stamp is not None and stamp.split("\n", 1)[0] == version and \
            os.access(binary, os.X_OK):
        return binary
    return None


def cached_sparse(version, builder=None):
    """The sparse of Debian source package `version`, built once (by
    builder(version, root, log), default build_sparse, which returns the
    version it built) into
    cache_dir()/sparse/<version>/bin/. The stamp file is written last; a
    build without it is redone from scratch."""
    root = sparse_root(version)
    binary = complete(root, version)
    if binary:
        return binary
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # another run may be building it
        binary = complete(root, version)
        if binary:
            return binary
        shutil.rmtree(os.path.join(root, "bin"), ignore_errors=True)
        log = os.path.join(root, "build.log")
        built = (builder or build_sparse)(version, root, log)
        binary = os.path.join(root, "bin", "sparse")
        if not os.access(binary, os.X_OK):
            raise HarnessError(f"sparse build left no {binary}"
                               + _tail(log))
        # the version asked for, then the one built (the same unless the
        # archive had moved on)
        write(os.path.join(root, STAMP), f"{version}\n{built}\n")
        return binary


def _tail(log, lines=30):
    text = read(log, "").rstrip()
    if not text:
        return ""
    return f"\nlast lines of {log}:\n" + "\n".join(
        text.splitlines()[-lines:])


def _logged(cmd, log, cwd=None, what="sparse build"):
    with open(log, "a") as f:
        f.write(f"$ {quote(cmd)}" + (f"   (in {cwd})" if cwd else "") + "\n")
        f.flush()
        try:
            rc = subprocess.run([str(c) for c in cmd], cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT).returncode
        except FileNotFoundError:
            raise HarnessError(f"{what}: command not found: {cmd[0]}")
    if rc != 0:
        raise HarnessError(f"{what} failed (exit {rc}): {quote(cmd)}"
                           + _tail(log))


def source_list(mirror, suite, keyring=KEYRING):
    return f"deb-src [signed-by={keyring}] {mirror} {suite} main\n"


def apt_source_options(root, suite):
    """apt options for a private deb-src list of `suite` under root."""
    lists = os.path.join(root, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    cache = os.path.join(root, "cache")
    os.makedirs(os.path.join(cache, "archives", "partial"), exist_ok=True)
    sources = os.path.join(root, "sources.list")
    write(sources, source_list(debian_mirror(), suite))
    return ["-o", f"Dir::Etc::sourcelist={sources}",
            "-o", "Dir::Etc::sourceparts=/dev/null",
            "-o", f"Dir::State::Lists={lists}",
            "-o", f"Dir::Cache={cache}",
            # the cache belongs to the user running the harness: apt's
            # _apt sandbox user cannot write there
            "-o", "APT::Sandbox::User=root"]


def source_versions(showsrc):
    """The Version: fields of `apt-cache showsrc` output."""
    return re.findall(r"^Version:\s*(\S+)", showsrc, re.M)


def upstream_version(version):
    """Debian version to upstream: 1:0.6.5~rc1-2 -> 0.6.5~rc1."""
    version = version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def build_sparse(version, root, log, suite=SPARSE_SUITE):
    """Fetch Debian's sparse source package `version` and build only the
    sparse binary (and cgcc) into root/bin, with the machine's gcc and
    without the optional llvm/gtk/xml/sqlite programs. If the archive no
    longer has that version, say so loudly and build the newest one of
    the suite instead. Returns the version built."""
    if not shutil.which("dpkg-source"):
        raise HarnessError("building sparse needs dpkg-source: "
                           "apt-get install dpkg-dev")
    say(f"    building sparse {version} from Debian's source package "
        f"(once; log {log})")
    write(log, "")
    opts = apt_source_options(os.path.join(cache_dir(), "sparse", "apt"),
                              suite)
    _logged(["apt-get", *opts, "-q", "update"], log)
    work = tempfile.mkdtemp(prefix="build.", dir=root)
    try:
        cmd = ["apt-get", *opts, "-q", "source", f"sparse={version}"]
        proc = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL,
                              text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        with open(log, "a") as f:
            f.write(f"$ {quote(cmd)}   (in {work})\n{proc.stdout}")
        if proc.returncode != 0:
            versions = source_versions(
                out(["apt-cache", *opts, "showsrc", "sparse"]))
            if not versions:
                raise HarnessError("apt cannot find Debian's sparse source "
                                   f"package in {suite}" + _tail(log))
            newest = versions[0] if len(versions) == 1 else \
                _newest(versions)
            warn_loud(f"sparse {version} is no longer in Debian {suite}; "
                      f"building its newest sparse, {newest}, instead "
                      "(update checker.SPARSE_DEBIAN)")
            version = newest
            _logged(["apt-get", *opts, "-q", "source", f"sparse={version}"],
                    log, cwd=work)
        dirs = [d for d in glob.glob(os.path.join(work, "sparse-*"))
                if os.path.isdir(d)]
        if len(dirs) != 1:
            raise HarnessError(f"apt-get source left {dirs} in {work}"
                               + _tail(log))
        src = dirs[0]
        make = ["nice", "-n", "10", "make", f"-j{os.cpu_count() or 1}",
                # Debian patches CC to its default gcc-N: use the
                # machine's gcc, whose headers sparse then reads
                "CC=gcc", "HAVE_LLVM=no", "HAVE_GTK=no", "HAVE_LIBXML=no",
                "HAVE_SQLITE=no",
                f"SPARSE_VERSION={upstream_version(version)} "
                f"(Debian: {version}, built by the harness)",
                "sparse"]
        _logged(make, log, cwd=src)
        bindir = os.path.join(root, "bin")
        os.makedirs(bindir, exist_ok=True)
        shutil.copy2(os.path.join(src, "sparse"), bindir)
        cgcc = read(os.path.join(src, "cgcc"))
        if cgcc is not None:
            # Debian's patch points cgcc at gcc-N: back to cc
            path = os.path.join(bindir, "cgcc")
            write(path, re.sub(r"'gcc-\d+'", "'cc'", cgcc))
            os.chmod(path, 0o755)
        return version
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _newest(versions):
    import functools

    def cmp(a, b):
        if a == b:
            return 0
        gt = subprocess.run(["dpkg", "--compare-versions", a, "gt", b])
        return 1 if gt.returncode == 0 else -1
    return sorted(versions, key=functools.cmp_to_key(cmp))[-1]
