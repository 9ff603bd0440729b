# Cairn: `make run` and `make test` are the whole quick start (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench screenshots install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/cairn

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python tests/benchmarks/bench_space.py $(BENCH_ARGS)
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/benchmarks/bench_ui.py $(BENCH_UI_ARGS)
	$(BIN)/python tests/benchmarks/bench_archive.py $(BENCH_ARCHIVE_ARGS)
	$(BIN)/python tests/benchmarks/bench_sync.py $(BENCH_SYNC_ARGS)

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/screenshots/make_screenshots.py docs/screenshots

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
