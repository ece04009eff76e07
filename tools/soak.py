#!/usr/bin/env python3
"""Soak: `concbench run` several times in a row, counting processes, open file descriptors and listening TCP ports
before and after each run, machine-wide and for the run's own processes (found by a marker in their environment).

Passes (exit 0) when every run exits 0 and nothing of a run is left: no process, no descriptor, no listening port of
its own after it. The machine-wide counts are printed beside them; they must be equal too when nothing else runs
on the machine (the lead's measurement), and other jobs show up there on a shared one.

  python tools/soak.py --runs 3 -- --quick --runners asyncio threads --scenarios echo     # about a minute
  python tools/soak.py --runs 3                                                          # the default suite
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
MARK = "CONCBENCH_SOAK_MARK"


def marked_pids(value: str) -> list[int]:
    """Processes whose environment carries MARK=value (a run and everything it started, in any session)."""
    needle = f"{MARK}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            pass
    return found


def open_fds(pids) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def socket_inodes(pids) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    return inodes


def listening() -> dict[str, int]:
    """inode -> port of every listening TCP socket (IPv4 and IPv6)."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":                          # TCP_LISTEN
                ports[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return ports


def snapshot(mark: str) -> dict:
    every = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    ours = marked_pids(mark)
    listen = listening()
    our_sockets = socket_inodes(ours)
    return {"processes": len(every), "fds": int(Path("/proc/sys/fs/file-nr").read_text().split()[0]),
            "listening": len(listen), "our_processes": len(ours), "our_fds": open_fds(ours),
            "our_listening": sorted(port for inode, port in listen.items() if inode in our_sockets)}


def settle(mark: str, timeout_s: float = 10.0) -> dict:
    """A snapshot once the run's processes are gone (or after timeout_s: then they are counted as left)."""
    deadline = time.monotonic() + timeout_s
    while marked_pids(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return snapshot(mark)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("run_args", nargs="*", help="arguments for concbench run (after --); default: the default suite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="concbench-soak-"))
    print(f"soak: {args.runs} runs of concbench run {' '.join(args.run_args)}; results in {folder}", flush=True)
    print(f"{'':<10}{'processes':>10}{'fds':>8}{'listening':>10}   {'ours: processes':>15}{'fds':>6}  listening",
          flush=True)
    failures = []
    for i in range(1, args.runs + 1):
        mark = uuid.uuid4().hex
        before = snapshot(mark)
        started = time.monotonic()
        done = subprocess.run([args.python, "-m", "concbench", "run", *args.run_args, "--no-report",
                               "-o", str(folder / f"run-{i}.json")], cwd=REPOSITORY,
                              env={**os.environ, MARK: mark}, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.monotonic() - started
        after = settle(mark)
        for label, snap in ((f"run {i} pre", before), (f"run {i} post", after)):
            print(f"{label:<12}{snap['processes']:>8}{snap['fds']:>8}{snap['listening']:>10}   "
                  f"{snap['our_processes']:>15}{snap['our_fds']:>6}  {snap['our_listening'] or '-'}", flush=True)
        print(f"  run {i}: exit {done.returncode} in {elapsed:.0f} s; machine-wide change: processes "
              f"{after['processes'] - before['processes']:+d}, fds {after['fds'] - before['fds']:+d}, listening "
              f"{after['listening'] - before['listening']:+d}", flush=True)
        if done.returncode != 0:
            failures.append(f"run {i} exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
        if after["our_processes"] or after["our_fds"] or after["our_listening"]:
            failures.append(f"run {i} left {after['our_processes']} processes, {after['our_fds']} fds, "
                            f"listening ports {after['our_listening']}")
    print("soak: " + ("PASS: every run exited 0 and left nothing running" if not failures
                      else "FAIL:\n  " + "\n  ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
