"""The summary of scripts/bench/ab-ingest.sh: per candidate, the client CPU
per row of every round and the median; with `py` and one other candidate,
the ratio of each round's pair (the other's CPU per row over Python's).

    python scripts/bench/ab_report.py target/bench-data/ab-<UTC time>.jsonl
"""
import json
import statistics
import sys

rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cands = list(dict.fromkeys(r["candidate"] for r in rs))
us = lambda r: r["selfCpuSec"] / max(r["rows"], 1) * 1e6
print("%-44s %-34s %8s %10s" % ("candidate", "client CPU per row, each round (us)", "median", "rows/s"))
for c in cands:
    runs = [r for r in rs if r["candidate"] == c]
    print("%-44s %-34s %8.1f %10.0f" % (
        c[-44:], " ".join("%.1f" % us(r) for r in runs), statistics.median(us(r) for r in runs),
        statistics.median(r["rowsPerSec"] for r in runs)))
others = [c for c in cands if c != "py"]
if "py" in cands and len(others) == 1:
    py = {r["round"]: us(r) for r in rs if r["candidate"] == "py"}
    ratios = [py[r["round"]] / us(r) for r in rs if r["candidate"] == others[0] and r["round"] in py]
    print("\nPython's CPU per row over %s's, each round: %s; median 1/%.1f" % (
        others[0], " ".join("1/%.1f" % x for x in ratios), statistics.median(ratios)))
