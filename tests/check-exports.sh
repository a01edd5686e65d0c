#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fail if libtdpsim.so exports anything but tdpsim_* functions, or nothing.
set -eu
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBW]$/ {print $3}' | sed 's/@.*//')
[ -n "$syms" ] || { echo "no symbols exported from $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^tdpsim_' || true)
if [ -n "$bad" ]; then
	echo "exported symbols without the tdpsim_ prefix:"
	printf '%s\n' "$bad"
	exit 1
fi
for must in tdpsim_strerror tdpsim_stat_name; do
	printf '%s\n' "$syms" | grep -qx "$must" || { echo "missing export: $must"; exit 1; }
done
hidden=$(printf '%s\n' "$syms" | grep -E '^(tdpsim_warn|tdpsim_logf)$' || true)
[ -z "$hidden" ] || { echo "internal symbols exported: $hidden"; exit 1; }
echo "$(printf '%s\n' "$syms" | wc -l) symbols, all tdpsim_*"
