#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The seeds/004 race as a trace (traces/inhibit-race.trace): exploration with
# lpage.inhibit-lock=write is clean; with =read it finds a schedule where a
# 2M leaf is installed after guest-inhibit was set (violation lpage at
# install time), and the printed --schedule replays to the same violation.
set -u
replay="$1"
trace="$2"
fail=0

"$replay" --quiet --explore=300 --seed=7 "$trace"
rc=$?; [ $rc = 0 ] || { echo "FAIL write: exit $rc, want 0"; fail=1; }

out=$("$replay" --explore=300 --seed=7 --policy lpage.inhibit-lock=read "$trace" 2>&1)
rc=$?
printf '%s\n' "$out"
[ $rc = 1 ] || { echo "FAIL read: exit $rc, want 1"; fail=1; }
viol=$(printf '%s\n' "$out" | grep -m1 'violation lpage:' | sed 's/ (old .*//')
[ -n "$viol" ] || { echo "FAIL read: no lpage violation"; fail=1; }
sched=$(printf '%s\n' "$out" | sed -n 's/.*--schedule=\([^ ]*\).*/\1/p' | head -n 1)
[ -n "$sched" ] || { echo "FAIL read: no schedule printed"; exit 1; }

out2=$("$replay" --quiet --policy lpage.inhibit-lock=read --schedule="$sched" "$trace" 2>&1)
rc=$?
[ $rc = 1 ] || { echo "FAIL replay of $sched: exit $rc, want 1"; fail=1; }
printf '%s\n' "$out2" | grep -qF "$viol" ||
	{ echo "FAIL replay of $sched did not give: $viol"; printf '%s\n' "$out2"; fail=1; }
[ $fail = 0 ] && echo "ok: write clean; read caught and replayed with --schedule=$sched"
exit $fail
