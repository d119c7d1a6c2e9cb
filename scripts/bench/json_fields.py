"""Prints fields of a JSON object, space-separated, on one line (for
`read -r a b`): e.g. the table and bucket `ingest-e2e prepare` staged.

    python scripts/bench/json_fields.py JSON FIELD...
"""
import json
import sys

obj = json.loads(sys.argv[1])
print(" ".join(str(obj[f]) for f in sys.argv[2:]))
