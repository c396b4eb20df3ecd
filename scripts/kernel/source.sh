#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Ensure Debian's linux-source 6.1 tree is extracted once, at a fixed path
# outside the repo, and print that path.
#
#   scripts/kernel/source.sh            -> prints the source tree path
#   scripts/kernel/source.sh --version  -> prints the source version key
#
# The tree must stay at the same absolute path: trimmed kernel build dirs
# (scripts/kernel/build.sh) refer to it when building M= modules.
#
# Keyed by the tarball's package version (dpkg), falling back to the
# tarball's size+mtime. A changed version re-extracts in place.
#
# Env: VMEM_CACHE (default /var/cache/vmem), VMEM_LINUX_TARBALL
#      (default /usr/src/linux-source-6.1.tar.xz), VMEM_SKIP_DEPS=1.
set -euo pipefail

CACHE=${VMEM_CACHE:-/var/cache/vmem}
TARBALL=${VMEM_LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
NAME=linux-source-6.1
SRC=$CACHE/src/$NAME
STAMP=$SRC/.vmem-source-version
REPO=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$TARBALL" ] && [ "${VMEM_SKIP_DEPS:-0}" != 1 ] &&
   [ -f "$REPO/scripts/deps.sh" ]; then
	bash "$REPO/scripts/deps.sh" >&2
fi
if [ ! -f "$TARBALL" ]; then
	echo "source.sh: $TARBALL missing (apt-get install linux-source-6.1)" >&2
	exit 1
fi

version_key() {
	local v
	v=$(dpkg-query -W -f='${Version}' "$NAME" 2>/dev/null || true)
	if [ -z "$v" ]; then
		v=$(stat -c '%s-%Y' "$TARBALL")
	fi
	echo "$v"
}

VER=$(version_key)

if [ "${1:-}" = --version ]; then
	echo "$VER"
	exit 0
fi

mkdir -p "$CACHE/src"
exec 9>"$CACHE/src/.lock"
flock 9

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VER" ]; then
	echo "$SRC"
	exit 0
fi

echo "source.sh: extracting $TARBALL ($VER) to $SRC" >&2
TMP=$(mktemp -d "$CACHE/src/.extract.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
tar -C "$TMP" -xJf "$TARBALL"
if [ ! -f "$TMP/$NAME/Makefile" ]; then
	echo "source.sh: $TARBALL has no $NAME/Makefile" >&2
	exit 1
fi
echo "$VER" > "$TMP/$NAME/.vmem-source-version"
rm -rf "$SRC"
mv "$TMP/$NAME" "$SRC"
echo "$SRC"
