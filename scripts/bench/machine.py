"""One `machine` result line of scripts/bench-ingest.sh: cores, load average,
available memory and kernel, `before` or `after` the runs.

    python scripts/bench/machine.py before|after
"""
import json
import os
import platform
import sys

load = open("/proc/loadavg").read().split()[:3]
mem = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
print(json.dumps({"bench": "machine", "when": sys.argv[1], "cores": os.cpu_count(), "load": load,
                  "memAvailableMb": mem["MemAvailable"] // 1024, "kernel": platform.release()}))
