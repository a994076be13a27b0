# The two commands for newcomers: `make run` and `make test`. Every target builds what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLI    := $(BIN)/support-agent

.PHONY: run test index models install lint serve clean-index

run: index
	$(CLI) serve

test: models
	$(BIN)/python -m pytest

index: models
	$(CLI) index

# Idempotent: checks each model's SHA-256 and fetches only what is missing or corrupt.
models: $(STAMP)
	$(CLI) models fetch

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check agent ui tests
	$(BIN)/ruff format --check agent ui tests

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: the CPU build is on this machine; anything else pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@
