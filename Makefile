# psc-bridge developer and CI commands.
#
#   make test        everything: tools, unit + integration tests against
#                    DynamoDB Local and moto, doc tests, template checks, and
#                    the local run's smoke test (make local-smoke)
#   make bootstrap   install every tool into .local/ (no-op when up to date);
#                    make local installs only its own (scripts/bootstrap.sh local)
#   make fmt-check   rustfmt check
#   make clippy      lints, warnings are errors
#   make fuzz        the cargo-fuzz targets (nightly), FUZZ_SECONDS each
#                    (default 60); not in make test (docs/reliability.md)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

# Project tools (sam, cfn-lint, checkov, cargo-lambda, zig) first on PATH.
export PATH := $(CURDIR)/.local/venv/bin:$(PATH)

NEXTEST_PROFILE := $(if $(filter true,$(CI)),--profile ci,)
# Runs a command with DynamoDB Local and moto started once for all of it
# (devkit's with-emulators binary; see tools/devkit/src/bin/with-emulators.rs).
# `--bin` without `-p`, as for psc-local below: the default members are
# selected, so it shares its dependencies' build artifacts with make local.
WITH_EMULATORS := cargo run -q --bin with-emulators --
# Narrow a local run, e.g. `make test SCOPE="-p devkit"`; CI runs it all.
SCOPE ?= --workspace

.PHONY: bootstrap test fmt-check clippy

bootstrap:
	@bash scripts/bootstrap.sh all

# scripts/check-template.sh runs with bash, not by its run bit: a missing or
# non-executable script fails `make test` instead of being skipped.
test: bootstrap
	$(WITH_EMULATORS) cargo nextest run $(SCOPE) --no-fail-fast $(NEXTEST_PROFILE)
	cargo test --doc $(SCOPE)
	bash scripts/check-template.sh
	@if [[ "$(SCOPE)" == "--workspace" ]]; then $(MAKE) --no-print-directory local-smoke; fi

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# Every fuzz target of fuzz/ for FUZZ_SECONDS each, one after the other;
# narrow with FUZZ_TARGETS="export_csv feed_csv". Needs the nightly
# toolchain; installs cargo-fuzz if missing (scripts/fuzz.sh). CI replays
# the committed corpora on stable instead (tools/fuzz-checks).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: fuzz
fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---------------------------------------------------------------------------
# The whole pipeline on this machine, no AWS account (tools/local-run):
#
#   make local         install its tools if needed (scripts/bootstrap.sh local:
#                      moto, cargo-lambda, DynamoDB Local), start DynamoDB Local, moto and the
#                      AWS stand-in, serve the real functions with cargo lambda
#                      watch, run one export end to end, print the summary and
#                      example queries, then serve until Ctrl-C
#   make local-smoke   the same, non-interactive: exits after the summary and
#                      fails unless the example queries answer as expected;
#                      then runs psc-local again and stops it with SIGINT,
#                      as Ctrl-C would, and fails unless it exits 0 leaving
#                      no process behind (local-ctrl-c-check, tools/local-run) (CI)
#
# Options: make local LOCAL_ARGS="--port 9100 --full-resync" (psc-local --help).
#
# One build: `cargo build --bins` builds psc-local, the functions, the
# stand-in, psc and the checks in one cargo invocation (cargo schedules all
# of it at once on every core); psc-local's own `cargo build` of what it
# serves and the `cargo run --bin <function>` of cargo lambda watch then
# find every unit fresh. No `-p`: the workspace's default members are
# selected, as for those, so they all share the same build artifacts.
LOCAL_ARGS ?=

.PHONY: local local-smoke local-build

local-build:
	cargo build --bins

local: local-build
	cargo run -q --bin psc-local -- $(LOCAL_ARGS)

local-smoke: local-build
	cargo run -q --bin psc-local -- --exit-after-summary $(LOCAL_ARGS)
	cargo run -q --bin local-ctrl-c-check -- $(LOCAL_ARGS)
