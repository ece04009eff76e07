"""An independent idle-connection memory probe (standard library + psutil; does not import concbench).

It starts a server command as a child in its own session (so its own process group), finds the port the
server prints (a line with `127.0.0.1:PORT` or `PORT NNN`), opens idle connections to it from this process
(non-blocking sockets, batches of 100, every connection proved by one 64-byte echo round-trip, every wait
bounded), waits until the server's memory settles, and reads, summed over the server process and all its
descendants, RSS, PSS and USS (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup and the virtual
size (VmSize) from /proc/PID/status.

Levels are cumulative on one server (default), or with --fresh a new server per level (the command may
contain {n}, replaced by the level, e.g. `--option workers={n}` for a pre-fork server). Per repetition it
prints every level's figures, the growth per connection from the first level to each later one and the
least-squares slope over each --fit list of levels (default: all levels but the first); for a multi-process
server also the mean PSS of one child process at each level (--breakdown: one child's private bytes by
mapping at the last level); then the median, min and max over repetitions. For a single-process server
read RSS: its PSS also moves when other processes on the machine map the same libraries. Everything it started is stopped by process-group id (the group is
the server's own: it was started with start_new_session).

    python crosscheck/idle_probe.py --levels 100 2000 5000 --repeat 3 -- python crosscheck/servers/echo_asyncio.py

--trace asks the server for its tracemalloc total at every level (SIGUSR1; the server writes the number to
the file named by CROSSCHECK_TRACE_OUT, see crosscheck/servers/tracehook.py): Python-level bytes.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

BATCH = 100
MESSAGE = 64
OPEN_TIMEOUT_S = 60.0           # bound on opening one level
READY_TIMEOUT_S = 30.0          # bound on the server printing its port
SETTLE_FIRST_S = 1.0            # wait after the last connection of a level
SETTLE_STEP_S = 0.5
SETTLE_MAX_S = 8.0
SETTLE_TOLERANCE = 0.005        # the last three samples' RSS and PSS within 0.5 % (or 64 KiB): settled
PORT_RE = re.compile(rb"(?:127\.0\.0\.1:|PORT )(\d+)")


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # the server inherits it too
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- reading memory -------------------------------------------------------------------------------

def read_rollup(pid: int) -> dict | None:
    """kB fields of /proc/PID/smaps_rollup and VmSize of /proc/PID/status, in bytes; None if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0]) * 1024
    vm = re.search(r"^VmSize:\s+(\d+) kB", status, re.M)
    return {"rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0),
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
            "vms": int(vm.group(1)) * 1024 if vm else 0}


def private_by_mapping(pid: int) -> dict:
    """Private (clean + dirty) bytes of one process grouped by mapping: [heap], [stack], [anon] (anonymous,
    e.g. pymalloc arenas and big mallocs), or the mapped file's base name."""
    out: dict = {}
    name = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if "-" in head[0] and ":" not in head[0]:          # a mapping's header line
                    name = os.path.basename(head[5]) if len(head) > 5 else "[anon]"
                elif head[0] in ("Private_Clean:", "Private_Dirty:"):
                    out[name] = out.get(name, 0) + int(head[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return out


def children_breakdown(root: int) -> dict:
    """Mean private bytes per child process by mapping (multi-process servers), largest first."""
    kids = tree_pids(root)[1:]
    total: dict = {}
    for pid in kids:
        for name, size in private_by_mapping(pid).items():
            total[name] = total.get(name, 0) + size
    mean = {name: size / len(kids) for name, size in total.items()} if kids else {}
    return dict(sorted(mean.items(), key=lambda kv: -kv[1]))


def tree_pids(root: int) -> list[int]:
    try:
        proc = psutil.Process(root)
        return [root] + [c.pid for c in proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_memory(root: int) -> dict:
    total = {"rss": 0, "pss": 0, "uss": 0, "vms": 0, "processes": 0, "root_pss": 0}
    for pid in tree_pids(root):
        m = read_rollup(pid)
        if m is None:
            continue
        for k in ("rss", "pss", "uss", "vms"):
            total[k] += m[k]
        total["processes"] += 1
        if pid == root:
            total["root_pss"] = m["pss"]
    return total


def settled(root: int) -> tuple[dict, float]:
    """Sample every SETTLE_STEP_S after SETTLE_FIRST_S until the last three samples agree; the last one."""
    started = time.monotonic()
    time.sleep(SETTLE_FIRST_S)
    samples = [tree_memory(root)]
    while time.monotonic() - started < SETTLE_MAX_S:
        time.sleep(SETTLE_STEP_S)
        samples.append(tree_memory(root))
        last = samples[-3:]
        if len(last) == 3 and all(max(s[k] for s in last) - min(s[k] for s in last)
                                  <= max(SETTLE_TOLERANCE * last[-1][k], 65536) for k in ("rss", "pss")):
            break
    return samples[-1], time.monotonic() - started


# --- the server -----------------------------------------------------------------------------------

class Server:
    def __init__(self, command: list[str], env: dict, cwd: str | None):
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(command, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
                                     env=env, cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid
        self.port = self._wait_port()

    def _wait_port(self) -> int:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.out.seek(0)
            for line in self.out.read().split(b"\n")[:-1]:
                found = PORT_RE.search(line)
                if found:
                    return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server printed no port: {self.last_words()}")

    def last_words(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace").strip()[-500:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM to the server's own process group (its pid: it leads the session we started), then SIGKILL."""
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    try:                       # forked children of the server: the group must be empty too
                        os.killpg(self.pid, 0)
                    except ProcessLookupError:
                        return
                time.sleep(0.05)
        self.proc.wait(5)


# --- the client -----------------------------------------------------------------------------------

def message(index: int) -> bytes:
    head = b"%010d:" % index
    return (head * (MESSAGE // len(head) + 1))[:MESSAGE]


def open_connections(port: int, count: int, first: int, held: list) -> None:
    """Open `count` connections, each proved by one echo; raise RuntimeError on any failure or timeout."""
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    done = 0
    while done < count:
        batch = {}
        for i in range(min(BATCH, count - done)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            held.append(sock)               # closed with the rest, whatever happens
            code = sock.connect_ex(("127.0.0.1", port))
            if code not in (0, errno.EINPROGRESS):
                raise RuntimeError(f"connect: {os.strerror(code)}")
            batch[sock] = [message(first + done + i), b""]
        with selectors.DefaultSelector() as sel:
            for sock in batch:
                sel.register(sock, selectors.EVENT_WRITE)
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no echo within {OPEN_TIMEOUT_S:g} s")
                for key, _ in sel.select(timeout=left):
                    sock = key.fileobj
                    want, got = batch[sock]
                    if key.events == selectors.EVENT_WRITE:
                        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise RuntimeError(f"connect: {os.strerror(err)}")
                        sock.send(want)      # 64 bytes always fit a fresh socket
                        sel.modify(sock, selectors.EVENT_READ)
                        continue
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise RuntimeError("closed by the server before its echo")
                    got += chunk
                    batch[sock][1] = got
                    if not want.startswith(got):
                        raise RuntimeError("echo mismatch")
                    if got == want:
                        sel.unregister(sock)
        done += len(batch)


def close_all(held: list) -> None:
    for sock in held:
        sock.close()
    held.clear()


# --- tracemalloc figure from the server -----------------------------------------------------------

def ask_traced(pid: int, path: str) -> int | None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text.split()[0])
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return None


# --- one repetition -------------------------------------------------------------------------------

def one_run(args, env) -> dict:
    points = []
    held: list = []
    trace_path = env.get("CROSSCHECK_TRACE_OUT")

    def sample(server, level):
        if not server.alive():
            raise RuntimeError(f"server died: {server.last_words()}")
        mem, settle_s = settled(server.pid)
        point = {"n": level, **mem, "settle_s": round(settle_s, 2)}
        if args.breakdown and level == args.levels[-1]:
            point["child_private_by_mapping"] = children_breakdown(server.pid)
        if trace_path:
            point["traced"] = ask_traced(server.pid, trace_path)
        points.append(point)

    if args.fresh:
        for level in args.levels:
            command = [word.replace("{n}", str(level)) for word in args.command]
            server = Server(command, env, args.cwd)
            try:
                time.sleep(0.5)
                open_connections(server.port, level, 0, held)
                sample(server, level)
            finally:
                close_all(held)
                server.stop()
    else:
        server = Server(args.command, env, args.cwd)
        try:
            time.sleep(0.5)
            for level in args.levels:
                open_connections(server.port, level - len(held), len(held), held)
                sample(server, level)
        finally:
            close_all(held)
            server.stop()
    return {"points": points, **figures(points, args.fit)}


def slope(xs, ys) -> float:
    return statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else float("nan")


def figures(points: list[dict], fits: list[list[int]]) -> dict:
    """Per-connection growth (bytes) from the first level to each later one; the least-squares slope over
    each list in `fits` (default: every level but the first); for multi-process servers the mean PSS of one
    process and of one child at each level."""
    out = {}
    base = points[0]
    by_n = {p["n"]: p for p in points}
    for kind in ("rss", "pss", "uss", "vms") + (("traced",) if base.get("traced") is not None else ()):
        for p in points[1:]:
            out[f"{kind}_growth_{base['n']}_{p['n']}"] = (p[kind] - base[kind]) / (p["n"] - base["n"])
        for fit in fits or [[p["n"] for p in points[1:]]]:
            if len(fit) >= 2 and all(n in by_n for n in fit):
                out[f"{kind}_fit_{'_'.join(map(str, fit))}"] = slope(fit, [by_n[n][kind] for n in fit])
    for p in points:
        if p["processes"] > 1:
            out[f"pss_per_process_at_{p['n']}"] = p["pss"] / p["processes"]
            out[f"child_pss_mean_at_{p['n']}"] = (p["pss"] - p["root_pss"]) / (p["processes"] - 1)
    return out


def human(value: float, kind: str) -> str:
    if kind.startswith("vms") or "per_process" in kind or "child_pss" in kind:
        return f"{value / 1048576:.3f} MiB"
    return f"{value / 1024:.2f} KiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[100, 2000, 5000],
                        help="connection counts, the first is the baseline (default 100 2000 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh servers (repetitions), default 3")
    parser.add_argument("--fresh", action="store_true", help="a new server per level ({n} in the command = level)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the server's environment")
    parser.add_argument("--unset", action="append", default=[], metavar="NAME", help="remove from the server's environment")
    parser.add_argument("--trace", action="store_true", help="ask the server for its tracemalloc total at each level")
    parser.add_argument("--cwd", help="the server's working directory")
    parser.add_argument("--label", default="", help="a name for the JSON record")
    parser.add_argument("--fit", action="append", default=[], type=lambda t: [int(x) for x in t.split(",")],
                        metavar="N,N[,N...]", help="least-squares slope over these levels (repeatable; default: all but the first)")
    parser.add_argument("--breakdown", action="store_true",
                        help="at the last level, the mean private bytes of one child process by mapping")
    parser.add_argument("--show-vms", action="store_true", help="also print virtual-size growth (always in --json)")
    parser.add_argument("--json", help="append one JSON line with every figure to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the server command")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the server command after --")
    if sorted(args.levels) != args.levels or len(set(args.levels)) != len(args.levels):
        parser.error("levels must increase")
    limit = raise_nofile()
    if max(args.levels) + 64 > limit:
        parser.error(f"{max(args.levels)} connections need more than the open-file limit {limit}")
    env = dict(os.environ)
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    for name in args.unset:
        env.pop(name, None)
    trace_file = None
    if args.trace:
        fd, trace_file = tempfile.mkstemp(prefix="crosscheck-trace-")
        os.close(fd)
        env["CROSSCHECK_TRACE_OUT"] = trace_file
        env.setdefault("PYTHONTRACEMALLOC", "1")
    shown_env = " ".join(args.env + [f"-{n}" for n in args.unset]) or "(inherited)"
    print(f"idle_probe: {' '.join(args.command)}\n  levels {args.levels} ({'fresh server per level' if args.fresh else 'cumulative, one server'}),"
          f" {args.repeat} repetitions, env {shown_env}, MALLOC_ARENA_MAX={env.get('MALLOC_ARENA_MAX', 'unset')}", flush=True)
    runs = []
    try:
        for rep in range(args.repeat):
            run = one_run(args, env)
            runs.append(run)
            pts = "  ".join(f"n={p['n']}: rss {p['rss'] / 1048576:.2f} pss {p['pss'] / 1048576:.2f} MiB"
                            f" procs {p['processes']} settle {p['settle_s']}s"
                            + (f" traced {p['traced'] / 1048576:.2f}" if p.get("traced") else "")
                            for p in run["points"])
            print(f"  rep {rep + 1}: {pts}", flush=True)
            mapping = run["points"][-1].get("child_private_by_mapping")
            if mapping:
                print("    one child's private KiB by mapping: " + ", ".join(
                    f"{name} {size / 1024:.0f}" for name, size in list(mapping.items())[:8]), flush=True)
    finally:
        if trace_file:
            os.unlink(trace_file) if os.path.exists(trace_file) else None
    keys = [k for k in runs[0] if k != "points"]
    summary = {}
    print("  per connection (median [min-max] over %d repetitions; USS and VMS in --json):" % len(runs))
    for key in keys:
        if key.startswith("uss") or (key.startswith("vms") and not args.show_vms):
            shown = False
        else:
            shown = True
        values = [r[key] for r in runs]
        summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
        if shown:
            print(f"    {key:<34} {human(summary[key]['median'], key):>12}  [{human(min(values), key)} - {human(max(values), key)}]")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"label": args.label, "command": args.command, "levels": args.levels,
                                "fresh": args.fresh, "env": args.env, "unset": args.unset,
                                "malloc_arena_max": env.get("MALLOC_ARENA_MAX"), "summary": summary,
                                "runs": runs, "argv": sys.argv}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
