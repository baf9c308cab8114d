# Two commands: `make quickstart` (set up .venv, run the quickstart notebook headless)
# and `make test` (lint, type-check, whole test suite). Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup quickstart test lint benchmark screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,team,shared]'
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/python notebooks/run_notebook.py notebooks/quickstart.ipynb

lint: $(STAMP)
	$(BIN)/ruff check kirin_jupyter tests notebooks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# The browser tests, keeping their screenshots in docs/screenshots (shown in the README).
screenshots: $(STAMP)
	KIRIN_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest tests/browser

benchmark: $(STAMP)
	$(BIN)/python tests/benchmark.py

clean:
	rm -rf $(VENV) notebooks/executed notebooks/kirin_outputs notebooks/reference_images
