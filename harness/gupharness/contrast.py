"""Base against patched, test by test, for the suites of group `contrast`.

harness/contrast names, per suite, the tests the series fixes: each must
fail on the base kernel and pass on the patched one.  Every other test of
the suite must come out the same on both kernels (behaviour the series
keeps).  The base kernel runs the patched tree's build of the programs
(`=name` in harness/suites), so both kernels run the same test binary."""

import os
import re

from . import results
from .results import Counts
from .util import HarnessError, repo_root, say

CONTRAST_FILE = os.path.join(repo_root(), "harness", "contrast")


def read_contrast(path=None):
    """{suite: [(pattern text, compiled regex)]}: harness/contrast."""
    fixed = {}
    _read_contrast(path or CONTRAST_FILE, fixed)
    return fixed


def _read_contrast(path, fixed):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise HarnessError(f"{path}: {e.strerror}") from e
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise HarnessError(f"{path}:{n}: want `suite regex`: {line!r}")
        try:
            rx = re.compile(parts[1])
        except re.error as e:
            raise HarnessError(f"{path}:{n}: bad regex {parts[1]!r}: {e}") \
                from e
        fixed.setdefault(parts[0], []).append((parts[1], rx))
    return fixed


def outcomes(info):
    """[(test name, outcome)] of one suite's slice of the test log."""
    if info is None:
        return []
    return results.leaf_outcomes(results.parse_tap(info["lines"]))


def compare(suite, base, patched, patterns):
    """Counts and report lines: one count per test of the patched run, and
    a failure per pattern that matched no test."""
    c = Counts()
    lines = []
    on_base = dict(base)
    used = set()
    for name, got in patched:
        hits = [p for p, rx in patterns if rx.search(name)]
        used.update(hits)
        was = on_base.get(name, "missing")
        if hits:
            ok = was == "fail" and got == "pass"
            want = "fails on base, passes patched"
        else:
            ok = was == got
            want = "the same on both"
        tag = "fixed" if hits else "kept "
        lines.append(f"    {'ok  ' if ok else 'FAIL'} {tag} base {was:<7} "
                     f"patched {got:<5} {name}")
        if ok:
            c.passed += 1
        else:
            c.fail(f"{suite}: {name}: base {was}, patched {got} ({want})")
    for name, _ in base:
        if name not in dict(patched):
            c.fail(f"{suite}: {name}: ran on base only")
    for p, _ in patterns:
        if p not in used:
            c.fail(f"{suite}: harness/contrast pattern {p!r} matches no test")
    if not patched:
        c.fail(f"{suite}: no test result from the patched kernel")
    return c, lines


def report(summary, suites, base_log, patched_log, base_run):
    """Add one `contrast:SUITE` row per suite to summary.  base_log and
    patched_log: split_testlog() of the two runs; base_run: the GuestRun."""
    fixed = read_contrast()
    for s in suites:
        say(f"\n    contrast {s.name} (base kernel vs patched):")
        c, lines = compare(s.name, outcomes(base_log.get(s.name)),
                           outcomes(patched_log.get(s.name)),
                           fixed.get(s.name, []))
        if base_run.ended != "done":
            c.fail(f"{s.name}: base guest {base_run.ended}: "
                   f"{base_run.detail}".rstrip(": "))
            for line in base_run.tail(20):
                lines.append(f"      | {line}")
        for line in lines:
            say(line)
        nfix = sum(1 for line in lines if " fixed base " in line)
        nkept = sum(1 for line in lines if " kept  base " in line)
        summary.add(f"contrast:{s.name}", c,
                    f"{nfix} fixed (fail on base), {nkept} the same on both")
