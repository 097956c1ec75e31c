"""Shared helpers: errors with exit codes, stage banners, commands, progress."""

import hashlib
import os
import re
import shlex
import subprocess
import sys
import time

# Exit codes (the libbpf vmtest convention):
#   0  everything ran and passed
#   1  the guest ran, but something failed (tests, splats, pin balance,
#      a panic, a hang)
#   2  the harness could not get as far as running the guest (bad input,
#      missing tools, a download, a patch that does not apply, a build error)
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_HARNESS = 2


class HarnessError(Exception):
    """The harness could not do its job: exit 2, with this message."""


class TestFailure(Exception):
    """Something that was checked failed: exit 1, with this message."""


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def env(name, default=None):
    val = os.environ.get(name)
    return default if val in (None, "") else val


def env_int(name, default):
    val = env(name)
    if val is None:
        return default
    try:
        return int(val)
    except ValueError:
        raise HarnessError(f"{name}={val!r} is not a whole number")


def caller_path(path):
    """A path the user gave (KSRC=, PATCHES=, CACHE=...), relative to where
    they ran make or harness/gup, not to harness/."""
    base = os.environ.get("GUP_CALLER_PWD") or os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def cache_dir():
    base = (caller_path(env("CACHE")) if env("CACHE") else None) or os.path.join(
        env("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gup-series")
    os.makedirs(base, exist_ok=True)
    return os.path.abspath(base)


_T0 = time.monotonic()


def elapsed():
    return time.monotonic() - _T0


def say(msg):
    print(msg, flush=True)


def stage(name):
    say(f"==> [{elapsed():6.0f}s] {name}")


def warn_loud(msg):
    bar = "!" * 72
    say(f"{bar}\n!! WARNING: {msg}\n{bar}")


def quote(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def run(cmd, cwd=None, check=True, capture=False, env_extra=None,
        input_text=None, quiet=False):
    """Run a command. On failure raise HarnessError with its output."""
    environ = dict(os.environ)
    if env_extra:
        environ.update(env_extra)
    if not quiet and env("V") == "1":
        say(f"    $ {quote(cmd)}" + (f"   (in {cwd})" if cwd else ""))
    try:
        # no terminal to read from: a make that would prompt (syncconfig
        # on a new symbol) reads EOF instead of hanging with its prompt
        # captured
        stdin = {"input": input_text} if input_text is not None else \
            {"stdin": subprocess.DEVNULL}
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=environ, text=True,
            **stdin,
            stdout=subprocess.PIPE if capture or check else None,
            stderr=subprocess.STDOUT if capture or check else None)
    except FileNotFoundError:
        raise HarnessError(f"command not found: {cmd[0]}")
    if check and proc.returncode != 0:
        out = (proc.stdout or "").strip()
        tail = "\n".join(out.splitlines()[-30:])
        raise HarnessError(
            f"command failed (exit {proc.returncode}): {quote(cmd)}"
            + (f"\n{tail}" if tail else ""))
    return proc


def out(cmd, cwd=None):
    """Run and return stripped stdout (stderr kept apart)."""
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise HarnessError(f"command not found: {cmd[0]}")
    if proc.returncode != 0:
        raise HarnessError(f"command failed (exit {proc.returncode}): "
                           f"{quote(cmd)}\n{proc.stderr.strip()}")
    return proc.stdout.strip()


def run_logged(cmd, log_path, label, cwd=None, env_extra=None,
               progress=None, interval=15.0, tail_lines=40, state=None):
    """Run a long command with output to log_path and a progress line.

    progress(line, state) is called for each output line and may update the
    dict state; state['text'] is printed every `interval` seconds.
    Returns the exit code; on failure prints the tail of the log.
    """
    environ = dict(os.environ)
    if env_extra:
        environ.update(env_extra)
    if state is None:
        state = {}
    state.update(text="", lines=0)
    t0 = time.monotonic()
    last = t0
    with open(log_path, "w") as log:
        log.write(f"$ {quote(cmd)}\n")
        log.flush()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=environ,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        for line in proc.stdout:
            log.write(line)
            state["lines"] += 1
            if progress:
                progress(line, state)
            now = time.monotonic()
            if now - last >= interval:
                last = now
                say(f"    [{label} {now - t0:5.0f}s] {state['text']}")
        rc = proc.wait()
    if rc != 0:
        with open(log_path, errors="replace") as log:
            lines = log.read().splitlines()
        say(f"    [{label}] failed (exit {rc}); last lines of {log_path}:")
        for line in lines[-tail_lines:]:
            say(f"      {line}")
    else:
        say(f"    [{label}] done in {time.monotonic() - t0:.0f}s")
    return rc


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def read(path, default=None):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def write(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def die(exc):
    code = EXIT_FAILED if isinstance(exc, TestFailure) else EXIT_HARNESS
    sys.stdout.flush()
    kind = "FAILED" if code == EXIT_FAILED else "ERROR"
    print(f"\n{kind}: {exc}", file=sys.stderr, flush=True)
    return code


# a compiler or sparse message in a make log; "note:" lines belong to the
# warning above them
COMPILER_MSG = re.compile(r"^(\S+?):\d+(?::\d+)?: (warning|error): (.*)$")


def compiler_messages(text):
    """(file, level, message) for every compiler or sparse warning and
    error in a make log: the file relative to the source tree (an O= build
    prints ../path), no line number, so that code moving is not new."""
    for line in text.splitlines():
        m = COMPILER_MSG.match(line.strip())
        if not m:
            continue
        path = os.path.normpath(m.group(1))
        while path.startswith("../"):
            path = path[3:]
        yield path, m.group(2), m.group(3)
