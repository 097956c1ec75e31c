"""Command line of the harness; the Makefile calls `python3 -m gupharness CMD`.

Commands: base tree export verify lint build run check shell bench bisect
docs selftest. Settings come from the environment (the Makefile passes its
variables through): KSRC, PATCHES, SUITES, ACCEL, BOOT_TIMEOUT,
GUEST_TIMEOUT, JOBS, CACHE, MEM, SMP, APPEND, V.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import unittest

from . import (base, bench, contrast, docs, guest, kbuild, lint, mail,
               matrix, postings, profile, regress, results, series)
from .results import Counts, Summary
from .util import (EXIT_FAILED, EXIT_OK, HarnessError, TestFailure,
                   cache_dir, die, env, env_int, out, repo_root, say,
                   stage)

OUT = os.path.join(repo_root(), "out")


def _patched(tree):
    head = series.applied(tree)
    src = series.checkout_for_build(tree, "patched", head)
    return head, src


def _kernel_and_initrd(tree, kind, rev, src, suites, shared_from=None,
                       series_src=None):
    """Build the kernel and its initramfs. `=name` programs come from
    shared_from (the patched build's selftest folder) on the base kernel,
    or are built from series_src (a checkout with the series applied)
    against this kernel's headers."""
    build = kbuild.build_kernel(src, kind, rev)
    progs = guest.suite_programs(suites, kind)
    shared = guest.shared_programs(suites) if not guest.has_series(kind) \
        else []
    if shared and not shared_from and not series_src:
        raise HarnessError(f"{', '.join(shared)}: built from the patched "
                           f"tree only, and there is none for the {kind} "
                           "kernel")
    own = [p for p in progs if p not in shared]
    st = kbuild.build_selftests(src, build, own) if own else \
        os.path.join(build, "kselftest", "mm")
    os.makedirs(st, exist_ok=True)
    if shared and not shared_from:
        kbuild.build_selftests(series_src, build, shared)
    for p in shared if shared_from else []:
        shutil.copy2(os.path.join(shared_from, p), os.path.join(st, p))
    initrd = guest.build_initramfs(src, build, st, suites, kind)
    return os.path.join(build, "arch/x86/boot/bzImage"), initrd


def build_dir(kernel):
    """The build folder of a bzImage from _kernel_and_initrd()."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(kernel))))


def selftest_dir(kernel):
    """The selftest folder next to a bzImage from _kernel_and_initrd()."""
    return os.path.join(build_dir(kernel), "kselftest", "mm")


def evaluate(g, suites, summary, label=""):
    """Add the rows of one guest run to summary."""
    pre = f"{label}:" if label else ""
    clines = results.console_lines(g.console_text())
    splats, init_started = results.scan_console(clines)
    tsuites, vmstat, done = results.split_testlog(g.tests_text())

    kunit = [s for s in suites if s.kunit]
    kcounts, extra = results.evaluate_kunit([s.kunit_name for s in kunit],
                                            clines)
    rows = {}
    for s in suites:
        rows[s.name] = kcounts[s.kunit_name] if s.kunit else \
            results.evaluate_suite(s.name, tsuites.get(s.name))
    # splats are failures of the suite that was running
    kernel = Counts()
    for segment, found in splats.items():
        target = rows.get(segment)
        if target is None and segment == "boot" and kunit:
            target = rows[kunit[0].name]    # KUnit runs at boot
        for kind, line in found:
            (target or kernel).fail(f"{kind} during {segment}: {line[:160]}")
    if g.ended == "done":
        kernel.passed += 1
    else:
        kernel.fail(f"guest {g.ended}: {g.detail}".rstrip(": "))
    if not init_started:
        kernel.notes.append("the guest never reached init")
    for s in suites:
        c = rows[s.name]
        summary.add(pre + s.name, c,
                    ", ".join(["KUnit"] + results.kunit_counted(
                        clines, s.kunit_name)) if s.kunit
                    else _pins_note(tsuites.get(s.name)))
    other = kcounts[None]
    if extra or other.total:
        summary.add(pre + "kunit-other", other,
                    "KUnit suites not in harness/suites: "
                    + (", ".join(extra) or "none"))
    summary.add(pre + "kernel", kernel,
                f"boot to init {g.boot_seconds:.1f}s, run {g.seconds:.0f}s"
                if g.boot_seconds is not None else "")
    pins = Counts()
    if vmstat is None:
        pins.fail("no final /proc/vmstat pin counts (guest did not finish)")
    elif vmstat[0] != vmstat[1]:
        pins.fail(f"nr_foll_pin_acquired {vmstat[0]} != "
                  f"nr_foll_pin_released {vmstat[1]}")
    else:
        pins.passed += 1
    summary.add(pre + "pin-balance", pins,
                f"acquired {vmstat[0]} released {vmstat[1]}" if vmstat else "")
    if g.ended != "done":
        say(f"\n    guest {g.ended}: {g.detail}\n    last console lines "
            f"({g.console}):")
        for line in g.tail(50):
            say(f"      | {line}")
        tl = g.tests_text().replace("\r", "").splitlines()[-15:]
        if tl:
            say(f"    last test output lines ({g.tests}):")
            for line in tl:
                say(f"      | {line}")
    return rows


def _pins_note(info):
    if not info or info.get("pins") is None:
        return ""
    a, r = info["pins"]
    secs = info.get("secs")
    return f"pins {a}/{r}" + (f", {secs}s" if secs is not None else "")


def run_guest_pipeline(summary, group, kind="patched"):
    tree = base.get_tree()
    suites = guest.select_suites(group)
    if not guest.has_series(kind):
        # `series` suites test what the series adds (its KUnit suites):
        # the base kernel does not have them.
        skipped = [s.name for s in suites if "series" in s.groups]
        suites = [s for s in suites if "series" not in s.groups]
        if skipped:
            say(f"    not on the {kind} kernel (group series): "
                + ", ".join(skipped))
        if not suites:
            raise HarnessError(f"no suite to run on the {kind} kernel")
    series_src = None
    if guest.has_series(kind) or guest.shared_programs(suites):
        prev, series_src = _patched(tree)
        suites = _with_series_programs(summary, suites, series_src)
    if guest.has_series(kind):
        rev, src = prev, series_src
    else:
        rev, src = tree.base_rev, tree.checkout
    kernel, initrd = _kernel_and_initrd(tree, kind, rev, src, suites,
                                        series_src=series_src)
    scale = env_int("DEBUG_TIMEOUT_SCALE", 4) if kind == "debug" else 1
    g = guest.boot(kernel, initrd, suites, os.path.join(OUT, kind), kind,
                   scale=scale)
    evaluate(g, suites, summary)
    if kind == "patched":
        contrast_rows(summary, tree, suites, kernel, g)


def _with_series_programs(summary, suites, series_src):
    """The suites whose `+`/`=` programs the series at series_src has. The
    others are left out, each as a skipped row that names what is missing:
    a base whose series is being rebased (BASE=7.3) has only a prefix."""
    mm = os.path.join(series_src, "tools", "testing", "selftests", "mm")
    kept = []
    for s in suites:
        missing = [p[1:] for p in s.programs if p[:1] in "+=" and not any(
            os.path.exists(os.path.join(mm, p[1:] + ext))
            for ext in ("", ".c"))]
        # a KUnit suite the series adds: its kunit_suite in the source
        if s.kunit and "series" in s.groups and subprocess.run(
                ["git", "-C", series_src, "grep", "-q", "-F",
                 f'.name = "{s.kunit_name}"', "--", "*.c"]).returncode:
            missing.append(f"KUnit suite {s.kunit_name}")
        if missing:
            c = Counts()
            c.skipped = 1
            summary.add(s.name, c, "not in this series: "
                        + ", ".join(missing))
            say(f"    {s.name}: left out, the series has no "
                + ", ".join(missing))
            continue
        kept.append(s)
    if not kept:
        raise HarnessError("no suite to run: the series has none of their "
                           "programs")
    return kept


def contrast_rows(summary, tree, suites, patched_kernel, patched_run):
    """The suites of group `contrast` once more on the base kernel, with
    the patched build's programs: harness/contrast says which tests must
    fail there.  CONTRAST=0 leaves this out."""
    wanted = [s for s in suites if "contrast" in s.groups]
    if not wanted or env("CONTRAST", "1") == "0":
        return
    stage("contrast: " + ", ".join(s.name for s in wanted)
          + " on the base kernel")
    kernel, initrd = _kernel_and_initrd(tree, "base", tree.base_rev,
                                        tree.checkout, wanted,
                                        selftest_dir(patched_kernel))
    g = guest.boot(kernel, initrd, wanted, os.path.join(OUT, "contrast"),
                   "base, contrast")
    base_log = results.split_testlog(g.tests_text())[0]
    patched_log = results.split_testlog(patched_run.tests_text())[0]
    contrast.report(summary, wanted, base_log, patched_log, g)


def harness_selftests(summary):
    stage("harness self-tests (python unittest, harness/tests)")
    loader = unittest.TestLoader()
    suite = loader.discover(os.path.join(repo_root(), "harness", "tests"),
                            top_level_dir=os.path.join(repo_root(),
                                                       "harness"))
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=1,
                                  buffer=True).run(suite)
    c = Counts()
    bad = res.failures + res.errors
    c.passed = res.testsRun - len(bad) - len(res.skipped)
    c.skipped = len(res.skipped)
    for test, _ in bad:
        c.fail(f"harness self-test {test.id()}")
    summary.add("harness-selftest", c)


def verify(tree):
    """make verify: series.verify() with the mail checks (subjects,
    sign-offs, b4)."""
    return series.verify(tree, extra=(mail.verify_checks,))


def verify_rows(summary):
    # patches/ and the copies are defined against the Debian base, also when
    # the tests run on a KSRC= tree
    tree = base.debian_base()
    res = verify(tree)
    c = Counts()
    for name, ok, detail in res:
        say(f"    {'ok  ' if ok else 'FAIL'}  {name}: {detail}")
        if ok:
            c.passed += 1
        else:
            c.fail(f"verify: {name}: {detail}")
    summary.add("verify", c)


def lint_rows(summary):
    tree = base.get_tree()
    head, src = _patched(tree)
    cp, sp = lint.lint(tree, head, src)
    summary.add("checkpatch", cp, "no patches" if cp.total == 0 else "")
    summary.add("sparse", sp, "no touched .c files" if sp.total == 0 else "")
    docs_rows(summary, tree, head, src)


def finish(summary, title):
    say(f"\n==> summary: {title}\n")
    say(summary.render())
    say("")
    say(summary.final_line())
    return EXIT_OK if summary.ok() else EXIT_FAILED


def cmd_check():
    summary = Summary()
    try:
        harness_selftests(summary)
        verify_rows(summary)
        lint_rows(summary)
        run_guest_pipeline(summary, "check")
    except HarnessError:
        if summary.rows:
            say("\n(summary so far)\n" + summary.render())
        raise
    return finish(summary, "make check")


def cmd_run():
    summary = Summary()
    run_guest_pipeline(summary, env("GROUP", "full"))
    return finish(summary, "make (base + series, build, boot, test)")


def cmd_run_base():
    """The main job's suites that test what the base already does. The
    suites of group `contrast` hold tests that must fail on the base (the
    ones the series fixes): make and make check run them there and compare
    (contrast_rows), so they are not run here unless named in SUITES=."""
    summary = Summary()
    if not env("SUITES"):
        left = [s.name for s in guest.select_suites(env("GROUP", "full"))
                if "contrast" in s.groups]
        if left:
            say("    left to the contrast run of make/make check (group "
                "contrast): " + ", ".join(left))
        os.environ["SUITES"] = ",".join(
            s.name for s in guest.select_suites(env("GROUP", "full"))
            if "contrast" not in s.groups)
    run_guest_pipeline(summary, env("GROUP", "full"), kind="base")
    return finish(summary, "base kernel")


def cmd_shell():
    tree = base.get_tree()
    suites = guest.read_suites()
    rev, src = _patched(tree)
    kernel, initrd = _kernel_and_initrd(tree, "patched", rev, src, suites)
    return guest.shell(kernel, initrd)


def cmd_build():
    tree = base.get_tree()
    kind = env("KIND", "patched")
    if kind not in ("patched", "debug", "base") + kbuild.BENCH_KINDS:
        raise HarnessError(f"KIND={kind}: patched, debug, base, "
                           + " or ".join(kbuild.BENCH_KINDS))
    if kind in ("base", "bench-base"):
        rev, src = tree.base_rev, tree.checkout
    else:
        rev, src = _patched(tree)
    kbuild.build_kernel(src, kind, rev)
    return EXIT_OK


def cmd_regress():
    """The pre-existing mm selftests (group regress) on the patched and on
    the base kernel, same binaries, compared test by test."""
    summary = Summary()
    tree = base.get_tree()
    suites = guest.select_suites("regress")
    rev, src = _patched(tree)
    kernel, initrd = _kernel_and_initrd(tree, "patched", rev, src, suites)
    gp = guest.boot(kernel, initrd, suites,
                    os.path.join(OUT, "regress-patched"), "patched, regress")
    regress.kernel_rows(summary, gp, suites, "patched")
    bkernel, binitrd = _kernel_and_initrd(tree, "base", tree.base_rev,
                                          tree.checkout, suites,
                                          selftest_dir(kernel))
    gb = guest.boot(bkernel, binitrd, suites,
                    os.path.join(OUT, "regress-base"), "base, regress")
    regress.kernel_rows(summary, gb, suites, "base")
    regress.report(summary, suites, results.split_testlog(gb.tests_text())[0],
                   results.split_testlog(gp.tests_text())[0])
    return finish(summary, "make regress (pre-existing mm selftests, base "
                  "vs patched)")


def cmd_debug():
    """The series' tests and the chosen mm selftests on the debug kernel
    (harness/config/debug.config): no splat, pins balanced."""
    summary = Summary()
    run_guest_pipeline(summary, env("GROUP", "debug"), kind="debug")
    return finish(summary, "make debug (KASAN, lockdep, DEBUG_VM, "
                  "DEBUG_PAGEALLOC, KFENCE kernel)")


def cmd_bisect():
    """Every prefix of the series builds in the matrix's configurations,
    and adds no W=1 or sparse message over the base (matrix.py)."""
    tree = base.get_tree()
    summary = Summary()
    head, tips = series.applied(tree, with_tips=True)
    mode = env("BISECT", "postings")
    if mode == "stack":
        # the whole stack's prefixes, posting after posting
        patches = series.read_series()
        revs = out(["git", "-C", tree.repo, "rev-list", "--reverse",
                    f"{tree.base_rev}..{head}"]).split()
    elif mode == "postings":
        # every posting's own prefixes, on the base + its prerequisites
        # (what a maintainer bisects in the tree the posting goes to)
        patches, revs = [], []
        for p in series.read_postings():
            patches += p.patches
            revs += postings.commits(tree.repo, *tips[p.name])
    else:
        raise HarnessError(f"BISECT={mode}: want postings (every posting's "
                           "prefixes on its prerequisites) or stack")
    if not revs:
        say("    the series is empty: nothing to bisect")
    first, last = matrix.chosen_prefixes(len(revs)) if revs else (1, 0)
    which = (f"{len(revs)} prefix(es)" if (first, last) == (1, len(revs))
             else f"prefixes {first}-{last} of {len(revs)}")
    t0 = time.monotonic()
    configs, builds, warn, secs = matrix.run_matrix(tree, patches, revs,
                                                    first, last, head)
    for cfg in configs:
        summary.add(f"bisect-{cfg.name}", builds[cfg.name],
                    f"{which}, {secs[cfg.name]:.0f}s")
    summary.add("bisect-w1-sparse", warn,
                "W=1 + sparse vs base, per object and config; selftests")
    say(f"    matrix: {time.monotonic() - t0:.0f}s for {which} x "
        f"{len(configs)} configuration(s)")
    return finish(summary, "make bisect (every prefix builds in the "
                  "matrix, no new W=1/sparse message)")


POSTING_SUITES = os.path.join(repo_root(), "harness", "posting-suites")


def read_posting_suites(names, suites):
    """[(posting, [Suite])] from harness/posting-suites, checked against
    the postings (names) and the suites."""
    rows = []
    for n, line in enumerate(open(POSTING_SUITES), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        posting, _, rest = line.partition(" ")
        where = f"{POSTING_SUITES}:{n}"
        if posting not in names:
            raise HarnessError(f"{where}: {posting} is not a posting of "
                               "patches/series")
        wanted = [w for w in rest.replace(",", " ").split() if w]
        unknown = [w for w in wanted if w not in suites]
        if not wanted or unknown:
            raise HarnessError(f"{where}: unknown or no suites: "
                               + ", ".join(unknown))
        rows.append((posting, [suites[w] for w in wanted]))
    return rows


def cmd_postings():
    """Each posting's tests on the base + its prerequisites + it: the
    tree it would be applied to, without the postings it does not need
    (harness/posting-suites). POSTINGS=a,b picks some."""
    tree = base.get_tree()
    head, tips = series.applied(tree, with_tips=True)
    names = [p.name for p in series.read_postings()]
    rows = read_posting_suites(names, {s.name: s
                                       for s in guest.read_suites()})
    pick = [w for w in re.split(r"[,\s]+", env("POSTINGS", "")) if w]
    bad = [w for w in pick if w not in dict(rows)]
    if bad:
        raise HarnessError(f"POSTINGS: no row for {', '.join(bad)} in "
                           f"{POSTING_SUITES}")
    rows = [r for r in rows if not pick or r[0] in pick]
    series_src = series.checkout_for_build(tree, "patched", head)
    summary = Summary()
    for name, suites in rows:
        start, tip = tips[name]
        stage(f"posting {name}: " + ", ".join(s.name for s in suites)
              + f" on the base + its prerequisites + it ({tip[:12]})")
        # one worktree and build folder for every posting: moving from one
        # to the next rebuilds what differs
        src = series.checkout_for_build(tree, "posting", tip)
        kernel, initrd = _kernel_and_initrd(tree, "posting", tip, src,
                                            suites, series_src=series_src)
        g = guest.boot(kernel, initrd, suites,
                       os.path.join(OUT, "posting-" + name),
                       f"posting {name}")
        evaluate(g, suites, summary, label=name)
    return finish(summary, "make postings (each posting's tests on the "
                  "base + its prerequisites + it)")


def docs_rows(summary, tree, head, patched_src):
    sp, kd, info = docs.check(tree, head, patched_src)
    summary.add("kernel-doc", kd, info.get("kernel-doc", ""))
    if sp.total:
        summary.add("htmldocs", sp, info.get("htmldocs", ""))


def cmd_docs():
    """Sphinx and kernel-doc on what the series touches, base vs patched."""
    tree = base.get_tree()
    head = series.applied(tree)
    patched_src = series.checkout_for_build(tree, "patched", head)
    summary = Summary()
    docs_rows(summary, tree, head, patched_src)
    return finish(summary, "make docs (htmldocs and kernel-doc, no new "
                  "warning)")


DEMOS = os.path.join(repo_root(), "harness", "failure-demos")


def cmd_demo_failures():
    """Each deliberately broken series must make the run exit 1, with the
    cause in the output (harness/failure-demos/NAME/expect)."""
    summary = Summary()
    c = Counts()
    names = sorted(d for d in os.listdir(DEMOS)
                   if os.path.isfile(os.path.join(DEMOS, d, "series")))
    only = env("DEMOS")
    if only:
        names = [n for n in names if n in only.split(",")]
    for name in names:
        d = os.path.join(DEMOS, name)
        stage(f"failure demo: {name}")
        environ = dict(os.environ, PATCHES=d, SUITES="gup_quick")
        envfile = os.path.join(d, "env")
        if os.path.isfile(envfile):
            for line in open(envfile).read().split():
                k, _, v = line.partition("=")
                environ[k] = v
        target = "run"
        tfile = os.path.join(d, "target")
        if os.path.isfile(tfile):
            target = open(tfile).read().strip()
        log = os.path.join(OUT, f"demo-{name}.log")
        os.makedirs(OUT, exist_ok=True)
        with open(log, "w") as fh:
            child = subprocess.Popen(
                [sys.executable, "-m", "gupharness", target],
                cwd=os.path.join(repo_root(), "harness"), env=environ,
                stdout=fh, stderr=subprocess.STDOUT)
            try:
                rc = child.wait()
            except BaseException:
                child.terminate()   # SIGTERM: it kills its QEMU and exits
                child.wait()
                raise
        text = open(log).read()
        missing = [pat for pat in open(os.path.join(d, "expect")).read()
                   .splitlines() if pat and not re.search(pat, text)]
        last = text.strip().splitlines()[-1] if text.strip() else ""
        say(f"    exit {rc}; last line: {last}")
        if rc == EXIT_FAILED and not missing:
            c.passed += 1
            say("    caught as expected")
        else:
            c.fail(f"demo {name}: exit {rc} (want {EXIT_FAILED})"
                   + (f", output lacks {missing}" if missing else "")
                   + f"; see {log}")
    summary.add("failure-demos", c, f"{len(names)} broken kernel(s)")
    return finish(summary, "make demo-failures (each must be caught)")


def _lock_cache():
    """One harness run at a time per cache: runs share worktrees. Children
    of a run (the failure demos) inherit the lock."""
    import fcntl
    if os.environ.get("GUPHARNESS_LOCK_HELD") == "1":
        return None
    fh = open(os.path.join(cache_dir(), "lock"), "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"    another harness run is using {cache_dir()}; waiting for it")
        fcntl.flock(fh, fcntl.LOCK_EX)
    os.environ["GUPHARNESS_LOCK_HELD"] = "1"
    return fh


def _terminate(signum, frame):
    # CI cancelling or `timeout make`: unwind so that QEMU is killed in
    # guest.boot()'s finally clause
    raise KeyboardInterrupt


def main(argv):
    import signal
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if len(argv) != 1:
        say(__doc__)
        return 2
    cmd = argv[0]
    lock = None
    try:
        if cmd not in ("selftest",):
            lock = _lock_cache()
        if cmd == "base":
            t = base.get_tree()
            say(f"base: {t.label}\n  repo {t.repo}\n  commit {t.base_rev}")
            return EXIT_OK
        if cmd == "tree":
            series.make_tree(base.debian_base(), force=env("FORCE") == "1")
            return EXIT_OK
        if cmd == "export":
            series.export(base.debian_base())
            series.report_verify(verify(base.debian_base()))
            return EXIT_OK
        if cmd == "verify":
            series.report_verify(verify(base.debian_base()))
            say("verify: ok")
            return EXIT_OK
        if cmd == "lint":
            summary = Summary()
            lint_rows(summary)
            return finish(summary, "make lint")
        if cmd == "selftest":
            summary = Summary()
            harness_selftests(summary)
            return finish(summary, "harness self-tests")
        handlers = {"check": cmd_check, "run": cmd_run, "base-run":
                    cmd_run_base, "shell": cmd_shell, "build": cmd_build,
                    "debug": cmd_debug, "regress": cmd_regress,
                    "bisect": cmd_bisect, "docs": cmd_docs,
                    "postings": cmd_postings,
                    "bench": bench.cmd_bench, "profile": profile.cmd_profile,
                    "demo-failures": cmd_demo_failures}
        if cmd not in handlers:
            raise HarnessError(f"unknown command {cmd!r}")
        return handlers[cmd]()
    except (HarnessError, TestFailure) as e:
        return die(e)
    except KeyboardInterrupt:
        return die(HarnessError("interrupted"))
    except Exception as e:      # a harness bug: say so, never exit 1
        import traceback
        traceback.print_exc()
        return die(HarnessError(f"internal error: {e!r}"))
    finally:
        if lock is not None:
            lock.close()
