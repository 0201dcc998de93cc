# firehose-enricher: every day-to-day command. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
EVENT ?= events/page-views.json
EVENTS ?= events/

.PHONY: help run test lint core unit bench bench-cold bench-collector bench-instructions venv demo demo-parquet demo-test schema install docs-numbers moto-tools moto-test browser-test serve
.PHONY: dashboard dashboard-test sessions-view browser-tools

help: ## List the targets
	@grep -hE '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{n = split($$1, t, " "); for (i = 1; i <= n; i++) printf "  make %-12s %s\n", t[i], $$2}'

run: ## Build the CLI and run it on a sample event, printing the decoded result
	$(CARGO) run -- invoke --decode $(EVENT)

test: lint core unit demo-test moto-test dashboard-test browser-test ## Every test: format, lints, the core alone, unit, integration, property and doc tests

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

# The core without the `lambda` feature (no Lambda runtime, tokio or AWS
# SDK): the library, the benches and the examples must build; tests/layers.rs
# checks that it pulls in none of those crates.
core: ## Check that the core builds without the Lambda adapter (--no-default-features)
	$(CARGO) check --lib --benches --examples --no-default-features

unit: ## cargo test: unit, integration, property and doc tests, and the vendored regex-filtered's own
	$(CARGO) test --all-targets
	$(CARGO) test --doc
	$(CARGO) test -p regex-filtered --lib

# The repo-local Python environment. Each tool set adds its own requirements
# file and stamp target on top of this one.
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --upgrade pip

venv: $(VENV_PY) ## Create the repo-local Python virtualenv (.venv)

# ---- local pipeline: replay into a folder, query it with DuckDB
# The demo shows every panel: the default enrichers plus `consent` (the
# demo's events carry no consent string, so their status is `missing`).
DEMO_ENRICHMENTS ?= referrer,campaign,fingerprint,user_agent,geo,consent
$(VENV)/.demo-stamp: tools/requirements-demo.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-demo.txt
	touch $@

demo: $(VENV)/.demo-stamp ## Sample events -> replay into demo-s3/ -> the queries/ in DuckDB
	rm -rf demo-input demo-s3
	$(CARGO) run --example gen_events -- demo-input
	ENRICHMENTS=$(DEMO_ENRICHMENTS) $(CARGO) run -- replay --input demo-input --out demo-s3
	$(VENV_PY) tools/athena_local.py --data demo-s3 queries/[0-9]*.sql

# Parquet mode: the function's COLUMNS are the schema of events/, as the
# template's generated block holds them.
demo-parquet: $(VENV)/.demo-stamp ## make demo in Parquet mode: replay with COLUMNS, convert as Firehose would into demo-s3-parquet/, the queries/ over it
	rm -rf demo-input demo-s3-json demo-s3-parquet
	$(CARGO) run --quiet --example gen_events -- demo-input
	COLUMNS="$$($(CARGO) run --quiet -- schema events/ 2>/dev/null)" \
	  $(CARGO) run --quiet -- replay --input demo-input --out demo-s3-json
	$(VENV_PY) tools/athena_local.py --data demo-s3-json --to-parquet demo-s3-parquet
	$(VENV_PY) tools/athena_local.py --data demo-s3-parquet queries/[0-9]*.sql

DEMO_TEST_INPUT := target/demo-test-input

demo-test: $(VENV)/.demo-stamp ## The DuckDB tests: queries over a replayed folder, Parquet preview, schema against DuckDB's
	rm -rf $(DEMO_TEST_INPUT)
	$(CARGO) run --quiet --example gen_events -- $(DEMO_TEST_INPUT)
	DEMO_PYTHON=$(abspath $(VENV_PY)) DEMO_INPUT=$(abspath $(DEMO_TEST_INPUT)) \
	  $(CARGO) test --test replay_duckdb -- --ignored

schema: ## Infer the columns of EVENTS (default events/) and rewrite template.yaml's generated blocks
	$(CARGO) run --quiet -- schema $(EVENTS) --write-template template.yaml

# ---- moto: a local Firehose and S3 for the re-ingestion and redrive tests
$(VENV)/.moto-stamp: tools/requirements-moto.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-moto.txt
	touch $@

moto-tools: $(VENV)/.moto-stamp ## Install the pinned moto server into .venv

# The tests start moto_server on 127.0.0.1 themselves and give the SDK test
# credentials and that endpoint; nothing leaves the machine.
moto-test: $(VENV)/.moto-stamp ## Re-ingestion, redrive and the Lambda collector against moto's Firehose and S3
	MOTO_SERVER=$(abspath $(VENV)/bin/moto_server) AWS_EC2_METADATA_DISABLED=true \
	  $(CARGO) test --test reingest --test collector_lambda -- --ignored

# ---- the collector in a browser: headless Chromium from Debian
CHROMIUM ?= /usr/bin/chromium

browser-tools: ## Install Debian's chromium (apt-get) when $(CHROMIUM) is missing
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

# The tracker in headless Chromium against `serve`: the page view arrives
# in serve's output, enriched. Host names map to 127.0.0.1 in the browser.
browser-test: browser-tools ## The tracker in headless Chromium, through serve, into its output
	CHROMIUM=$(CHROMIUM) $(CARGO) test --test browser -- --ignored --test-threads=1

serve: ## The collector on http://127.0.0.1:8080 (POST /collect, GET /tracker.js), writing into serve-s3/
	$(CARGO) run -- serve --listen 127.0.0.1:8080 --out serve-s3

install: ## Install the firehose-enricher command into ~/.cargo/bin (cargo install --path .)
	$(CARGO) install --locked --path .

docs-numbers: $(VENV)/.demo-stamp ## Run make demo, sizing and make bench, and write their numbers into docs/
	MAKE="$(MAKE)" CARGO=$(CARGO) tools/docs_numbers.sh

bench: $(VENV)/.demo-stamp ## Benchmarks: ours (release) against the Node.js blueprint peer on the same generated batch, and replay against DuckDB
	CARGO=$(CARGO) PYTHON=$(VENV_PY) tools/bench/run.sh

bench-cold: ## The cold start alone (part of make bench): init + first invocation against warm, peak RSS, billed ms
	$(CARGO) build --release --quiet --bin firehose-enricher --example gen_batch
	dir=$${CARGO_TARGET_DIR:-target}; \
	  [ -f target/bench-data/realistic.json ] || $$dir/release/examples/gen_batch target/bench-data; \
	  tools/bench/cold.sh $$dir/release/firehose-enricher target/bench-data

bench-collector: ## The collector's benchmarks alone: serve under 8 clients (events/s, p99, nothing lost) and a Lambda collector invocation's CPU
	CARGO=$(CARGO) tools/bench/collector.sh

bench-instructions: ## Instructions per record under callgrind (default ENRICHMENTS, none, bench --floor); needs valgrind
	CARGO=$(CARGO) tools/bench/callgrind.sh

# ---- dashboards: one self-contained HTML page from queries/dashboard/
# Locally DuckDB over DATA (default the demo's folder; serve's and replay's
# output work too); with STACK (or WORKGROUP and DATABASE) Athena over the
# deployed tables, with the standard AWS credential chain.
DATA ?= demo-s3
OUT ?= dashboard.html
DASHBOARD_ARGS ?=
$(VENV)/.dashboard-stamp: tools/requirements-dashboard.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-dashboard.txt
	touch $@

$(VENV)/.dashboard-test-stamp: tools/requirements-dashboard-test.txt tools/requirements-dashboard.txt tools/requirements-moto.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-dashboard-test.txt
	touch $@

dashboard: $(VENV)/.dashboard-stamp ## Write OUT (dashboard.html): DuckDB over DATA (demo-s3), or Athena with STACK=name
	$(VENV_PY) tools/dashboard.py --out $(OUT) \
	  $(if $(STACK),--stack $(STACK),$(if $(WORKGROUP),--workgroup $(WORKGROUP) --database $(DATABASE),--data $(DATA))) \
	  $(DASHBOARD_ARGS)

sessions-view: $(VENV)/.dashboard-stamp ## Rewrite queries/sessions_view.athena.sql from queries/dashboard/sessions.sql
	$(VENV_PY) tools/dashboard.py --sessions-view --sites "$(DEMO_SITES)" > queries/sessions_view.athena.sql

DEMO_SITES := alice.github.io,bbc.co.uk,example.com,example.com.au,unknown,www.gov.uk,xn--mnchen-3ya.de

DASHBOARD_TEST_INPUT := target/dashboard-test-input
DASHBOARD_TEST_DATA := target/dashboard-test-s3

dashboard-test: $(VENV)/.dashboard-test-stamp browser-tools ## The dashboard: sessions on a hand-computed fixture, the demo page in headless Chromium, Athena mode against moto
	rm -rf $(DASHBOARD_TEST_INPUT) $(DASHBOARD_TEST_DATA)
	$(CARGO) run --quiet --example gen_events -- $(DASHBOARD_TEST_INPUT) >/dev/null
	ENRICHMENTS=$(DEMO_ENRICHMENTS) $(CARGO) run --quiet -- replay --input $(DASHBOARD_TEST_INPUT) --out $(DASHBOARD_TEST_DATA) >/dev/null
	DASHBOARD_DATA=$(abspath $(DASHBOARD_TEST_DATA)) MOTO_SERVER=$(abspath $(VENV)/bin/moto_server) \
	  AWS_EC2_METADATA_DISABLED=true $(VENV_PY) -m pytest -q tools/tests

# --- SAM: build, validate and deploy template.yaml ---------------------------
# Pinned tools go into .venv once; a stamp reinstalls them when their
# requirements change. Two sets, so that linting the template does not
# download a cross-compiler: tools/requirements-sam.txt (the SAM CLI and
# cfn-lint) for validate, and tools/requirements-lambda.txt (cargo-lambda,
# which brings zig, about 410 MB) for building and running the function.
SAM_STAMP := $(VENV)/.sam-tools.stamp
LAMBDA_STAMP := $(VENV)/.lambda-tools.stamp
ARCH ?= arm64
REGION ?= eu-central-1
# The venv's bin first: cargo finds the `cargo lambda` subcommand there, and
# cargo-lambda finds zig, its cross-linker.
SAM_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0

$(SAM_STAMP): tools/requirements-sam.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-sam.txt
	touch $@

$(LAMBDA_STAMP): tools/requirements-lambda.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r tools/requirements-lambda.txt
	touch $@

.PHONY: sam-tools build validate sam-build deploy deploy-ci smoke cost watch watch-test invoke-local

sam-tools: $(SAM_STAMP) $(LAMBDA_STAMP) ## Install the pinned SAM CLI, cfn-lint and cargo-lambda into .venv

# cargo-lambda adds the Rust target it cross-compiles for to the user's
# toolchain when it is missing; say so first rather than change it silently.
LAMBDA_TARGET = $(if $(filter x86_64,$(ARCH)),x86_64,aarch64)-unknown-linux-gnu
build: $(LAMBDA_STAMP) ## Build the Lambda artifact with cargo-lambda (ARCH=arm64 or x86_64)
	@if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx '$(LAMBDA_TARGET)'; then \
	  echo "make build: adding the Rust target $(LAMBDA_TARGET) to your toolchain (rustup target add)"; \
	fi
	$(SAM_ENV) $(CARGO) lambda build --release $(if $(filter x86_64,$(ARCH)),--x86-64,--arm64)

validate: $(SAM_STAMP) ## Check template.yaml offline: cfn-lint and sam validate --lint
	$(SAM_ENV) cfn-lint template.yaml
	$(SAM_ENV) sam validate --lint --region $(REGION)

# The parameter overrides samconfig.toml holds, passed to `sam build` and
# `sam deploy` alike: the builder picks the binary's architecture from the
# template's parameters, so both must see the same (tools/sam_overrides.py).
# Architecture is always among them (samconfig's, else ARCH). $(shell)
# ignores a failing command, so a failure is turned into a make error here
# rather than a build and deploy without overrides.
SAM_OVERRIDES = $(shell $(PYTHON) tools/sam_overrides.py --default-architecture $(ARCH) || echo SAM_OVERRIDES_FAILED)
SAM_PARAMS = $(if $(filter SAM_OVERRIDES_FAILED,$(SAM_OVERRIDES)),$(error tools/sam_overrides.py failed (see above): not building or deploying without samconfig.toml's parameters),--parameter-overrides $(SAM_OVERRIDES))
# Where `make smoke` finds the stack: samconfig.toml's, or REGION.
STACK_NAME = $(shell $(PYTHON) tools/sam_overrides.py --get stack_name)
DEPLOYED_REGION = $(or $(shell $(PYTHON) tools/sam_overrides.py --get region),$(REGION))
SMOKE_EVENT := events/minimal.json
SMOKE_OUT := .aws-sam/smoke-response.json

sam-build: $(SAM_STAMP) $(LAMBDA_STAMP) ## sam build: the function's bootstrap into .aws-sam/build
	$(SAM_ENV) sam build $(SAM_PARAMS)

# cargo lambda watch serves the function on 127.0.0.1:9000 and rebuilds it on
# every change. It runs in the foreground, in make's process group, so Ctrl-C
# reaches it, and cargo-lambda then stops the function it started in a
# session of its own: nothing is left holding the port. Re-ingestion is off:
# a local loop never calls AWS, and overflow fails as `invoke` shows it.
watch: $(LAMBDA_STAMP) ## Run the function behind a local Lambda Runtime API on 127.0.0.1:9000 (cargo lambda watch)
	$(SAM_ENV) $(CARGO) lambda watch --invoke-address 127.0.0.1 --invoke-port 9000 \
	  --env-var REINGEST_OVERFLOW=off

watch-test: $(LAMBDA_STAMP) ## make watch + make invoke-local end to end, then Ctrl-C leaves nothing on port 9000
	MAKE="$(MAKE) VENV=$(VENV)" tools/watch_test.sh

invoke-local: $(LAMBDA_STAMP) ## Send EVENT (default events/page-views.json) to the function `make watch` runs
	$(SAM_ENV) $(CARGO) lambda invoke firehose-enricher --invoke-address 127.0.0.1 --invoke-port 9000 --data-file $(EVENT)

# The first time, `sam deploy --guided` asks for the parameters after the
# build; if its answers change what is built (Architecture), the second
# round rebuilds with them and deploys again.
deploy: sam-build ## sam build, sam deploy, then the smoke invoke; guided until samconfig.toml holds a region
	@if grep -qE '^region *=' samconfig.toml; then \
	  $(SAM_ENV) sam deploy $(SAM_PARAMS) && $(MAKE) --no-print-directory smoke; \
	else \
	  $(SAM_ENV) sam deploy --guided $(SAM_PARAMS) && $(MAKE) --no-print-directory deploy; \
	fi

deploy-ci: sam-build ## sam deploy without questions (CI): REGION, overrides from samconfig.toml; then the smoke invoke
	$(SAM_ENV) sam deploy $(SAM_PARAMS) --region $(REGION) --no-confirm-changeset \
	  --no-fail-on-empty-changeset --no-progressbar
	$(MAKE) --no-print-directory smoke DEPLOYED_REGION=$(REGION)

# The monthly bill at list prices (data/aws-prices.json), e.g.
# make cost COST_ARGS="--events 100000000 --layout Date --region eu-west-1".
COST_ARGS ?=
cost: ## The stack's monthly bill by service for a traffic (COST_ARGS, see `firehose-enricher cost --help`)
	$(CARGO) run --quiet -- cost $(COST_ARGS)

# A green deploy can still fail every invocation (a binary for the wrong
# architecture, a value the function rejects at init): invoke the deployed
# function with one event and fail unless every record comes back Ok.
smoke: $(SAM_STAMP) ## Invoke the deployed function with events/minimal.json; fails unless every record is Ok
	@mkdir -p $(dir $(SMOKE_OUT))
	$(SAM_ENV) sam remote invoke EnricherFunction --stack-name $(STACK_NAME) \
	  --region $(DEPLOYED_REGION) --event-file $(SMOKE_EVENT) --output json > $(SMOKE_OUT)
	$(PYTHON) tools/smoke_check.py $(SMOKE_EVENT) $(SMOKE_OUT)

# --- Fuzzing: cargo-fuzz targets in fuzz/ (not part of `test`, nor of CI) -----
# cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 allows them on stable.
FUZZ_RUNS ?= 10000000
FUZZ := cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz

.PHONY: fuzz fuzz-record fuzz-batch fuzz-collector fuzz-consent fuzz-tools

fuzz-tools: ## Install cargo-fuzz (once)
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz

fuzz: fuzz-record fuzz-batch fuzz-collector fuzz-consent ## Fuzz every target, FUZZ_RUNS executions each (default 10M), seeded from events/

fuzz-record fuzz-batch fuzz-collector: fuzz-%: fuzz-tools ## Fuzz one target (record: one record's transform; batch: a whole request; collector: a POST /collect body)
	$(PYTHON) fuzz/seed_corpus.py
	$(FUZZ) run -O $* corpus/$* -- -dict=json.dict -runs=$(FUZZ_RUNS) -print_final_stats=1

fuzz-consent: fuzz-tools ## Fuzz the consent string decoder (TC and GPP strings), FUZZ_RUNS executions
	$(FUZZ) run -O consent corpus/consent -- -runs=$(FUZZ_RUNS) -print_final_stats=1
