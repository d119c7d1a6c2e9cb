#!/usr/bin/env bash
# Offline checks of template.yaml. Runs every step, prints each command before
# it runs, and exits non-zero if any step failed.
#
#   1. cfn-lint template.yaml
#   2. sam validate (SAM transform) and sam validate --lint
#   3. checkov (CloudFormation framework): no unsuppressed finding
#   4. every checkov suppression in the template has a written reason and is
#      still needed (a suppression whose finding was fixed must go)
#   5. unless SKIP_SAM_BUILD=1: sam build (cargo lambda, release, arm64) and a
#      check that each .aws-sam/build/<Function>/bootstrap is an aarch64 ELF
#      of at most MAX_BOOTSTRAP_BYTES (8,000,000: the size target of
#      docs/benchmarks-api.md; a release-profile change can cross it)
#
# Tools come from the Python venv $PSC_VENV (default: <repo>/.local/venv,
# made by scripts/bootstrap.sh): sam, cfn-lint, checkov, cargo-lambda, zig.
# No AWS account, credentials or network are needed; AWS_DEFAULT_REGION is
# set to us-east-1 for the SAM translator when not set.
#
# Usage: scripts/check-template.sh
# Env:   PSC_VENV, SKIP_SAM_BUILD=1, SAM_BUILD_DIR (default .aws-sam/build),
#        MAX_BOOTSTRAP_BYTES (default 8000000)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PSC_VENV="${PSC_VENV:-$ROOT/.local/venv}"
TEMPLATE=template.yaml
BUILD_DIR="${SAM_BUILD_DIR:-.aws-sam/build}"

say() { printf '\n==> %s\n' "$*"; }
failed=()
# step NAME CMD...: print and run CMD, remember NAME if it fails.
step() {
  local name="$1"; shift
  say "$name: $*"
  if "$@"; then
    printf -- '--- %s: ok\n' "$name"
  else
    printf -- '--- %s: FAILED\n' "$name" >&2
    failed+=("$name")
  fi
}

if [[ ! -d "$PSC_VENV/bin" ]]; then
  echo "check-template: no venv at $PSC_VENV (run scripts/bootstrap.sh, or set PSC_VENV)" >&2
  exit 2
fi
export PATH="$PSC_VENV/bin:$PATH"
for tool in sam cfn-lint checkov; do
  command -v "$tool" >/dev/null || { echo "check-template: $tool not found in $PSC_VENV/bin" >&2; exit 2; }
done

# Offline: region for the SAM translator, no telemetry, no instance metadata
# probing, no credential lookup beyond the environment.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0
export AWS_EC2_METADATA_DISABLED=true

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

step cfn-lint cfn-lint "$TEMPLATE"
step "sam validate" sam validate --template-file "$TEMPLATE" --region "$AWS_DEFAULT_REGION"
step "sam validate --lint" sam validate --lint --template-file "$TEMPLATE" --region "$AWS_DEFAULT_REGION"
# --skip-download: checkov would otherwise try to fetch guidelines from its vendor.
step checkov checkov -f "$TEMPLATE" --framework cloudformation --quiet --compact --skip-download

# Suppressions: every Metadata.checkov.skip entry needs an id and a reason,
# and must match a finding checkov actually skipped (else it is stale).
check_suppressions() {
  checkov -f "$TEMPLATE" --framework cloudformation --skip-download -o json >"$tmp/checkov.json" 2>"$tmp/checkov.err" \
    || { cat "$tmp/checkov.err" >&2; return 1; }
  python3 scripts/checks/checkov_suppressions.py "$TEMPLATE" "$tmp/checkov.json"
}
step "checkov suppressions" check_suppressions

# Is FILE an ELF64 little-endian aarch64 executable? (e_ident + e_machine 183)
is_aarch64_elf() {
  local header
  header="$(od -An -tx1 -N20 "$1" | tr -d ' \n')"
  [[ "${header:0:8}" == 7f454c46 && "${header:8:2}" == 02 && "${header:10:2}" == 01 && "${header:36:4}" == b700 ]]
}

# The functions: every AWS::Serverless::Function of the template, read by
# devkit's parser (`<logical id> <binary> <CodeUri>` a line).
check_artifacts() {
  local fn bin ok=0 functions
  functions="$(cargo run -q --bin template-functions)" || { echo "cannot list the template's functions" >&2; return 1; }
  for fn in $(cut -d' ' -f1 <<<"$functions"); do
    bin="$BUILD_DIR/$fn/bootstrap"
    if [[ ! -f "$bin" ]]; then
      echo "missing $bin" >&2; ok=1; continue
    fi
    if command -v file >/dev/null; then file "$bin"; fi
    if is_aarch64_elf "$bin"; then
      echo "$bin: aarch64 ELF, $(wc -c <"$bin") bytes"
    else
      echo "$bin: not an aarch64 ELF" >&2; ok=1
    fi
    if (( $(wc -c <"$bin") > ${MAX_BOOTSTRAP_BYTES:-8000000} )); then
      echo "$bin: $(wc -c <"$bin") bytes, over the size target of ${MAX_BOOTSTRAP_BYTES:-8000000}" >&2; ok=1
    fi
  done
  return "$ok"
}

if [[ "${SKIP_SAM_BUILD:-0}" == 1 ]]; then
  say "sam build: skipped (SKIP_SAM_BUILD=1)"
else
  for tool in cargo cargo-lambda; do
    command -v "$tool" >/dev/null || { echo "check-template: $tool not found" >&2; exit 2; }
  done
  # cargo lambda cross-compiles with zig: the venv's ziglang provides it.
  command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 \
    || { echo "check-template: zig not found (pip package ziglang in $PSC_VENV)" >&2; exit 2; }
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    step "rustup target" rustup target add aarch64-unknown-linux-gnu
  fi
  # --no-cached: SAM's cache keys a function on its CodeUri only, so a change
  # in the shared library (src/) would reuse a stale binary; cargo's own
  # incremental build in the shared target directory is what saves the time.
  # Not --parallel: concurrent cargo lambda builds race on zig's cc wrapper
  # ("Failed to collect `zig cc` options: Text file busy", seen with five
  # functions), and they wait on the one target directory's lock anyway.
  start=$SECONDS
  step "sam build" sam build --template-file "$TEMPLATE" --build-dir "$BUILD_DIR" --no-cached
  echo "sam build took $((SECONDS - start)) s"
  step "aarch64 artifacts" check_artifacts
fi

echo
if ((${#failed[@]})); then
  printf 'check-template: FAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
echo "check-template: all checks passed"
