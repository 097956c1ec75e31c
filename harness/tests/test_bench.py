"""make bench: gup_test timing lines to medians, spread and ratio."""

import unittest

from gupharness import bench


class BenchTest(unittest.TestCase):
    def test_parse_and_table(self):
        base = "\n".join(f"BENCH uT1 {100 + i} 5" for i in range(10)) + \
            "\nnoise\nBENCH aT512 40 4\r\n"
        patched = "\n".join(f"BENCH uT1 {110 + i} 5" for i in range(10))
        res = {"base": bench.parse(base), "patched": bench.parse(patched)}
        self.assertEqual(len(res["base"]["uT1"]), 10)
        self.assertEqual(res["base"]["aT512"], [(40, 4)])
        text = bench.table(res)
        row = [line for line in text.splitlines()
               if line.startswith("GUP_FAST")][0]
        # medians 104.5 and 114.5: ratio 1.096
        self.assertIn("1.096", row)
        self.assertIn("4K", row)
        self.assertIn("n=1", row)
        pin = [line for line in text.splitlines()
               if line.startswith("PIN_FAST")][0]
        self.assertIn(" - ", pin)      # no patched samples: no ratio

    def test_procmem(self):
        base = "\n".join(f"# BENCH mprotect 2 {1000 + i} 50"
                         for i in range(5)) \
            + "\nBENCH nowriter 2 4000 0\nBENCH uT1 5 5\n"
        patched = "\n".join(f"# BENCH mprotect 2 {4000 + i} 40"
                            for i in range(5)) + "\nBENCH nowriter 2 4400 0\n"
        res = {"base": bench.parse_procmem(base),
               "patched": bench.parse_procmem(patched)}
        self.assertEqual(res["base"][("nowriter", 2)], [(4000, 0)])
        self.assertNotIn("uT1", str(res["base"]))
        # the gup_test parser does not take the 4-number lines
        self.assertEqual(list(bench.parse(base)), ["uT1"])
        text = bench.procmem_table(res)
        row = [line for line in text.splitlines()
               if line.startswith("mprotect writer, 2 rd")][0]
        self.assertIn("3.99", row)      # 4002 / 1002
        row = [line for line in text.splitlines()
               if line.startswith("no writer, 2 rd")][0]
        self.assertIn("1.10", row)
        loops = [line for line in text.splitlines()
                 if "mprotect loops/s" in line][0]
        self.assertIn("0.80", loops)

    def test_latency(self):
        base = ("# LATENCY 0 2000 20.5 40.0 90.0 0.0\n"
                "# LATENCY 16 1800 900.0 4000.0 5000.0 3900.0\n"
                "# LATENCY 16 1800 800.0 3000.0 5000.0 3800.0\n"
                "# BENCH mmap 1 5 5\n")
        patched = ("# LATENCY 0 2000 20.0 40.0 80.0 0.0\n"
                   "# LATENCY 16 2000 21.0 50.0 99.5 4000.0\n"
                   "# LATENCY 16 2000 21.0 50.0 99.5 4100.0\n")
        res = {"base": bench.parse_latency(base),
               "patched": bench.parse_latency(patched)}
        self.assertEqual(res["base"][0], [(20.5, 40.0, 90.0, 0.0)])
        self.assertEqual(len(res["base"][16]), 2)
        # the other parsers leave LATENCY lines alone, and it theirs
        self.assertEqual(bench.parse_procmem(base), {("mmap", 1): [(5, 5)]})
        self.assertEqual(bench.parse_vmsplice(base), {})
        text = bench.latency_table(res)
        row = [line for line in text.splitlines()
               if line.startswith("mprotect writer, 16 MiB")][0]
        self.assertEqual(row.split()[4:], ["850.0", "3500.0", "3850",
                                           "21.0", "50.0", "4050"])
        self.assertTrue(any(line.startswith("no writer")
                            for line in text.splitlines()))
        # the chart/verdict rows compare p99, lower is better
        boots = {k: {} for k in res}
        for k in res:
            bench.merge(boots[k], res[k])
        empty = {"base": {}, "patched": {}}
        rows = bench.chart_rows(empty, empty, empty, empty, boots)
        self.assertEqual([r[1] for r in rows],
                         ["p99 no writer", "p99 16MiB writer"])
        self.assertAlmostEqual(rows[0][2], 1.0)
        self.assertAlmostEqual(rows[1][2], 70.0)     # 3500 / 50

    def test_vmsplice(self):
        base = "\n".join(f"# VMSPLICE tcp 65536 vmsplice {100000000 + i}"
                          for i in range(5)) \
            + "\n# VMSPLICE tcp 65536 write 50000000\n# BENCH mmap 1 5 5\n"
        patched = "\n".join(f"# VMSPLICE tcp 65536 vmsplice {98000000 + i}"
                             for i in range(5)) \
            + "\n# VMSPLICE tcp 65536 write 49000000\n" \
            + "# VMSPLICE null 4096 vmsplice 8000000\n"
        res = {"base": bench.parse_vmsplice(base),
               "patched": bench.parse_vmsplice(patched)}
        self.assertEqual(len(res["base"][("tcp", 65536, "vmsplice")]), 5)
        # the other benchmarks' parsers leave these lines alone
        self.assertEqual(bench.parse_procmem(base), {("mmap", 1): [(5, 5)]})
        self.assertEqual(bench.parse(patched), {})
        text = bench.vmsplice_table(res)
        lines = text.splitlines()
        # null sorts before tcp; a kernel without samples shows "-"
        rows = [line for line in lines if line[:4] in ("null", "tcp ")]
        self.assertTrue(rows[0].startswith("null 4K"))
        self.assertIn(" - ", rows[0])
        tcp = rows[1]
        self.assertTrue(tcp.startswith("tcp 64K"))
        self.assertIn("100.0", tcp)         # base median, MB/s
        self.assertIn("0.98", tcp)          # patched / base
        self.assertIn("2.00", tcp)          # patched vmsplice / copy

    def test_dio(self):
        text = ("# DIO fuse write 65536 2000000\n"
                "# DIO fuse write 65536 4000000\n"
                "# DIO fuse write 65536 3000000\n"
                "# # DIO nfs4.2 read 1048576 9000000\n"
                "DIO nope 1 2\n")
        got = bench.parse_dio(text)
        self.assertEqual(got, {("fuse", "write", 65536):
                               [2000000, 4000000, 3000000],
                               ("nfs4.2", "read", 1048576): [9000000]})
        table = bench.dio_table({"base": got,
                                 "patched": {("fuse", "write", 65536):
                                             [1500000]}})
        row = [ln for ln in table.splitlines()
               if ln.startswith("fuse write 64K")][0]
        self.assertIn("3.0", row)
        self.assertTrue(row.rstrip().endswith("0.50"))
        row = [ln for ln in table.splitlines()
               if ln.startswith("nfs4.2 read 1M")][0]
        self.assertTrue(row.rstrip().endswith("-"))

    def test_stats(self):
        med, spread = bench.stats([10, 10, 10, 10, 20])
        self.assertEqual(med, 10)
        self.assertGreaterEqual(spread, 0)


if __name__ == "__main__":
    unittest.main()


class ChartTest(unittest.TestCase):
    def test_speedup(self):
        # times: base 100, patched 50 -> patched twice as fast; samples
        # that do not vary give a zero-width interval
        r = bench.speedup([[100] * 5], [[50] * 5], lower_is_better=True)
        self.assertEqual(r, (2.0, 2.0, 2.0))
        # throughput: the interval brackets the ratio of the medians
        ratio, low, high = bench.speedup([[90, 95, 100, 105, 110]],
                                         [[100, 110, 120, 130, 140]])
        self.assertAlmostEqual(ratio, 1.2)
        self.assertLess(low, ratio)
        self.assertGreater(high, ratio)
        # reproducible: the same samples give the same interval
        self.assertEqual(bench.speedup([[90, 95, 100, 105, 110]],
                                       [[100, 110, 120, 130, 140]]),
                         (ratio, low, high))
        self.assertIsNone(bench.speedup([], [[1]]))
        self.assertIsNone(bench.speedup([[]], [[1]]))

    def test_boots_widen_the_interval(self):
        # Three boots of the base, one of which ran 30% slower as a whole
        # (a busy host): pooled, its 50 samples never move the median of
        # 150, and resampling samples alone would report 1.0 exactly.
        # Drawing boots first shows the ratio depends on which boots ran.
        base = [[100] * 50, [100] * 50, [130] * 50]
        pat = [[100] * 50] * 3
        flat = bench.speedup([sum(base, [])], [sum(pat, [])])
        self.assertEqual(flat, (1.0, 1.0, 1.0))
        ratio, lo, hi = bench.speedup(base, pat)
        self.assertEqual((ratio, hi), (1.0, 1.0))
        self.assertAlmostEqual(lo, 100 / 130)
        self.assertTrue(bench.verdict(lo, hi).startswith("unresolved"))
        self.assertEqual(bench.verdict(*flat[1:]),
                         "no difference (within 5%)")

    def test_verdict(self):
        self.assertEqual(bench.verdict(1.01, 1.2), "faster")
        self.assertEqual(bench.verdict(0.997, 0.999, ratio=0.998),
                         "slower by 0.2%")
        self.assertEqual(bench.verdict(0.9996, 0.9998, ratio=0.9997),
                         "slower by 0.03%")
        self.assertEqual(bench.verdict(0.4, 0.99), "slower")
        self.assertEqual(bench.verdict(0.96, 1.04),
                         "no difference (within 5%)")
        self.assertTrue(bench.verdict(0.94, 1.01).startswith("unresolved"))

    def test_rows_and_script(self):
        gup, procmem = {"base": {}, "patched": {}}, {"base": {},
                                                     "patched": {}}
        bench.merge(gup["base"], bench.parse("BENCH uT8 100 1\n"
                                             "BENCH aT1 9 9\n"))
        bench.merge(gup["patched"], bench.parse("BENCH uT8 80 1\n"))
        bench.merge(procmem["base"],
                    bench.parse_procmem("BENCH mmap 1 100 5\n"))
        bench.merge(procmem["patched"],
                    bench.parse_procmem("BENCH mmap 1 150 5\n"))
        empty = {"base": {}, "patched": {}}
        rows = bench.chart_rows(gup, procmem, empty, empty)
        # aT1 has no patched sample: not drawn
        self.assertEqual([r[:2] for r in rows],
                         [("gup_test", "GUP_FAST 4K n=8"),
                          ("/proc/pid/mem", "mmap 1rd")])
        self.assertAlmostEqual(rows[0][2], 1.25)
        self.assertAlmostEqual(rows[1][2], 1.5)
        text = bench.verdict_table(rows, "1 boot(s) per kernel")
        self.assertIn("gup_test GUP_FAST 4K n=8", text)
        self.assertIn("faster", text)
        self.assertIn("2 of 2 rows within +-5%", text)
        data, script = bench.chart_script(rows, "/x/b.dat", "/x/b.png", "t")
        self.assertEqual(data.splitlines()[1].split()[:2], ["1", "1.5000"])
        self.assertIn('"mmap 1rd"', data)
        self.assertIn('set output "/x/b.png"', script)
        self.assertIn('title "gup_test"', script)
        self.assertNotIn('title "vmsplice"', script)


class KernelTest(unittest.TestCase):
    def test_bench_build_kinds(self):
        import os
        from unittest import mock
        from gupharness.util import HarnessError
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("BENCH_KERNEL", None)
            self.assertEqual(bench.bench_build_kinds(),
                             {"patched": "bench-patched",
                              "base": "bench-base"})
            os.environ["BENCH_KERNEL"] = "test"
            self.assertEqual(bench.bench_build_kinds(),
                             {"patched": "patched", "base": "base"})
            os.environ["BENCH_KERNEL"] = "debug"
            with self.assertRaisesRegex(HarnessError, "BENCH_KERNEL=debug"):
                bench.bench_build_kinds()


class OrderTest(unittest.TestCase):
    def test_abba(self):
        self.assertEqual(bench.abba(1), ["patched", "base"])
        self.assertEqual(bench.abba(2), ["patched", "base", "base",
                                         "patched"])
        self.assertEqual(bench.abba(3)[4:], ["patched", "base"])

    def test_merge(self):
        into = {}
        bench.merge(into, {"uT1": [(1, 2)]})
        bench.merge(into, {"uT1": [(3, 4)], "aT8": [(5, 6)]})
        self.assertEqual(into, {"uT1": [[(1, 2)], [(3, 4)]],
                                "aT8": [[(5, 6)]]})
        self.assertEqual(bench.pooled(into), {"uT1": [(1, 2), (3, 4)],
                                              "aT8": [(5, 6)]})
