# Predis: `make demo` and `make test` are all a new user needs; both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint protos bench up clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m predis.services.precompile
	touch $(STAMP)

demo: install
	$(VENV)/bin/predis demo

test: lint
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/mypy sdk/*.py services plugins

protos: install
	$(PY) -m predis.codegen

# Needs redis-server and redis-benchmark on PATH (Debian: apt-get install redis-server).
bench: install
	$(VENV)/bin/predis bench engine
	$(VENV)/bin/predis bench wire
	$(VENV)/bin/predis bench predictor
	$(VENV)/bin/predis bench throughput --vs-redis

up: install
	$(VENV)/bin/predis up

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
