#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (docs/reliability.md, "Fuzzing"),
# each for a bounded time, one after the other, and prints the executions
# per target. Not part of `make test`: the cold cost (cargo-fuzz and the
# nightly build of the fuzz crate, about 8 minutes on 2 cores) leaves no
# room for fuzzing in CI's 10-minute budget. CI replays the committed
# corpora on stable instead (tools/fuzz-checks/tests/corpora.rs).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60, all)
#        make fuzz FUZZ_SECONDS=120 FUZZ_TARGETS="export_csv feed_csv"
#
# Needs the nightly toolchain (rustup toolchain install nightly); installs
# cargo-fuzz with `cargo install --locked` when it is missing. New inputs go
# to a scratch folder, not to the committed corpus (fuzz/corpus/<target>/,
# read as seeds); a crash is saved in fuzz/artifacts/<target>/ and ends
# the run with status 1. To keep a crash as a regression, copy its input to
# fuzz/regressions/<target>/ (the stable tests replay that folder too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET="${1:-60}"
shift || true
cd "$ROOT/fuzz"

rustup toolchain list | grep -q '^nightly' \
  || { echo "fuzz: the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 1; }
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: cargo install cargo-fuzz --locked --version $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(cargo fuzz list)
fi
# Safe Rust: no sanitizer (faster builds and runs), with debug assertions
# (integer overflow panics).
FLAGS=(--sanitizer none --debug-assertions)
cargo +nightly fuzz build "${FLAGS[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
report=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  echo "== fuzz $t for ${SECONDS_PER_TARGET}s"
  if ! cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 -print_final_stats=1 \
      >"$log" 2>&1; then
    status=1
    grep -m1 -A1 'panicked at' "$log" || tail -n 20 "$log"
    echo "fuzz: $t failed: its input is in fuzz/artifacts/$t/" >&2
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  report+=("$(printf '%-20s %12s executions in %ss' "$t" "${execs:-?}" "$SECONDS_PER_TARGET")")
done
echo "== executions per target"
printf '%s\n' "${report[@]}"
exit "$status"
