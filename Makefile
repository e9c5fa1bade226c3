# Two commands for a fresh clone: `make run` and `make test`. Each bootstraps uv when it is missing,
# syncs .venv exactly from uv.lock, then runs.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := core security fieldwork checkin biometrics compliance api

.PHONY: run test lint format bench setup clean help faces

help:
	@echo "make run    serve the API on http://127.0.0.1:8000 with SQLite and demo data"
	@echo "make test   lint and run every test"
	@echo "make bench  run the benchmarks and write bench/results/"

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --quiet
	@touch $@

setup: $(VENV)/.synced

run: setup
	@mkdir -p var
	$(BIN)/emon db upgrade
	$(BIN)/emon demo seed
	$(BIN)/emon serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/bandit --quiet --severity-level high --confidence-level medium -r $(PACKAGES)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The face photos the tests use: ../shared/faces when present, else face_recognition's own test images (fetched once).
faces: setup
	@$(BIN)/python scripts/fetch_test_faces.py --if-missing

test: lint faces
	$(BIN)/pytest -q -n 2

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .uv var .pytest_cache .ruff_cache
