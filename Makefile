# The two commands: `make demo` and `make test`. Both create .venv from the lock file first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements.lock)
STAMP := $(VENV)/.installed

.PHONY: demo test lab lock bench lint clean

# Libraries are byte-compiled at install: where PYTHONDONTWRITEBYTECODE=1 (CI images often
# set it) every start would otherwise compile them from source (CLI start-up 1.2 s, not 0.6 s).
$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found; install Python 3.11 and retry"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Three workers on CI's two cores: much of the suite waits on real servers, browsers and scaled
# clocks rather than computing, so a third worker overlaps those waits (one measured run: 20.7 min
# for the suite with -n 3 on a busy machine, against 27.5 min with -n 2 on CI for a smaller suite).
test: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadgroup

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name quantdesk --display-name "quantdesk (.venv)"
	$(BIN)/jupyter lab --notebook-dir=research

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --no-annotate -o requirements.lock

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b; done

lint: $(STAMP)
	$(BIN)/ruff check platform tests flows dashboards bench

clean:
	rm -rf $(VENV)
