import os
import tempfile
import unittest

from gupharness import lint


class IncludedCFilesTest(unittest.TestCase):
    def test_a_test_file_included_by_its_neighbour(self):
        with tempfile.TemporaryDirectory() as src:
            os.makedirs(os.path.join(src, "fs/ceph"))
            os.makedirs(os.path.join(src, "fs/nfs"))
            with open(os.path.join(src, "fs/ceph/file.c"), "w") as f:
                f.write('int x;\n#if 1\n#include "file_kunit.c"\n#endif\n')
            for p in ("fs/ceph/file_kunit.c", "fs/nfs/direct.c"):
                with open(os.path.join(src, p), "w") as f:
                    f.write('#include "file_kunit.c"\n')
            files = ["fs/ceph/file.c", "fs/ceph/file_kunit.c",
                     "fs/nfs/direct.c"]
            # only the neighbour in the same directory counts
            self.assertEqual(lint.included_c_files(src, files),
                             {"fs/ceph/file_kunit.c": "fs/ceph/file.c"})

    def test_nothing_included(self):
        with tempfile.TemporaryDirectory() as src:
            with open(os.path.join(src, "a.c"), "w") as f:
                f.write('#include "b.h"\n')
            self.assertEqual(lint.included_c_files(src, ["a.c"]), {})


if __name__ == "__main__":
    unittest.main()
