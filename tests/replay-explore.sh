#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tdpsim-replay --threads and --explore as a user drives them: exit codes,
# the failing schedule printed and replayed (--schedule, and --explore=1
# --seed=S) to the same failure at the same line, the same seed giving the
# same run twice, the JSON counters, bad options, `progress`.
set -u
replay="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # NAME WANT_RC GOT_RC
	if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, want $2"; fail=1; else echo "ok   $1"; fi
}
has() { # NAME TEXT PATTERN
	if printf '%s\n' "$2" | grep -q -e "$3"; then echo "ok   $1"; else
		echo "FAIL $1: no '$3' in:"; printf '%s\n' "$2"; fail=1; fi
}

# Two vCPUs on one SPTE: only a lost compare-and-swap retries.
cat >"$tmp/race.trace" <<'T'
tdpsim-trace 1
vm type=default vcpus=2
slot 0 gfn=0 pages=1024
barrier
vcpu0 fault gfn=0x10
vcpu1 fault gfn=0x10
barrier
vcpu0 expect result=ok
vcpu1 expect result=ok
expect stat fault.retry == 0
T
# The same without the interleaving-dependent expectation.
grep -v 'fault.retry' "$tmp/race.trace" >"$tmp/green.trace"

"$replay" --quiet "$tmp/race.trace"; check "sequential replay is green" 0 $?
"$replay" --quiet --threads "$tmp/green.trace"; check "--threads green" 0 $?
"$replay" --quiet --explore=50 "$tmp/green.trace"; check "--explore green" 0 $?

out=$("$replay" --explore=100 --seed=3 "$tmp/race.trace" 2>&1); rc=$?
check "--explore finds the race" 1 $rc
has "failure at its line" "$out" "race.trace:10: expectation failed: expect stat fault.retry == 0"
has "schedule printed" "$out" "note: schedule [0-9]* of 100 failed (pct, seed [0-9]*); threads 0=vcpu0 1=vcpu1 2=vmm"
sched=$(printf '%s\n' "$out" | sed -n 's/.*--schedule=\([0-9rx,]*\).*/\1/p')
seed=$(printf '%s\n' "$out" | sed -n 's/.*(pct, seed \([0-9]*\)).*/\1/p')
out2=$("$replay" --explore=100 --seed=3 "$tmp/race.trace" 2>&1)
[ "$out" = "$out2" ] && echo "ok   same seed, same output" || { echo "FAIL same seed, other output"; fail=1; }

out=$("$replay" --schedule="$sched" "$tmp/race.trace" 2>&1); rc=$?
check "--schedule replays the failure" 1 $rc
has "--schedule: same line" "$out" "race.trace:10: expectation failed: expect stat fault.retry == 0"
out=$("$replay" --explore=1 --seed="$seed" "$tmp/race.trace" 2>&1); rc=$?
check "--explore=1 --seed=S replays the failure" 1 $rc
has "--seed: same schedule" "$out" "schedule=$sched\$"

out=$("$replay" --explore=20 --strategy=random "$tmp/race.trace" 2>&1); rc=$?
check "random walk finds the race" 1 $rc
has "random named" "$out" "(random, seed"

out=$("$replay" --schedule=0x2 "$tmp/race.trace" 2>&1); rc=$?
check "a schedule that does not fit exits 2" 2 $rc
has "does not fit" "$out" "does not fit this trace"
"$replay" --schedule=7 "$tmp/race.trace" 2>/dev/null; check "unknown thread id exits 2" 2 $?
"$replay" --schedule=0,,1 "$tmp/race.trace" 2>/dev/null; check "bad schedule string exits 2" 2 $?
"$replay" --threads --explore "$tmp/race.trace" 2>/dev/null; check "--threads with --explore exits 2" 2 $?
"$replay" --explore=0 "$tmp/race.trace" 2>/dev/null; check "--explore=0 exits 2" 2 $?
"$replay" --strategy=dfs --explore "$tmp/race.trace" 2>/dev/null; check "bad --strategy exits 2" 2 $?
"$replay" --seed=x --explore "$tmp/race.trace" 2>/dev/null; check "bad --seed exits 2" 2 $?

out=$("$replay" --explore=5 --max-steps=10 "$tmp/green.trace" 2>&1); rc=$?
check "a step bound exceeded is a violation" 1 $rc
has "progress reported" "$out" "violation progress: the schedule took more than 10"

"$replay" --quiet --explore=30 --seed=9 --json "$tmp/a.json" "$tmp/green.trace"
check "--json with --explore" 0 $?
"$replay" --quiet --explore=30 --seed=9 --json "$tmp/b.json" "$tmp/green.trace"
cmp -s "$tmp/a.json" "$tmp/b.json" && echo "ok   same seed, same JSON" || { echo "FAIL same seed, other JSON"; fail=1; }
json=$(cat "$tmp/a.json")
has "JSON mode" "$json" '"mode": "explore"'
has "JSON counters" "$json" '"explore": {"strategy": "pct", "seed": 9, "depth": 3, "schedules": 31, "distinct": [0-9]*, "steps": [0-9]*, "failing_schedule": null'
"$replay" --quiet --threads --json "$tmp/t.json" "$tmp/green.trace"
has "JSON threads mode" "$(cat "$tmp/t.json")" '"mode": "threads"'

# docs/mmu.md's conversion window: green in file order, found by --explore.
neighbour="$2/race-convert-neighbour.trace"
"$replay" --quiet "$neighbour"; check "conversion window: sequential green" 0 $?
out=$("$replay" --explore=200 --seed=1 "$neighbour" 2>&1); rc=$?
check "conversion window: --explore finds it" 1 $rc
has "conversion window: attr-uniform" "$out" "race-convert-neighbour.trace:16: violation attr-uniform: huge leaf over mixed attributes"

exit $fail
