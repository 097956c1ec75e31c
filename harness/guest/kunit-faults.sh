#!/bin/bash
# kunit-faults.sh SUITE SYMBOL_REGEX RUNS PERCENT
#
# Re-runs the built-in KUnit suite SUITE through debugfs RUNS times with
# failslab and fail_page_alloc failing PERCENT % of the allocations whose
# call stack passes through the code between the first and the last function
# of /proc/kallsyms matching SYMBOL_REGEX (one object file, mm/gup.o: its
# text is contiguous), given to the facilities as require-start/require-end
# (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER). So allocations GUP makes on
# the suite's behalf fail (faulting pages and page tables in, migrating
# before a long-term pin...), not the suite's own set-up, nor KUnit's.
#
# KUnit runs each case in a kthread of its own, which make-it-fail and
# fail-nth cannot reach: the filter is on the code instead, with
# task-filter off. Nothing else in the guest calls GUP meanwhile: this
# script runs no program while the injection is on (bash builtins only: an
# exec() would pin the new stack through GUP).
#
# Cases may fail while allocations fail; what must hold: failures were
# injected, nothing splats (the harness scans the console), the pins balance
# (checked by the harness after the suite), and once the injection is off
# the suite passes again. TAP on stdout.
set -u
suite=$1 re=$2 runs=${3:-3} pct=${4:-10}
dbg=/sys/kernel/debug
dir=$dbg/kunit/$suite
times=1000000

echo "TAP version 13"
echo "1..2"
skip() {
	echo "ok 1 # SKIP $suite under fault injection: $1"
	echo "ok 2 # SKIP $suite passes again: $1"
	exit 4
}
[ -w "$dir/run" ] || skip "no $dir/run (CONFIG_KUNIT_DEBUGFS)"
for f in failslab fail_page_alloc; do
	[ -w $dbg/$f/require-start ] ||
		skip "no $dbg/$f/require-start (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)"
done

# [start, end): from the first matching function to the symbol after the
# last one, in address order
read -r start end < <(awk '$2 ~ /^[tT]$/ { print $1, $3 }' /proc/kallsyms |
	sort | awk -v re="$re" '
	$2 ~ re { if (s == "") s = $1; last = NR; e = ""; next }
	last && NR == last + 1 { e = $1 }
	END { print s, e }')
if [ -z "$start" ] || [ -z "$end" ]; then
	echo "not ok 1 $suite under fault injection: no function matching $re in /proc/kallsyms"
	echo "not ok 2 $suite passes again # not run"
	exit 1
fi
echo "# $suite: code 0x$start..0x$end"

setup() {	# facility, probability
	local d=$dbg/$1
	echo N > $d/task-filter
	echo 0 > $d/verbose
	echo 1 > $d/interval
	echo 0 > $d/space
	echo 32 > $d/stacktrace-depth
	echo N > $d/ignore-gfp-wait
	[ -e $d/ignore-gfp-highmem ] && echo N > $d/ignore-gfp-highmem
	[ -e $d/min-order ] && echo 0 > $d/min-order
	echo "0x$start" > $d/require-start
	echo "0x$end" > $d/require-end
	echo $times > $d/times
	echo "$2" > $d/probability
}
off() {
	local d=$dbg/$1
	echo 0 > $d/probability
	echo 0 > $d/require-start
	echo 0xffffffffffffffff > $d/require-end
	echo 1 > $d/times
}
# "not ok" lines of the last run, with builtins only
failed_cases() {
	local line n=0

	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*not\ ok ]] && n=$((n + 1))
	done < "$dir/results"
	echo $n
}

t0=$(date +%s)
setup failslab "$pct"
setup fail_page_alloc "$pct"
failing=0
for ((i = 1; i <= runs; i++)); do
	echo run > "$dir/run"
	n=$(failed_cases)
	failing=$((failing + n))
	echo "# run $i: $n case(s) failed under injection"
done
read -r slab < $dbg/failslab/times
read -r page < $dbg/fail_page_alloc/times
slab=$((times - slab))
page=$((times - page))
off failslab
off fail_page_alloc
echo "# $runs runs in $(( $(date +%s) - t0 )) s: $slab slab and $page page allocations failed, $failing case failures"
if [ $((slab + page)) -gt 0 ]; then
	echo "ok 1 $suite under fault injection: $((slab + page)) allocations failed, no splat"
else
	echo "# nothing failed: the stack filter never matched the suite's code"
	echo "not ok 1 $suite under fault injection: no allocation was failed"
fi

echo run > "$dir/run"
n=$(failed_cases)
total=$(grep -c "^[[:space:]]*ok" "$dir/results")
if [ "$n" -eq 0 ] && [ "$total" -gt 0 ]; then
	echo "ok 2 $suite passes again after the injection ($total results)"
else
	sed 's/^/# /' "$dir/results" | grep "not ok" | head -20
	echo "not ok 2 $suite passes again after the injection: $n failed"
fi
