#!/usr/bin/env bash
# Builds the release wheel users install: one abi3 wheel (CPython 3.9+) tagged
# manylinux2014 / manylinux_2_17, so it installs on any glibc >= 2.17 Linux and PyPI accepts it.
#
#   bash scripts/build-wheels.sh [VENV]      (VENV defaults to .venv; created if missing)
#
# The Rust extension is linked by zig (`maturin build --zig`), which links against glibc 2.17's
# symbol versions whatever glibc the build machine has; maturin, ziglang and auditwheel are
# installed into VENV with pip (ziglang is the zig compiler packaged as a wheel). No docker or
# manylinux container is needed. Stale wheels in dist/ are removed first, so dist/ ends with
# exactly one wheel, whose path is the last line printed. The tag is then checked twice: by the
# file name and by `auditwheel show`, which reads the symbol versions the .so really needs.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:-${RUVECTOR_VENV:-.venv}}"
python="${PYTHON:-python3}"
policy=manylinux_2_17
arch=$(uname -m)

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.5,<2.0" ziglang auditwheel

rm -rf dist
# --zig: link with zig against glibc 2.17 (manylinux2014); --release is also the project's
# [tool.maturin] profile; -o dist: the wheel goes to dist/ instead of target/wheels.
# maturin finds zig as `python -m ziglang` of the first python on PATH: the venv's.
PATH="$(cd "$venv/bin" && pwd):$PATH" "$venv/bin/maturin" build --release --zig --compatibility manylinux2014 \
    --interpreter "$venv/bin/python" -o dist

shopt -s nullglob
wheels=(dist/*.whl)
[ "${#wheels[@]}" -eq 1 ] || { echo "expected one wheel in dist/, found ${#wheels[@]}" >&2; exit 1; }
wheel=${wheels[0]}
name=$(basename "$wheel" .whl)
platforms=".${name##*-}."   # the platform tag set, e.g. .manylinux2014_x86_64.manylinux_2_17_x86_64.
case "$name" in
*-cp39-abi3-*) ;;
*) echo "not an abi3 (cp39-abi3) wheel: $wheel" >&2; exit 1 ;;
esac
case "$platforms" in
*".${policy}_$arch."*) ;;
*) echo "wheel not tagged ${policy}_$arch (manylinux2014): $wheel" >&2; exit 1 ;;
esac
report=$("$venv/bin/auditwheel" show "$wheel")
echo "$report"
echo "$report" | tr -s ' \n' ' ' | grep -q "consistent with the following platform tag: \"${policy}_$arch\"" ||
    { echo "auditwheel does not place $wheel at ${policy}_$arch" >&2; exit 1; }
echo "$wheel"
