#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Stand in for udev's RUN in a guest that has no udev: run a command for
every kernel uevent that matches, with the event's variables in its
environment, one at a time, as udev runs the events of one device.

  udev_run.py [--match KEY=VALUE]... [--log FILE] -- CMD ARGS...

A --match VALUE may be a |-separated list (as in a udev rule). Prints
"ready" once it listens, then one line per command run: "ran RC
KEY=VALUE ..." (the matched keys), flushed, so a test can wait for a
run by reading a line; the command's own output goes to stderr.
Appends the same lines to FILE. Runs until killed (SIGTERM).
"""
import os
import signal
import socket
import subprocess
import sys

NETLINK_KOBJECT_UEVENT = 15


def parse(argv):
    match, log, i = [], None, 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--match":
            key, val = argv[i + 1].split("=", 1)
            match.append((key, val.split("|")))
            i += 2
        elif argv[i] == "--log":
            log = argv[i + 1]
            i += 2
        else:
            sys.exit("udev_run.py: unknown argument " + argv[i])
    return match, log, argv[i + 1:]


def main():
    match, log, cmd = parse(sys.argv[1:])
    if not cmd:
        sys.exit("udev_run.py: no command")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                      NETLINK_KOBJECT_UEVENT)
    s.bind((0, 1))
    print("ready", flush=True)
    while True:
        env = {}
        for field in s.recv(65536).split(b"\0")[1:]:
            if b"=" in field:
                k, v = field.decode(errors="replace").split("=", 1)
                env[k] = v
        if not all(env.get(k) in vals for k, vals in match):
            continue
        # Its output to stderr: stdout carries only the lines above
        rc = subprocess.call(cmd, env={**os.environ, **env}, stdout=sys.stderr)
        line = "ran %d %s" % (rc, " ".join("%s=%s" % (k, env[k])
                                           for k, _ in match))
        print(line, flush=True)
        if log:
            with open(log, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
