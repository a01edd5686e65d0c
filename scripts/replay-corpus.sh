#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: set up, build, replay every trace in traces/ and print the
# invariant report. Exit status is tdpsim-replay's (0 all green).
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec build/tools/tdpsim-replay --report "$@" traces/*.trace
