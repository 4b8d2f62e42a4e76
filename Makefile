# privmask: two commands on a fresh machine.
#   make test   set up .venv, build, then cargo test + clippy + fmt, ruff, mypy + stubtest, pytest
#   make demo   set up .venv, build, then mask the built-in sample and write demo/
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RUST_SOURCES := $(shell find rust -name '*.rs') Cargo.toml rust/core/Cargo.toml rust/py/Cargo.toml

.PHONY: help
help:
	@echo "make demo   - build and mask the built-in sample (writes demo/)"
	@echo "make test   - build and run the whole suite (cargo test, lints, pytest)"
	@echo "make bench  - benchmarks side by side with OpenCV and numpy"
	@echo "make lint   - cargo fmt/clippy, ruff, mypy + stubtest"

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "maturin>=1.9.4,<2"
	$(BIN)/pip install --quiet $$($(PY) -c "import tomllib;d=tomllib.load(open('pyproject.toml','rb'));print(' '.join(repr(x) for x in d['project']['dependencies']+d['project']['optional-dependencies']['test']))" | tr -d "'")
	touch $@

$(VENV)/.built: $(VENV)/.deps $(RUST_SOURCES) $(shell find python -name '*.py' -o -name '*.pyi')
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release
	touch $@

.PHONY: build
build: $(VENV)/.built

.PHONY: lint-rust
lint-rust:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: lint-python
lint-python: build
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest privmask._native

.PHONY: lint
lint: lint-rust lint-python

.PHONY: test-rust
test-rust:
	cargo test --workspace --exclude privmask-py

.PHONY: test-python
test-python: build
	$(BIN)/pytest

.PHONY: test
test: test-rust lint test-python

.PHONY: bench
bench: build
	$(BIN)/pytest benches --benchmark-enable --benchmark-columns=median,iqr,rounds --benchmark-sort=name -p no:randomly -q

.PHONY: demo
demo: build
	$(PY) -m privmask.tools.demo --out demo

.PHONY: schema
schema: build
	$(PY) -c "import json; from privmask.masks.schema import json_schema, pose_track_json_schema, timeline_json_schema; \
	  open('schema/maskset.schema.json', 'w').write(json.dumps(json_schema(), indent=2, sort_keys=True) + '\n'); \
	  open('schema/timeline.schema.json', 'w').write(json.dumps(timeline_json_schema(), indent=2, sort_keys=True) + '\n'); \
	  open('schema/poses.schema.json', 'w').write(json.dumps(pose_track_json_schema(), indent=2, sort_keys=True) + '\n')"

.PHONY: format
format: build
	cargo fmt --all
	$(BIN)/ruff format python tests benches
	$(BIN)/ruff check --fix python tests benches

.PHONY: clean
clean:
	cargo clean
	rm -rf $(VENV) demo .pytest_cache .hypothesis .mypy_cache .ruff_cache
