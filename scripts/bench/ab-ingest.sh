#!/usr/bin/env bash
# Paired A/B runs of the ingest's end-to-end write path, for decisions that
# are smaller than the noise between two runs of scripts/bench-ingest.sh:
# both clients' CPU per row moves with DynamoDB Local's pace, so candidates
# are run alternately, round after round, on one warm emulator and one file.
#
#   scripts/bench/ab-ingest.sh [--rows N] [--rounds R] CANDIDATE...
#
# A CANDIDATE is an ingest-e2e binary (e.g. target/release/ingest-e2e and a
# copy built from another commit), or `py` for the Python/boto3 reference
# (benches/python/reference_boto3.py). Each round runs every candidate once,
# in order, into a fresh table. At the end it prints, per candidate, the
# client CPU per row of every round and their median, and for `py` with one
# other candidate, the ratio of each round's pair.
#
# Needs the bench's file (scripts/bench-ingest.sh --quick makes the tools;
# the file is generated here with exportgen when missing) and runs under
# devkit's with-emulators. Env: CONCURRENCY (32), WARMUP_ROWS (30000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="$ROOT/.local/venv/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DATA="$TARGET/bench-data"
export CONCURRENCY="${CONCURRENCY:-32}"
WARMUP_ROWS="${WARMUP_ROWS:-30000}"
say() { printf '== %s\n' "$*" >&2; }

if [[ "${1:-}" == "--inside" ]]; then
  out="$2" rows="$3" rounds="$4"
  shift 4
  run_one() { # candidate file -> one JSON line
    local cand="$1" file="$2"
    if [[ "$cand" == py ]]; then
      local staged table bucket
      staged="$("$TARGET/release/ingest-e2e" prepare --file "$file")"
      "$PY" benches/python/reference_boto3.py --staged "$staged" | grep '^BENCH ' | sed 's/^BENCH //'
      read -r table bucket < <("$PY" scripts/bench/json_fields.py "$staged" table bucket)
      "$TARGET/release/ingest-e2e" cleanup --table "$table" --bucket "$bucket"
    else
      "$cand" run --file "$file" --concurrency "$CONCURRENCY" | grep '^BENCH ' | sed 's/^BENCH //'
    fi
  }
  say "warm-up of DynamoDB Local: $WARMUP_ROWS rows (not counted)"
  run_one "$1" "$DATA/export-$WARMUP_ROWS.csv" >/dev/null
  for ((r = 1; r <= rounds; r++)); do
    for cand in "$@"; do
      say "round $r/$rounds: $cand, $rows rows"
      run_one "$cand" "$DATA/export-$rows.csv" \
        | "$PY" -c 'import json,sys; [print(json.dumps({"candidate": sys.argv[1], "round": int(sys.argv[2]), **json.loads(l)})) for l in sys.stdin]' "$cand" "$r" \
        | tee -a "$out" >&2
    done
  done
  exit 0
fi

ROWS=50000 ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "ab-ingest: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { echo "ab-ingest: name at least one candidate (see --help)" >&2; exit 2; }
for cand in "$@"; do
  [[ "$cand" == py || -x "$cand" ]] || { echo "ab-ingest: $cand is neither 'py' nor an executable" >&2; exit 2; }
done
[[ -x "$TARGET/release/exportgen" && -x "$TARGET/release/ingest-e2e" ]] \
  || { echo "ab-ingest: build first: cargo build --release -p exportgen --bins" >&2; exit 2; }
mkdir -p "$DATA"
for rows in "$ROWS" "$WARMUP_ROWS"; do
  file="$DATA/export-$rows.csv"
  [[ -f "$file" ]] || "$TARGET/release/exportgen" --rows "$rows" --seed 42 --bad-fraction 0.001 --out "$file"
done
OUT="$DATA/ab-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
cargo run -q --bin with-emulators -- "$0" --inside "$OUT" "$ROWS" "$ROUNDS" "$@"
say "results ($OUT)"
"$PY" scripts/bench/ab_report.py "$OUT"
