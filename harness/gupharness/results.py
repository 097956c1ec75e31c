"""Reading what the guest printed: KTAP/TAP (nested), kernel splats on the
console, pin balance, and the per-suite summary table."""

import re

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\] ?")
RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*([^#]*?)\s*(?:#\s*(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")
# One nesting level: kselftest prefixes "# ", KUnit/KTAP indents 4 spaces.
SUBLEVEL = re.compile(r"^(?:# ?|    )")


class Result:
    def __init__(self, ok, number, name, directive, children, plan):
        self.ok = ok
        self.number = number
        self.name = name
        self.directive = (directive or "").strip()
        self.children = children
        self.plan = plan

    def __repr__(self):
        return (f"Result({'ok' if self.ok else 'not ok'} {self.name!r} "
                f"{self.directive!r} children={len(self.children)})")


class Level:
    """The results at one nesting level, their plan, and anything left over
    after the last result line (subtests whose parent never reported)."""

    def __init__(self):
        self.results = []
        self.plan = None
        self.orphans = None


def parse_tap(lines):
    level = Level()
    sub = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        m = SUBLEVEL.match(line)
        if m:
            sub.append(line[m.end():])
            continue
        line = line.strip()
        m = RESULT.match(line)
        if m:
            children = parse_tap(sub) if sub else None
            sub = []
            level.results.append(Result(
                m.group(1) == "ok", m.group(2), m.group(3).strip(),
                m.group(4), children, None))
            continue
        m = PLAN.match(line)
        if m:
            level.plan = int(m.group(1))
    if sub:
        orphans = parse_tap(sub)
        if orphans.results or orphans.orphans:
            level.orphans = orphans
    return level


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = self.xfail = 0
        self.notes = []

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.xfail += other.xfail
        self.notes += other.notes

    def fail(self, note):
        self.failed += 1
        self.notes.append(note)

    @property
    def total(self):
        return self.passed + self.failed + self.skipped + self.xfail


def _directive(result):
    d = result.directive.upper()
    for word in ("SKIP", "XFAIL", "TODO", "TIMEOUT", "XPASS"):
        if d.startswith(word):
            return word
    return None


def count_level(level, path=""):
    """Count leaf tests. A parent that failed with no failing child, a plan
    that was not met, or subtests with no parent line, each count as one
    failure of their own."""
    c = Counts()
    for r in level.results:
        name = f"{path}{r.name or r.number}"
        d = _directive(r)
        kids = r.children
        has_kids = kids is not None and (kids.results or kids.orphans)
        if has_kids:
            sub = count_level(kids, name + ": ")
            c.add(sub)
            if not r.ok and d not in ("SKIP", "TODO") and sub.failed == 0:
                c.fail(f"{name}: not ok ({r.directive or 'no failing subtest'})")
            continue
        if d == "SKIP":
            c.skipped += 1
        elif d in ("XFAIL", "TODO") and (d == "XFAIL" or not r.ok):
            c.xfail += 1
        elif r.ok and d not in ("TIMEOUT", "XPASS"):
            c.passed += 1
        else:
            c.fail(f"{name}" + (f" # {r.directive}" if r.directive else ""))
    if level.plan is not None and len(level.results) < level.plan:
        c.fail(f"{path or 'top level: '}planned {level.plan} tests, "
               f"{len(level.results)} reported")
    if level.orphans is not None:
        c.add(count_level(level.orphans, path + "(unfinished): "))
        c.fail(f"{path or 'top level: '}subtests without a result line "
               "(the test died or was killed)")
    return c


def leaf_outcomes(level, path=""):
    """[(name, outcome)] of the leaf tests in order, outcome one of pass,
    fail, skip, xfail, classified as count_level() counts them."""
    out = []
    for r in level.results:
        name = f"{path}{r.name or r.number}"
        d = _directive(r)
        kids = r.children
        if kids is not None and (kids.results or kids.orphans):
            out += leaf_outcomes(kids, name + ": ")
            continue
        if d == "SKIP":
            out.append((name, "skip"))
        elif d in ("XFAIL", "TODO") and (d == "XFAIL" or not r.ok):
            out.append((name, "xfail"))
        elif r.ok and d not in ("TIMEOUT", "XPASS"):
            out.append((name, "pass"))
        else:
            out.append((name, "fail"))
    return out


# ------------------------------------------------------------------ console

SPLATS = [
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("BUG", re.compile(r"\bBUG: |kernel BUG at ")),
    ("WARNING", re.compile(r"^WARNING: |\] WARNING: |------------\[ cut here")),
    ("Oops", re.compile(r"\bOops: |general protection fault")),
    ("KASAN", re.compile(r"\bKASAN: ")),
    ("UBSAN", re.compile(r"\bUBSAN: ")),
    ("lockdep", re.compile(r"possible circular locking|possible recursive "
                           r"locking|inconsistent lock state")),
    ("RCU stall", re.compile(r"rcu: INFO: .*detected stall|"
                             r"self-detected stall on CPU")),
    ("hung task", re.compile(r"INFO: task .* blocked for more than")),
    ("lockup", re.compile(r"Watchdog detected hard LOCKUP")),
    # lost console output may have held a splat
    ("printk drop", re.compile(r"printk messages dropped|"
                               r"\*\* \d+ printk messages dropped")),
]
# Not splats: dump_page()'s "page dumped because:" alone (gup_test's
# DUMP_USER_PAGES_TEST prints it on purpose); the real page bugs print
# "BUG: Bad page state/map" or "kernel BUG at" as well.
# Header lines of one splat come close together ("cut here", "WARNING:",
# ...): lines within this distance of the previous header are the same one.
SPLAT_MERGE_LINES = 4

MARK = re.compile(r"gupharness: (suite-begin|suite-end|init started|done)"
                  r"\s*(\S*)")


def console_lines(text):
    out = []
    for line in text.splitlines():
        line = line.replace("\r", "")
        out.append(TIMESTAMP.sub("", line, count=1))
    return out


def scan_console(lines):
    """Split the console into segments ('boot' before init, then one per
    suite, 'init' in between) and find splats: {segment: [(kind, line)]}.
    Also returns whether init started."""
    segment = "boot"
    splats = {}
    init_started = False
    last_hdr = -100
    for i, line in enumerate(lines):
        m = MARK.search(line)
        if m:
            what, arg = m.groups()
            if what == "init started":
                init_started = True
                segment = "init"
            elif what == "suite-begin":
                segment = arg
            elif what in ("suite-end", "done"):
                segment = "init"
            last_hdr = -100
            continue
        for kind, pat in SPLATS:
            if pat.search(line):
                found = splats.setdefault(segment, [])
                if kind == "panic" or i - last_hdr > SPLAT_MERGE_LINES:
                    found.append((kind, line.strip()))
                elif found and "cut here" in found[-1][1]:
                    # the line after "cut here" says what it is
                    found[-1] = (kind, line.strip())
                last_hdr = i
                break
    return splats, init_started


def kunit_section(lines):
    """The KUnit KTAP printed at boot (before init), or []."""
    start = None
    for i, line in enumerate(lines):
        if start is None and line.startswith("KTAP version"):
            start = i
        if MARK.search(line) and "init started" in line:
            return lines[start:i] if start is not None else []
    return lines[start:] if start is not None else []


# ---------------------------------------------------------------- test log

SUITE_BEGIN = re.compile(r"^### suite-begin (\S+)")
SUITE_END = re.compile(r"^### suite-end (\S+) rc=(-?\d+) pins=(-?\d+)/(-?\d+)"
                       r"(?: taint=(\d+)/(\d+))?(?: secs=(\d+))?")
VMSTAT = re.compile(r"^### vmstat nr_foll_pin_acquired=(\d+) "
                    r"nr_foll_pin_released=(\d+)")


def split_testlog(text):
    """{suite: {'lines': [...], 'rc': int|None, 'pins': (a, r)|None}},
    vmstat (a, r) or None, done flag."""
    suites = {}
    current = None
    vmstat = None
    done = False
    for raw in text.splitlines():
        line = raw.replace("\r", "")
        m = SUITE_BEGIN.match(line)
        if m:
            current = suites.setdefault(
                m.group(1), {"lines": [], "rc": None, "pins": None})
            continue
        m = SUITE_END.match(line)
        if m:
            s = suites.setdefault(m.group(1),
                                  {"lines": [], "rc": None, "pins": None})
            s["rc"] = int(m.group(2))
            s["pins"] = (int(m.group(3)), int(m.group(4)))
            if m.group(5) is not None:
                s["taint"] = (int(m.group(5)), int(m.group(6)))
            if m.group(7) is not None:
                s["secs"] = int(m.group(7))
            current = None
            continue
        m = VMSTAT.match(line)
        if m:
            vmstat = (int(m.group(1)), int(m.group(2)))
            continue
        if line.startswith("### done"):
            done = True
            continue
        if current is not None:
            current["lines"].append(line)
    return suites, vmstat, done


# Exit codes of a suite command that are not failures by themselves:
# 0, and kselftest's KSFT_SKIP (4), which run_vmtests.sh returns when any
# test skipped. The TAP says what failed.
OK_RCS = (0, 4)


def evaluate_suite(name, info):
    """Counts for one kselftest suite from its slice of the test log."""
    if info is None:
        c = Counts()
        c.fail(f"{name}: never started")
        return c
    c = count_level(parse_tap(info["lines"]), "")
    if c.passed + c.xfail == 0 and c.failed == 0:
        # a misspelt category, an early `exit $ksft_skip`, everything
        # skipped: a suite that tested nothing has not passed
        c.fail(f"{name}: no test ran and passed ({c.skipped} skipped)")
    if info["rc"] is None:
        c.fail(f"{name}: did not finish (guest died or hung in it)")
    elif info["rc"] == 137:
        c.fail(f"{name}: SIGKILLed (its timeout, or the OOM killer)")
    elif info["rc"] == 127:
        c.fail(f"{name}: command not found")
    elif info["rc"] not in OK_RCS and c.failed == 0:
        c.fail(f"{name}: exit code {info['rc']} with no failing test")
    if info["pins"] is not None and info["pins"][0] != info["pins"][1]:
        a, r = info["pins"]
        c.fail(f"{name}: pin leak: {a} pins acquired, {r} released "
               f"({a - r:+d})")
    if info.get("taint") and info["taint"][0] != info["taint"][1]:
        t0, t1 = info["taint"]
        c.fail(f"{name}: the kernel became tainted ({t0} -> {t1}: "
               f"{taint_flags(t1 & ~t0)})")
    return c


# /proc/sys/kernel/tainted bits (Documentation/admin-guide/tainted-kernels)
TAINT_LETTERS = "PFSRMBUDAWCIOELKXTN"


def taint_flags(bits):
    return "".join(ch for i, ch in enumerate(TAINT_LETTERS)
                   if bits & (1 << i)) or "-"


def evaluate_kunit(suite_names, lines):
    """Counts per expected KUnit suite from the boot console, and one more
    entry (key None) for every other suite in the boot KTAP plus the
    top-level plan: a failure anywhere in KUnit's output is a failure."""
    level = parse_tap(kunit_section(lines))
    by_name = {r.name: r for r in level.results}
    out = {}
    for name in suite_names:
        r = by_name.get(name)
        if r is None:
            c = Counts()
            c.fail(f"{name}: KUnit suite did not run (not built in?)")
        else:
            one = Level()
            one.results = [r]
            c = count_level(one, "")
            if c.passed + c.xfail == 0 and c.failed == 0:
                c.fail(f"{name}: no KUnit test ran and passed")
        out[name] = c
    extra = sorted(set(by_name) - set(suite_names))
    rest = Level()
    rest.results = [r for r in level.results if r.name in extra]
    rest.orphans = level.orphans
    other = count_level(rest, "")
    if level.plan is not None and len(level.results) < level.plan:
        other.fail(f"KUnit planned {level.plan} suites, "
                   f"{len(level.results)} reported")
    out[None] = other
    return out, extra


COUNTED = re.compile(r"#\s*[\w.-]+:\s+(\d+) (combinations|cases)\b")


def kunit_counted(lines, suite):
    """What the tests of one KUnit suite say they counted ("# test: N
    combinations ..."), for the notes column: ["N combinations"]."""
    found, inside = [], False
    begin = re.compile(r"^\s*# Subtest: " + re.escape(suite) + r"\s*$")
    end = re.compile(r"^(not )?ok \d+ " + re.escape(suite) + r"\b")
    for line in kunit_section(lines):
        if begin.match(line):
            inside = True
        elif inside and end.match(line):
            break
        elif inside:
            m = COUNTED.search(line)
            if m:
                found.append(f"{int(m.group(1))} {m.group(2)}")
    return found


# -------------------------------------------------------------------- table

class Summary:
    def __init__(self):
        self.rows = []   # (name, Counts, extra text)

    def add(self, name, counts, extra=""):
        self.rows.append((name, counts, extra))

    def totals(self):
        t = Counts()
        for _, c, _ in self.rows:
            t.add(c)
        return t

    def render(self):
        lines = []
        w = max([len(r[0]) for r in self.rows] + [5])
        head = (f"{'suite':<{w}}  {'pass':>6} {'fail':>5} {'skip':>5} "
                f"{'xfail':>5}  notes")
        lines.append(head)
        lines.append("-" * len(head))
        for name, c, extra in self.rows:
            lines.append(f"{name:<{w}}  {c.passed:>6} {c.failed:>5} "
                         f"{c.skipped:>5} {c.xfail:>5}  {extra}".rstrip())
        t = self.totals()
        lines.append("-" * len(head))
        lines.append(f"{'total':<{w}}  {t.passed:>6} {t.failed:>5} "
                     f"{t.skipped:>5} {t.xfail:>5}")
        notes = [f"[{name}] {n}" for name, c, _ in self.rows
                 for n in c.notes]
        if notes:
            lines.append("")
            lines.append("failures:")
            for n in notes[:60]:
                lines.append(f"  - {n}")
            if len(notes) > 60:
                lines.append(f"  ... and {len(notes) - 60} more")
        return "\n".join(lines)

    def final_line(self):
        t = self.totals()
        failed = t.failed
        if t.total == 0:
            failed += 1     # zero tests run is a failure
        # expected failures are TAP "ok": they count as passed
        return (f"{t.passed + t.xfail} passed, {failed} failed, "
                f"{t.skipped} skipped")

    def ok(self):
        t = self.totals()
        return t.failed == 0 and t.total > 0
