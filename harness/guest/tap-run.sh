#!/bin/bash
# tap-run.sh 'COMMAND ARGS' ...: run each command (in /opt/mm), one TAP
# result each: exit 0 ok, 4 (KSFT_SKIP) skip, anything else not ok. For
# programs that print no TAP of their own. Their output goes to stdout
# prefixed with "# ".
echo "TAP version 13"
echo "1..$#"
n=0 bad=0
for cmd in "$@"; do
	n=$((n + 1))
	bash -c "$cmd" 2>&1 | while IFS= read -r line; do echo "# $line"; done
	rc=${PIPESTATUS[0]}
	case $rc in
	0) echo "ok $n $cmd" ;;
	4) echo "ok $n $cmd # SKIP" ;;
	*) echo "not ok $n $cmd # exit $rc"; bad=1 ;;
	esac
done
exit $bad
