"""Kernel and selftest builds: out of tree (a .build-NAME directory inside
the source checkout, so srctree is ".." and ccache hits across trees),
ccache, incremental."""

import os
import re
import shutil

from .util import (HarnessError, env, env_int, out, read, repo_root, run,
                   run_logged, say, sha256_text, stage, write)

CONFIG_DIR = os.path.join(repo_root(), "harness", "config")
# Options every test kernel has (base and patched).
COMMON_FRAGMENT = os.path.join(CONFIG_DIR, "kernel.config")
# Options that only exist once the series is applied (its KUnit suites...).
SERIES_FRAGMENT = os.path.join(CONFIG_DIR, "series.config")
# The debug kernel (make debug): KASAN, lockdep, DEBUG_PAGEALLOC...
DEBUG_FRAGMENT = os.path.join(CONFIG_DIR, "debug.config")
# The benchmark kernels (make bench): the test kernel less DEBUG_VM.
BENCH_FRAGMENT = os.path.join(CONFIG_DIR, "bench.config")
BENCH_KINDS = ("bench-base", "bench-patched")


def jobs():
    return env_int("JOBS", os.cpu_count() or 2)


def make_env():
    cache = env("CCACHE_DIR") or os.path.expanduser("~/.cache/ccache")
    return {
        "CCACHE_DIR": cache,
        "CCACHE_MAXSIZE": env("CCACHE_MAXSIZE", "8G"),
        # Reproducible version strings: only init/version.c would differ.
        "KBUILD_BUILD_USER": "gup-harness",
        "KBUILD_BUILD_HOST": "qemu",
    }


# Cross builds for sparse on another architecture's files: ARCH -> prefix.
# the cross compilers (Debian gcc-*) of the architectures we build
CROSS = {"arm": "arm-linux-gnueabi-", "arm64": "aarch64-linux-gnu-"}


def kmake(src, build, *targets, log=None, label="make", progress=None,
          state=None, check=True, arch=None):
    """make in the build dir `build` (a subdirectory of src). With a log:
    output there, a progress line, returns the exit code; without: returns
    the CompletedProcess (raising on failure when check). `arch`: ARCH=,
    with its cross compiler from CROSS (x86_64 needs none)."""
    cross = CROSS.get(arch, "") if arch else ""
    cc = f"ccache {cross}gcc"
    extra = [f"ARCH={arch}"] if arch else []
    if cross:
        extra.append(f"CROSS_COMPILE={cross}")
    cmd = ["make", "-C", src, f"O={os.path.basename(build)}",
           f"-j{jobs()}", f"CC={cc}", "HOSTCC=ccache gcc", *extra,
           *targets]
    if log is None:
        return run(cmd, env_extra=make_env(), capture=True, check=check)
    return run_logged(cmd, log, label, env_extra=make_env(),
                      progress=progress, state=state)


_SPARSE = {}


def sparse_args(src):
    """CHECK= for make C=1/C=2: a sparse the tree at src accepts (7.3 needs
    a newer one than Debian bookworm's, checker.py builds it)."""
    if src not in _SPARSE:
        from .checker import sparse_for
        _SPARSE[src] = [f"CHECK={sparse_for(src)}"]
    return _SPARSE[src]


SPARSE_REFUSED = "is not available or not up to date"


def sparse_ran(output, what):
    """Kbuild turns C= off, with only a warning, when it does not accept
    the sparse it was given: make that an error, never a clean check."""
    if SPARSE_REFUSED in output:
        raise HarnessError(f"{what}: Kbuild refused the sparse it was given "
                           f"({SPARSE_REFUSED}): nothing was checked")


def parse_fragment(path):
    """{CONFIG_X: value} with 'n' for '# CONFIG_X is not set'."""
    want = {}
    text = read(path)
    if text is None:
        raise HarnessError(f"config fragment {path} is missing")
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        m = re.match(r"# (CONFIG_\w+) is not set$", line)
        if m:
            want[m.group(1)] = "n"
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if not m:
            raise HarnessError(f"{path}:{n}: not a config line: {line!r}")
        want[m.group(1)] = m.group(2)
    return want


def parse_dotconfig(path):
    have = {}
    for line in (read(path) or "").splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if m:
            have[m.group(1)] = m.group(2)
    return have


def check_config(dotconfig, fragments):
    """Every requested option has exactly the requested value; where two
    fragments ask for one option, the later one counts, as it does for
    merge_config.sh (bench.config turns DEBUG_VM off again)."""
    have = parse_dotconfig(dotconfig)
    want = {}
    for frag in fragments:
        for key, val in parse_fragment(frag).items():
            want[key] = (val, frag)
    bad = []
    for key, (val, frag) in want.items():
        got = have.get(key, "n")
        if got != val:
            bad.append(f"{key}={val} requested, got "
                       f"{'not set' if got == 'n' else got} "
                       f"({os.path.basename(frag)})")
    return bad


def fragments_for(kind):
    frags = [COMMON_FRAGMENT]
    if kind not in ("base", "bench-base") and \
            os.path.isfile(SERIES_FRAGMENT) and \
            parse_fragment(SERIES_FRAGMENT):
        frags.append(SERIES_FRAGMENT)
    if kind == "debug":
        frags.append(DEBUG_FRAGMENT)
    if kind in BENCH_KINDS:
        frags.append(BENCH_FRAGMENT)
    extra = env("CONFIG_EXTRA")
    if extra:
        for f in extra.split(","):
            if not os.path.isfile(f):
                raise HarnessError(f"CONFIG_EXTRA: {f} does not exist")
            frags.append(os.path.abspath(f))
    return frags


def declared_in(src, name):
    """Is CONFIG_<name> declared by some Kconfig file of the tree at src?"""
    proc = run(["git", "-C", src, "grep", "-q", "-E",
                rf"^\s*(menu)?config {re.escape(name)}\s*$", "--",
                "*Kconfig*"], capture=True, check=False)
    return proc.returncode == 0


def series_fragment_for_prefix(src, build):
    """series.config reduced to the options the tree at src declares: a
    prefix of the series (make bisect) may not have added them yet, and
    another series (PATCHES=) may not have them at all."""
    keep, dropped = [], []
    for line in read(SERIES_FRAGMENT).splitlines():
        m = re.match(r"^(?:# )?CONFIG_(\w+)[= ]", line)
        if m and not declared_in(src, m.group(1)):
            dropped.append(m.group(1))
            continue
        keep.append(line)
    path = os.path.join(build, "series-prefix.config")
    write(path, "\n".join(keep) + "\n")
    if dropped:
        say("    not declared yet at this prefix: "
            + ", ".join("CONFIG_" + d for d in dropped))
    return path


def configure(src, build, kind, commit):
    frags = fragments_for(kind)
    # A prefix of the series (make bisect), one posting on its
    # prerequisites (make postings) or another series (PATCHES=, the
    # failure demos): series.config only as far as the tree declares it.
    if kind in ("bisect", "posting") or env("PATCHES"):
        frags = [series_fragment_for_prefix(src, build)
                 if f == SERIES_FRAGMENT else f for f in frags]
    stamp = os.path.join(build, ".gupharness-config")
    key = sha256_text(commit, *[read(f) for f in frags])
    dotconfig = os.path.join(build, ".config")
    if read(stamp, "").strip() == key and os.path.isfile(dotconfig):
        say("    config unchanged")
    else:
        say("    tinyconfig + " + " + ".join(os.path.basename(f)
                                              for f in frags)
            + ", olddefconfig")
        kmake(src, build, "tinyconfig")
        run([os.path.join(src, "scripts/kconfig/merge_config.sh"), "-m",
             "-O", build, dotconfig, *frags], cwd=src, capture=True)
        kmake(src, build, "olddefconfig")
        write(stamp, key + "\n")
    bad = check_config(dotconfig, frags)
    if bad:
        os.unlink(stamp)
        raise HarnessError(
            "olddefconfig dropped or changed requested options (a missing "
            "dependency in the fragment?):\n    " + "\n    ".join(bad))


def build_kernel(src, kind, commit):
    """Configure and build bzImage + uapi headers. Returns the build dir."""
    build = os.path.join(src, f".build-{kind}")
    os.makedirs(build, exist_ok=True)
    stage(f"kernel build ({kind}): {src}")
    configure(src, build, kind, commit)
    count_file = os.path.join(build, ".gupharness-objcount")
    expected = int(read(count_file, "0").strip() or 0)

    def progress(line, state):
        if line.startswith("  CC ") or line.startswith("  AS ") or \
                line.startswith("  LD ") or line.startswith("  AR "):
            state["n"] = state.get("n", 0) + 1
            what = line.split(None, 1)[1].strip() if " " in line.strip() \
                else line.strip()
            pct = (f" (~{min(99, 100 * state['n'] // expected)}% of a full "
                   "build)" if expected else "")
            state["text"] = f"{state['n']} steps{pct}, last: {what}"

    log = os.path.join(build, "build.log")
    state_box = {}
    rc = kmake(src, build, "bzImage", "headers", log=log,
               label=f"build {kind}", progress=progress, state=state_box)
    if rc != 0:
        errs = [line for line in (read(log) or "").splitlines()
                if "error:" in line or "Error " in line]
        raise HarnessError(f"kernel build ({kind}) failed; first error: "
                           + (errs[0] if errs else f"see {log}"))
    steps = state_box.get("n", 0)
    if steps > expected:
        write(count_file, f"{steps}\n")
    image = os.path.join(build, "arch/x86/boot/bzImage")
    if not os.path.isfile(image):
        raise HarnessError(f"no {image} after the build")
    return build


def build_selftests(src, build, programs):
    """Static mm selftests against the tree's uapi headers."""
    mm = os.path.join(src, "tools/testing/selftests/mm")
    outdir = os.path.join(build, "kselftest", "mm")
    os.makedirs(outdir, exist_ok=True)
    stage(f"selftests: {', '.join(sorted(programs))}")
    hdrs = os.path.join(build, "usr", "include")
    if not os.path.isdir(hdrs):
        raise HarnessError(f"no uapi headers in {hdrs}")
    targets = [os.path.join(outdir, p) for p in sorted(programs)
               if not p.endswith(".sh")]
    # Plain gcc: check_config.sh (the liburing probe) takes $(CC) as one
    # word, so "ccache gcc" would break it; these build in seconds anyway.
    cmd = ["make", "-C", mm, f"-j{jobs()}", f"OUTPUT={outdir}",
           f"KHDR_INCLUDES=-isystem {hdrs}", "EXTRA_CFLAGS=-static",
           *targets]
    log = os.path.join(outdir, "build.log")
    # Never a bare `make` of the whole folder: khugepaged.c does not build
    # as shipped in 6.12.117 (KSFT_SKIP without kselftest.h).
    if targets and run_logged(cmd, log, "selftests",
                              env_extra=make_env()) != 0:
        raise HarnessError(f"selftest build failed; see {log}")
    for p in programs:
        if p.endswith(".sh"):
            shutil.copy2(os.path.join(mm, p), os.path.join(outdir, p))
        if not os.path.isfile(os.path.join(outdir, p)):
            raise HarnessError(f"selftest {p} was not built")
    # Sanity: no dynamic program slips into the busybox initramfs.
    for p in programs:
        if p.endswith(".sh"):
            continue
        info = out(["file", "-b", os.path.join(outdir, p)]) \
            if shutil.which("file") else "statically linked"
        if "dynamically linked" in info:
            raise HarnessError(f"selftest {p} is dynamically linked")
    return outdir


def cross_configured_build(src, kind, arch):
    """A prepared `arch` defconfig build dir, for sparse on that
    architecture's files; None if its cross compiler is not installed."""
    if arch not in CROSS or not shutil.which(CROSS[arch] + "gcc"):
        return None
    build = os.path.join(src, f".build-{kind}-{arch}")
    os.makedirs(build, exist_ok=True)
    if not os.path.isfile(os.path.join(build, ".config")):
        say(f"    {arch} defconfig ({kind})")
        kmake(src, build, "defconfig", arch=arch)
    proc = kmake(src, build, "prepare", check=False, arch=arch)
    if proc.returncode != 0:
        raise HarnessError(f"make prepare ({kind}, {arch}) failed:\n"
                           + "\n".join(proc.stdout.splitlines()[-20:]))
    return build


def configured_build(src, kind, commit):
    """A configured, prepared build dir (for sparse) without a full build."""
    build = os.path.join(src, f".build-{kind}")
    os.makedirs(build, exist_ok=True)
    configure(src, build, kind, commit)
    proc = kmake(src, build, "prepare", check=False)
    if proc.returncode != 0:
        raise HarnessError(f"make prepare ({kind}) failed:\n"
                           + "\n".join(proc.stdout.splitlines()[-20:]))
    return build


def _makefile_dir(src, obj):
    """The directory whose Makefile (or Kbuild) lists obj, with a trailing
    slash: mm/tests/gup_kunit.o is listed in mm/Makefile."""
    directory = os.path.dirname(obj)
    while directory and not any(
            os.path.isfile(os.path.join(src, directory, f))
            for f in ("Makefile", "Kbuild")):
        directory = os.path.dirname(directory)
    if not directory:
        raise HarnessError(f"{obj}: no Makefile or Kbuild in any of its "
                           f"directories under {src}")
    return directory + "/"


# obj-y in mm/Makefile with no condition: every configuration builds it.
# Not finding it in a dry run means the parser no longer matches Kbuild's
# output, and every object would pass as "not built".
ALWAYS_BUILT = "mm/gup.o"
ASIDE = ".gupharness-aside"


def built_objects(src, build, objs, arch=None):
    """The objects among objs that the .config in build builds. Kbuild
    compiles any single target it is asked for, selected or not (a !MMU
    kernel would try mm/memory.o, allnoconfig fs/fuse/dev.o), so this asks
    a dry run of each directory's build (make -n dir/, once per directory)
    which prints an object's compile command if and only if its Makefile
    selects it with this .config. Kbuild prints ":" for an object that is
    up to date, so the objects are moved aside for the dry run and put
    back after it, mtime intact: nothing is rebuilt or relinked for it."""
    by_dir = {}
    for obj in objs:
        by_dir.setdefault(_makefile_dir(src, obj), []).append(obj)
    built = set()
    for directory, group in sorted(by_dir.items()):
        aside = []
        try:
            for obj in group:
                path = os.path.join(build, obj)
                if os.path.exists(path):
                    os.replace(path, path + ASIDE)
                    aside.append(path)
                elif os.path.exists(path + ASIDE):
                    os.unlink(path + ASIDE)     # left by a killed run
            proc = kmake(src, build, "-n", directory, check=False, arch=arch)
        finally:
            for path in aside:
                try:
                    os.replace(path + ASIDE, path)
                except OSError:
                    pass    # missing: Kbuild compiles it again, no harm
        if proc.returncode != 0:
            raise HarnessError(f"make -n {directory}"
                               + (f" (ARCH={arch})" if arch else "")
                               + " failed: "
                               + " | ".join(proc.stdout.splitlines()[-3:]))
        for obj in group:
            if re.search(r"(?:^|\s)-o " + re.escape(obj) + r"(?=\s|;|$)",
                         proc.stdout, re.M):
                built.add(obj)
    if ALWAYS_BUILT in objs and ALWAYS_BUILT not in built:
        raise HarnessError(f"make -n found no compile of {ALWAYS_BUILT}, "
                           "which every configuration builds: the dry "
                           "run's output is not what this parser reads")
    return built
