# firehose-enricher: every day-to-day command. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
EVENT ?= events/page-views.json

.PHONY: help run test lint unit

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## Build the CLI and run it on a sample event, printing the decoded result
	$(CARGO) run --quiet -- invoke --decode $(EVENT)

test: lint unit ## Every test: format, lints, unit, integration, property and doc tests

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

unit: ## cargo test: unit, integration, property and doc tests
	$(CARGO) test --all-targets
	$(CARGO) test --doc

# The repo-local Python environment. Each tool set adds its own requirements
# file and stamp target on top of this one.
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --upgrade pip

venv: $(VENV_PY) ## Create the repo-local Python virtualenv (.venv)
