#!/usr/bin/env bash
# The ingest benchmarks of docs/benchmarks-ingest.md, in one command:
#
#   scripts/bench-ingest.sh            everything (about 15-25 min on 2 cores)
#   scripts/bench-ingest.sh --quick    small files, to check the set-up (~2 min)
#
# 1. bootstraps the tools (scripts/bootstrap.sh) and builds release binaries;
# 2. generates the exports into target/bench-data/ (target/ is $CARGO_TARGET_DIR
#    when set) with exportgen (seed 42,
#    0.1% bad rows; deterministic, regenerated when exportgen or the
#    parameters change);
# 3. parse: `cargo bench --bench ingest_parse` (bare csv, psc-bridge parse +
#    validate + items) and benches/python/reference_parse.py on the same file;
# 4. end to end, under devkit's with-emulators (one DynamoDB Local, one
#    moto for everything): target/release/ingest-e2e (the function's write
#    path: one conditional PutItem per row) for each size under
#    /usr/bin/time -v, and benches/python/reference_boto3.py on the first
#    size, each into a fresh table; both count the write units DynamoDB
#    reports (ReturnConsumedCapacity=INDEXES);
# 5. prints a table with the cost per million rows (scripts/bench/report.py,
#    prices in scripts/bench/prices.py); the raw results (one JSON object
#    per line) are kept in target/bench-data/results-<UTC time>.jsonl.
#
# Env: PARSE_ROWS (200000), E2E_ROWS ("100000 300000 1000000"),
#      PY_E2E_ROWS (first of E2E_ROWS; a list, like E2E_ROWS, for more), WARMUP_ROWS (30000), RUNS (5, best of),
#      PY_RUNS (3),
#      CONCURRENCY (32, the template's WriteConcurrency default), SEED (42),
#      BAD_FRACTION (0.001).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.local/venv/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DATA="$TARGET/bench-data"
BIN="$TARGET/release"

say() { printf '\n== %s\n' "$*" >&2; }

# ---- inside with-emulators: the end-to-end runs ----------------------------------
if [[ "${1:-}" == "--e2e-inside" ]]; then
  out="$2"
  py_rows="$3"
  warmup_rows="$4"
  shift 4
  # DynamoDB Local is a JVM: its first ~10k writes run at half speed or less
  # until the JIT has compiled them. Warm it up, untimed, so that every
  # measured run (Rust and Python) sees the same warm server.
  say "warm-up of DynamoDB Local: $warmup_rows rows (not counted)"
  "$BIN/ingest-e2e" run --file "$DATA/export-$warmup_rows.csv" --concurrency "$CONCURRENCY" \
    | grep '^BENCH ' \
    | sed 's/^BENCH //; s/"bench":"e2e-rust"/"bench":"e2e-warmup"/' | tee -a "$out" >&2
  for rows in "$@"; do
    file="$DATA/export-$rows.csv"
    say "end to end, psc-bridge: $rows rows (ingest-e2e run, /usr/bin/time -v)"
    uptime >&2
    /usr/bin/time -v -o "$DATA/time-e2e-$rows.txt" \
      "$BIN/ingest-e2e" run --file "$file" --concurrency "$CONCURRENCY" \
      | grep '^BENCH ' | sed 's/^BENCH //' \
      | "$PY" scripts/bench/add_max_rss.py "$DATA/time-e2e-$rows.txt" | tee -a "$out" >&2
    if [[ " $py_rows " == *" $rows "* ]]; then
      say "end to end, Python + boto3 reference: $rows rows (same file, same servers, fresh table)"
      uptime >&2
      staged="$("$BIN/ingest-e2e" prepare --file "$file")"
      "$PY" benches/python/reference_boto3.py --staged "$staged" | grep '^BENCH ' | sed 's/^BENCH //' \
        | tee -a "$out" >&2
      read -r table bucket < <("$PY" scripts/bench/json_fields.py "$staged" table bucket)
      "$BIN/ingest-e2e" cleanup --table "$table" --bucket "$bucket"
    fi
  done
  exit 0
fi

# ---- options -------------------------------------------------------------------
QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
  *) echo "bench-ingest: unknown argument $1" >&2; exit 2 ;;
esac
if [[ $QUICK == 1 ]]; then
  : "${PARSE_ROWS:=20000}" "${E2E_ROWS:=5000 10000}" "${WARMUP_ROWS:=2000}" "${RUNS:=3}" "${PY_RUNS:=1}"
fi
PARSE_ROWS="${PARSE_ROWS:-200000}"
E2E_ROWS="${E2E_ROWS:-100000 300000 1000000}"
read -r -a E2E_LIST <<<"$E2E_ROWS"
PY_E2E_ROWS="${PY_E2E_ROWS:-${E2E_LIST[0]}}"
WARMUP_ROWS="${WARMUP_ROWS:-30000}"
RUNS="${RUNS:-5}"
PY_RUNS="${PY_RUNS:-3}"
export CONCURRENCY="${CONCURRENCY:-32}"
SEED="${SEED:-42}"
BAD_FRACTION="${BAD_FRACTION:-0.001}"

[[ -x /usr/bin/time ]] || { echo "bench-ingest: /usr/bin/time is missing (Debian package 'time')" >&2; exit 1; }

# ---- tools and binaries -----------------------------------------------------------
say "bootstrap"
scripts/bootstrap.sh
say "build (release)"
cargo build --release -p exportgen --bins
cargo bench --bench ingest_parse --no-run

# ---- data -------------------------------------------------------------------------
mkdir -p "$DATA"
say "generate exports into target/bench-data (seed $SEED, bad fraction $BAD_FRACTION)"
for rows in "$PARSE_ROWS" "$WARMUP_ROWS" "${E2E_LIST[@]}"; do
  file="$DATA/export-$rows.csv"
  [[ -f "$file.done-$SEED-$BAD_FRACTION" && -f "$file" && "$file" -nt "$BIN/exportgen" ]] && continue
  rm -f "$file".done-*
  "$BIN/exportgen" --rows "$rows" --seed "$SEED" --bad-fraction "$BAD_FRACTION" --out "$file"
  touch "$file.done-$SEED-$BAD_FRACTION"
done

OUT="$DATA/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
: >"$OUT"
machine() {
  "$PY" scripts/bench/machine.py "$1" | tee -a "$OUT" >&2
}
machine before

# ---- parse --------------------------------------------------------------------------
PARSE_FILE="$DATA/export-$PARSE_ROWS.csv"
say "parse: cargo bench --bench ingest_parse -- $PARSE_FILE --runs $RUNS"
parse_out="$(cargo bench --bench ingest_parse -- "$PARSE_FILE" --runs "$RUNS")"
printf '%s\n' "$parse_out" >&2
printf '%s\n' "$parse_out" | grep '^BENCH ' | sed 's/^BENCH //' >>"$OUT"
say "parse: Python reference (csv.DictReader), best of $PY_RUNS"
parse_out="$("$PY" benches/python/reference_parse.py "$PARSE_FILE" --runs "$PY_RUNS")"
printf '%s\n' "$parse_out" >&2
printf '%s\n' "$parse_out" | grep '^BENCH ' | sed 's/^BENCH //' >>"$OUT"

# ---- end to end ------------------------------------------------------------------------
say "end to end against DynamoDB Local and moto (with-emulators)"
cargo run -q --bin with-emulators -- "$0" --e2e-inside "$OUT" "$PY_E2E_ROWS" "$WARMUP_ROWS" "${E2E_LIST[@]}"
machine after

# ---- table -------------------------------------------------------------------------------
say "results ($OUT)"
"$PY" scripts/bench/report.py "$OUT"
