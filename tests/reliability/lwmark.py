# SPDX-License-Identifier: GPL-2.0
"""Put a mark into a dm-log-writes log without starting a program.

mark(target, name) does what "dmsetup message TARGET 0 mark NAME" does,
through one DM_TARGET_MSG ioctl on /dev/mapper/control. Tests that mark
the log after every fsync call it hundreds of times; under TCG each
dmsetup run costs about 0.1 s, this ioctl a fraction of a millisecond.
Raises OSError (the ioctl's errno) when the target refuses the message.
"""
import fcntl
import os
import struct

# include/uapi/linux/dm-ioctl.h
DM_IOCTL_SIZE = 312             # sizeof(struct dm_ioctl)
DM_NAME_OFF = 48                # offsetof(struct dm_ioctl, name)
DM_NAME_LEN = 128
DM_TARGET_MSG_NR = 14
# _IOWR(DM_IOCTL, DM_TARGET_MSG_CMD, struct dm_ioctl)
DM_TARGET_MSG = (3 << 30) | (DM_IOCTL_SIZE << 16) | (0xfd << 8) | \
    DM_TARGET_MSG_NR

_ctl = None


def mark(target, name):
    """Log mark NAME in dm-log-writes target TARGET (a dm device name)"""
    global _ctl
    if _ctl is None:
        _ctl = os.open("/dev/mapper/control", os.O_RDWR)
    msg = b"mark " + name.encode() + b"\0"
    # struct dm_target_msg: __u64 sector, then the message
    size = (DM_IOCTL_SIZE + 8 + len(msg) + 7) & ~7
    buf = bytearray(size)
    # version 4.0.0, data_size, data_start; flags 0
    struct.pack_into("<IIIII", buf, 0, 4, 0, 0, size, DM_IOCTL_SIZE)
    tname = target.encode()
    if not tname or len(tname) >= DM_NAME_LEN:
        raise ValueError("dm device name: %r" % target)
    buf[DM_NAME_OFF:DM_NAME_OFF + len(tname)] = tname
    buf[DM_IOCTL_SIZE + 8:DM_IOCTL_SIZE + 8 + len(msg)] = msg
    fcntl.ioctl(_ctl, DM_TARGET_MSG, buf)
