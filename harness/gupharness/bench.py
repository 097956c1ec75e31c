"""make bench: the gup_test fast-path benchmarks and proc_mem_bench
(/proc/pid/mem readers against an mmap_lock writer) on the base and the
patched kernel in one invocation; medians, spread and the patched/base ratio.

Under TCG absolute times mean little; the ratio of two kernels measured in
the same run, on medians of many repeats, does."""

import os
import random
import re
import shutil
import statistics
import subprocess

from . import base, guest, series
from .results import Summary
from .util import (EXIT_OK, HarnessError, env, env_int, repo_root, say,
                   stage)

MODES = {"u": "GUP_FAST", "a": "PIN_FAST", "L": "PIN_LONGTERM"}
PAGES = {"T": "4K", "t": "THP"}
BENCH = re.compile(r"^(?:# )?BENCH (\S+) (\d+) (\d+)$")
# proc_mem_bench: BENCH <writer mode> <readers> <reads/s> <writer loops/s>
PROCMEM = re.compile(r"^(?:# )?BENCH ([a-z]+) (\d+) (\d+) (\d+)$")
PROCMEM_MODES = ("nowriter", "mmap", "mprotect")
# proc_mem_bench -l: LATENCY <writer MiB> <reads> <p50> <p99> <max> <hold>
# (microseconds; hold: the writer's mean time per mprotect() call)
LATENCY = re.compile(r"^(?:# )?LATENCY (\d+) (\d+) ([\d.]+) ([\d.]+) "
                     r"([\d.]+) ([\d.]+)$")
# vmsplice_bench: VMSPLICE <sink> <bytes per write> <vmsplice|write> <B/s>
VMSPLICE = re.compile(r"^(?:# )?VMSPLICE (\S+) (\d+) (vmsplice|write) (\d+)$")
SINKS = ("null", "fresh", "unix", "tcp", "tee")
# dio_pin -b: DIO <file system> <write|read> <bytes per call> <B/s>, nested
# one level deeper under dio_nfs.sh
DIO = re.compile(r"^(?:# )*DIO (\S+) (write|read) (\d+) (\d+)$")


def parse(text):
    samples = {}
    for line in text.replace("\r", "").splitlines():
        m = BENCH.match(line)
        if m:
            samples.setdefault(m.group(1), []).append(
                (int(m.group(2)), int(m.group(3))))
    return samples


def parse_procmem(text):
    """{(mode, readers): [(reads_per_s, writer_loops_per_s)]}"""
    samples = {}
    for line in text.replace("\r", "").splitlines():
        m = PROCMEM.match(line)
        if m:
            samples.setdefault((m.group(1), int(m.group(2))), []).append(
                (int(m.group(3)), int(m.group(4))))
    return samples


def parse_latency(text):
    """{writer MiB: [(p50, p99, max, hold)]}, microseconds"""
    samples = {}
    for line in text.replace("\r", "").splitlines():
        m = LATENCY.match(line)
        if m:
            samples.setdefault(int(m.group(1)), []).append(
                tuple(float(m.group(i)) for i in (3, 4, 5, 6)))
    return samples


def parse_vmsplice(text):
    """{(sink, size, method): [bytes_per_s]}"""
    samples = {}
    for line in text.replace("\r", "").splitlines():
        m = VMSPLICE.match(line)
        if m:
            samples.setdefault((m.group(1), int(m.group(2)), m.group(3)),
                               []).append(int(m.group(4)))
    return samples


def parse_dio(text):
    """{(file system, write|read, bytes per call): [bytes_per_s]}"""
    samples = {}
    for line in text.replace("\r", "").splitlines():
        m = DIO.match(line)
        if m:
            samples.setdefault((m.group(1), m.group(2), int(m.group(3))),
                               []).append(int(m.group(4)))
    return samples


def dio_table(results):
    """results: {kind: {(fs, op, size): [B/s]}} -> text: O_DIRECT
    throughput on each kernel and patched/base."""
    base, patched = results.get("base", {}), results.get("patched", {})
    keys = sorted({k for r in results.values() for k in r})
    head = (f"{'O_DIRECT MB/s':<22} {'base':>9} {'IQR':>6} {'patched':>9} "
            f"{'IQR':>6} {'pat/base':>8}")
    lines = [head, "-" * len(head)]
    for key in keys:
        cells, meds = "", []
        for r in (base, patched):
            vals = r.get(key, [])
            if vals:
                med, spread = stats(vals)
                meds.append(med)
                cells += f" {med / 1e6:>9.1f} {spread * 100:>5.1f}%"
            else:
                meds.append(None)
                cells += f" {'-':>9} {'-':>6}"
        ratio = (f" {meds[1] / meds[0]:>8.2f}" if all(meds)
                 else f" {'-':>8}")
        fs, op, size = key
        lines.append(f"{fs + ' ' + op + ' ' + _size(size):<22}" + cells
                     + ratio)
    n = min((len(v) for r in results.values() for v in r.values()),
            default=0)
    lines.append(f"(medians of {n} rounds per cell, sequential O_DIRECT "
                 "on a 16 MiB file; goal: pat/base >= 0.98)")
    return "\n".join(lines)


def _size(n):
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


def vmsplice_table(results):
    """results: {kind: {(sink, size, method): [B/s]}} -> text.  Columns:
    vmsplice() on each kernel and their ratio, then the copy (write() into
    the pipe) on the patched kernel and vmsplice()/copy there."""
    base, patched = results.get("base", {}), results.get("patched", {})
    keys = sorted({(k[0], k[1]) for r in results.values() for k in r},
                  key=lambda k: (SINKS.index(k[0]) if k[0] in SINKS else 9,
                                 k[0], k[1]))
    head = (f"{'vmsplice MB/s':<14} {'base':>9} {'IQR':>6} {'patched':>9} "
            f"{'IQR':>6} {'pat/base':>8} {'copy':>9} {'IQR':>6} "
            f"{'pat/copy':>8}")
    lines = [head, "-" * len(head)]

    def cell(vals):
        if not vals:
            return None, f" {'-':>9} {'-':>6}"
        med, spread = stats(vals)
        return med, f" {med / 1e6:>9.1f} {spread * 100:>5.1f}%"

    def ratio(a, b):
        return f" {a / b:>8.2f}" if a and b else f" {'-':>8}"

    for sink, size in keys:
        b, bcell = cell(base.get((sink, size, "vmsplice"), []))
        p, pcell = cell(patched.get((sink, size, "vmsplice"), []))
        c, ccell = cell(patched.get((sink, size, "write"), []))
        lines.append(f"{sink + ' ' + _size(size):<14}" + bcell + pcell
                     + ratio(p, b) + ccell + ratio(p, c))
    n = min((len(v) for r in results.values() for v in r.values()),
            default=0)
    lines.append(f"(medians of {n} rounds per cell; copy = write() of the "
                 "same buffer into the pipe, patched kernel; goals: "
                 "pat/base >= 0.95, pat/copy >= 1.5 from 64K)")
    return "\n".join(lines)


def _head(title, width, kinds):
    head = f"{title:<{width}}"
    for k in kinds:
        head += f" {k + ' median':>15} {'IQR':>6}"
    if len(kinds) == 2:
        head += f" {kinds[1] + '/' + kinds[0]:>15}"
    return [head, "-" * len(head)]


def _row(label, width, series, digits):
    """One row: median and spread per kernel, then the ratio of the two;
    `series` is one list of samples per kernel."""
    row = f"{label:<{width}}"
    meds = []
    for vals in series:
        if not vals:
            row += f" {'-':>15} {'-':>6}"
            meds.append(None)
            continue
        med, spread = stats(vals)
        meds.append(med)
        row += f" {med:>15.0f} {spread * 100:>5.1f}%"
    if len(meds) == 2 and all(meds) and meds[0]:
        row += f" {meds[1] / meds[0]:>15.{digits}f}"
    return row


def _samples(results, kinds, what):
    n = {k: min((len(v) for v in results[k].values()), default=0)
         for k in kinds}
    return ", ".join(f"{v} ({k})" for k, v in n.items()) + f" {what}"


def procmem_table(results):
    """results: {kind: {(mode, readers): [(reads, loops)]}} -> text; the
    ratio column is patched/base of the medians (> 1: patched faster)."""
    kinds = list(results)
    keys = sorted({k for r in results.values() for k in r},
                  key=lambda k: (PROCMEM_MODES.index(k[0])
                                 if k[0] in PROCMEM_MODES else 99, k[0], k[1]))
    lines = _head("/proc/pid/mem reads/s", 26, kinds)
    for col in (0, 1):
        for key in keys:
            if col == 1 and key[0] == "nowriter":
                continue
            label = (f"no writer, {key[1]} rd" if key[0] == "nowriter"
                     else f"{key[0]} writer, {key[1]} rd")
            if col == 1:
                label = f"  {key[0]} loops/s, {key[1]} rd"
            lines.append(_row(label, 26, [[v[col] for v in
                                           results[k].get(key, [])]
                                          for k in kinds], 2))
    lines.append(f"(medians of {_samples(results, kinds, 'rounds')} per "
                 "row; ratio > 1 means the patched kernel is faster)")
    return "\n".join(lines)


def latency_table(results):
    """results: {kind: {writer MiB: [(p50, p99, max, hold)]}} -> text: the
    median over rounds of each round's p50 and p99, and of the writer's
    hold time per call, per kernel."""
    kinds = list(results)
    keys = sorted({k for r in results.values() for k in r})
    head = f"{'/proc/pid/mem read latency, us':<32}"
    for k in kinds:
        head += f" {k + ' p50':>12} {k + ' p99':>12} {'hold':>9}"
    lines = [head, "-" * len(head)]
    for mib in keys:
        line = f"{'no writer' if not mib else f'mprotect writer, {mib} MiB':<32}"
        for k in kinds:
            vals = results[k].get(mib, [])
            if not vals:
                line += f" {'-':>12} {'-':>12} {'-':>9}"
                continue
            med = [statistics.median(v[i] for v in vals) for i in (0, 1, 3)]
            line += f" {med[0]:>12.1f} {med[1]:>12.1f} {med[2]:>9.0f}"
        lines.append(line)
    lines.append(f"(medians over {_samples(results, kinds, 'rounds')} of "
                 "each round's percentiles; one reader, a pread() every "
                 "0.5-1 ms; hold = the writer's time per mprotect() call)")
    return "\n".join(lines)


def describe(cfg):
    m = re.match(r"([uaL])([Tt])(\d+)$", cfg)
    if not m:
        return cfg
    return f"{MODES[m.group(1)]:<12} {PAGES[m.group(2)]:<3} n={m.group(3)}"


def stats(values):
    values = sorted(values)
    if len(values) < 4:
        return statistics.median(values), 0.0
    q = statistics.quantiles(values, n=4)
    med = statistics.median(values)
    spread = (q[2] - q[0]) / med if med else 0.0    # IQR / median
    return med, spread


def table(results):
    """results: {kind: {cfg: [(get, put)]}} -> text."""
    kinds = list(results)
    cfgs = sorted({c for r in results.values() for c in r},
                  key=lambda c: ("uaL".index(c[0]), c[1] == "t", int(c[2:])))
    lines = _head("benchmark (get, us)", 24, kinds)
    for cfg in cfgs:
        lines.append(_row(describe(cfg), 24, [[g for g, _ in
                                               results[k].get(cfg, [])]
                                              for k in kinds], 3))
    lines.append(f"(medians of {_samples(results, kinds, 'repeats')} per "
                 "row; IQR = interquartile range / median; ratio > 1 means "
                 "slower)")
    return "\n".join(lines)


def quartiles(values):
    """(q1, median, q3); with fewer than 4 values q1 = q3 = median."""
    values = sorted(values)
    med = statistics.median(values)
    if len(values) < 4:
        return med, med, med
    q = statistics.quantiles(values, n=4)
    return q[0], med, q[2]


BOOTSTRAP_REPS = 2000
RESOLUTION = 0.05       # the half-width a "no difference" verdict needs


def _resample(rng, boots):
    """One two-level bootstrap draw: boots with replacement, then samples
    with replacement within each drawn boot; pooled."""
    out = []
    for b in rng.choices(boots, k=len(boots)):
        out += rng.choices(b, k=len(b))
    return out


def speedup(base_boots, pat_boots, lower_is_better=False, reps=None,
            seed=0):
    """(ratio, low, high): how much faster the patched kernel is (> 1:
    faster), the ratio of the pooled medians, with a 95% percentile
    bootstrap interval.  Each argument holds one list of samples per boot:
    the resampling draws boots first, then samples within them, so that
    a boot that ran fast or slow as a whole (TCG, a busy host) widens
    the interval instead of passing for many independent samples.  A
    fixed seed makes the interval reproducible from the same samples.
    None without samples on either side."""
    base_boots = [b for b in base_boots if b]
    pat_boots = [b for b in pat_boots if b]
    if not base_boots or not pat_boots:
        return None

    def ratio(b, p):
        bm, pm = statistics.median(b), statistics.median(p)
        if bm <= 0 or pm <= 0:
            return None
        return bm / pm if lower_is_better else pm / bm

    r = ratio([v for b in base_boots for v in b],
              [v for b in pat_boots for v in b])
    if r is None:
        return None
    rng = random.Random(seed)
    draws = sorted(x for x in (ratio(_resample(rng, base_boots),
                                     _resample(rng, pat_boots))
                               for _ in range(reps or BOOTSTRAP_REPS))
                   if x is not None)
    lo = draws[int(0.025 * (len(draws) - 1))]
    hi = draws[int(round(0.975 * (len(draws) - 1)))]
    return r, lo, hi


def verdict(low, high, resolution=RESOLUTION, ratio=None):
    """faster / slower when the interval excludes 1 (by how much, given
    the ratio); no difference when it holds 1 and lies within 1 +-
    resolution; otherwise unresolved."""
    # a difference below 0.1% shows two decimals, not "by 0.0%"
    by = "" if ratio is None else \
        f" by {abs(ratio - 1):.{1 if abs(ratio - 1) >= 0.001 else 2}%}"
    if low > 1:
        return "faster" + by
    if high < 1:
        return "slower" + by
    if low >= 1 - resolution and high <= 1 + resolution:
        return f"no difference (within {resolution:.0%})"
    return f"unresolved (interval wider than {resolution:.0%})"


def pooled(boots):
    """{key: [[samples of one boot], ...]} -> {key: [all samples]}"""
    return {k: [v for b in bs for v in b] for k, bs in boots.items()}


def column(boots, key, col=None):
    """The per-boot lists of key's samples, or of column col of them."""
    bs = boots.get(key, [])
    return bs if col is None else [[v[col] for v in b] for b in bs]


def chart_rows(gup, procmem, vms, dio, lat=None):
    """[(group, label, ratio, low, high)] for every benchmark row that has
    samples on both kernels, in the tables' order.  The arguments hold
    per-boot samples ({kind: {key: [[...], ...]}}, see merge())."""
    rows = []
    cfgs = sorted({c for r in gup.values() for c in r},
                  key=lambda c: ("uaL".index(c[0]), c[1] == "t", int(c[2:])))
    for cfg in cfgs:
        m = re.match(r"([uaL])([Tt])(\d+)$", cfg)
        label = (f"{MODES[m.group(1)]} "
                 f"{PAGES[m.group(2)]} n={m.group(3)}") if m else cfg
        r = speedup(column(gup["base"], cfg, 0),
                    column(gup["patched"], cfg, 0), lower_is_better=True)
        if r:
            rows.append(("gup_test", label) + r)
    keys = sorted({k for r in procmem.values() for k in r},
                  key=lambda k: (PROCMEM_MODES.index(k[0])
                                 if k[0] in PROCMEM_MODES else 99, k[0], k[1]))
    for key in keys:
        r = speedup(column(procmem["base"], key, 0),
                    column(procmem["patched"], key, 0))
        if r:
            rows.append(("/proc/pid/mem", f"{key[0]} {key[1]}rd") + r)
    lat = lat or {"base": {}, "patched": {}}
    for mib in sorted({k for r in lat.values() for k in r}):
        r = speedup(column(lat["base"], mib, 1),
                    column(lat["patched"], mib, 1), lower_is_better=True)
        if r:
            rows.append(("/proc/pid/mem", "p99 " + (f"{mib}MiB writer"
                                                    if mib else "no writer"))
                        + r)
    keys = sorted({(k[0], k[1]) for r in vms.values() for k in r},
                  key=lambda k: (SINKS.index(k[0]) if k[0] in SINKS else 9,
                                 k[0], k[1]))
    for sink, size in keys:
        r = speedup(column(vms["base"], (sink, size, "vmsplice")),
                    column(vms["patched"], (sink, size, "vmsplice")))
        if r:
            rows.append(("vmsplice", f"{sink} {_size(size)}") + r)
    for key in sorted({k for r in dio.values() for k in r}):
        r = speedup(column(dio["base"], key), column(dio["patched"], key))
        if r:
            fs, op, size = key
            rows.append(("O_DIRECT", f"{fs} {op} {_size(size)}") + r)
    return rows


def verdict_table(rows, boots):
    """Every row's patched/base ratio (> 1: patched faster), its 95%
    interval and verdict, and the resolution the run reached."""
    head = (f"{'patched vs base (> 1: faster)':<40} {'ratio':>6} "
            f"{'95% interval':>16}  verdict")
    lines = [head, "-" * len(head)]
    for group, label, r, lo, hi in rows:
        lines.append(f"{group + ' ' + label:<40} {r:>6.3f} "
                     f"[{lo:>6.3f}, {hi:>6.3f}]  {verdict(lo, hi, ratio=r)}")
    if rows:
        half = sorted(max(r - lo, hi - r) / r for *_, r, lo, hi in rows)
        lines.append(f"(intervals: two-level bootstrap, {BOOTSTRAP_REPS} "
                     f"draws, over {boots}; widest half-width "
                     f"{half[-1]:.1%}, median {statistics.median(half):.1%}"
                     f"; {sum(h <= RESOLUTION for h in half)} of "
                     f"{len(half)} rows within +-{RESOLUTION:.0%})")
    return "\n".join(lines)


GROUPS = ("gup_test", "/proc/pid/mem", "vmsplice", "O_DIRECT")


def chart_script(rows, datafile, png, title):
    """The gnuplot script drawing `rows` (written to datafile as
    index, ratio, low, high, group number, label) as one chart: one point
    per benchmark row with its quartile range, a line at 1."""
    lines = []
    for i, (group, label, ratio, low, high) in enumerate(rows):
        lines.append(f"{i} {ratio:.4f} {low:.4f} {high:.4f} "
                     f"{GROUPS.index(group) if group in GROUPS else 9} "
                     f'"{label}"')
    data = "\n".join(lines) + "\n"
    top = max([h for *_, h in rows] + [1.5])
    plots = []
    for n, group in enumerate(GROUPS):
        if any(r[0] == group for r in rows):
            plots.append(f'"{datafile}" using 1:($5=={n}?$2:1/0):3:4:'
                         f'xticlabels(6) with yerrorbars pt 7 ps 0.8 '
                         f'lw 1.5 title "{group}"')
    script = f"""set terminal pngcairo noenhanced size 1600,700 font "sans,10"
set output "{png}"
set title "{title}"
set ylabel "patched / base (> 1: patched faster); bars: 95% interval"
set xtics rotate by 60 right
set grid ytics
set key top left
set xrange [-1:{len(rows)}]
set yrange [0:{min(top * 1.05, 4):.2f}]
set arrow from -1,1 to {len(rows)},1 nohead dt 2 lc rgb "black"
plot {", ".join(plots)}
"""
    return data, script


def draw_chart(rows, png, title):
    """Write png with gnuplot; returns a one-line result for the log."""
    if not rows:
        return "no benchmark row has samples on both kernels: no chart"
    if not shutil.which("gnuplot"):
        raise HarnessError("gnuplot is not installed (harness/deps.sh "
                           "installs gnuplot-nox)")
    datafile = os.path.splitext(png)[0] + ".dat"
    data, script = chart_script(rows, datafile, png, title)
    with open(datafile, "w") as f:
        f.write(data)
    with open(os.path.splitext(png)[0] + ".gp", "w") as f:
        f.write(script)
    proc = subprocess.run(["gnuplot"], input=script, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0 or not os.path.isfile(png):
        raise HarnessError("gnuplot failed:\n" + proc.stderr.strip())
    return f"chart: {png} ({len(rows)} rows)"


def abba(rounds):
    """Boot order for `rounds` boots of each kernel: patched, base, base,
    patched, patched, base..."""
    order = []
    for i in range(rounds):
        order += ["patched", "base"] if i % 2 == 0 else ["base", "patched"]
    return order


def merge(into, samples):
    """Add one boot's samples to a kernel's {key: [[values of a boot]]}."""
    for key, vals in samples.items():
        into.setdefault(key, []).append(list(vals))


def bench_build_kinds():
    """{side: build kind}: the benchmark kernels (kbuild.BENCH_KINDS, the
    test config less DEBUG_VM) unless BENCH_KERNEL=test asks for the
    test kernels themselves."""
    which = env("BENCH_KERNEL", "bench")
    if which == "test":
        return {"patched": "patched", "base": "base"}
    if which != "bench":
        raise HarnessError(f"BENCH_KERNEL={which}: use bench (the default) "
                           "or test")
    return {"patched": "bench-patched", "base": "bench-base"}


def cmd_bench():
    tree = base.get_tree()
    suites = [s for s in guest.read_suites() if "bench" in s.groups]
    wanted = [w for w in env("SUITES", "").replace(",", " ").split() if w]
    if wanted:
        unknown = sorted(set(wanted) - {s.name for s in suites})
        if unknown:
            raise HarnessError(f"SUITES={','.join(wanted)}: not a bench "
                               f"suite: {', '.join(unknown)} (bench suites: "
                               + ", ".join(s.name for s in suites) + ")")
        suites = [s for s in suites if s.name in wanted]
    if not suites:
        raise HarnessError("no suite of group `bench` in harness/suites")
    head = series.applied(tree)
    n_patches = len(series.read_series())
    # The patched kernel first: the base one runs its `=name` programs.
    # BENCH_ROUNDS=n boots each kernel n times, in the order patched,
    # base, base, patched, ... (ABBA), so that a machine getting slower or
    # faster during the run weighs on both alike; samples are pooled.
    rounds = env_int("BENCH_ROUNDS", 2)
    if rounds < 1:
        raise HarnessError(f"BENCH_ROUNDS={rounds}: must be 1 or more")
    kernels = {"patched": (head, series.checkout_for_build(tree, "patched",
                                                           head)),
               "base": (tree.base_rev, tree.checkout)}
    build_kind = bench_build_kinds()
    plan = abba(rounds)
    say("    order: " + ", ".join(plan) + "; kernels: "
        + ("the test kernels (BENCH_KERNEL=test)"
           if build_kind["patched"] == "patched" else
           "the test config less DEBUG_VM (harness/config/bench.config)"))
    summary = Summary()
    gup, procmem = {"base": {}, "patched": {}}, {"base": {}, "patched": {}}
    vms = {"base": {}, "patched": {}}
    dio = {"base": {}, "patched": {}}
    lat = {"base": {}, "patched": {}}
    shared = None
    from .main import _kernel_and_initrd, evaluate, selftest_dir
    built = {}
    for n, kind in enumerate(plan, 1):
        rev, src = kernels[kind]
        if kind not in built:
            built[kind] = _kernel_and_initrd(tree, build_kind[kind], rev,
                                             src, suites, shared)
            if kind == "patched":
                shared = selftest_dir(built[kind][0])
        kernel, initrd = built[kind]
        label = kind if rounds == 1 else f"{kind}#{n}"
        g = guest.boot(kernel, initrd, suites,
                       os.path.join(repo_root(), "out",
                                    f"bench-{kind}-{n}"), label)
        evaluate(g, suites, summary, label=label)
        text = g.tests_text()
        merge(gup[kind], parse(text))
        merge(procmem[kind], parse_procmem(text))
        merge(vms[kind], parse_vmsplice(text))
        merge(dio[kind], parse_dio(text))
        merge(lat[kind], parse_latency(text))
    stage("bench results")
    parts = []
    flat = {name: {k: pooled(v) for k, v in d.items()}
            for name, d in (("gup", gup), ("procmem", procmem),
                            ("vms", vms), ("dio", dio), ("lat", lat))}
    for name, fn in (("gup", table), ("procmem", procmem_table),
                     ("lat", latency_table), ("vms", vmsplice_table),
                     ("dio", dio_table)):
        if any(flat[name].values()):
            parts.append(fn(flat[name]))
    rows = chart_rows(gup, procmem, vms, dio, lat)
    if rows:
        parts.append(verdict_table(rows, f"{rounds} boot(s) per kernel"))
    text = "\n\n".join(parts) or "no benchmark output"
    say(text)
    with open(os.path.join(repo_root(), "out", "bench.txt"), "w") as f:
        f.write(text + "\n")
    say(f"\n(table saved in out/bench.txt; base {tree.base_rev[:12]}, "
        f"patched {head[:12]})")
    say(draw_chart(rows, os.path.join(repo_root(), "out", "bench.png"),
                   f"make bench: {tree.label} base vs patched "
                   f"({n_patches} patches), 95% intervals, "
                   + ("2-vCPU TCG guest" if not env("ICOUNT") else
                      f"2-vCPU TCG guest, -icount shift={env('ICOUNT')}: "
                      "instruction counts")))
    say("")
    say(summary.render())
    say("")
    say(summary.final_line())
    return EXIT_OK if summary.ok() else 1
