"""Python-level bytes per connection by source line: the difference between two tracemalloc snapshots
written by crosscheck/servers/tracehook.py (CROSSCHECK_TRACE_SNAP), divided by the connections added.

    python crosscheck/trace_diff.py SNAP_AT_N1 SNAP_AT_N2 CONNECTIONS_ADDED [--top 15] [--group lineno|filename]
"""
import argparse
import tracemalloc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("added", type=int)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--group", default="lineno", choices=("lineno", "filename", "traceback"))
    a = p.parse_args()
    before = tracemalloc.Snapshot.load(a.before)
    after = tracemalloc.Snapshot.load(a.after)
    stats = after.compare_to(before, a.group)
    total = sum(s.size_diff for s in stats)
    count = sum(s.count_diff for s in stats)
    print(f"traced bytes per connection: {total / a.added:.1f} ({count / a.added:.2f} blocks per connection)")
    for s in stats[:a.top]:
        where = s.traceback[0]
        print(f"  {s.size_diff / a.added:8.1f} B  {s.count_diff / a.added:6.2f} blocks  {where.filename}:{where.lineno}")


if __name__ == "__main__":
    main()
