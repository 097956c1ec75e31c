"""make regress: the pre-existing mm selftests (harness/suites, group
`regress`) on the base kernel and on the patched kernel in one run, with the
same binaries (the patched tree's build), compared test by test.

A test that passes on the base kernel and does not pass on the patched one
is a regression: a failure.  Every other difference (fixed, newly skipped,
failing on both) is shown in the table but is not one."""

import re

from . import results
from .results import Counts
from .util import say

VERDICTS = {
    ("pass", "pass"): "same",
    ("fail", "fail"): "same (fails on both)",
    ("skip", "skip"): "same (skipped on both)",
    ("xfail", "xfail"): "same",
}


def outcomes(info):
    if info is None:
        return []
    return results.leaf_outcomes(results.parse_tap(info["lines"]))


def _keyed(outcomes):
    """{key: [(name, outcome)...]}: tests are matched across the two runs
    by name with every number in it replaced by '#' (a test that prints
    what it measured, "Extra pages 0" / "Extra pages 1", is the same test),
    the n-th of a key on one side with the n-th on the other."""
    out = {}
    for name, got in outcomes:
        out.setdefault(re.sub(r"\d+", "#", name), []).append((name, got))
    return out


def compare(base, patched):
    """[(test, base outcome, patched outcome, verdict, regression?)] over
    the union of the two runs' tests, in the patched run's order."""
    on_base = _keyed(base)
    on_patched = _keyed(patched)
    keys = list(on_patched) + [k for k in on_base if k not in on_patched]
    pairs = []
    for key in keys:
        bl, pl = on_base.get(key, []), on_patched.get(key, [])
        for i in range(max(len(bl), len(pl))):
            name = (pl[i] if i < len(pl) else bl[i])[0]
            pairs.append((name, bl[i][1] if i < len(bl) else "missing",
                          pl[i][1] if i < len(pl) else "missing"))
    rows = []
    for name, b, p in pairs:
        regression = b == "pass" and p != "pass"
        if regression:
            verdict = "REGRESSION"
        elif (b, p) in VERDICTS:
            verdict = VERDICTS[(b, p)]
        elif p == "pass":
            verdict = "passes patched only"
        else:
            verdict = "differs (not a regression)"
        rows.append((name, b, p, verdict, regression))
    return rows


def table(rows, width=70):
    out = [f"    {'test':<{width}} {'base':<7} {'patched':<7} verdict",
           "    " + "-" * (width + 32)]
    for name, b, p, verdict, _ in rows:
        shown = name if len(name) <= width else name[:width - 3] + "..."
        out.append(f"    {shown:<{width}} {b:<7} {p:<7} {verdict}")
    return out


def report(summary, suites, base_log, patched_log):
    """One `regress:SUITE` row per suite: passed = tests with no regression
    that passed on the patched kernel, failed = regressions (and a suite
    with no result at all), skipped = the rest."""
    for s in suites:
        rows = compare(outcomes(base_log.get(s.name)),
                       outcomes(patched_log.get(s.name)))
        say(f"\n    regress {s.name}: base kernel vs patched kernel")
        for line in table(rows):
            say(line)
        c = Counts()
        for name, b, p, verdict, regression in rows:
            if regression:
                c.fail(f"{s.name}: {name}: passes on base, {p} patched")
            elif p == "pass":
                c.passed += 1
            else:
                c.skipped += 1
        if not rows:
            c.fail(f"{s.name}: no test result from either kernel")
        nsame = sum(1 for r in rows if r[3] == "same")
        nbad = sum(1 for r in rows if r[4])
        summary.add(f"regress:{s.name}", c,
                    f"{len(rows)} tests: {nsame} pass on both, "
                    f"{nbad} regressions")


def kernel_rows(summary, g, suites, label):
    """What must hold on either kernel whatever the tests say: the guest
    ran every suite to its end, no splat, the pins balance (per suite and
    at the end).  Test failures are left to the comparison."""
    clines = results.console_lines(g.console_text())
    splats, _ = results.scan_console(clines)
    tlog, vmstat, _ = results.split_testlog(g.tests_text())
    c = Counts()
    for segment, found in splats.items():
        for kind, line in found:
            c.fail(f"{label}: {kind} during {segment}: {line[:160]}")
    if g.ended != "done":
        c.fail(f"{label}: guest {g.ended}: {g.detail}".rstrip(": "))
        say(f"\n    {label} guest {g.ended}; last console lines:")
        for line in g.tail(30):
            say(f"      | {line}")
    for s in suites:
        info = tlog.get(s.name)
        if info is None or info["rc"] is None:
            c.fail(f"{label}: {s.name} did not finish")
        elif info["rc"] in (137, 127):
            c.fail(f"{label}: {s.name}: exit {info['rc']} (killed by its "
                   "timeout, or a command missing)")
        elif info["pins"] and info["pins"][0] != info["pins"][1]:
            c.fail(f"{label}: {s.name}: pins {info['pins'][0]} acquired, "
                   f"{info['pins'][1]} released")
    if vmstat is None or vmstat[0] != vmstat[1]:
        c.fail(f"{label}: final pin counters {vmstat}")
    if not c.failed:
        c.passed += 1
    summary.add(f"regress-{label}-kernel", c,
                f"boot {g.boot_seconds or 0:.1f}s, run {g.seconds:.0f}s, "
                "no splat, pins balanced" if not c.failed else "")
