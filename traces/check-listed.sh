#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fail if a *.trace in DIR is missing from the list meson replays.
set -eu
dir="$1"; shift
rc=0
for f in "$dir"/*.trace; do
	b=$(basename "$f")
	found=0
	for l in "$@"; do [ "$l" = "$b" ] && found=1; done
	[ "$found" = 1 ] || { echo "traces/$b is not listed in traces/meson.build"; rc=1; }
done
exit $rc
