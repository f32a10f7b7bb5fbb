# make demo: run the bundled example in a fresh temporary repo.  make test: lint, type check and the whole suite.
# make test-fast: the unit-level tests only (no end-to-end), for the edit-test loop.
# Both create .venv on first use and install gittrack with its dev tools into it.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "gittrack needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check gittrack tests benchmarks examples
	$(BIN)/ruff format --check gittrack tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

format: $(STAMP)
	$(BIN)/ruff format gittrack tests benchmarks examples
	$(BIN)/ruff check --fix gittrack tests benchmarks examples

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tracking.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_artifacts.py
	$(BIN)/python benchmarks/bench_sharing.py
	$(BIN)/python benchmarks/bench_registry.py
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_ui.py
	$(BIN)/python benchmarks/bench_system_metrics.py
	$(BIN)/python benchmarks/bench_mlflow.py
	$(BIN)/python benchmarks/bench_migrate.py --runs 1000
	$(BIN)/python benchmarks/bench_mlflow_ui.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
