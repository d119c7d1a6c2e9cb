"""The table of scripts/bench-ingest.sh: reads its results (one JSON object
a line: machine, parse-rust, parse-python, e2e-rust, e2e-python) and prints
the figures against the targets of docs/benchmarks-ingest.md, with the cost
per million rows at the prices of scripts/bench/prices.py.

    python scripts/bench/report.py target/bench-data/results-<UTC time>.jsonl
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prices  # noqa: E402
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
pys = by("e2e-python")


def memory_mb():
    """ingest-export's MemorySize in template.yaml (the stack's memory)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    text = open(os.path.join(root, "template.yaml")).read()
    fn = text[text.index("  IngestExportFunction:"):]
    return int(re.search(r"MemorySize: (\d+)", fn).group(1))


def cost(r, mem):
    """Per row: client CPU, write units (in all, the table's), and the cost
    on AWS: the write units DynamoDB reported, plus Lambda GB-seconds at
    `mem` MB for as long as the rows take there: the client CPU at the
    vCPU share `mem` buys, or the new table's write ceiling, whichever is
    slower (the emulator's own speed says nothing about AWS's)."""
    rows = r["rows"]
    cpu = r["selfCpuSec"] / rows
    wru = r["writeUnits"] / rows
    table = r.get("tableWriteUnits", r["writeUnits"]) / rows
    ceiling = prices.NEW_TABLE_WRITE_UNITS_PER_SECOND / table if table else float("inf")
    secs = max(cpu * prices.MB_PER_VCPU / min(mem, prices.MB_PER_VCPU), 1 / ceiling)
    usd_ddb = wru * prices.USD_PER_WRITE_UNIT * 1e6
    usd_lambda = secs * mem / 1024 * prices.USD_PER_GB_SECOND * 1e6
    return dict(cpu_us=cpu * 1e6, wru=wru, table=table, ceiling=ceiling, usd_ddb=usd_ddb, usd_lambda=usd_lambda,
                usd=usd_ddb + usd_lambda, million_secs=secs * 1e6)


if e2e or pys:
    mem = memory_mb()
    runs = [(r.get("writeMode", "row"), r) for r in e2e] + [("python", p) for p in pys]
    print("END TO END into DynamoDB Local (write concurrency %d)" % (e2e or pys)[0].get("concurrency", 32))
    print("  %-8s %-7s %8s %7s %8s %8s %9s %10s %8s %8s %9s %10s %9s" % (
        "rows", "client", "seconds", "rows/s", "status", "peak MB", "time -v", "CPU us/row", "WRU/row", "table",
        "ceiling", "$/M rows", "1M on AWS"))
    for name, r in runs:
        c = cost(r, mem)
        print("  %-8d %-7s %8.1f %7.0f %8s %8.1f %9s %10.1f %8.2f %8.2f %9.0f %10.3f %8.0fs" % (
            r["rows"], name, r["seconds"], r["rowsPerSec"], r["status"], r["peakRssKb"] / 1024,
            "%.1f" % (r["timeMaxRssKb"] / 1024) if "timeMaxRssKb" in r else "-", c["cpu_us"], c["wru"],
            c["table"], c["ceiling"], c["usd"], c["million_secs"]))
    if e2e:
        peak = max(r["peakRssKb"] for r in e2e) / 1024
        print("  peak RSS max %.1f MB over %s rows (target <= 64 MB, flat: %s)" % (
            peak, "/".join(sorted({str(r["rows"]) for r in e2e}, key=int)), ok(peak <= 64)))
    print("  WRU/row: write request units DynamoDB reported (ReturnConsumedCapacity=INDEXES), table and indexes;")
    print("  table: the table's own; ceiling: rows/s a new on-demand table takes (%d WRU/s / table WRU per row);" %
          prices.NEW_TABLE_WRITE_UNITS_PER_SECOND)
    print("  $/M rows: those write units plus Lambda arm64 at %d MB for '1M on AWS' seconds per million rows" % mem)
    print("  (client CPU at %.2f vCPU, or the ceiling); prices of %s, %s (scripts/bench/prices.py)" % (
        min(mem, prices.MB_PER_VCPU) / prices.MB_PER_VCPU, prices.REGION, prices.DATE))
    for rows in sorted({r["rows"] for r in e2e}):
        for r in [r for r in e2e if r["rows"] == rows]:
            for p in [p for p in pys if p["rows"] == rows][:1]:
                xc = (p["selfCpuSec"] / p["rows"]) / (r["selfCpuSec"] / r["rows"])
                print("  %d rows: %s / Python + boto3 = 1/%.1f of the client CPU per row (target <= 1/20: %s); "
                      "%.1fx rows/s" % (rows, r.get("writeMode", "row"), xc, ok(xc >= 20),
                                        r["rowsPerSec"] / p["rowsPerSec"]))
