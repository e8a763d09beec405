# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BENCH_VENV ?= .venv-bench
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/loopml demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

$(BENCH_VENV)/.installed: pyproject.toml bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e . -r bench/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/tracking.py
	$(BENCH_VENV)/bin/python bench/metric_volume.py
	$(BENCH_VENV)/bin/python bench/pipelines.py
	$(BENCH_VENV)/bin/python bench/drift.py
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BENCH_VENV)/bin/python bench/serving.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .loopml bench/work
