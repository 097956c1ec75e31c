#!/bin/bash
# gup_test fast-path benchmarks for `make bench`: GUP_FAST (-u), PIN_FAST
# (-a), PIN_LONGTERM (-L); 4 KiB pages (-T) and THP (-t); 1, 8, 64 and 512
# pages per call. gup_test prints one "Time: get:N put:N us" line per repeat; each is
# echoed as "BENCH <config> <get_us> <put_us>" for the host to take medians.
# Usage: gup-bench.sh REPEATS SIZE_MB
repeats=${1:-100}
size=${2:-32}
n=0
echo "TAP version 13"
echo "1..24"
for mode in u a L; do
	for thp in T t; do
		for pages in 1 8 64 512; do
			n=$((n + 1))
			cfg="$mode$thp$pages"
			out=$(./gup_test -$mode -$thp -n $pages -r "$repeats" \
				-m "$size" 2>&1)
			rc=$?
			got=$(echo "$out" | sed -n \
			  "s/.*Time: get:\([0-9]*\) put:\([0-9]*\) us.*/BENCH $cfg \1 \2/p")
			echo "$got"
			if [ $rc -eq 0 ] && [ "$(echo "$got" | grep -c .)" -eq "$repeats" ]; then
				echo "ok $n $cfg"
			else
				echo "$out" | tail -5 | sed 's/^/# /'
				echo "not ok $n $cfg"
			fi
		done
	done
done
