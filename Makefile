# tote-realtime — everything a developer or CI does goes through here.
#   make run    install what is missing, then start the whole local system
#   make test   install what is missing, then lint and run the whole test suite
#   make bench  the benchmarks (throughput, latency percentiles)
# Each section below belongs to one part of the system.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BQVENV := .bqvenv
RUN_DIR := .run

.PHONY: install run test lint fmt bench system-deps clean

# --- install ------------------------------------------------------------------------------------
$(VENV)/.installed: setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# The BigQuery emulator needs its own virtualenv: its grpcio/protobuf pins clash with Beam's.
$(BQVENV)/.installed: devstack/bqemulator-requirements.txt
	@test -x $(BQVENV)/bin/python || $(PYTHON) -m venv $(BQVENV)
	$(BQVENV)/bin/python -m pip install -q --upgrade pip
	$(BQVENV)/bin/python -m pip install -q -r devstack/bqemulator-requirements.txt
	@touch $@

install: $(VENV)/.installed $(BQVENV)/.installed

# System packages (Java + Pub/Sub emulator come with the machine image; Chromium for the
# dashboard's browser test). Installs only what is missing, only when it can (root + apt).
system-deps:
	@bash devstack/system-deps.sh

# --- quality --------------------------------------------------------------------------------------
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# --- local system ---------------------------------------------------------------------------------
run: install
	$(PY) -m devstack.run

# --- benchmarks -----------------------------------------------------------------------------------
bench: install
	$(PY) -m benchmarks

# --- pipeline -------------------------------------------------------------------------------------

# --- connector ------------------------------------------------------------------------------------

# --- webapp ---------------------------------------------------------------------------------------

# --- deploy (Terraform, Dataflow flex template, images) -------------------------------------------

clean:
	rm -rf $(VENV) $(BQVENV) $(RUN_DIR) *.egg-info
