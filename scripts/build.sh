#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configure (once) and build tdpsim in DIR (default: build) with any extra
# meson options given after it: scripts/build.sh build-asan -Db_sanitize=...
set -eu
cd "$(dirname "$0")/.."
dir="${1:-build}"
[ $# -gt 0 ] && shift
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
meson compile -C "$dir" >/dev/null
