# One entry point for setting up, running and checking the project.
# `make demo` and `make test` do all the set-up they need on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test check fmt lint types bench clean

install: $(STAMP)

# Re-install when the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/ems demo

test: install
	$(BIN)/python -m pytest

fmt: install
	$(BIN)/ruff format src tests bench

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

types: install
	$(BIN)/mypy

check: lint types test

bench: install
	$(BIN)/python bench/dal.py
	$(BIN)/python bench/cycle_jitter.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
