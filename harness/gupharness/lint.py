"""make lint: checkpatch --strict on every patch, sparse (C=2) on every
touched .c file compared with the same file on the base, so that only new
warnings fail."""

import collections
import os
import re

from . import kbuild, series
from .results import Counts
from .util import (HarnessError, compiler_messages, read, repo_root, run,
                   say, stage)

EXCEPTIONS = os.path.join(repo_root(), "harness", "lint-exceptions")


def _exceptions():
    """Justified checkpatch messages: lines `PATCH-FILE TYPE  why`."""
    allowed = set()
    for line in (read(EXCEPTIONS) or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue    # an exception needs its justification
        allowed.add((parts[0], parts[1]))
    return allowed


def checkpatch(src, patches):
    c = Counts()
    allowed = _exceptions()
    script = os.path.join(src, "scripts", "checkpatch.pl")
    pdir = series.patches_dir()
    for p in patches:
        # posting/file (patches/ holds one directory per posting)
        name = os.path.relpath(p, pdir) if \
            os.path.abspath(p).startswith(os.path.abspath(pdir) + os.sep) \
            else os.path.basename(p)
        proc = run(["perl", script, "--strict", "--no-summary", "--terse",
                    "--show-types", "--color=never", p],
                   cwd=src, check=False, capture=True)
        if proc.returncode not in (0, 1):
            c.fail(f"checkpatch {name}: did not run (exit "
                   f"{proc.returncode}): {proc.stdout.strip()[-200:]}")
            continue
        msgs = []
        for line in proc.stdout.splitlines():
            m = re.search(r"(ERROR|WARNING|CHECK):(\w+):", line)
            if m and (name, m.group(2)) not in allowed:
                msgs.append(line.strip())
        if msgs:
            c.fail(f"checkpatch {name}: {len(msgs)} message(s): {msgs[0]}")
            for m in msgs[1:5]:
                c.notes.append(f"    {m}")
        else:
            c.passed += 1
    return c


def _sparse(src, build, cfile, wanted, arch=None, built=None):
    """Sparse messages for one .c file, as a Counter of (file, text) for
    the files in `wanted` (the .c and the touched headers), so that line
    shifts between base and patched do not matter. None when this config
    does not build the file (Kbuild would compile it all the same, so
    kbuild.built_objects() asks a dry run; `built` is its answer for
    several files at once)."""
    obj = cfile[:-2] + ".o"
    if built is None:
        built = kbuild.built_objects(src, build, [obj], arch)
    if obj not in built:
        return None, None
    # C=2 runs sparse whether or not the object is up to date
    proc = kbuild.kmake(src, build, "C=2", *kbuild.sparse_args(src), obj,
                        check=False, arch=arch)
    kbuild.sparse_ran(proc.stdout, f"sparse on {obj}")
    msgs = collections.Counter(
        (path, msg) for path, _, msg in compiler_messages(proc.stdout)
        if path in wanted)
    return msgs, proc


def included_c_files(src, files):
    """{included .c file: the .c file in the same directory that includes
    it with #include "name.c"} among `files`."""
    parts = {}
    for f in files:
        pattern = re.compile(r'^\s*#\s*include\s+"'
                             + re.escape(os.path.basename(f)) + '"', re.M)
        for host in files:
            if host == f or os.path.dirname(host) != os.path.dirname(f):
                continue
            text = read(os.path.join(src, host)) or ""
            if pattern.search(text):
                parts[f] = host
                break
    return parts


def sparse(tree, base_src, patched_src, head, touched):
    """New sparse messages per touched .c file (and in touched headers),
    compared with the same file on the base. Another architecture's file
    (arch/arm64/...) goes through that architecture's defconfig with its
    cross compiler; a file no config here builds is a skip."""
    c = Counts()
    files = sorted(p for p, (st, _) in touched.items()
                   if p.endswith(".c") and st != "D" and
                   not p.startswith(("tools/", "Documentation/", "scripts/",
                                     "samples/")))
    if not files:
        return c, files
    headers = {p for p in touched if p.endswith(".h")}
    # A .c file that another touched .c file #includes (a KUnit test kept
    # next to the static code it tests) is checked as part of that file.
    parts = included_c_files(patched_src, files)
    for f, host in sorted(parts.items()):
        say(f"    sparse {f}: checked as part of {host}")
    files = [f for f in files if f not in parts]
    base_build = kbuild.configured_build(base_src, "base", tree.base_rev)
    patched_build = kbuild.configured_build(patched_src, "patched", head)
    cross = {}
    selected = {}

    def arch_of(f):
        return f.split("/")[1] if f.startswith("arch/") else "x86"

    def built(src, build, arch):
        """What this build dir's .config builds among the files: one dry
        run per directory and build dir."""
        if build not in selected:
            objs = [f[:-2] + ".o" for f in files if arch_of(f) == arch
                    and os.path.isfile(os.path.join(src, f))]
            selected[build] = kbuild.built_objects(
                src, build, objs, None if arch == "x86" else arch)
        return selected[build]

    for f in files:
        wanted = headers | {f} | {p for p, h in parts.items() if h == f}
        arch = arch_of(f)
        pb, bb = patched_build, base_build
        if arch != "x86":
            if arch not in cross:
                cross[arch] = (
                    kbuild.cross_configured_build(patched_src, "patched",
                                                  arch),
                    kbuild.cross_configured_build(base_src, "base", arch))
            pb, bb = cross[arch]
            if pb is None or bb is None:
                c.skipped += 1
                say(f"    sparse {f}: no {arch} cross compiler (skipped)")
                continue
        karch = None if arch == "x86" else arch
        which = "patched"
        try:
            after, proc = _sparse(patched_src, pb, f, wanted, karch,
                                  built(patched_src, pb, arch))
            if after is None:
                c.skipped += 1
                say(f"    sparse {f}: not built by the {arch} config "
                    "(skipped)")
                continue
            if proc.returncode != 0:
                c.fail(f"sparse {f}: build failed: "
                       + (proc.stdout.strip().splitlines() or ["?"])[-1]
                       [:200])
                continue
            before = collections.Counter()
            if os.path.isfile(os.path.join(base_src, f)):
                which = "base"
                got, _ = _sparse(base_src, bb, f, wanted, karch,
                                 built(base_src, bb, arch))
                before = got or before
        except HarnessError as e:
            c.fail(f"sparse {f} ({which}): {str(e).splitlines()[0]}")
            continue
        new = [(k, n - before.get(k, 0)) for k, n in after.items()
               if n > before.get(k, 0)]
        if new:
            c.fail(f"sparse {f}: {sum(n for _, n in new)} new: "
                   f"{new[0][0][0]}: {new[0][0][1]}")
        else:
            c.passed += 1
    return c, files


def lint(tree, head, patched_src):
    patches = series.read_series(series.patches_dir())
    stage(f"lint: checkpatch --strict on {len(patches)} patch(es)")
    cp = checkpatch(tree.checkout, patches)
    touched = series.touched_files(tree.repo, tree.base_rev, head)
    stage("lint: sparse C=2 on the touched .c files, base vs patched")
    sp, files = sparse(tree, tree.checkout, patched_src, head, touched)
    say(f"    checkpatch: {cp.passed} clean, {cp.failed} with messages; "
        f"sparse: {len(files)} file(s), {sp.failed} with new warnings")
    return cp, sp
