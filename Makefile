# Cairn: `make run` and `make test` are the whole quick start (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench screenshots install clean package package-test

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
	$(BIN)/python tests/benchmarks/bench_server.py $(BENCH_SERVER_ARGS)

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/screenshots/make_screenshots.py docs/screenshots

# The desktop application: dist/cairn/ and its archive (see packaging/README.md).
PACKAGE_STAMP := $(VENV)/.installed-package
$(PACKAGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,package]'
	touch $(PACKAGE_STAMP)

package: $(PACKAGE_STAMP)
	$(BIN)/python packaging/build.py

# Slow (minutes; not part of make test): wheel and sdist into a fresh virtualenv, and
# the bundle, each run through cairn --self-check (tests/packaging/).
package-test: $(PACKAGE_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m packaging -v -s tests/packaging

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
