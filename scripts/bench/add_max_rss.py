"""Adds `timeMaxRssKb` (the peak RSS `/usr/bin/time -v` measured) to one
BENCH JSON object read from stdin, and prints it.

    ... | python scripts/bench/add_max_rss.py TIME_V_OUTPUT
"""
import json
import re
import sys

r = json.loads(sys.stdin.read())
t = open(sys.argv[1]).read()
r["timeMaxRssKb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
print(json.dumps(r))
