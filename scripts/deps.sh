#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install every Debian 12 package the vmem project needs (build, tests,
# QEMU rig, benchmarks).  Idempotent and fast when all are present: it asks
# dpkg first and runs apt-get (with one `apt-get update`) only for what is
# missing.  Must run as root.
set -euo pipefail

packages=(
	qemu-system-x86 qemu-utils busybox-static
	linux-image-amd64 linux-headers-amd64 linux-source
	fio xfsprogs btrfs-progs thin-provisioning-tools e2fsprogs dmsetup
	kmod cpio bc flex bison libelf-dev libssl-dev ccache xz-utils
	gnuplot-nox jq clang llvm build-essential python3
	shellcheck libclang-rt-14-dev lz4 strace linux-perf dosfstools
	debootstrap zstd debhelper dh-dkms lintian mandoc man-db
	nbd-server nbd-client nvme-cli
)

# One dpkg-query for all: unknown packages print nothing (and make it
# fail), so anything not reported as installed is missing.
declare -A have=()
while read -r name status; do
	if [[ $status == installed ]]; then
		have[$name]=1
	fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
	"${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
	[[ -n ${have[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#packages[@]} packages installed"
	exit 0
fi

if ((EUID != 0)); then
	echo "deps: missing packages (${missing[*]}); run as root to install" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
