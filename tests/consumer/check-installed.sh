#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install tdpsim into a temporary prefix and build tests/consumer/consumer.c
# against it with nothing but `pkg-config --cflags --libs tdpsim`.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson setup "$tmp/build" --prefix="$tmp/prefix" -Dtests=false >/dev/null
meson compile -C "$tmp/build" >/dev/null
meson install -C "$tmp/build" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name tdpsim.pc)")
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs tdpsim)
echo "pkg-config --cflags --libs tdpsim: $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror tests/consumer/consumer.c -o "$tmp/consumer" $flags
LD_LIBRARY_PATH="$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir tdpsim)" "$tmp/consumer"
