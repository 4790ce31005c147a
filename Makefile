# Keyhold's everyday commands. `make run` starts the local demo, `make test` checks
# everything CI checks. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Rewritten whenever the requirements change, so an unchanged set installs nothing.
STAMP := $(VENV)/.requirements-installed

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# This machine's pip configuration names local package folders that do not exist;
# pip warns once per package about each of them.
PIP_NOISE := is ignored: it is neither a file nor a directory

.PHONY: help install run migrate seed test lint fmt clean clean-data

help:
	@echo "make run         start the local demo at http://127.0.0.1:8000 (Ctrl-C stops it)"
	@echo "make test        lint, format check and the test suite, as CI runs them"
	@echo "make install     create .venv and install requirements-dev.txt"
	@echo "make lint        ruff check and ruff format --check"
	@echo "make fmt         apply ruff's fixes and formatting"
	@echo "make clean       remove .venv and caches (data/ is kept)"
	@echo "make clean-data  remove data/: the local database, broker folders and keys"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "Installing requirements-dev.txt into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $@

install: $(STAMP)

# The local demo runs with DEBUG on unless the caller's environment says otherwise.
run migrate seed: export DEBUG ?= true

migrate: install
	$(BIN)/python manage.py migrate --no-input

seed: migrate
	@$(BIN)/python manage.py seed_demo

run: seed
	@scripts/run-local

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-results
	find . -name __pycache__ -type d -not -path "./data/*" -prune -exec rm -rf {} +

clean-data:
	rm -rf data
