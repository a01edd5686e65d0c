#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tdpsim-replay as a user drives it: exit codes 0/1/2, diagnostics in
# FILE:LINE form, --policy overrides, --check, --json.
set -u
replay="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # NAME WANT_RC GOT_RC
	if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, want $2"; fail=1; else echo "ok   $1"; fi
}

cat >"$tmp/good.trace" <<'T'
tdpsim-trace 1
vm type=default
slot 0 gfn=0 pages=512 host-page=2M
vcpu0 fault gfn=0x10
expect result=ok
expect mapped gfn=0x1ff level=2M
expect stat map.2M == 1
T
cat >"$tmp/failing.trace" <<'T'
tdpsim-trace 1
vm type=default
slot 0 gfn=0 pages=512
vcpu0 fault gfn=0x10
expect mapped gfn=0x10 level=2M
T
cat >"$tmp/eager.trace" <<'T'
tdpsim-trace 1
vm type=default
policy mmu.eager-split=on
slot 0 gfn=0 pages=512 host-page=2M
vcpu0 fault gfn=0
dirty-log slot=0 on
expect stat split.2M == 1
T
printf 'tdpsim-trace 1\nvm type=default\nfrobnicate\n' >"$tmp/bad.trace"

"$replay" --quiet "$tmp/good.trace"; check "green trace exits 0" 0 $?

out=$("$replay" --quiet "$tmp/failing.trace" 2>&1); rc=$?
check "failed expectation exits 1" 1 $rc
printf '%s\n' "$out" | grep -q "failing.trace:5: expectation failed: expect mapped gfn=0x10 level=2M: mapped at 4K" ||
	{ echo "FAIL failed expectation message: $out"; fail=1; }

out=$("$replay" --quiet "$tmp/bad.trace" 2>&1); rc=$?
check "bad input exits 2" 2 $rc
printf '%s\n' "$out" | grep -q "bad.trace:3:" || { echo "FAIL bad input has no FILE:LINE: $out"; fail=1; }

"$replay" --quiet "$tmp/eager.trace"; check "trace policy applies" 0 $?
"$replay" --quiet --policy mmu.eager-split=off "$tmp/eager.trace" 2>/dev/null
check "--policy overrides the trace" 1 $?
"$replay" --quiet --policy mmu.eager-split=maybe "$tmp/good.trace" 2>/dev/null
check "bad --policy value exits 2" 2 $?
"$replay" --quiet --policy nosuch=1 "$tmp/good.trace" 2>/dev/null
check "unknown --policy key exits 2" 2 $?
"$replay" --check=sometimes "$tmp/good.trace" 2>/dev/null
check "bad --check exits 2" 2 $?
"$replay" --check=end --quiet "$tmp/good.trace"; check "--check=end" 0 $?
"$replay" --frob "$tmp/good.trace" 2>/dev/null; check "unknown option exits 2" 2 $?
"$replay" 2>/dev/null; check "no trace exits 2" 2 $?
"$replay" --quiet "$tmp/missing.trace" 2>/dev/null; check "missing file exits 2" 2 $?
"$replay" --help >/dev/null; check "--help exits 0" 0 $?

# Several traces: the worst status wins; the JSON says what each did.
"$replay" --quiet --json "$tmp/out.json" "$tmp/good.trace" "$tmp/failing.trace" 2>/dev/null
check "worst of several wins" 1 $?
if command -v python3 >/dev/null; then
	python3 - "$tmp/out.json" <<'P' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit"] == 1, d["exit"]
t = d["traces"]
assert [x["result"] for x in t] == ["ok", "failed"], t
assert t[0]["counters"]["map.2M"] == 1
assert t[1]["expectations_failed"] == 1
assert t[1]["diagnostics"][0]["line"] == 5
print("ok   json report")
P
fi
exit $fail
