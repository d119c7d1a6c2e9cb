#!/usr/bin/env bash
# The eligibility-api benchmarks in one command (docs/benchmarks-api.md):
#
#   functions/eligibility-api/benches/run.sh
#
#   1. sizes: `cargo lambda build --release --arm64` of the functions (every
#      AWS::Serverless::Function of template.yaml, listed by devkit's
#      template-functions), size of each stripped bootstrap (target: at most 8 MB);
#   2. cold start: release build of the functions for this machine,
#      process start to the first `next` on a fake Runtime API (target: at
#      most 50 ms);
#   3. latency: handler vs bare DynamoDB calls, 50 contacts, DynamoDB Local
#      (target: at most 2 ms of overhead).
#
# Figures only, no pass/fail. Needs scripts/bootstrap.sh (cargo-lambda, zig,
# DynamoDB Local). Release builds take minutes on a small machine; set
# SKIP_SIZES=1, SKIP_COLD_START=1 or SKIP_LATENCY=1 to leave a part out, and
# BENCH_RUNS / BENCH_ITERATIONS to change the sample counts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.local/venv/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

say() { printf '\n== %s\n' "$*"; }

# The functions' binaries, from template.yaml (`<logical id> <binary> <CodeUri>` a line).
mapfile -t FUNCTIONS < <(cargo run -q --bin template-functions | cut -d' ' -f2)
((${#FUNCTIONS[@]})) || { echo "run.sh: no function in template.yaml" >&2; exit 1; }
bins=()
for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done

if [[ "${SKIP_SIZES:-}" != 1 ]]; then
  say "1. release binary sizes, arm64 (cargo lambda build --release --arm64)"
  cargo lambda build --release --arm64 "${bins[@]}"
  printf '\n| function | bootstrap | bytes | MB | stripped | zip (as deployed) |\n|---|---|---:|---:|---|---:|\n'
  for f in "${FUNCTIONS[@]}"; do
    b="$TARGET_DIR/lambda/$f/bootstrap"
    if [[ ! -f "$b" ]]; then
      printf '| %s | %s | - | - | - | - |\n' "$f" "${b#"$ROOT"/}"
      continue
    fi
    stripped=$(if readelf -S "$b" | grep -q '\.symtab'; then echo no; else echo yes; fi)
    python3 scripts/bench/bootstrap_size.py "$f" "$b" "${b#"$ROOT"/}" "$stripped"
    file -b "$b" | sed 's/^/    /'
  done
fi

if [[ "${SKIP_COLD_START:-}" != 1 || "${SKIP_LATENCY:-}" != 1 ]]; then
  cmd="true"
  if [[ "${SKIP_COLD_START:-}" != 1 ]]; then
    say "2. cold start: release build of the functions for this machine"
    cargo build --release "${bins[@]}"
    cmd+=" && cargo bench -p eligibility-api --bench cold_start"
  fi
  if [[ "${SKIP_LATENCY:-}" != 1 ]]; then
    cmd+=" && cargo bench -p eligibility-api --bench latency"
  fi
  say "2/3. cold start and lookup latency (DynamoDB Local, started once for both)"
  cargo run -q --bin with-emulators -- bash -c "$cmd"
fi
