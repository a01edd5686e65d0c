#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every tests/malformed/*.trace must make tdpsim-replay exit 2 and print
# "FILE:LINE:" with the message its first line names:
#   # expect-error: LINE: substring
set -u
replay="$1"
dir="$2"
fail=0
n=0
for f in "$dir"/*.trace; do
	n=$((n + 1))
	spec=$(head -n 1 "$f" | sed -n 's/^# expect-error: *//p')
	line=${spec%%:*}
	want=$(printf '%s' "${spec#*:}" | sed 's/^ *//')
	out=$("$replay" --quiet "$f" 2>&1)
	rc=$?
	if [ "$rc" != 2 ]; then
		echo "FAIL $f: exit $rc, want 2"; echo "$out"; fail=$((fail + 1)); continue
	fi
	if ! printf '%s\n' "$out" | grep -qF -- "$f:$line:"; then
		echo "FAIL $f: no '$f:$line:' in:"; echo "$out"; fail=$((fail + 1)); continue
	fi
	if ! printf '%s\n' "$out" | grep -qF -- "$want"; then
		echo "FAIL $f: message lacks '$want':"; echo "$out"; fail=$((fail + 1)); continue
	fi
done
[ "$n" -gt 0 ] || { echo "no malformed traces in $dir"; exit 1; }
echo "$n malformed traces, $fail failed"
[ "$fail" = 0 ]
