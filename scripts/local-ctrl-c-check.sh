#!/usr/bin/env bash
# The Ctrl-C half of `make local-smoke`: runs psc-local the way `make local`
# does (serving until interrupted), waits until it serves, asks the API one
# question while it serves, then sends SIGINT as a terminal's Ctrl-C would
# (psc-local's children lead their own process groups, so the terminal's
# Ctrl-C reaches psc-local alone, as here). Fails unless psc-local exits 0
# within 60 s, reports that it left no process behind, and no process it
# started (emulators, the CAS stand-in, cargo lambda watch, the functions)
# is still alive.
#
#   scripts/local-ctrl-c-check.sh [psc-local options, e.g. --port 9100]
#
# Expects the tools in .local/ (make bootstrap); builds psc-local if needed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.local/venv/bin:$PATH"
# Cargo's target directory, as psc-local and devkit find it.
TARGET="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET" == /* ]] || TARGET="$ROOT/$TARGET"
LOG="$TARGET/local-run/ctrl-c-check.log"
SERVE_TIMEOUT="${SERVE_TIMEOUT:-900}"

say() { printf 'local-ctrl-c-check: %s\n' "$*"; }
fail() {
  say "FAILED: $*" >&2
  say "last lines of $LOG:" >&2
  tail -n 40 "$LOG" >&2 || true
  exit 1
}

# Every descendant of a pid (psc-local is a subreaper: orphans come back to it).
descendants() {
  local kids
  kids="$(ps -o pid= --ppid "$1" 2>/dev/null || true)"
  for k in $kids; do
    echo "$k"
    descendants "$k"
  done
}

cargo build --quiet --bin psc-local
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
# Job control on: the background job keeps SIGINT's default disposition (a
# non-interactive shell would start it with SIGINT ignored).
set -m
"$TARGET/debug/psc-local" "$@" >"$LOG" 2>&1 &
pid=$!
set +m
trap 'kill -INT "$pid" 2>/dev/null || true' EXIT

start=$SECONDS
until grep -q 'Ctrl-C stops everything' "$LOG"; do
  kill -0 "$pid" 2>/dev/null || fail "psc-local exited before serving"
  (( SECONDS - start < SERVE_TIMEOUT )) || fail "not serving after ${SERVE_TIMEOUT}s"
  sleep 1
done
say "serving after $((SECONDS - start))s"

base="$(grep -o "http://127.0.0.1:[0-9]*/lambda-url/eligibility-api" "$LOG" | head -n 1)"
[[ -n "$base" ]] || fail "no API address in the output"
answer="$(curl -sf "$base/accounts/000011112222")" || fail "GET $base/accounts/000011112222 failed while serving"
grep -q '"eligible": *true' <<<"$answer" || fail "account 000011112222 is not eligible while serving"
say "GET /accounts/000011112222 while serving: eligible"

children="$(descendants "$pid" | sort -n | tr '\n' ' ')"
[[ -n "$children" ]] || fail "psc-local has no child processes while serving"
say "psc-local $pid serves with $(wc -w <<<"$children") descendant processes; sending SIGINT"

kill -INT "$pid"
status=0
start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  (( SECONDS - start < 60 )) || { kill -KILL "$pid"; fail "still running 60s after SIGINT"; }
  sleep 0.5
done
wait "$pid" || status=$?
trap - EXIT
say "psc-local exited with status $status after $((SECONDS - start))s"

(( status == 0 )) || fail "exit status $status after SIGINT, want 0"
grep -q 'SIGINT: shutting down' "$LOG" || fail "no 'SIGINT: shutting down' line"
grep -q 'no process left behind' "$LOG" || fail "psc-local did not report 'no process left behind'"
left=""
for p in $children; do
  if kill -0 "$p" 2>/dev/null; then
    left+=" $p($(ps -o comm= -p "$p" 2>/dev/null || echo '?'))"
  fi
done
[[ -z "$left" ]] || fail "still alive after the shutdown:$left"
say "OK: Ctrl-C stopped psc-local and all $(wc -w <<<"$children") processes it had started"
