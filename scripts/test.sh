#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a machine that has only the Rust toolchain,
# Python 3 and pip:
#   1. creates .venv and builds the release wheel users get (scripts/build-wheels.sh: abi3,
#      manylinux2014, linked by zig), then installs THAT wheel with its test, torch, peers and
#      plot extras (torch from PyPI is the multi-GB CUDA build on Linux; pip's cache makes
#      reruns cheap);
#   2. cargo fmt --check, cargo clippy -D warnings, cargo test (the Rust workspace);
#   3. ruff check + ruff format --check;
#   4. pytest against the installed wheel (never the source tree), printing the reason of every
#      skip (-rs).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${RUVECTOR_VENV:-.venv}"
python="${PYTHON:-python3}"

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "virtual environment ($venv)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip

step "build the manylinux2014 abi3 wheel (scripts/build-wheels.sh)"
bash scripts/build-wheels.sh "$venv"
wheel=$(ls dist/*.whl)   # build-wheels.sh leaves exactly one

step "install $wheel with the test, torch, peers and plot extras"
"$venv/bin/python" -m pip uninstall --quiet --yes ruvector-training >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet "$wheel[test,torch,peers,plot,sentence-transformers]"
# pytest runs from the repository root, whose python/ folder holds the package's sources
# without the compiled extension; python/ is not on sys.path, so the import must resolve to
# the installed wheel. Fail loudly if it does not.
"$venv/bin/python" - <<'PY'
import sysconfig
from pathlib import Path

import ruvector_training as rt

where = Path(rt.__file__).resolve()
site = Path(sysconfig.get_paths()["platlib"]).resolve()
if site not in where.parents:
    raise SystemExit(f"ruvector_training imports from {where}, not from the installed {site}")
print(f"ruvector_training {rt.__version__} from {where}")
PY

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --release -- -D warnings

step "cargo test"
cargo test --workspace --release

step "ruff"
"$venv/bin/ruff" check python tests benches
"$venv/bin/ruff" format --check python tests benches

step "pytest (the installed wheel; -rs prints every skip's reason)"
"$venv/bin/python" -m pytest -q -rs --durations=10 tests
