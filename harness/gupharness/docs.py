"""make docs: the documentation the series touches, built with Sphinx on
the base and on the patched tree (make htmldocs SPHINXDIRS=<the touched
top directories of Documentation/>), and kernel-doc -none -Wall on every
touched kernel .c/.h file; a warning the base does not have fails.

Messages are compared without line numbers and with the checkout's path
taken off, so that text moving is not a new warning."""

import collections
import os
import re
import shutil
import time

from . import kbuild, series
from .results import Counts
from .util import HarnessError, read, run, run_logged, say, stage

# Sphinx: "<path>:<line>: WARNING: text"; kernel-doc: "<path>:<line>:
# warning: text"; docutils without a line: "<path>: WARNING: text".
MSG = re.compile(r"^(\S+?)(?::\d+)?:\s*(WARNING|ERROR|CRITICAL|warning|"
                 r"error)[:]?\s*(.*)$")


def normalise(text, src):
    """Counter of (file, level, message) in a Sphinx or kernel-doc log."""
    found = collections.Counter()
    roots = [os.path.realpath(src) + "/", src.rstrip("/") + "/", "./"]
    for line in text.splitlines():
        m = MSG.match(line.strip())
        if not m:
            continue
        path = m.group(1)
        for r in roots:
            if path.startswith(r):
                path = path[len(r):]
        # the Sphinx build dir of the checkout is not the same in two trees
        path = re.sub(r"^.*?/Documentation/", "Documentation/", path)
        msg = re.sub(r"\S*/(Documentation|include|mm|fs|kernel|lib)/",
                     r"\1/", m.group(3))
        found[(path, m.group(2).lower(), msg)] += 1
    return found


def sphinx_dirs(touched):
    """The top Documentation directories holding touched .rst files."""
    dirs = set()
    for p in touched:
        parts = p.split("/")
        if parts[0] == "Documentation" and p.endswith(".rst") and \
                len(parts) > 2:
            dirs.add(parts[1])
    return sorted(dirs)


def htmldocs(src, dirs, label):
    """Build the dirs with Sphinx in src (out of tree); returns the log."""
    build = os.path.join(src, ".build-docs")
    # From scratch: an incremental Sphinx build re-reads only changed
    # files and so re-reports only their warnings, which would make the
    # two trees' counts incomparable (and leave old pages to be found).
    shutil.rmtree(build, ignore_errors=True)
    os.makedirs(build, exist_ok=True)
    log = os.path.join(build, "htmldocs.log")
    cmd = ["make", "-C", src, "O=.build-docs", f"-j{kbuild.jobs()}",
           f"SPHINXDIRS={' '.join(dirs)}", "htmldocs"]
    t0 = time.monotonic()
    rc = run_logged(cmd, log, f"htmldocs {label}")
    if rc != 0:
        raise HarnessError(f"make htmldocs failed on the {label} tree; see "
                           f"{log}")
    say(f"    htmldocs {label}: {time.monotonic() - t0:.0f}s")
    return read(log, "")


def kerneldoc(src, files):
    """kernel-doc -none -Wall on the files that exist in src."""
    present = [f for f in files if os.path.isfile(os.path.join(src, f))]
    if not present:
        return ""
    proc = run(["perl", "scripts/kernel-doc", "-none", "-Wall", *present],
               cwd=src, capture=True, check=False)
    return proc.stdout + (proc.stderr or "")


def new_messages(before, after):
    return sorted(k for k, n in after.items() if n > before.get(k, 0))


def check(tree, head, patched_src):
    """(Counts for Sphinx, Counts for kernel-doc, {name: one-line note})."""
    touched = series.touched_files(tree.repo, tree.base_rev, head)
    sp, kd = Counts(), Counts()
    info = {}
    kfiles = sorted(p for p, (st, _) in touched.items()
                    if st != "D" and p.endswith((".c", ".h")) and
                    not p.startswith(("tools/", "scripts/", "samples/")))
    stage(f"docs: kernel-doc -none -Wall on {len(kfiles)} touched file(s)")
    before = normalise(kerneldoc(tree.checkout, kfiles), tree.checkout)
    after = normalise(kerneldoc(patched_src, kfiles), patched_src)
    new = new_messages(before, after)
    if new:
        kd.fail(f"kernel-doc: {len(new)} new warning(s): "
                + "; ".join(f"{k[0]}: {k[2]}" for k in new[:3]))
    else:
        kd.passed += 1
    info["kernel-doc"] = (f"{len(kfiles)} files, -Wall: "
                          f"{sum(after.values())} warnings (base "
                          f"{sum(before.values())})")
    dirs = sphinx_dirs(touched)
    if not dirs:
        say("    no touched .rst file: no Sphinx build")
        return sp, kd, info
    if not shutil.which("sphinx-build"):
        raise HarnessError("sphinx-build is not installed (harness/deps.sh "
                           "installs python3-sphinx)")
    stage(f"docs: make htmldocs SPHINXDIRS={' '.join(dirs)}, base and "
          "patched")
    before = normalise(htmldocs(tree.checkout, dirs, "base"), tree.checkout)
    after = normalise(htmldocs(patched_src, dirs, "patched"), patched_src)
    rendered = {}
    for root, _, names in os.walk(os.path.join(patched_src, ".build-docs")):
        for n in names:
            rendered.setdefault(n, root)
    for p in sorted(touched):
        if p.endswith(".rst") and touched[p][0] != "D":
            page = os.path.basename(p)[:-4] + ".html"
            if page not in rendered:
                sp.fail(f"htmldocs: {p} was not rendered (no {page})")
    new = new_messages(before, after)
    if new:
        sp.fail(f"htmldocs: {len(new)} new warning(s): "
                + "; ".join(f"{k[0]}: {k[2]}" for k in new[:3]))
        for k in new[3:8]:
            sp.notes.append(f"    {k[0]}: {k[2]}")
    else:
        sp.passed += 1
    info["htmldocs"] = (f"SPHINXDIRS={' '.join(dirs)}: "
                        f"{sum(after.values())} warnings (base "
                        f"{sum(before.values())})")
    return sp, kd, info
