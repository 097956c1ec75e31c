"""make profile: where the kernel's instructions go, per function, base
against patched.

A QEMU TCG plugin (harness/profile/insnprof.c) counts the guest kernel
instructions executed at each address.  Each kernel (the bench kernels,
as make bench) boots once per suite of group `profile` in harness/suites;
those come in pairs, NAME_1 and NAME_2, that run the same workload for N
and 2N iterations (vmsplice_bench -i, gup_test -r).  The difference of the two counts
is N iterations' worth: boot, set-up and warm-up cancel out.  Counts are
attributed to functions with vmlinux's symbol table and divided by the
pages the iterations vmspliced or pinned.  Instruction counts, not time: the same
on any host, and exact."""

import bisect
import collections
import os
import re
import shutil
import subprocess

from . import base, guest, series
from .bench import bench_build_kinds
from .results import Summary
from .util import (EXIT_OK, HarnessError, env, env_int, repo_root, say,
                   stage)

PLUGIN_SRC = os.path.join(repo_root(), "harness", "profile", "insnprof.c")
PAIR = re.compile(r"^(prof_[A-Za-z0-9]+)_([12])$")
PAGE = 4096


def build_plugin(outdir):
    """gcc the plugin into outdir; the path of the .so."""
    if not shutil.which("gcc"):
        raise HarnessError("gcc is not installed")
    so = os.path.join(outdir, "insnprof.so")
    proc = subprocess.run(["gcc", "-O2", "-Wall", "-shared", "-fPIC", "-o",
                           so, PLUGIN_SRC, "-lpthread"],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise HarnessError("building the QEMU plugin failed:\n"
                           + proc.stderr.strip())
    return so


def qemu_has_plugins():
    """A QEMU built with plugins fails to load a missing one; one built
    without them refuses the option."""
    proc = subprocess.run(["qemu-system-x86_64", "-display", "none",
                           "-plugin", "file=/nonexistent-gupharness"],
                          capture_output=True, text=True, check=False)
    return "Could not load plugin" in proc.stdout + proc.stderr


def workload(command):
    """(iterations, pages per iteration) of a profile suite's command:
    vmsplice_bench -i N -z BYTES, or gup_test -r N -m MiB (every repeat
    goes over the whole region)."""
    opts = dict(re.findall(r"-([izrm]) (\d+)", command))
    if "vmsplice_bench" in command and {"i", "z"} <= set(opts):
        return int(opts["i"]), max(1, int(opts["z"]) // PAGE)
    if "gup_test" in command and {"r", "m"} <= set(opts):
        return int(opts["r"]), int(opts["m"]) * (1 << 20) // PAGE
    raise HarnessError(f"profile suite `{command}`: vmsplice_bench with -i "
                       "and -z, or gup_test with -r and -m")


def pairs(suites):
    """{name: (suite for N, suite for 2N)} from the `profile` suites."""
    found = collections.defaultdict(dict)
    for s in suites:
        m = PAIR.match(s.name)
        if not m:
            raise HarnessError(f"profile suite {s.name}: name it "
                               "prof_WORKLOAD_1 or prof_WORKLOAD_2")
        found[m.group(1)][m.group(2)] = s
    out = {}
    for name, d in found.items():
        if set(d) != {"1", "2"}:
            raise HarnessError(f"profile suite {name}: needs both {name}_1 "
                               f"and {name}_2")
        (i1, z1), (i2, z2) = workload(d["1"].command), \
            workload(d["2"].command)
        if z1 != z2 or i2 <= i1 or \
                re.sub(r"-[ir] \d+", "", d["1"].command) != \
                re.sub(r"-[ir] \d+", "", d["2"].command):
            raise HarnessError(f"profile suites {name}_1/_2: the same "
                               "command but for more iterations in _2")
        out[name] = (d["1"], d["2"])
    return out


def symbols(vmlinux):
    """Sorted ([start addresses], [names]) of vmlinux's text symbols."""
    proc = subprocess.run(["nm", "-n", vmlinux], capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        raise HarnessError(f"nm {vmlinux}: {proc.stderr.strip()}")
    addrs, names = [], []
    for line in proc.stdout.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTwW":
            addrs.append(int(p[0], 16))
            names.append(p[2])
    return addrs, names


def per_function(counts_text, syms):
    """{function: instructions} from the plugin's "address count" lines."""
    addrs, names = syms
    out = collections.Counter()
    for line in counts_text.splitlines():
        if line.startswith("#"):
            raise HarnessError("the plugin's table filled up: " + line)
        a, c = line.split()
        i = bisect.bisect_right(addrs, int(a, 16)) - 1
        out[names[i] if i >= 0 else "?"] += int(c)
    return out


def difference(one, two, pages):
    """Instructions per page, per function, of the second run less the
    first (both {function: instructions})."""
    return {f: (two.get(f, 0) - one.get(f, 0)) / pages
            for f in set(one) | set(two)}


def table(name, pages, res, top=25):
    """Text: total instructions per page on each kernel, then the top
    functions by the size of their difference."""
    b, p = res["base"], res["patched"]
    tb, tp = sum(b.values()), sum(p.values())
    funcs = sorted(set(b) | set(p),
                   key=lambda f: (-abs(p.get(f, 0) - b.get(f, 0)),
                                  -max(b.get(f, 0), p.get(f, 0)), f))
    lines = [f"{name}: instructions per page ({pages} pages): "
             f"base {tb:.1f}, patched {tp:.1f}, difference {tp - tb:+.1f} "
             f"({tp / tb if tb else 0:.3f}x)",
             f"  {'function':<40} {'base':>8} {'patched':>8} {'diff':>8}"]
    for f in funcs[:top]:
        if abs(p.get(f, 0) - b.get(f, 0)) < 0.05:
            break
        lines.append(f"  {f:<40} {b.get(f, 0):>8.1f} {p.get(f, 0):>8.1f} "
                     f"{p.get(f, 0) - b.get(f, 0):>+8.1f}")
    return "\n".join(lines)


def cmd_profile():
    accel, why = guest.choose_accel()
    if accel != "tcg":
        raise HarnessError("make profile needs TCG (a QEMU plugin); "
                           f"this machine would use {accel}")
    if not qemu_has_plugins():
        raise HarnessError("qemu-system-x86_64 has no plugin support "
                           "(-plugin)")
    suites = [s for s in guest.read_suites() if "profile" in s.groups]
    if not suites:
        raise HarnessError("no suite of group `profile` in harness/suites")
    todo = pairs(suites)
    # One vCPU: the plugin's inline counters are not atomic.
    os.environ["SMP"] = "1"
    tree = base.get_tree()
    head = series.applied(tree)
    outdir = os.path.join(repo_root(), "out", "profile")
    os.makedirs(outdir, exist_ok=True)
    so = build_plugin(outdir)
    build_kind = bench_build_kinds()
    from .main import (_kernel_and_initrd, build_dir, evaluate,
                       selftest_dir)
    kernels = {"patched": (head, series.checkout_for_build(tree, "patched",
                                                           head)),
               "base": (tree.base_rev, tree.checkout)}
    summary = Summary()
    counts = {}
    shared = None
    for kind in ("patched", "base"):
        rev, src = kernels[kind]
        kernel, initrd = _kernel_and_initrd(tree, build_kind[kind], rev, src,
                                            suites, shared)
        if kind == "patched":
            shared = selftest_dir(kernel)
        vmlinux = os.path.join(build_dir(kernel), "vmlinux")
        syms = symbols(vmlinux)
        for s in suites:
            out = os.path.join(outdir, f"{kind}-{s.name}.counts")
            if os.path.exists(out):
                os.unlink(out)
            g = guest.boot(kernel, initrd, [s],
                           os.path.join(outdir, f"{kind}-{s.name}"),
                           f"{kind}, {s.name}",
                           qemu_extra=["-plugin", f"{so},out={out}"])
            evaluate(g, [s], summary, label=f"{kind} {s.name}")
            if not os.path.isfile(out):
                raise HarnessError(f"{kind} {s.name}: the plugin wrote no "
                                   f"counts ({g.ended}: {g.detail})")
            with open(out) as f:
                counts[(kind, s.name)] = per_function(f.read(), syms)
    stage("profile results")
    parts = []
    for name, (one, two) in sorted(todo.items()):
        (i1, per), (i2, _) = workload(one.command), workload(two.command)
        pages = (i2 - i1) * per
        res = {k: difference(counts[(k, one.name)], counts[(k, two.name)],
                             pages) for k in ("base", "patched")}
        parts.append(table(f"{name[5:]} ({two.command.split('./', 1)[-1]} "
                           f"less {i1} iterations)", pages, res,
                           env_int("PROFILE_TOP", 25)))
    text = "\n\n".join(parts)
    say(text)
    with open(os.path.join(repo_root(), "out", "profile.txt"), "w") as f:
        f.write(text + "\n")
    say(f"\n(saved in out/profile.txt; base {tree.base_rev[:12]}, patched "
        f"{head[:12]}; "
        + ("bench kernels" if build_kind["base"] != "base"
           else "test kernels") + ")")
    say("")
    say(summary.render())
    say("")
    say(summary.final_line())
    return EXIT_OK if summary.ok() else 1
