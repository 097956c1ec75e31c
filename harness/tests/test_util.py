"""util.run / run_logged: what a child process gets."""

import os
import subprocess
import sys
import tempfile
import unittest

HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StdinTest(unittest.TestCase):
    def test_children_read_eof_not_the_terminal(self):
        """A make that prompts (syncconfig meeting a new symbol) must not
        wait for an answer nobody sees: the harness's children get an
        empty stdin even when the harness has one that stays open."""
        with tempfile.TemporaryDirectory() as tmp:
            code = (
                "import os, sys\n"
                f"sys.path.insert(0, {HARNESS!r})\n"
                "from gupharness.util import run, run_logged\n"
                "p = run(['sh', '-c', 'cat; echo done'], capture=True,\n"
                "        check=False)\n"
                "print('RUN', p.stdout.strip())\n"
                f"rc = run_logged(['sh', '-c', 'cat; echo done'],\n"
                f"                os.path.join({tmp!r}, 'log'), 'x')\n"
                "print('LOGGED', rc)\n"
                "p = run(['cat'], capture=True, input_text='given')\n"
                "print('INPUT', p.stdout)\n")
            # the parent's stdin: a pipe that stays open and is never
            # written (communicate() would close it)
            with open(os.path.join(tmp, "out"), "w") as out:
                proc = subprocess.Popen([sys.executable, "-c", code],
                                        stdin=subprocess.PIPE, stdout=out,
                                        text=True)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    self.fail("a child of run()/run_logged() waited on "
                              "stdin")
                finally:
                    proc.stdin.close()
            with open(os.path.join(tmp, "out")) as f:
                lines = [ln for ln in f.read().splitlines()
                         if ln.startswith(("RUN", "LOGGED", "INPUT"))]
            self.assertEqual(lines, ["RUN done", "LOGGED 0", "INPUT given"])
            with open(os.path.join(tmp, "log")) as f:
                self.assertIn("done", f.read())


if __name__ == "__main__":
    unittest.main()
