#!/usr/bin/env bash
# The whole test suite, from a fresh machine that has only the Rust toolchain, Python 3 and pip:
# creates .venv, builds and installs the package in release mode (pip install ".[test]"), then
# runs cargo fmt/clippy/test on the workspace, ruff, and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${RUVECTOR_VENV:-.venv}"
python="${PYTHON:-python3}"

step() { printf '\n=== %s\n' "$*"; }

step "virtual environment ($venv)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip

step "build and install ruvector-training (release) with test extras"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps .
"$venv/bin/python" -m pip install --quiet ".[test]"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --release -- -D warnings

step "cargo test"
cargo test --workspace --release

step "ruff"
"$venv/bin/ruff" check python tests benches
"$venv/bin/ruff" format --check python tests benches

step "pytest"
"$venv/bin/python" -m pytest -q tests
