"""The results table from crosscheck/results/*.jsonl (written by idle_probe.py --json): one line per
label and figure, median [min-max] over its repetitions, n.

    python crosscheck/table.py [crosscheck/results/runs.jsonl ...] [--keys rss_fit_2000_5000 ...]
"""
import argparse
import json

DEFAULT_KEYS = ("rss_growth_100_2000", "rss_growth_100_5000", "rss_fit_2000_5000", "rss_fit_1000_5000_10000",
                "traced_growth_100_2000", "traced_fit_2000_5000", "pss_fit_20_50_100", "pss_fit_10_50_100", "child_pss_mean_at_20",
                "child_pss_mean_at_50", "child_pss_mean_at_100")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="*", default=["crosscheck/results/runs.jsonl", "crosscheck/results/trace.jsonl",
                                                   "crosscheck/results/trace-versions.jsonl"])
    p.add_argument("--keys", nargs="+", default=DEFAULT_KEYS)
    a = p.parse_args()
    for path in a.files:
        for line in open(path):
            rec = json.loads(line)
            for key in a.keys:
                if rec["label"].startswith("trace-") and not key.startswith("traced"):
                    continue        # RSS under tracemalloc includes its own trace tables: not a figure
                s = rec["summary"].get(key)
                if s is None:
                    continue
                scale, unit = (1048576, "MiB") if key.startswith("child_pss") or key.startswith("pss_fit_") and "0_100" in key else (1024, "KiB")
                print(f"{rec['label']:<40} {key:<26} {s['median'] / scale:8.3f} [{s['min'] / scale:.3f}-{s['max'] / scale:.3f}] {unit}  n={s['n']}")


if __name__ == "__main__":
    main()
