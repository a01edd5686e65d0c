#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Set up, build and run the whole test suite (unit tests, traces, parser
# corpus). Extra arguments go to `meson test`.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec meson test -C build --print-errorlogs "$@"
