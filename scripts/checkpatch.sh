#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the 6.1 tree's checkpatch.pl (with spelling.txt and
# const_structs.checkpatch beside it) in file mode, strict:
#
#   scripts/checkpatch.sh               # every tracked/untracked *.c *.h under
#                                       # drivers/ include/ lib/ kunit/ tools/ scripts/
#   scripts/checkpatch.sh FILE...       # just these files
#
# Exit status: 0 when there are no ERRORs and no WARNINGs; 1 otherwise.
# CHECKs are printed and counted but do not fail the gate: review them.
# Extra checkpatch options: CHECKPATCH_OPTS="--ignore FOO,BAR".
# Options in a repo-root .checkpatch.conf are passed on too. checkpatch runs
# in $VMEM_CACHE/checkpatch (not in the repo: it writes a CamelCase cache
# file into its cwd), with --root at the 6.1 tree so identifiers that the
# kernel headers define are not flagged as CamelCase.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VMEM_CACHE:-/var/cache/vmem}

if [ "${VMEM_SKIP_DEPS:-0}" != 1 ] && [ -f "$REPO/scripts/deps.sh" ]; then
	bash "$REPO/scripts/deps.sh" >&2
fi
SRC=$(VMEM_SKIP_DEPS=1 "$REPO/scripts/kernel/source.sh" | tail -1)
CP=$SRC/scripts/checkpatch.pl
for f in "$CP" "$SRC/scripts/spelling.txt" "$SRC/scripts/const_structs.checkpatch"; do
	[ -f "$f" ] || { echo "checkpatch.sh: $f missing" >&2; exit 2; }
done

files=()
if [ $# -gt 0 ]; then
	for f in "$@"; do
		[ -f "$f" ] || { echo "checkpatch.sh: $f: no such file" >&2; exit 2; }
		files+=("$(realpath "$f")")
	done
else
	while IFS= read -r f; do
		[ -f "$REPO/$f" ] && files+=("$REPO/$f")
	done < <(git -C "$REPO" ls-files -co --exclude-standard -- \
			drivers include lib kunit tools scripts |
		 grep -E '\.[ch]$' | grep -vE '\.mod\.c$' | LC_ALL=C sort -u || true)
fi
if [ ${#files[@]} -eq 0 ]; then
	echo "checkpatch.sh: no C files to check"
	exit 0
fi

conf=()
if [ -f "$REPO/.checkpatch.conf" ]; then
	read -r -a conf < <(sed 's/#.*//' "$REPO/.checkpatch.conf" | tr '\n' ' ')
fi
read -r -a extra <<< "${CHECKPATCH_OPTS:-}"

mkdir -p "$CACHE/checkpatch"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
(cd "$CACHE/checkpatch" && env -u GIT_DIR perl "$CP" --root="$SRC" \
	--no-tree -f --strict --show-types "${conf[@]}" "${extra[@]}" \
	"${files[@]}") > "$out" 2>&1 || true
sed "s|$REPO/||g" "$out"

read -r nfiles errs warns chks < <(awk '
	/^total: [0-9]+ errors, [0-9]+ warnings, [0-9]+ checks/ {
		n++; e += $2; w += $4; c += $6
	}
	END { print n + 0, e + 0, w + 0, c + 0 }' "$out")

echo "checkpatch.sh: ${#files[@]} file(s): $errs error(s), $warns warning(s), $chks check(s)"
if [ "$nfiles" -ne ${#files[@]} ]; then
	echo "checkpatch.sh: checkpatch reported on $nfiles of ${#files[@]} files" >&2
	exit 1
fi
[ "$errs" -eq 0 ] && [ "$warns" -eq 0 ]
