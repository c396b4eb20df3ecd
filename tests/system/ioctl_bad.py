#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Send bad input straight to /dev/vmem-control, bypassing vmemctl's own
checks, and expect the kernel to refuse each with the right errno.

Usage: ioctl_bad.py ATTACHED_ID
  ATTACHED_ID: an existing device id (for "create existing id").
Prints PASS:/FAIL: lines; exit status 1 if any failed.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import struct
import subprocess
import sys

MAGIC = 0xF3
DEV_FMT = "<IIQQQQII4Q"          # struct vmem_ctl_dev, 80 bytes
ATTACH_FMT = "<QII6Q"            # struct vmem_ctl_attach, 64 bytes
POOL_FMT = "<IIQQQQIIQ4Q"        # struct vmem_ctl_pool, 88 bytes
GROW_FMT = "<QII3Q3Q"            # struct vmem_ctl_grow, 64 bytes


def ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (MAGIC << 8) | nr


W, R = 1, 2
DEV = struct.calcsize(DEV_FMT)
ATTACH = ioc(W, 0, struct.calcsize(ATTACH_FMT))
DETACH = ioc(0, 1, 0)
POOL_INFO = ioc(R, 2, struct.calcsize(POOL_FMT))
CREATE = ioc(W | R, 3, DEV)
RESIZE = ioc(W | R, 4, DEV)
BUDGET = ioc(W | R, 5, DEV)
DELETE = ioc(W, 6, DEV)
GET = ioc(W | R, 7, DEV)
GROW = ioc(W | R, 8, struct.calcsize(GROW_FMT))

failed = 0


def dev(id_, size=1 << 20, budget=0, flags=0, reserved=(0, 0, 0, 0)):
    return bytearray(struct.pack(DEV_FMT, id_, flags, size, budget, 0, 0,
                                 0, 0, *reserved))


def expect(name, want, fd, cmd, arg):
    global failed
    try:
        fcntl.ioctl(fd, cmd, arg)
        got = 0
    except OSError as e:
        got = e.errno
    if got == want:
        print(f"PASS: ioctl {name} -> {errno.errorcode.get(want, want)}")
    else:
        failed = 1
        print(f"FAIL: ioctl {name}: want {errno.errorcode.get(want, want)}"
              f" got {errno.errorcode.get(got, got)}")


libc = ctypes.CDLL(None, use_errno=True)


def raw_ioctl(fd, cmd, addr):
    """ioctl with a raw user address; returns 0 or the errno"""
    if libc.ioctl(fd, ctypes.c_ulong(cmd), ctypes.c_void_p(addr)) == 0:
        return 0
    return ctypes.get_errno()


def create_readonly_arg(fd):
    """CREATE whose argument can be read but not written back: EFAULT,
    and no device made (the caller could never learn its id)"""
    global failed
    page = mmap.mmap(-1, mmap.PAGESIZE)
    page[:DEV] = dev(0xFFFFFFFF, size=1 << 20)     # VMEM_CTL_ID_ANY
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    if libc.mprotect(ctypes.c_void_p(addr), mmap.PAGESIZE, mmap.PROT_READ):
        print("FAIL: ioctl create into a read-only buffer: mprotect")
        failed = 1
        return
    before = sorted(os.listdir("/sys/block"))
    got = raw_ioctl(fd, CREATE, addr)
    after = sorted(os.listdir("/sys/block"))
    if got == errno.EFAULT and before == after:
        print("PASS: ioctl create into a read-only buffer -> EFAULT, "
              "no device created")
    else:
        failed = 1
        new = sorted(set(after) - set(before))
        print(f"FAIL: ioctl create into a read-only buffer: got "
              f"{errno.errorcode.get(got, got)}, new devices {new}")


def log_rate_limited(name, fd, cmd, arg, said_what, n=1000):
    """n refused ioctls in a row must not write n kernel log lines"""
    global failed
    mark = len(subprocess.run(["dmesg"], capture_output=True,
                              text=True).stdout.splitlines())
    for _ in range(n):
        try:
            fcntl.ioctl(fd, cmd, arg)
        except OSError:
            pass
    lines = subprocess.run(["dmesg"], capture_output=True,
                           text=True).stdout.splitlines()[mark:]
    said = [ln for ln in lines if said_what in ln]
    if 0 < len(said) <= n // 10:
        print(f"PASS: {n} refused ioctls ({name}) logged {len(said)} "
              f"line(s) (rate limited)")
    else:
        failed = 1
        print(f"FAIL: {n} refused ioctls ({name}) logged {len(said)} "
              f"line(s); want 1..{n // 10}")


def main():
    existing = int(sys.argv[1])
    fd = os.open("/dev/vmem-control", os.O_RDWR)
    expect("create id 255", errno.EINVAL, fd, CREATE, dev(255))
    expect("create id 0x7fffffff", errno.EINVAL, fd, CREATE, dev(0x7FFFFFFF))
    expect("create size 0", errno.EINVAL, fd, CREATE, dev(200, size=0))
    expect("create size 4096", errno.EINVAL, fd, CREATE, dev(200, size=4096))
    expect("create size 64K+512", errno.EINVAL, fd, CREATE,
           dev(200, size=65536 + 512))
    expect("create size 2^64-64K", errno.EINVAL, fd, CREATE,
           dev(200, size=(1 << 64) - 65536))
    expect("create budget 2^64-1", errno.EINVAL, fd, CREATE,
           dev(200, budget=(1 << 64) - 1))
    expect("create flags set", errno.EINVAL, fd, CREATE, dev(200, flags=1))
    expect("create reserved set", errno.EINVAL, fd, CREATE,
           dev(200, reserved=(0, 0, 0, 1)))
    expect("create existing id", errno.EEXIST, fd, CREATE, dev(existing))
    expect("resize missing id", errno.ENOENT, fd, RESIZE, dev(201))
    expect("resize shrink", errno.EINVAL, fd, RESIZE,
           dev(existing, size=65536))
    expect("resize size 0", errno.EINVAL, fd, RESIZE, dev(existing, size=0))
    expect("delete missing id", errno.ENOENT, fd, DELETE, dev(201))
    expect("delete id 255", errno.EINVAL, fd, DELETE, dev(255))
    expect("delete id -1", errno.EINVAL, fd, DELETE, dev(0xFFFFFFFF))
    expect("get missing id", errno.ENOENT, fd, GET, dev(201))
    expect("budget missing id", errno.ENOENT, fd, BUDGET, dev(201))
    expect("unknown command", errno.ENOTTY, fd, ioc(0, 99, 0), 0)
    expect("wrong magic", errno.ENOTTY, fd,
           (W << 30) | (DEV << 16) | (0x12 << 8) | 3, dev(200))
    buf = bytearray(b"/dev/vda\0")
    addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    expect("attach while attached", errno.EBUSY, fd, ATTACH,
           bytearray(struct.pack(ATTACH_FMT, addr, len(buf), 0, 0, 0, 0, 0,
                                 0, 0)))
    expect("attach reserved set", errno.EINVAL, fd, ATTACH,
           bytearray(struct.pack(ATTACH_FMT, addr, len(buf), 0, 1, 0, 0, 0,
                                 0, 0)))
    expect("attach path_len 0", errno.EINVAL, fd, ATTACH,
           bytearray(struct.pack(ATTACH_FMT, addr, 0, 0, 0, 0, 0, 0, 0, 0)))
    expect("attach path not terminated", errno.EINVAL, fd, ATTACH,
           bytearray(struct.pack(ATTACH_FMT, addr, len(buf) - 1, 0, 0, 0, 0,
                                 0, 0, 0)))
    expect("attach bad pointer", errno.EFAULT, fd, ATTACH,
           bytearray(struct.pack(ATTACH_FMT, 8, 9, 0, 0, 0, 0, 0, 0, 0)))
    create_readonly_arg(fd)
    log_rate_limited("create id 255", fd, CREATE, dev(255),
                     "create: device id 255")
    # The refusals made below the control surface too: a grow past the
    # backing device's end, a detach while a device is open (open here)
    log_rate_limited("grow past the end", fd, GROW,
                     bytearray(struct.pack(GROW_FMT, 1 << 62, 0, 0, 0, 0, 0,
                                           0, 0, 0)),
                     "grow: size 4611686018427387904 is beyond")
    held = os.open(f"/dev/vmem{existing}", os.O_RDONLY)
    log_rate_limited("detach while open", fd, DETACH, 0,
                     "cannot detach: vmem")
    os.close(held)
    os.close(fd)
    return failed


if __name__ == "__main__":
    sys.exit(main())
