#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Replay every example trace in the docs (fenced blocks whose first line is
# "tdpsim-trace 1") of every DOCDIR/*.md and require it to replay green. An example that needs a
# model this build does not have yet (guest_memfd, TDX) must say so (exit 3,
# "does not model") and is counted as pending, not passed.
set -u
replay="$1"; shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fail=0; pending=0
for doc in "$1"/*.md; do
	awk -v out="$tmp/$(basename "$doc" .md)" '
		/^```/ { if (inb) { inb = 0; close(f) } else { inb = 1; first = 1 } ; next }
		inb && first { first = 0; if ($0 ~ /^tdpsim-trace 1/) { n++; f = out "-" n ".trace"; print > f } else inb = 0; next }
		inb { print >> f }
	' "$doc"
done
for f in "$tmp"/*.trace; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	out=$("$replay" --quiet "$f" 2>&1); rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok      $(basename "$f")"
	elif [ "$rc" = 3 ] && printf '%s' "$out" | grep -q "does not model"; then
		echo "pending $(basename "$f"): $(printf '%s' "$out" | head -n 1)"
		pending=$((pending + 1))
	else
		echo "FAIL    $(basename "$f") (exit $rc):"; cat "$f"; printf '%s\n' "$out"
		fail=$((fail + 1))
	fi
done
[ "$n" -gt 0 ] || { echo "no examples found"; exit 1; }
echo "$n examples: $((n - fail - pending)) green, $pending pending, $fail failed"
[ "$fail" = 0 ]
