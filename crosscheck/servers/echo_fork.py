"""Probe-style fork-per-connection echo server: a blocking accept loop in the parent, os.fork() per
connection; the child echoes until the peer closes, then os._exit(0); the parent reaps children on SIGCHLD
with waitpid(WNOHANG).

    python crosscheck/servers/echo_fork.py      prints `PORT NNN`, serves until SIGTERM
    python crosscheck/servers/echo_fork.py --prefork N
        the pre-fork model instead (one thing changed): N workers forked before the port is printed, each a
        blocking accept loop serving one connection at a time with the same echo(); the parent only waits

Changes for crosscheck experiments, by environment (none by default):
  CROSSCHECK_PREIMPORT=mod1,mod2  import these modules before the accept loop (to give the parent a bigger heap)
  CROSSCHECK_GC_FREEZE=1          gc.freeze() after those imports, before the first fork
  CROSSCHECK_CHILD_GC=1           the child runs gc.collect() once before serving (a full collection)
"""
import gc
import importlib
import os
import resource
import signal
import socket
import sys

for name in filter(None, os.environ.get("CROSSCHECK_PREIMPORT", "").split(",")):
    importlib.import_module(name)
if os.environ.get("CROSSCHECK_GC_FREEZE"):
    gc.freeze()
CHILD_GC = bool(os.environ.get("CROSSCHECK_CHILD_GC"))


def reap(signum, frame):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def prefork(listener, workers):
    for _ in range(workers):
        if os.fork() == 0:
            try:
                if CHILD_GC:
                    gc.collect()
                while True:
                    conn, _ = listener.accept()
                    with conn:
                        echo(conn)
            finally:
                os._exit(0)
    print("PORT", listener.getsockname()[1], flush=True)
    while True:
        os.wait()       # SIGTERM (default action) ends the parent; the probe signals the whole group


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    if "--prefork" in sys.argv:
        prefork(listener, int(sys.argv[sys.argv.index("--prefork") + 1]))
        return
    signal.signal(signal.SIGCHLD, reap)
    print("PORT", listener.getsockname()[1], flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                listener.close()
                if CHILD_GC:
                    gc.collect()
                echo(conn)
            finally:
                os._exit(0)
        conn.close()


if __name__ == "__main__":
    main()
