"""Every checkov suppression of the template has an id and a written reason,
and matches a finding checkov actually skipped (else it is stale).

    python3 scripts/checks/checkov_suppressions.py TEMPLATE CHECKOV_JSON

CHECKOV_JSON: `checkov -f TEMPLATE --framework cloudformation -o json`.
Run by scripts/check-template.sh, with cfn-lint's YAML decoder (the venv's).
"""
import json, sys
from cfnlint.decode import decode

template, errors = decode(sys.argv[1])
if errors:
    sys.exit(f"cannot parse {sys.argv[1]}: {errors}")
report = json.load(open(sys.argv[2]))
reports = report if isinstance(report, list) else [report]
skipped = {
    (c["resource"].split(".", 1)[1], c["check_id"])
    for r in reports
    for c in r.get("results", {}).get("skipped_checks", [])
}
problems, count = [], 0
for rid, res in (template.get("Resources") or {}).items():
    for s in ((res.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
        count += 1
        sid, comment = s.get("id"), (s.get("comment") or "").strip()
        if not sid:
            problems.append(f"{rid}: a checkov skip without id")
        elif len(comment) < 20:
            problems.append(f"{rid}: checkov skip {sid} has no written reason")
        elif (rid, sid) not in skipped:
            problems.append(f"{rid}: checkov skip {sid} suppresses nothing (fixed? remove it)")
for p in problems:
    print(p, file=sys.stderr)
print(f"{count} checkov suppressions, {len(skipped)} findings skipped, {len(problems)} problems")
sys.exit(1 if problems else 0)
