# psc-bridge developer and CI commands.
#
#   make test        everything: tools, unit + integration tests against
#                    DynamoDB Local and moto, doc tests, template checks
#   make bootstrap   install the tools into .local/ (no-op when up to date)
#   make fmt-check   rustfmt check
#   make clippy      lints, warnings are errors

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

# Project tools (sam, cfn-lint, checkov, cargo-lambda, zig) first on PATH.
export PATH := $(CURDIR)/.local/venv/bin:$(PATH)

NEXTEST_PROFILE := $(if $(filter true,$(CI)),--profile ci,)
# Narrow a local run, e.g. `make test SCOPE="-p devkit"`; CI runs it all.
SCOPE ?= --workspace

.PHONY: bootstrap test fmt-check clippy

bootstrap:
	@scripts/bootstrap.sh

test: bootstrap
	scripts/with-emulators.sh cargo nextest run $(SCOPE) --no-fail-fast $(NEXTEST_PROFILE)
	cargo test --doc $(SCOPE)
	@if [[ -x scripts/check-template.sh ]]; then \
	  echo "scripts/check-template.sh"; scripts/check-template.sh; \
	else \
	  echo "make: scripts/check-template.sh not present yet, skipped"; \
	fi

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings
