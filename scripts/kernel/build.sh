#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the vmem debug/KUnit kernel and print its cache dir.
#
#   KBUILD=$(scripts/kernel/build.sh | tail -1)
#   make -C "$KBUILD" M="$PWD/some/module/dir" modules
#   qemu-system-x86_64 -accel tcg -cpu max -kernel "$KBUILD/bzImage" ...
#
# Steps: source tree from scripts/kernel/source.sh; `make tinyconfig`;
# merge kunit/kernel.config with scripts/kconfig/merge_config.sh;
# `make olddefconfig`; check that every fragment line survived; build with
# ccache under `nice -n 10 make -j$JOBS`; link bzImage to the top; trim the
# build dir; check that an M= module still builds; write the stamp.
#
# Cache dir (also the O= build dir):
#   $VMEM_CACHE/kernel/<source version>-<sha256(fragment option lines):12>/
#     bzImage        boot image (lz4-compressed), for `qemu -kernel`
#     System.map     symbols, for decoding addresses by hand
#     build.log      full log of the last build
#     .vmem-stamp    present only when the build completed and was checked
# Rebuilt only when the source version or the fragment changes.
#
# Env: VMEM_CACHE (default /var/cache/vmem), JOBS (default 2),
#      VMEM_KERNEL_FORCE=1 rebuild even if stamped, VMEM_SKIP_DEPS=1.
# Progress goes to stderr; the last stdout line is the cache dir.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VMEM_CACHE:-/var/cache/vmem}
FRAG=$REPO/kunit/kernel.config
JOBS=${JOBS:-2}

# A calling make's flags and kbuild variables must not leak into ours.
unset MAKEFLAGS MFLAGS MAKELEVEL KBUILD_OUTPUT KBUILD_EXTMOD

log() { echo "build.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${VMEM_SKIP_DEPS:-0}" != 1 ] && [ -f "$REPO/scripts/deps.sh" ]; then
	bash "$REPO/scripts/deps.sh" >&2
fi

[ -f "$FRAG" ] || die "$FRAG missing"

# Host tools the kernel build needs beyond the compiler. deps.sh should
# provide them; fall back to apt for the ones it may not list.
need=()
for t in lz4:lz4 flex:flex bison:bison bc:bc; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -ne 0 ]; then
	log "installing missing host tools: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >&2 ||
		die "cannot install ${need[*]}"
fi
SRC=$(VMEM_SKIP_DEPS=1 "$REPO/scripts/kernel/source.sh" | tail -1)
VER=$(VMEM_SKIP_DEPS=1 "$REPO/scripts/kernel/source.sh" --version)
# Key on the option lines only: comment edits do not force a rebuild.
HASH=$(grep -E '^(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set)' "$FRAG" |
	sed 's/[[:space:]]*$//' | sha256sum | cut -c1-12)
KEY=$VER-$HASH
DIR=$CACHE/kernel/$KEY
STAMP=$DIR/.vmem-stamp

stamped() {
	[ "${VMEM_KERNEL_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] &&
		[ "$(head -1 "$STAMP")" = "$KEY" ] && [ -f "$DIR/bzImage" ]
}

if stamped; then
	echo "$DIR"
	exit 0
fi

mkdir -p "$CACHE/kernel"
exec 8>"$CACHE/kernel/.lock"
if ! flock -n 8; then
	log "another build holds $CACHE/kernel/.lock; waiting"
	flock 8
fi
if stamped; then
	echo "$DIR"
	exit 0
fi

mkdir -p "$DIR"
rm -f "$STAMP"
LOG=$DIR/build.log
: > "$LOG"
log "building $KEY in $DIR (log: $LOG; 13-20 min on 2 cores; with a warm ccache 2 min for the same options, ~10 min after an option change)"

export PATH=/usr/lib/ccache:$PATH
export CCACHE_DIR=$CACHE/ccache
export CCACHE_BASEDIR=$CACHE
export CCACHE_NOHASHDIR=1
export KBUILD_BUILD_USER=vmem KBUILD_BUILD_HOST=vmem
mkdir -p "$CCACHE_DIR"

kmake() {
	nice -n 10 make -C "$SRC" O="$DIR" "$@" >>"$LOG" 2>&1
}

fail() {
	tail -n 40 "$LOG" >&2
	die "$* (full log: $LOG)"
}

# --- configure -----------------------------------------------------------
T0=$(date +%s)
kmake tinyconfig || fail "make tinyconfig"
(cd "$SRC" && scripts/kconfig/merge_config.sh -m -O "$DIR" \
	"$DIR/.config" "$FRAG") >>"$LOG" 2>&1 || fail "merge_config.sh"
kmake olddefconfig || fail "make olddefconfig"

dropped=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$DIR/.config" || dropped+=("$line")
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		! grep -q "^$sym=" "$DIR/.config" || dropped+=("$line")
		;;
	esac
done < "$FRAG"
if [ ${#dropped[@]} -ne 0 ]; then
	log "fragment lines that did not survive olddefconfig (missing dependency?):"
	for line in "${dropped[@]}"; do
		sym=${line#\# }
		sym=${sym%%[= ]*}
		now=$(grep -E "^(# )?${sym}[= ]" "$DIR/.config" || echo "(absent)")
		echo "  wanted: $line    got: $now" >&2
	done
	die "${#dropped[@]} fragment line(s) dropped; fix kunit/kernel.config"
fi
log "config OK: all $(grep -cE '^(CONFIG_|# CONFIG_)' "$FRAG") fragment lines survived"

# --- build ---------------------------------------------------------------
ccache -z >/dev/null 2>&1 || true
T1=$(date +%s)
TIMEFORMAT="make: wall %R s, user %U s, sys %S s"
{ time nice -n 10 make -C "$SRC" O="$DIR" -j"$JOBS" >>"$LOG" 2>&1; } \
	2>>"$LOG" || fail "kernel build failed"
T2=$(date +%s)
ccache -s >>"$LOG" 2>&1 || true
log "$(grep -E '^make: wall' "$LOG" | tail -n 1)"

# --- boot images ---------------------------------------------------------
ln -f "$DIR/arch/x86/boot/bzImage" "$DIR/bzImage.tmp"
mv -f "$DIR/bzImage.tmp" "$DIR/bzImage"

# --- trim ----------------------------------------------------------------
# Keeps .config, include/, arch/x86/include/generated, scripts/ and
# tools/objtool binaries, Module.symvers, *.ko: enough for M= builds
# while the source tree stays at $SRC.
before=$(du -sm "$DIR" | cut -f1)
find "$DIR" \( -name '*.o' -o -name '*.a' -o -name '.*.cmd' \
	-o -name '*.mod.c' -o -name '.tmp_*' -o -name '*.gz' \
	-o -name '*.lz4' -o -name '*.xz' \) -prune -exec rm -rf {} +
rm -f "$DIR/vmlinux" "$DIR/arch/x86/boot/compressed/vmlinux" \
	"$DIR/arch/x86/boot/compressed/vmlinux.bin" \
	"$DIR/arch/x86/boot/vmlinux.bin" "$DIR/arch/x86/boot/setup.elf" \
	"$DIR/arch/x86/boot/compressed/piggy.S" "$DIR/.vmlinux.export.c"
after=$(du -sm "$DIR" | cut -f1)
log "trimmed build dir: ${before} MB -> ${after} MB"

# --- check an M= module still builds after trimming ----------------------
TMOD=$(mktemp -d /tmp/vmem-kbuild-check.XXXXXX)
trap 'rm -rf "$TMOD"' EXIT
cat > "$TMOD/vmem_kbuild_check.c" <<'CEOF'
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/crc32c.h>

static int __init vmem_kbuild_check_init(void)
{
	return crc32c(0, "x", 1) ? 0 : -EINVAL;
}
module_init(vmem_kbuild_check_init);

MODULE_DESCRIPTION("vmem kernel build check");
MODULE_LICENSE("GPL");
CEOF
echo 'obj-m := vmem_kbuild_check.o' > "$TMOD/Kbuild"
make -C "$DIR" M="$TMOD" modules >>"$LOG" 2>&1 ||
	fail "M= module build against the trimmed dir failed"
[ -f "$TMOD/vmem_kbuild_check.ko" ] || fail "M= build made no .ko"
log "M= module build check OK"

printf '%s\nsource=%s\nbuilt=%s\nconfig_s=%s\nbuild_s=%s\nsize_mb=%s\n' \
	"$KEY" "$SRC" "$(date -u +%FT%TZ)" "$((T1 - T0))" "$((T2 - T1))" \
	"$(du -sm "$DIR" | cut -f1)" > "$STAMP"
echo "$DIR"
