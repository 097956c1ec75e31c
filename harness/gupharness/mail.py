"""The series as a maintainer receives it: patches/ turned into one
threaded mbox (as git send-email would post it), read back with b4 (b4 am:
every patch found, in order, the base-commit known; b4 shazam: applied on
the base, the result equal to the series), and every patch's subject
prefix and Signed-off-by checked."""

import os
import re
import shutil

from . import series
from .util import out, run

THREAD = "gup-series@localhost"

# "subsystem: " or "subsystem: part: " before the summary, in the forms the
# tree's history uses (mm/gup:, fs/splice:, NFS:, selftests/mm:, arm64:
# mte:, docs: pin_user_pages:, MAINTAINERS:)
PREFIX = re.compile(r"^(?:[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*: )"
                    r"(?:[a-z0-9_]+: )?\S")


def _headers(text):
    """The first header block, unfolded (RFC 5322 2.2.3), and the rest."""
    head, sep, body = text.partition("\n\n")
    return re.sub(r"\n[ \t]+", " ", head), sep + body


def build_mbox(patches, cover, path):
    """One mbox with the cover letter first and every patch a reply to it.
    Headers are unfolded: b4 0.12 fails to copy a folded From: (git
    format-patch folds a long name + address), and an unfolded header is
    the same header."""
    msgs = ([cover] if cover else []) + list(patches)
    with open(path, "w") as f:
        for i, p in enumerate(msgs):
            head, rest = _headers(open(p).read())
            head += f"\nMessage-Id: <{i:04d}.{THREAD}>"
            if i and cover:
                head += (f"\nIn-Reply-To: <0000.{THREAD}>"
                         f"\nReferences: <0000.{THREAD}>")
            f.write(head + rest)
            if not rest.endswith("\n"):
                f.write("\n")
            f.write("\n")
    return f"<0000.{THREAD}>" if cover else f"<0001.{THREAD}>"


def subject_of(text):
    head, _ = _headers(text)
    m = re.search(r"^Subject: \[PATCH[^\]]*\] (.*)$", head, re.M)
    return m.group(1).strip() if m else None


def patch_checks(patches):
    """[(check, ok, detail)]: subject prefixes and sign-offs."""
    bad_prefix, bad_sob = [], []
    for p in patches:
        text = open(p).read()
        name = os.path.basename(p)
        subject = subject_of(text)
        if not subject or not PREFIX.match(subject):
            bad_prefix.append(f"{name} ({subject!r})")
        head, rest = _headers(text)
        m = re.search(r"^From: (.*)$", head, re.M)
        author = m.group(1).strip() if m else ""
        log = rest.split("\n---\n", 1)[0]
        sobs = re.findall(r"^Signed-off-by: (.*)$", log, re.M)
        if not author or author not in [s.strip() for s in sobs]:
            bad_sob.append(name)
    return [
        ("every subject has a subsystem prefix", not bad_prefix,
         ", ".join(bad_prefix[:3]) or f"{len(patches)} patch(es)"),
        ("every patch signed off by its author", not bad_sob,
         ", ".join(bad_sob[:3]) or f"{len(patches)} patch(es)"),
    ]


def b4_checks(tree, head, patches, cover, workdir, start=None):
    """[(check, ok, detail)] from b4 am and b4 shazam on a local mbox, the
    posting applied on start (default: the base)."""
    start = start or tree.base_rev
    if not shutil.which("b4"):
        return [("b4 reads the series", False,
                 "b4 is not installed (harness/deps.sh installs it)")]
    os.makedirs(workdir, exist_ok=True)
    mbox = os.path.join(workdir, "series.mbox")
    msgid = build_mbox(patches, cover, mbox)
    wt = series.ensure_worktree(tree.repo, os.path.join(workdir, "wt"),
                                tree.base_rev)
    run(["git", "-C", wt, "am", "--abort"], check=False, capture=True)
    run(["git", "-C", wt, "checkout", "-q", "-f", "--detach", start])
    outdir = os.path.join(workdir, "am")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    # b4 0.12 stops without user.name/user.email in git's config: give it
    # a config of its own with the committer identity git am uses anyway
    ident = series.git_identity()
    gitconfig = os.path.join(workdir, "gitconfig")
    with open(gitconfig, "w") as f:
        f.write(f"[user]\n\tname = {ident['GIT_COMMITTER_NAME']}\n"
                f"\temail = {ident['GIT_COMMITTER_EMAIL']}\n")
    env = dict(ident, GIT_CONFIG_GLOBAL=gitconfig, GIT_CONFIG_NOSYSTEM="1")
    proc = run(["b4", "--offline-mode", "am", "-m", mbox, "-o", outdir,
                msgid], cwd=wt, capture=True, check=False, env_extra=env)
    text = proc.stdout or ""
    results = []
    m = re.search(r"Total patches: (\d+)", text)
    found = int(m.group(1)) if m else 0
    listed = re.findall(r"^\s+\S*\s*\[PATCH (\d+)/(\d+)\]", text, re.M)
    order_ok = [int(n) for n, _ in listed] == \
        list(range(1, len(patches) + 1))
    results.append(("b4 am: every patch, in order", proc.returncode == 0
                    and found == len(patches) and order_ok,
                    f"{found} of {len(patches)}" if proc.returncode == 0
                    else f"b4 am failed: {text.strip()[-300:]}"))
    if cover:
        known = "Base: using specified base-commit " + tree.base_rev in text
        results.append(("b4 am: the cover's base-commit is the base",
                        known, tree.base_rev[:12] if known else
                        "b4 did not find base-commit "
                        + tree.base_rev[:12]))
    proc = run(["b4", "--offline-mode", "shazam", "-m", mbox, msgid],
               cwd=wt, capture=True, check=False, env_extra=env)
    if proc.returncode != 0:
        run(["git", "-C", wt, "am", "--abort"], check=False, capture=True)
        results.append(("b4 shazam: applies, result = the series", False,
                        (proc.stdout or "").strip()[-300:]))
        return results
    count = int(out(["git", "-C", wt, "rev-list", "--count",
                     f"{start}..HEAD"]))
    same = run(["git", "-C", wt, "diff", "--quiet", "HEAD", head],
               check=False, capture=True).returncode == 0
    results.append(("b4 shazam: applies, result = the series",
                    same and count == len(patches),
                    f"{count} commits, tree identical" if same else
                    f"{count} commits, tree differs from the series"))
    return results


def verify_checks(tree, head, patches, cover, start=None):
    """make verify's mail checks (series.verify's `extra`), per posting:
    subjects and sign-offs, and b4 on a local mbox of the posting, applied
    on `start` (the base + its prerequisites)."""
    if not patches:
        return []
    return patch_checks(patches) + b4_checks(
        tree, head, patches, cover, os.path.join(tree.state_dir(), "b4"),
        start or tree.base_rev)
