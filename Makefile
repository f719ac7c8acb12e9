# Shortpay: `make run` and `make test` are the two front-door commands.
# Both create .venv/ from requirements.lock on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INBOX ?= data/sample
WAREHOUSE ?= data/warehouse.duckdb
# pytest-xdist workers for `make test`; 0 runs the tests in one process.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help

.PHONY: help setup run test lint bench sample lock rules-editor notebook clean

help:  ## Show this help
	@echo "Shortpay make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv and install the locked dependencies

run: $(STAMP)  ## Run the main job on the bundled sample data
	$(BIN)/shortpay run --inbox $(INBOX) --warehouse $(WAREHOUSE)

test: $(STAMP) lint  ## Lint, then run the test suite
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP)  ## Run ruff on the Python code and sqlfluff on the dbt models
	$(BIN)/ruff check shortpay flows tests
	SHORTPAY_WORK_DB=$(CURDIR)/dbt_project/target/lint.duckdb \
		$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests

bench: $(STAMP)  ## Run the benchmark (INVOICES=N PROFILE=clean|typical|hostile)
	$(BIN)/shortpay bench --invoices $${INVOICES:-100000} --profile $${PROFILE:-typical} --json

sample: $(STAMP)  ## Regenerate the bundled sample data in data/sample
	$(BIN)/shortpay generate --out data/sample --invoices 2000 --customers 50 --seed 7 --profile sample

rules-editor: $(STAMP)  ## Open the rules editor on http://127.0.0.1:8765
	$(BIN)/shortpay rules edit --rules rules

notebook: $(STAMP)  ## Open the notebooks in JupyterLab on http://127.0.0.1:8888
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-notebook.lock
	$(BIN)/jupyter lab --no-browser --ip 127.0.0.1 --port $${PORT:-8888} --notebook-dir notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

lock:  ## Re-pin requirements.lock and requirements-notebook.lock
	$(BIN)/uv pip compile --quiet requirements.in -p 3.11 -o requirements.lock
	$(BIN)/uv pip compile --quiet requirements-notebook.in -p 3.11 -o requirements-notebook.lock

clean:  ## Remove the virtual environment and built warehouses
	rm -rf $(VENV) data/warehouse.duckdb data/.shortpay dbt_project/target dbt_project/logs
