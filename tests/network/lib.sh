# SPDX-License-Identifier: GPL-2.0
# Guest-side plumbing of tests/network and scripts/demo-network: the pool
# on an NBD device (nbd-server serving a file on tmpfs, nbd-client
# attaching it as /dev/nbd0) and vmem devices exported with the kernel's
# NVMe-oF target (nvmet, nvmet-tcp through configfs) and connected with
# nvme-cli (nvme-tcp) in the same guest. Loopback only: every socket is
# on 127.0.0.1. Only Debian's packages and kernel modules, nothing of
# ours but vmem.ko and vmemctl. Every step that talks to the network or
# to a device is bounded with timeout (a hang fails, it does not stall).
# shellcheck shell=bash

NET_DIR=/var/tmp/network	# tmpfs in the guest: the exported file, config, pid
NET_FILE=$NET_DIR/pool.img
NET_ADDR=127.0.0.1
NBD_PORT=10809
NBD_DEV=/dev/nbd0
NBD_EXPORT=vmem
# nbd-client -t: a request in flight when the server dies fails (EIO)
# after this many seconds; without -t, 6.1's nbd resets its timer for
# ever ("Possible stuck request") and its writer hangs in D state
NBD_TIMEOUT=10
NVMET_PORT=4420
NQN=nqn.2026-11.org.vmem:network
# Our own host identity: nvme-cli would read /etc/nvme/hostnqn otherwise
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:6d0b5a3e-7c1f-4c55-9e1a-0a5e7e4d2f10
HOSTID=6d0b5a3e-7c1f-4c55-9e1a-0a5e7e4d2f10
NVMET=/sys/kernel/config/nvmet

# wait_for SECS CMD...: poll CMD every 0.1 s until it succeeds; fails
# after SECS seconds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# net_up: the loopback interface up (the rig's init leaves it down)
net_up() { ip link set lo up; }

# net_loopback_only: 127.0.0.1 is on lo, and no other interface has an
# address (the guest has no network card: QEMU -nodefaults)
net_loopback_only() {
	ip -4 -o addr show dev lo | grep -q " 127\.0\.0\.1/" &&
		[ -z "$(ip -o addr show | awk '$2 != "lo"')" ]
}

# net_modules: Debian's modules for both ends of both protocols
net_modules() {
	modprobe -a nbd nvmet nvmet-tcp nvme-tcp || return 1
	mountpoint -q /sys/kernel/config ||
		mount -t configfs configfs /sys/kernel/config
}

# listening PORT: something listens on 127.0.0.1:PORT
listening() { ss -Hltn "sport = :$1" | grep -q "$NET_ADDR:$1"; }

# nbd_serve [SIZE]: start nbd-server on $NET_FILE (created sparse, SIZE
# bytes, if missing), listening on 127.0.0.1 only; flush and FUA reach
# the file, as they would a disk with a volatile cache
nbd_serve() {
	mkdir -p "$NET_DIR"
	[ -e "$NET_FILE" ] || truncate -s "${1:-1G}" "$NET_FILE"
	cat >"$NET_DIR/nbd-server.conf" <<-EOF
	[generic]
		listenaddr = $NET_ADDR
		port = $NBD_PORT
	[$NBD_EXPORT]
		exportname = $NET_FILE
		flush = true
		fua = true
		trim = true
	EOF
	rm -f "$NET_DIR/nbd-server.pid"
	nbd-server -C "$NET_DIR/nbd-server.conf" -p "$NET_DIR/nbd-server.pid" ||
		return 1
	wait_for 30 listening "$NBD_PORT"
}

# nbd_server_pids: the server (from its pid file) and its per-connection
# children
nbd_server_pids() {
	local p
	[ -r "$NET_DIR/nbd-server.pid" ] || return 0
	read -r p <"$NET_DIR/nbd-server.pid" || return 0
	[ -n "$p" ] || return 0
	pgrep -P "$p"
	echo "$p"
}

# nbd_kill: the server dies (SIGKILL, server and connection processes):
# the client's socket is closed under it
nbd_kill() {
	local pids
	pids=$(nbd_server_pids)
	[ -n "$pids" ] || return 1
	# shellcheck disable=SC2086 # one pid per word
	kill -9 $pids
	wait_for 30 sh -c "! ss -Htn state established '( sport = :$NBD_PORT )' | grep -q ."
}

# nbd_attach [DEV]: nbd-client connects DEV (/dev/nbd0) to the export
# (4 KiB blocks, the request timeout above); DEV has its size when it
# returns. A DEV still open (a pool on a dead connection) is refused
# ("nbd0 already in use"): connect another /dev/nbdN then.
nbd_attach() {
	local dev=${1:-$NBD_DEV}
	timeout 60 nbd-client "$NET_ADDR" "$NBD_PORT" "$dev" -N "$NBD_EXPORT" \
		-b 4096 -t "$NBD_TIMEOUT" >/dev/null &&
		wait_for 30 sh -c "[ \$(blockdev --getsize64 $dev) -gt 0 ]"
}

# nbd_detach [DEV]: nbd-client -d (a dead connection is cleared too)
nbd_detach() { timeout 60 nbd-client -d "${1:-$NBD_DEV}" >/dev/null 2>&1; }

# put VALUE FILE: write VALUE to a configfs or sysfs FILE (a command of
# its own, so that a trace of the caller shows where each value goes)
put() { echo "$1" >"$2"; }

# nvmet_export DEV...: an NVMe-oF subsystem $NQN with DEV as namespaces
# 1, 2, ... on a TCP port at 127.0.0.1:$NVMET_PORT, open to any host
nvmet_export() {
	local s=$NVMET/subsystems/$NQN p=$NVMET/ports/1 n=0 d
	mkdir "$s" && put 1 "$s/attr_allow_any_host" || return 1
	for d in "$@"; do
		n=$((n + 1))
		mkdir "$s/namespaces/$n" &&
			put "$d" "$s/namespaces/$n/device_path" &&
			put 1 "$s/namespaces/$n/enable" || return 1
	done
	mkdir "$p" &&
		put tcp "$p/addr_trtype" &&
		put ipv4 "$p/addr_adrfam" &&
		put "$NET_ADDR" "$p/addr_traddr" &&
		put "$NVMET_PORT" "$p/addr_trsvcid" &&
		ln -s "$s" "$p/subsystems/$NQN" &&
		wait_for 30 listening "$NVMET_PORT"
}

# nvmet_enable 0|1: disable (the target closes the vmem devices) or
# enable every namespace of the subsystem
nvmet_enable() {
	local n
	for n in "$NVMET/subsystems/$NQN"/namespaces/*; do
		put "$1" "$n/enable" || return 1
	done
}

# nvmet_unexport: remove the port and the subsystem
nvmet_unexport() {
	local s=$NVMET/subsystems/$NQN p=$NVMET/ports/1 n
	rm -f "$p/subsystems/$NQN"
	rmdir "$p" 2>/dev/null
	for n in "$s"/namespaces/*; do
		[ -d "$n" ] || continue
		echo 0 >"$n/enable"
		rmdir "$n"
	done
	rmdir "$s" 2>/dev/null
	[ ! -e "$s" ]
}

# attr FILE: the first line of a sysfs file, with no process started
# (each costs ~0.1 s under TCG); empty if it cannot be read
attr() {
	local v=
	{ read -r v <"$1"; } 2>/dev/null
	echo "$v"
}

# nvme_ns NSID: the host's block device of namespace NSID of $NQN (the
# multipath head /dev/nvmeXnY, not the per-path nvmeXcZnY)
nvme_ns() {
	local b
	for b in /sys/block/nvme*n*; do
		case ${b##*/} in nvme*c*n*) continue ;; esac
		[ "$(attr "$b/device/subsysnqn")" = "$NQN" ] || continue
		[ "$(attr "$b/nsid")" = "$1" ] || continue
		echo "/dev/${b##*/}"
		return 0
	done
	return 1
}

# nvme_up N: nvme connect over TCP to 127.0.0.1; waits (bounded) for
# namespaces 1..N to show up as block devices
nvme_up() {
	local i
	timeout 60 nvme connect -t tcp -a "$NET_ADDR" -s "$NVMET_PORT" -n "$NQN" \
		--hostnqn="$HOSTNQN" --hostid="$HOSTID" >/dev/null || return 1
	for i in $(seq "$1"); do
		wait_for 30 nvme_ns "$i" >/dev/null || return 1
		wait_for 30 test -b "$(nvme_ns "$i")" || return 1
	done
}

nvme_gone() { ! nvme_ns 1 >/dev/null; }

# nvme_down: nvme disconnect; the namespaces are gone when it returns
nvme_down() {
	timeout 60 nvme disconnect -n "$NQN" >/dev/null && wait_for 30 nvme_gone
}

# nvme_address: transport and address of our controller, e.g.
# "tcp traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1"
nvme_address() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ "$(attr "$c/subsysnqn")" = "$NQN" ] || continue
		echo "$(attr "$c/transport") $(attr "$c/address")"
	done
}
