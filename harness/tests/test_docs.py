"""make docs: Sphinx and kernel-doc messages, compared with the base."""

import unittest

from gupharness import docs


class DocsTest(unittest.TestCase):
    def test_normalise(self):
        log = ("/c/p/Documentation/core-api/pin_user_pages.rst:312: "
               "WARNING: Inline emphasis start-string without end-string.\n"
               "/c/p/Documentation/core-api/mm-api.rst: WARNING: "
               "duplicate label\n"
               "mm/gup.c:1200: warning: No description found for return "
               "value of 'f'\n"
               "./include/linux/mm.h:12: warning: Function parameter x\n"
               "  SPHINX  htmldocs --> file:///c/p/.build-docs\n")
        got = docs.normalise(log, "/c/p")
        self.assertEqual(sum(got.values()), 4)
        self.assertIn(("Documentation/core-api/pin_user_pages.rst",
                       "warning", "Inline emphasis start-string without "
                       "end-string."), got)
        self.assertIn(("include/linux/mm.h", "warning",
                       "Function parameter x"), got)
        # the same messages on other lines and in another checkout: equal
        moved = log.replace(":312:", ":330:").replace("/c/p/", "/d/q/")
        self.assertEqual(docs.normalise(moved, "/d/q"), got)
        self.assertEqual(docs.new_messages(got, got), [])
        more = log + "mm/gup.c:9: warning: Excess function parameter 'y'\n"
        self.assertEqual(len(docs.new_messages(
            got, docs.normalise(more, "/c/p"))), 1)

    def test_sphinx_dirs(self):
        self.assertEqual(docs.sphinx_dirs(
            ["Documentation/core-api/pin_user_pages.rst", "mm/gup.c",
             "Documentation/mm/a.rst", "Documentation/index.rst",
             "Documentation/core-api/x.txt"]), ["core-api", "mm"])
