"""The table of scripts/bench-ingest.sh: reads its results (one JSON object
a line: machine, parse-rust, parse-python, e2e-rust, e2e-python) and prints
the figures against the targets of docs/benchmarks-ingest.md.

    python scripts/bench/report.py target/bench-data/results-<UTC time>.jsonl
"""
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = lambda b: [r for r in rs if r["bench"] == b]
mach = {r["when"]: r for r in by("machine")}
for when in ("before", "after"):
    if when in mach:
        m = mach[when]
        print("machine %-6s: %d cores, load average %s, %d MB available" % (when, m["cores"], " ".join(m["load"]), m["memAvailableMb"]))
print()
ok = lambda c: "MET" if c else "NOT MET"
rust = by("parse-rust")
py = by("parse-python")
if rust:
    r = rust[0]
    print("PARSE  %s: %d rows, %.1f MB, best of %d" % (r["file"].split("/")[-1], r["rows"], r["bytes"] / 1e6, r["runs"]))
    print("  %-42s %9s %11s %9s" % ("", "MB/s", "rows/s", "vs bare"))
    line = lambda name, mbps, rps: print("  %-42s %9.1f %11.0f %9.2f" % (name, mbps, rps, rps / r["bareRowsPerSec"]))
    line("bare csv ByteRecord (ceiling)", r["bareMBps"], r["bareRowsPerSec"])
    line("psc-bridge parse+validate", r["validateMBps"], r["validateRowsPerSec"])
    line("psc-bridge parse+validate+items", r["itemsMBps"], r["itemsRowsPerSec"])
    line("floor: bare csv + SDK items, no checks", r["floorMBps"], r["floorRowsPerSec"])
    if py:
        p = py[0]
        line("Python csv.DictReader + checks + items", p["MBps"], p["rowsPerSec"])
    print("  psc-bridge / bare   = %.2f  (target >= 0.5: %s; wall time, CPU time gives %.2f)" % (
        r["ratioToBare"], ok(r["ratioToBare"] >= 0.5), r["cpuRatioToBare"]))
    if py:
        x = r["itemsRowsPerSec"] / py[0]["rowsPerSec"]
        xc = py[0]["cpuSeconds"] / r["itemsCpuSec"]
        print("  psc-bridge / Python = %.1fx (target >= 20x: %s; CPU time gives %.1fx)" % (x, ok(x >= 20), xc))
    print()
e2e = by("e2e-rust")
if e2e:
    print("END TO END into DynamoDB Local (write concurrency %d)" % e2e[0]["concurrency"])
    print("  %-8s %-6s %8s %8s %8s %8s %9s %11s %11s %12s" % ("rows", "writes", "seconds", "rows/s", "status",
                                                              "peak MB", "time -v MB", "client CPU", "java CPU",
                                                              "client us/row"))
    us = lambda r: r["selfCpuSec"] / r["rows"] * 1e6
    for r in e2e:
        print("  %-8d %-6s %8.1f %8.0f %8s %8.1f %9.1f %11s %11s %12.1f" % (
            r["rows"], r.get("writeMode", "row"), r["seconds"], r["rowsPerSec"], r["status"], r["peakRssKb"] / 1024,
            r["timeMaxRssKb"] / 1024, "%.2f cores" % r["selfCores"],
            "-" if r["javaCores"] is None else "%.2f cores" % r["javaCores"], us(r)))
    peak = max(r["peakRssKb"] for r in e2e) / 1024
    print("  peak RSS max %.1f MB over %s rows (target <= 64 MB, flat: %s)" % (
        peak, "/".join(sorted({str(r["rows"]) for r in e2e}, key=int)), ok(peak <= 64)))
    pys = by("e2e-python")
    for p in pys:
        print("  %-8d %-6s %8.1f %8.0f %8s %8.1f %9s %11s %11s %12.1f  <- Python + boto3" % (
            p["rows"], "row", p["seconds"], p["rowsPerSec"], p["status"], p["peakRssKb"] / 1024, "-",
            "%.2f cores" % p["selfCores"], "-" if p["javaCores"] is None else "%.2f cores" % p["javaCores"],
            p["selfCpuSec"] / p["rows"] * 1e6))
    for rows in sorted({r["rows"] for r in e2e}):
        mode = {r.get("writeMode", "row"): r for r in e2e if r["rows"] == rows}
        py = [p for p in pys if p["rows"] == rows]
        if "batch" in mode and "row" in mode:
            x = us(mode["row"]) / us(mode["batch"])
            print("  %d rows: batch / row client CPU per row = 1/%.1f (target <= 1/4: %s); rows/s %.1fx" % (
                rows, x, ok(x >= 4), mode["batch"]["rowsPerSec"] / mode["row"]["rowsPerSec"]))
        for m in ("batch", "row"):
            if m in mode and py:
                p = py[0]
                xc = (p["selfCpuSec"] / p["rows"]) / (us(mode[m]) / 1e6)
                x = mode[m]["rowsPerSec"] / p["rowsPerSec"]
                target = " (target >= 15x: %s)" % ok(xc >= 15) if m == "batch" else ""
                print("  %d rows: %s / Python + boto3 = %.1fx less client CPU per row%s; %.1fx rows/s" % (
                    rows, m, xc, target, x))
