# Two commands do everything on a fresh machine: `make audit` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE_AS_OF := 2026-11-20
OUT    ?= reports

.PHONY: audit test lint typecheck bench sample clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

audit: $(STAMP)
	$(BIN)/account-audit run --config data/sample/audit.toml --as-of $(SAMPLE_AS_OF) --out $(OUT) --quiet
	@echo "Digest: $(OUT)/$(SAMPLE_AS_OF)/digest.html"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check audit tests $(wildcard bench)
	$(BIN)/ruff format --check audit tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

# bench_ingest.py and bench_audit.py share 1M accounts / 5M events, generated once into .bench/ (~4 GB):
# the Mailgun load against a bare DuckDB read_json of the same files (target: ratio <= 2.0), then the
# full run against a bare scan; BENCH_ARGS passes options to bench_audit.py, e.g. BENCH_ARGS=--scaling.
bench: $(STAMP)
	$(BIN)/python bench/bench_matching.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_audit.py $(BENCH_ARGS)

sample: $(STAMP)
	$(BIN)/account-audit sample --out data/sample --as-of $(SAMPLE_AS_OF)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache build dist
