"""The series as mail: subject prefixes, sign-offs, the mbox for b4."""

import os
import tempfile
import unittest

from gupharness import mail

PATCH = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A Long Name Indeed
 <someone@example.org>
Date: Sat, 21 Nov 2026 23:23:14 +0000
Subject: [PATCH 01/02] {subject}

Body.

{sob}
---
 x | 1 +
"""


class MailTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gupharness-mail.")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp)

    def _patch(self, name, subject, sob="Signed-off-by: A Long Name "
               "Indeed <someone@example.org>"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(PATCH.format(subject=subject, sob=sob))
        return path

    def test_prefixes_and_sob(self):
        good = [self._patch("1", "mm/gup: do a thing"),
                self._patch("2", "arm64: mte: take pages"),
                self._patch("3", "docs: pin_user_pages: say more"),
                self._patch("4", "NFS: pin pages"),
                self._patch("5", "selftests/mm/cow: fix")]
        self.assertTrue(all(ok for _, ok, _ in mail.patch_checks(good)))
        res = dict((n, ok) for n, ok, _ in mail.patch_checks(
            [self._patch("6", "Fix the thing")]))
        self.assertFalse(res["every subject has a subsystem prefix"])
        res = dict((n, ok) for n, ok, _ in mail.patch_checks(
            [self._patch("7", "mm: x", sob="Signed-off-by: Other "
                         "<o@example.org>")]))
        self.assertFalse(res["every patch signed off by its author"])
        self.assertTrue(res["every subject has a subsystem prefix"])

    def test_mbox(self):
        cover = self._patch("0", "toy series")
        p1 = self._patch("1", "mm/gup: one")
        box = os.path.join(self.tmp, "box")
        msgid = mail.build_mbox([p1], cover, box)
        self.assertEqual(msgid, "<0000.gup-series@localhost>")
        text = open(box).read()
        self.assertEqual(text.count("\nFrom 0000000000"), 1)
        # folded From: unfolded, threading added
        self.assertIn("From: A Long Name Indeed <someone@example.org>\n",
                      text)
        self.assertIn("Message-Id: <0001.gup-series@localhost>\n"
                      "In-Reply-To: <0000.gup-series@localhost>", text)
        self.assertIn("\n\nBody.", text)
