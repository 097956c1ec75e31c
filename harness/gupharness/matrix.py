"""The build matrix of make bisect: every prefix of the series, built in
four configurations, with W=1 and sparse on the objects each patch touches
compared with the same objects on the base.

  x86-test   the test kernel's config (harness/config), full bzImage
  x86-allno  x86_64 allnoconfig, full vmlinux
  nommu      arm mps2_defconfig (!CONFIG_MMU, Cortex-M), full vmlinux
  arm64      arm64 defconfig, the touched objects only (a full arm64
             defconfig build is ~1 h on 2 cores)

A patch's objects are the .o files of the .c files it touches (a .c file
that another one #includes counts as its host); a patch that touches a
header checks every object the series touches. Kbuild compiles any single
target it is asked for, selected by the configuration or not (a !MMU
kernel would try mm/memory.o), so whether a configuration builds an
object is asked of a dry run of its directory's build
(kbuild.built_objects()); an object it does not build is reported as
such, not as a pass. Warnings are compared as
(file, message) pairs without line numbers, so code moving is not new."""

import collections
import json
import os
import shutil
import time

from . import kbuild, lint, series
from .results import Counts
from .util import (HarnessError, compiler_messages, env, out, read, say,
                   stage, write)


class Config:
    def __init__(self, name, arch, defconfig, full):
        self.name = name
        self.arch = arch            # ARCH= (None: the host's, x86)
        self.defconfig = defconfig  # None: the test kernel's config
        self.full = full            # full build target, or None
        # CROSS_COMPILE prefix; kbuild.kmake() passes the same one
        self.cross = kbuild.CROSS.get(arch) if arch else None

    def describe(self):
        what = self.defconfig or "test config"
        return (f"{self.name} ({what}"
                + (f", ARCH={self.arch}" if self.arch else "")
                + (f", full {self.full}" if self.full else
                   ", touched objects only") + ")")


CONFIGS = [
    Config("x86-test", None, None, "bzImage"),
    Config("x86-allno", "x86_64", "allnoconfig", "vmlinux"),
    Config("nommu", "arm", "mps2_defconfig", "vmlinux"),
    Config("arm64", "arm64", "defconfig", None),
]


def chosen_configs():
    names = [n for n in env("MATRIX", "").replace(",", " ").split() if n]
    if not names:
        return list(CONFIGS)
    known = {c.name: c for c in CONFIGS}
    bad = [n for n in names if n not in known]
    if bad:
        raise HarnessError(f"MATRIX={','.join(names)}: unknown "
                           f"configuration {', '.join(bad)} (known: "
                           + ", ".join(known) + ")")
    return [known[n] for n in names]


def chosen_prefixes(count):
    """(first, last), 1-based and inclusive: the prefixes PREFIXES=a-b asks
    for ("a-" to the end, "a" alone), or all of them.  A full run of 42
    prefixes in four configurations takes this machine longer than a
    session; two runs on the same series, each over part of it, cover it
    as well, and each says which part it built."""
    spec = env("PREFIXES", "").strip()
    if not spec:
        return 1, count
    first, sep, last = spec.partition("-")
    try:
        a = int(first)
        b = (int(last) if last else count) if sep else a
    except ValueError:
        a = b = 0
    if not 1 <= a <= b <= count:
        raise HarnessError(f"PREFIXES={spec}: want a, a-b or a- with "
                           f"1 <= a <= b <= {count} (the series has "
                           f"{count} patch(es))")
    return a, b


def check_tools(configs):
    missing = [f"{c.cross}gcc" for c in configs
               if c.cross and not shutil.which(c.cross + "gcc")]
    if not shutil.which("sparse"):
        missing.append("sparse")
    if missing:
        raise HarnessError("make bisect needs " + ", ".join(missing)
                           + " (harness/deps.sh installs them)")


def _make(cfg, src, build, *targets, check=False):
    """make for one configuration; returns the CompletedProcess."""
    return kbuild.kmake(src, build, *targets, check=check, arch=cfg.arch)


def build_dir(src, cfg, kind):
    """Where `cfg` builds in the checkout src; kind: bisect or base."""
    if cfg.defconfig is None:
        return os.path.join(src, f".build-{kind}")
    return os.path.join(src, f".build-{kind}-{cfg.name}")


def prepare(cfg, src, kind, rev):
    """A configured and prepared build dir for cfg in src."""
    if cfg.defconfig is None:
        return kbuild.configured_build(src, kind, rev)
    build = build_dir(src, cfg, kind)
    os.makedirs(build, exist_ok=True)
    if not os.path.isfile(os.path.join(build, ".config")):
        say(f"    {cfg.name}: make {cfg.defconfig}")
        _make(cfg, src, build, cfg.defconfig, check=True)
    else:
        _make(cfg, src, build, "olddefconfig", check=True)
    proc = _make(cfg, src, build, "prepare")
    if proc.returncode != 0:
        raise HarnessError(f"{cfg.name}: make prepare failed in {src}:\n"
                           + "\n".join(proc.stdout.splitlines()[-20:]))
    return build


def full_build(cfg, src, rev):
    """The full build of a prefix; raises HarnessError with the first
    error when it fails."""
    if cfg.defconfig is None:
        kbuild.build_kernel(src, "bisect", rev)
        return
    build = prepare(cfg, src, "bisect", rev)
    log = os.path.join(build, "build.log")
    if kbuild.kmake(src, build, cfg.full, log=log, label=f"build {cfg.name}",
                    arch=cfg.arch) != 0:
        errs = [line for line in (read(log) or "").splitlines()
                if "error:" in line or "Error " in line
                or "undefined reference" in line]
        raise HarnessError(f"{cfg.name} build failed: "
                           + (errs[0] if errs else f"see {log}"))


def diagnostics(text):
    """Counter of (file, message) for the warnings and errors in a make
    log; paths relative to the source tree, no line numbers."""
    return collections.Counter(
        (path, f"{level}: {msg}")
        for path, level, msg in compiler_messages(text))


def srcarch(cfg):
    """The arch/ directory a configuration builds."""
    return {None: "x86", "x86_64": "x86"}.get(cfg.arch, cfg.arch)


def for_config(cfg, obj):
    """An object under arch/ is built only by its own architecture."""
    parts = obj.split("/")
    return parts[0] != "arch" or parts[1] == srcarch(cfg)


def check_object(cfg, src, build, obj, built=None):
    """W=1 and sparse (C=2) on one object, compiled afresh. Returns
    (Counter, None), or (None, why) when the configuration does not build
    it. built: the set kbuild.built_objects() gave for this build dir, if
    the caller asked it for several objects at once."""
    if built is None:
        built = kbuild.built_objects(src, build, [obj], cfg.arch)
    if obj not in built:
        return None, "not built by this configuration"
    # An object already compiled with W=1 (arm64 has no full build between
    # two prefixes) would be up to date and print nothing; removed, it is
    # compiled, and ccache replays the compiler's warnings.
    path = os.path.join(build, obj)
    if os.path.exists(path):
        os.unlink(path)
    proc = _make(cfg, src, build, "W=1", "C=2", *kbuild.sparse_args(src),
                 obj)
    kbuild.sparse_ran(proc.stdout, f"{cfg.name}: sparse on {obj}")
    if proc.returncode != 0:
        lines = [line for line in proc.stdout.splitlines()
                 if "error" in line.lower()] or \
            proc.stdout.splitlines()[-3:]
        raise HarnessError(f"{cfg.name}: W=1 build of {obj} failed: "
                           + " | ".join(lines[:3]))
    return diagnostics(proc.stdout), None


def series_objects(src, touched):
    """{object: [its .c files]} for the kernel .c files the series touches;
    an #included .c file counts for its host."""
    files = sorted(p for p, (st, _) in touched.items()
                   if p.endswith(".c") and st != "D" and
                   not p.startswith(("tools/", "Documentation/", "scripts/",
                                     "samples/")))
    parts = lint.included_c_files(src, files)
    objs = {}
    for f in files:
        host = parts.get(f, f)
        objs.setdefault(host[:-2] + ".o", []).append(f)
    return objs


def patch_objects(patch_files, all_objs):
    """The objects one patch asks to check: those of its .c files; all of
    the series' objects when it touches a header."""
    if any(p.endswith(".h") and not p.startswith("tools/")
           for p in patch_files):
        return sorted(all_objs)
    return sorted(o for o, cs in all_objs.items()
                  if any(c in patch_files for c in cs))


class BaseWarnings:
    """The base's diagnostics per (config, object), computed once and kept
    in the base build dir (keyed by the base commit)."""

    def __init__(self, tree):
        self.tree = tree
        self.memo = {}
        self.prepared = {}

    def get(self, cfg, obj):
        key = (cfg.name, obj)
        if key in self.memo:
            return self.memo[key]
        src = self.tree.checkout
        cache = os.path.join(build_dir(src, cfg, "base"),
                             ".gupharness-w1.json")
        stored = json.loads(read(cache, "{}") or "{}")
        # v3: whether the config builds obj comes from a dry run, and a
        # file the base does not have is an object it does not build
        ident = f"v3 {self.tree.base_rev} {obj}"
        if ident in stored:
            got = stored[ident]
            result = None if got is None else collections.Counter(
                {tuple(k.split("\0", 1)): n for k, n in got.items()})
        else:
            if not os.path.isfile(os.path.join(src, obj[:-2] + ".c")):
                result = None   # a new file: the base builds no such object
            else:
                if cfg.name not in self.prepared:
                    self.prepared[cfg.name] = prepare(
                        cfg, src, "base", self.tree.base_rev)
                result, _ = check_object(cfg, src, self.prepared[cfg.name],
                                         obj)
            stored[ident] = None if result is None else {
                "\0".join(k): n for k, n in result.items()}
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            write(cache, json.dumps(stored, indent=1) + "\n")
        self.memo[key] = result
        return result


def fail(counts, note):
    """A failure, counted for the summary and shown now: the summary comes
    only at the end of a run that takes more than an hour."""
    counts.fail(note)
    say(f"    FAIL {note}")


def check_prefix(cfg, src, rev, objs, basew, counts, name):
    """W=1 + sparse on objs at this prefix against the base."""
    objs = [o for o in objs if for_config(cfg, o) and
            os.path.isfile(os.path.join(src, o[:-2] + ".c"))]
    if not objs:
        return      # nothing to check: no prepare (arm64) either
    build = build_dir(src, cfg, "bisect") if cfg.full else \
        prepare(cfg, src, "bisect", rev)
    built = kbuild.built_objects(src, build, objs, cfg.arch)
    for obj in objs:
        after, why = check_object(cfg, src, build, obj, built)
        before = basew.get(cfg, obj)
        if after is None:
            if before is not None:
                fail(counts, f"{name} [{cfg.name}] {obj}: built on the "
                     "base, not at this prefix")
            else:
                say(f"      {cfg.name} {obj}: {why}")
            continue
        before = before or collections.Counter()
        new = sorted(k for k, n in after.items() if n > before.get(k, 0))
        if new:
            fail(counts, f"{name} [{cfg.name}] {obj}: "
                 f"{len(new)} new W=1/sparse message(s): "
                 f"{new[0][0]}: {new[0][1]}")
            for k in new[1:4]:
                counts.notes.append(f"    {k[0]}: {k[1]}")
        else:
            counts.passed += 1


SELFTESTS = "tools/testing/selftests/mm/"


def selftest_programs(repo, rev, touched):
    """The mm selftest programs the series touches that exist at rev."""
    present = set(out(["git", "-C", repo, "ls-tree", "--name-only", rev,
                       SELFTESTS]).split())
    progs = set()
    for p in touched:
        if p.startswith(SELFTESTS) and p.endswith(".c") and p in present:
            name = os.path.basename(p)[:-2]
            if name != "vm_util":
                progs.add(name)
    return sorted(progs)


def check_selftests(src, rev, tree, touched, patch_files, counts, name):
    """A patch touching the mm selftests: the series' programs that exist
    at this prefix build, with no warning in a file this patch touches."""
    if not any(p.startswith(SELFTESTS) for p in patch_files):
        return
    progs = selftest_programs(tree.repo, rev, touched)
    if not progs:
        return
    build = build_dir(src, CONFIGS[0], "bisect")
    try:
        outdir = kbuild.build_selftests(src, build, progs)
    except HarnessError as e:
        fail(counts, f"{name} [selftests]: {str(e).splitlines()[0]}")
        return
    log = read(os.path.join(outdir, "build.log"), "")
    mine = {p for p in patch_files if p.startswith(SELFTESTS)}
    warned = [f"{k[0]}: {k[1]}" for k in diagnostics(log)
              if "tools/testing/selftests/mm/" + os.path.basename(k[0])
              in mine]
    if warned:
        fail(counts, f"{name} [selftests]: {len(warned)} warning(s): "
             + warned[0])
    else:
        counts.passed += 1
        say(f"      selftests: {len(progs)} program(s) build")


def run_matrix(tree, patches, revs, first=1, last=None, head=None):
    """Build every prefix (from `first` to `last`, 1-based) in every chosen
    configuration; returns {config name: Counts} for the builds and Counts
    for the W=1/sparse comparisons, plus the seconds each configuration
    took."""
    last = len(revs) if last is None else last
    configs = chosen_configs()
    check_tools(configs)
    # the files the whole series touches (head: its last commit; revs may
    # be every posting's own commits, each on its own prerequisites)
    head = head or (revs[-1] if revs else tree.base_rev)
    touched = series.touched_files(tree.repo, tree.base_rev, head)
    basew = BaseWarnings(tree)
    builds = {c.name: Counts() for c in configs}
    secs = {c.name: 0.0 for c in configs}
    warn = Counts()
    for c in configs:
        say(f"    {c.describe()}")
    for i, rev in enumerate(revs, 1):
        if not first <= i <= last:
            continue
        name = os.path.basename(patches[i - 1])
        stage(f"bisect: {i}/{len(revs)} {name}")
        src = series.checkout_for_build(tree, "bisect", rev)
        objs_all = series_objects(src, touched)
        pfiles = out(["git", "-C", tree.repo, "diff", "--name-only",
                      f"{rev}~1", rev]).split()
        objs = patch_objects(pfiles, objs_all)
        for cfg in configs:
            t0 = time.monotonic()
            try:
                if cfg.full:
                    full_build(cfg, src, rev)
                check_prefix(cfg, src, rev, objs, basew, warn, name)
                builds[cfg.name].passed += 1
            except HarnessError as e:
                fail(builds[cfg.name],
                     f"{name} [{cfg.name}]: {str(e).splitlines()[0]}")
            took = time.monotonic() - t0
            secs[cfg.name] += took
            say(f"    {cfg.name}: {took:.0f}s"
                + (f", W=1+sparse on {len(objs)} object(s)" if objs
                   else ""))
        if configs[0] is CONFIGS[0]:
            check_selftests(src, rev, tree, touched, pfiles, warn, name)
    return configs, builds, warn, secs
