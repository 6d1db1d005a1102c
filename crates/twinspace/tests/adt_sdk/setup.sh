#!/usr/bin/env bash
# Makes a Python venv with the official Azure Digital Twins SDK
# (azure-digitaltwins-core, from PyPI) for the end-to-end SDK test in
# crates/twinspace/tests/e2e.rs. The venv goes to $TWINSPACE_VENV, or
# target/adt-venv in the workspace. Safe to run again: it only installs what
# is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workspace="$(cd "$here/../../../.." && pwd)"
venv="${TWINSPACE_VENV:-$workspace/target/adt-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'azure-digitaltwins-core>=1.2,<2' 'azure-core>=1.29,<2'
"$venv/bin/python" -c 'import azure.digitaltwins.core, sys; print("ADT SDK ready in", sys.prefix)'
