"""The test guest: an initramfs (busybox-static, bash, the mm selftests, our
init) and a bounded QEMU run with the console captured to a log file."""

import os
import re
import shutil
import subprocess
import time

from .util import (HarnessError, env, env_int, out, read, repo_root, run,
                   say, stage)

GUEST_DIR = os.path.join(repo_root(), "harness", "guest")
SUITES_FILE = os.path.join(repo_root(), "harness", "suites")

# Host programs a suite needs in the guest (`@name` among its programs),
# from the Debian packages harness/deps.sh installs, copied with their
# shared libraries and the files they read.
BUNDLES = {
    "nfs": {
        "packages": "nfs-kernel-server rpcbind nfs-common",
        "programs": ["/usr/sbin/rpcbind", "/usr/sbin/rpc.nfsd",
                     "/usr/sbin/rpc.mountd", "/usr/sbin/exportfs",
                     "/sbin/mount.nfs"],
        "links": {"/sbin/mount.nfs4": "mount.nfs"},
        "files": ["/etc/netconfig", "/etc/rpc", "/etc/services",
                  "/etc/protocols"],
    },
}


# ------------------------------------------------------------------- suites

def has_series(kind):
    """Kernels built from the patched tree: the test kernel, the debug
    kernel (make debug) and the patched benchmark kernel (make bench)."""
    return kind in ("patched", "debug", "bench-patched")


class Suite:
    def __init__(self, name, groups, timeout, programs, command):
        self.name = name
        self.groups = groups
        self.timeout = timeout
        self.programs = programs
        self.command = command

    def programs_for(self, kind):
        """The programs this suite needs on the `kind` kernel. A program
        written `+name` is one the series adds: the base tree has none. One
        written `=name` is one the series adds that runs on both kernels (a
        benchmark): the base kernel gets the patched tree's build. `@name`
        is a bundle of host programs (BUNDLES), not a selftest."""
        return [p.lstrip("+=") for p in self.programs
                if not p.startswith("@") and
                (has_series(kind) or not p.startswith("+"))]

    @property
    def bundles(self):
        return [p[1:] for p in self.programs if p.startswith("@")]

    @property
    def shared_programs(self):
        """The `=name` programs: built from the patched tree only."""
        return [p[1:] for p in self.programs if p.startswith("=")]

    @property
    def kunit(self):
        return self.command.split()[0] == "kunit"

    @property
    def kunit_name(self):
        return self.command.split()[1]


def suites_text():
    """harness/suites: what the harness and the guest both read."""
    with open(SUITES_FILE) as f:
        return f.read()


def read_suites(path=None):
    suites = []
    import io
    with (open(path) if path else io.StringIO(suites_text())) as f:
        path = path or SUITES_FILE
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 4)
            if len(parts) < 5:
                raise HarnessError(f"{path}:{n}: expected 5 fields")
            name, groups, timeout, programs, command = parts
            if not re.match(r"^[A-Za-z0-9_.-]+$", name):
                raise HarnessError(f"{path}:{n}: bad suite name {name!r}")
            try:
                timeout = int(timeout)
            except ValueError:
                raise HarnessError(f"{path}:{n}: timeout {timeout!r}")
            progs = [] if programs == "-" else programs.split(",")
            s = Suite(name, groups.split(","), timeout, progs, command.strip())
            unknown = [b for b in s.bundles if b not in BUNDLES]
            if unknown:
                raise HarnessError(f"{path}:{n}: unknown bundle(s) "
                                   f"{unknown}; known: {sorted(BUNDLES)}")
            if s.kunit and len(s.command.split()) != 2:
                raise HarnessError(f"{path}:{n}: use `kunit SUITE_NAME`")
            suites.append(s)
    names = [s.name for s in suites]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise HarnessError(f"{path}: suites listed twice: {sorted(dup)}")
    return suites


def suite_programs(suites, kind):
    return sorted({p for s in suites if not s.kunit
                   for p in s.programs_for(kind)})


def shared_programs(suites):
    return sorted({p for s in suites if not s.kunit
                   for p in s.shared_programs})


def select_suites(group):
    """Suites of a group, or the ones named in SUITES=a,b."""
    suites = read_suites()
    wanted = env("SUITES")
    if wanted:
        names = [w for w in re.split(r"[,\s]+", wanted) if w]
        known = {s.name: s for s in suites}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise HarnessError(f"SUITES: unknown suite(s) {unknown}; "
                               f"known: {sorted(known)}")
        return [known[n] for n in names]
    return [s for s in suites if group in s.groups]


# --------------------------------------------------------------- initramfs

def _gen_init_cpio(src, work):
    tool = os.path.join(work, "gen_init_cpio")
    source = os.path.join(src, "usr", "gen_init_cpio.c")
    if not os.path.isfile(tool) or \
            os.path.getmtime(tool) < os.path.getmtime(source):
        run(["gcc", "-O2", "-o", tool, source])
    return tool


def _shared_libs(binary):
    libs = []
    text = out(["ldd", binary])
    for line in text.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def build_initramfs(src, build, selftest_dir, suites, kind):
    """Write the initramfs next to the kernel build; returns its path."""
    stage("initramfs")
    work = os.path.join(build, "initramfs")
    os.makedirs(work, exist_ok=True)
    busybox = shutil.which("busybox")
    if not busybox or (shutil.which("file") and
                       "statically" not in out(["file", "-b", busybox])):
        raise HarnessError("a static busybox is needed (apt-get install "
                           "busybox-static)")
    bash = shutil.which("bash")
    entries = []

    def d(path):
        entries.append(f"dir {path} 0755 0 0")

    def f(path, local, mode="0755"):
        entries.append(f"file {path} {local} {mode} 0 0")

    def ln(path, target):
        entries.append(f"slink {path} {target} 0777 0 0")

    made = set()

    def dirs_of(path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if p not in made:
                made.add(p)
                d(p)

    for p in ("/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/etc",
              "/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/home",
              "/home/tester", "/mnt", "/opt", "/opt/mm", "/opt/gupharness",
              "/lib", "/lib64"):
        made.add(p)
        d(p)
    entries.append("nod /dev/console 0600 0 0 c 5 1")
    entries.append("nod /dev/null 0666 0 0 c 1 3")
    f("/init", os.path.join(GUEST_DIR, "init"))
    ln("/bin/run-suite", "/init")
    f("/bin/busybox", busybox)
    own = {"/bin/busybox", "/bin/bash", "/bin/run-suite"}
    for applet in out([busybox, "--list-full"]).split():
        path = "/" + applet
        if path in own or path == "/linuxrc":
            continue
        dirs_of(path)
        ln(path, "/bin/busybox")
    f("/bin/bash", bash)
    libs_done = set()
    for lib in _shared_libs(bash):
        libs_done.add(lib)
        dirs_of(lib)
        f(lib, os.path.realpath(lib))
    for name in sorted({b for s in suites for b in s.bundles}):
        bundle = BUNDLES[name]
        missing = [p for p in bundle["programs"] + bundle["files"]
                   if not os.path.exists(p)]
        if missing:
            raise HarnessError(
                f"the guest needs {', '.join(missing)}: apt-get install "
                f"{bundle['packages']} (harness/deps.sh does)")
        for prog in bundle["programs"]:
            dirs_of(prog)
            f(prog, os.path.realpath(prog))
            for lib in _shared_libs(prog):
                if lib not in libs_done:
                    libs_done.add(lib)
                    dirs_of(lib)
                    f(lib, os.path.realpath(lib))
        for link, target in bundle["links"].items():
            ln(link, target)
        for path in bundle["files"]:
            f(path, os.path.realpath(path), "0644")
    merged = os.path.join(work, "suites")
    with open(merged, "w") as fh:
        fh.write(suites_text())
    f("/opt/gupharness/suites", merged, "0644")
    f("/opt/gupharness/motd", os.path.join(GUEST_DIR, "motd"), "0644")
    for script in sorted(os.listdir(GUEST_DIR)):
        if script.endswith(".sh"):
            f(f"/opt/gupharness/{script}", os.path.join(GUEST_DIR, script))
    passwd = os.path.join(work, "passwd")
    with open(passwd, "w") as fh:
        fh.write("root:x:0:0:root:/root:/bin/sh\n"
                 "tester:x:1000:1000:unprivileged tests:/home/tester:"
                 "/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
                 "_rpc:x:102:65534::/run/rpcbind:/bin/false\n")
    group = os.path.join(work, "group")
    with open(group, "w") as fh:
        fh.write("root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n")
    f("/etc/passwd", passwd, "0644")
    f("/etc/group", group, "0644")
    entries.append("dir /home/tester 0755 1000 1000")
    programs = suite_programs(suites, kind)
    for p in programs:
        f(f"/opt/mm/{p}", os.path.join(selftest_dir, p))
    listing = os.path.join(work, "list")
    with open(listing, "w") as fh:
        fh.write("\n".join(entries) + "\n")
    tool = _gen_init_cpio(src, work)
    image = os.path.join(build, "initramfs.cpio")
    with open(image, "wb") as fh:
        proc = subprocess.run([tool, listing], stdout=fh,
                              stderr=subprocess.PIPE, text=False)
    if proc.returncode != 0:
        raise HarnessError("gen_init_cpio failed: "
                           + proc.stderr.decode(errors="replace"))
    say(f"    {image} ({os.path.getsize(image) >> 20} MiB, "
        f"{len(programs)} selftest file(s))")
    return image


# ------------------------------------------------------------------- QEMU

def choose_accel(cpuinfo=None, kvm_usable=None):
    """KVM only where it really works: /dev/kvm usable *and* the CPU shows
    hardware virtualization. Decided up front, never by a slow failed boot."""
    forced = env("ACCEL")
    if forced:
        if forced not in ("kvm", "tcg"):
            raise HarnessError(f"ACCEL={forced}: use kvm or tcg")
        return forced, f"ACCEL={forced} set by the user"
    flags = set()
    if cpuinfo is None:
        cpuinfo = read("/proc/cpuinfo") or ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    hw = flags & {"vmx", "svm"}
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK) \
        if kvm_usable is None else kvm_usable
    if hw and usable:
        return "kvm", f"/dev/kvm usable, cpu has {'/'.join(sorted(hw))}"
    if usable:
        return "tcg", ("/dev/kvm exists but the cpu shows no vmx/svm (not "
                       "hardware virtualization: QEMU would fail under it)")
    return "tcg", "no usable /dev/kvm"


def qemu_cmd(kernel, initrd, append, console, tests, interactive=False,
             extra=()):
    accel, why = choose_accel()
    cpu = "host" if accel == "kvm" else "max"
    cmd = ["qemu-system-x86_64", "-accel", accel, "-cpu", cpu,
           "-smp", str(env_int("SMP", 2)), "-m", env("MEM", "3G"),
           "-nodefaults", "-no-reboot", "-display", "none",
           "-kernel", kernel, "-initrd", initrd, "-append", append]
    cmd += icount_args(accel)
    cmd += list(extra)
    if interactive:
        cmd += ["-serial", "mon:stdio", "-serial", "null"]
    else:
        cmd += ["-serial", f"file:{console}", "-serial", f"file:{tests}"]
    return cmd, accel, why


class GuestRun:
    """Outcome of one boot: logs, and why it ended."""

    def __init__(self, console, tests):
        self.console = console
        self.tests = tests
        self.ended = None       # 'done', 'panic', 'boot-timeout', 'timeout',
        self.detail = ""        # 'exited'
        self.seconds = 0.0
        self.boot_seconds = None

    def console_text(self):
        return read(self.console, "") or ""

    def tests_text(self):
        return read(self.tests, "") or ""

    def tail(self, n=50):
        return self.console_text().replace("\r", "").splitlines()[-n:]


def icount_shift(accel):
    """ICOUNT=n: QEMU's -icount shift=n,sleep=off (TCG only), so that guest
    time is the count of instructions executed, 2^n ns each, and a
    CPU-bound benchmark measures instructions rather than the host's
    load. It serializes the vCPUs (no multi-threaded TCG). None if unset."""
    value = env("ICOUNT")
    if not value:
        return None
    if not re.fullmatch(r"\d|10", value):
        raise HarnessError(f"ICOUNT={value}: a shift from 0 to 10")
    if accel != "tcg":
        raise HarnessError(f"ICOUNT={value}: -icount needs TCG, and this "
                           f"run uses {accel} (set ACCEL=tcg)")
    return int(value)


def icount_args(accel):
    shift = icount_shift(accel)
    return [] if shift is None else ["-icount", f"shift={shift},sleep=off"]


def clock_args(accel):
    """Under TCG the guest TSC ticks at the host's rate, but calibrating it
    against the emulated PIT fails whenever the host is busy, and then the
    kernel falls back to jiffies (4 ms steps at HZ=250): every timing a test
    prints becomes worthless. So: state the frequency (tsc_early_khz, from
    the host's /proc/cpuinfo) and keep the watchdog off it (tsc=reliable)."""
    if accel != "tcg":
        return ""
    shift = icount_shift(accel)
    if shift is not None:
        # the guest TSC counts virtual nanoseconds: 1 GHz whatever the shift
        return "tsc=reliable tsc_early_khz=1000000"
    m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", read("/proc/cpuinfo") or "",
                  re.M)
    khz = f" tsc_early_khz={int(float(m.group(1)) * 1000)}" if m else ""
    return "tsc=reliable" + khz


def movable_arg():
    """movablecore=: a ZONE_MOVABLE for the vmsplice memory-offline test
    (MOVABLECORE=0 leaves it out).  It takes the top of memory, where user
    pages go first, so the test's buffer lands there.  Smaller than the
    boot-time hugetlb pool (hugepages=, allocated from ZONE_MOVABLE first),
    so that some free huge pages are outside it: a long-term pin that has
    to COW-unshare or migrate a huge page can only use those, and with
    none (a pool wholly in ZONE_MOVABLE) it fails."""
    size = env("MOVABLECORE", "256M")
    if not re.fullmatch(r"\d+[KMG]?", size):
        raise HarnessError(f"MOVABLECORE={size}: a size such as 1G, or 0")
    return "" if size == "0" else f"movablecore={size} "


def boot(kernel, initrd, suites, outdir, label, extra_append="", scale=1,
         qemu_extra=()):
    """Boot the kernel, run the (non-KUnit) suites, return a GuestRun.
    scale multiplies every suite's timeout (the debug kernel is slower);
    qemu_extra: more QEMU arguments (make profile's -plugin)."""
    os.makedirs(outdir, exist_ok=True)
    console = os.path.join(outdir, "console.log")
    tests = os.path.join(outdir, "tests.log")
    for p in (console, tests):
        if os.path.exists(p):
            os.unlink(p)
        open(p, "w").close()
    names = [s.name for s in suites if not s.kunit]
    # 2 MiB hugetlb pages reserved at boot: run_vmtests.sh gives back what
    # it reserved itself before `cow` runs, so without these cow's hugetlb
    # cases (the vmsplice ones among them) would only skip.
    # ignore_loglevel comes after APPEND: a `quiet` there must not hide the
    # WARN splats (and the suite markers) the harness reads.
    append = ("console=ttyS0,115200 panic=-1 printk.time=1 "
              f"{clock_args(choose_accel()[0])} "
              "sysctl.kernel.hung_task_timeout_secs=30 "
              f"hugepages={env_int('HUGEPAGES', 160)} "
              f"{movable_arg()}"
              f"gupharness.suites={','.join(names) or '-'} "
              f"gupharness.timeout_scale={scale} "
              + env("APPEND", "") + " " + extra_append
              + " ignore_loglevel").strip()
    cmd, accel, why = qemu_cmd(kernel, initrd, append, console, tests,
                               extra=qemu_extra)
    boot_timeout = env_int("BOOT_TIMEOUT", 300)
    guest_timeout = env_int("GUEST_TIMEOUT",
                            boot_timeout + scale * sum(
                                s.timeout for s in suites if not s.kunit)
                            + 60)
    stage(f"guest ({label}): {accel} ({why}); suites: "
          f"{', '.join(names) or 'none'}; timeouts: boot {boot_timeout}s, "
          f"whole run {guest_timeout}s")
    with open(os.path.join(outdir, "qemu.cmd"), "w") as fh:
        fh.write(" ".join(cmd) + "\n")
    qlog = open(os.path.join(outdir, "qemu.log"), "w")
    proc = subprocess.Popen(cmd, stdout=qlog, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    g = GuestRun(console, tests)
    t0 = time.monotonic()
    last_progress = 0.0
    try:
        while True:
            time.sleep(0.25)
            now = time.monotonic() - t0
            ctext = g.console_text()
            ttext = g.tests_text()
            if g.boot_seconds is None and "gupharness: init started" in ctext:
                g.boot_seconds = now
            if "### done" in ttext:
                _let_exit(proc, 20)     # init reboots right after
                g.ended = "done"
                break
            if "Kernel panic - not syncing" in ctext:
                _let_exit(proc, 5)      # the rest of the panic message
                g.ended = "panic"
                break
            if proc.poll() is not None:
                g.ended = "exited"
                g.detail = f"QEMU exited with status {proc.returncode}"
                break
            if g.boot_seconds is None and now > boot_timeout:
                g.ended = "boot-timeout"
                g.detail = f"init not reached within {boot_timeout}s"
                break
            if now > guest_timeout:
                g.ended = "timeout"
                g.detail = f"the guest ran longer than {guest_timeout}s"
                break
            if now - last_progress >= 15:
                last_progress = now
                say(f"    [guest {label} {now:5.0f}s] {_progress(ctext, ttext, names, g)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        qlog.close()
    g.seconds = time.monotonic() - t0
    qemu_out = read(os.path.join(outdir, "qemu.log"), "").strip()
    if g.ended == "exited" and qemu_out:
        g.detail += ": " + qemu_out.splitlines()[-1]
    say(f"    [guest {label}] ended: {g.ended} after {g.seconds:.0f}s"
        + (f" (boot to init {g.boot_seconds:.1f}s)"
           if g.boot_seconds is not None else ""))
    return g


def _let_exit(proc, seconds):
    """Give QEMU a moment to finish by itself (it is killed afterwards)."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _progress(ctext, ttext, names, g):
    if g.boot_seconds is None:
        lines = ctext.replace("\r", "").splitlines()
        return f"booting; console: {lines[-1][:90] if lines else '(empty)'}"
    begun = re.findall(r"^### suite-begin (\S+)", ttext, re.M)
    ended = re.findall(r"^### suite-end (\S+)", ttext, re.M)
    if begun and len(begun) > len(ended):
        cur = begun[-1]
        idx = names.index(cur) + 1 if cur in names else "?"
        lines = ttext[ttext.rfind(f"### suite-begin {cur}"):].splitlines()
        oks = sum(1 for ln in lines if re.match(r"^(?:# )*(?:not )?ok ", ln))
        return (f"suite {cur} ({idx}/{len(names)}), "
                f"{oks} result lines so far")
    return f"{len(ended)}/{len(names)} suites finished"


def shell(kernel, initrd):
    append = ("console=ttyS0,115200 panic=-1 printk.time=1 "
              f"{clock_args(choose_accel()[0])} "
              "gupharness.mode=shell " + env("APPEND", "")).strip()
    cmd, accel, why = qemu_cmd(kernel, initrd, append, None, None,
                               interactive=True)
    stage(f"shell: {accel} ({why}); leave with `reboot -f` "
          "(or Ctrl-A X)")
    return subprocess.call(cmd)
