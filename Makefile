# privmask: two commands on a fresh machine.
#   make test   set up .venv, build, then cargo test + clippy + fmt, ruff, mypy + stubtest, pytest
#   make demo   set up .venv (the package's own dependencies only), build, then mask the built-in
#               sample and write demo/
#   make test-aarch64   the core's tests (NEON against scalar) built for aarch64, run under qemu
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
	@echo "make test-aarch64 - core tests and clippy for aarch64 (NEON), under qemu; installs"
	@echo "                    Debian's cross toolchain when missing (needs root then)"
	@echo "make bench  - benchmarks side by side with OpenCV and numpy"
	@echo "make lint   - cargo fmt/clippy, ruff, mypy + stubtest"

# Requirement lines from pyproject.toml: the core dependencies (`core`) or one extra (`test`).
REQUIREMENTS = $(PY) -c "import sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print('\n'.join(p['dependencies'] if sys.argv[1] == 'core' else p['optional-dependencies'][sys.argv[1]]))"

# privmask-video's own dependencies (PyAV, numpy, pydantic, Pillow, tqdm) and maturin: all that
# make demo needs.
$(VENV)/.core: pyproject.toml
	@echo "setting up $(VENV): privmask-video's dependencies and maturin"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(REQUIREMENTS) core > $(VENV)/requirements-core.txt
	$(BIN)/pip install --quiet "maturin>=1.9.4,<2" -r $(VENV)/requirements-core.txt
	touch $@

# What make test adds: the test extra (pytest, linters, the optional packages the tests use).
$(VENV)/.deps: $(VENV)/.core
	@echo "adding the test tools to $(VENV)"
	$(REQUIREMENTS) test > $(VENV)/requirements-test.txt
	$(BIN)/pip install --quiet -r $(VENV)/requirements-test.txt
	touch $@

# The package itself, built in place (editable); its dependencies are there already, and
# PIP_QUIET keeps the pip run inside maturin from listing every extra it skips.
$(VENV)/.built: $(VENV)/.core $(RUST_SOURCES) $(shell find python -name '*.py' -o -name '*.pyi')
	@echo "building privmask (the Rust core in release mode: a few minutes the first time)"
	PIP_QUIET=1 VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release --quiet
	touch $@

.PHONY: build
build: $(VENV)/.deps $(VENV)/.built

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

# aarch64 (NEON) without ARM hardware: Debian's Rust (rustc-web, 1.96) has an aarch64 standard
# library, so the rustup cargo drives /usr/bin/rustc with a cross linker and runs the tests under
# qemu-user. Linked statically: dynamically linked aarch64 binaries spin forever under this qemu once
# they start a thread. Its own target dir, so the host build's cache (other RUSTC and RUSTFLAGS)
# stays valid. Clippy runs for aarch64 too, since the host's clippy never sees neon.rs.
AARCH64_PACKAGES := rustc-web rust-web-clippy libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu \
	libc6-dev-arm64-cross qemu-user
AARCH64_ENV := RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR=target/aarch64 \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64 \
	RUSTFLAGS="-C target-feature=+crt-static" RUSTDOCFLAGS="-C target-feature=+crt-static"

.PHONY: aarch64-toolchain
aarch64-toolchain:
	@missing=""; for p in $(AARCH64_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	        echo "make test-aarch64 needs these Debian packages (arm64 architecture added):$$missing" >&2; \
	        echo "install them as root, or run make test-aarch64 as root to have them installed" >&2; \
	        exit 1; \
	    fi; \
	    echo "installing the aarch64 cross toolchain:$$missing"; \
	    log=$$(mktemp); \
	    { dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64; } \
	        && apt-get update -qq >"$$log" 2>&1 \
	        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	            $(AARCH64_PACKAGES) >>"$$log" 2>&1 \
	        || { cat "$$log" >&2; rm -f "$$log"; echo "could not install the aarch64 cross toolchain" >&2; exit 1; }; \
	    rm -f "$$log"; \
	fi

.PHONY: test-aarch64
test-aarch64: aarch64-toolchain
	$(AARCH64_ENV) /usr/bin/cargo-clippy clippy -p privmask-core --all-targets \
	    --target aarch64-unknown-linux-gnu --quiet -- -D warnings
	$(AARCH64_ENV) cargo test -p privmask-core --target aarch64-unknown-linux-gnu --release

.PHONY: bench
bench: build
	$(BIN)/pytest benches --benchmark-enable --benchmark-columns=median,iqr,rounds --benchmark-sort=name -p no:randomly -q

.PHONY: demo
demo: $(VENV)/.built
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
