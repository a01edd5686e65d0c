#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install the Debian packages tdpsim builds with, if any is missing.
# Used by both README commands and by .ci/run. Needs root (or sudo) only
# when something has to be installed.
set -eu

pkgs="meson ninja-build pkg-config gcc libc6-dev libcmocka-dev liburcu-dev libjemalloc-dev"
# Optional extras for CI: clang and its sanitizer/fuzzer runtimes.
if [ "${TDPSIM_SETUP_EXTRAS:-0}" = 1 ]; then
	pkgs="$pkgs clang"
fi

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

echo "setup: installing$missing"
if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "setup: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
