#!/usr/bin/env bash
# Creates a Python virtual environment with PyPI `pyxodr` (an independent
# OpenDRIVE reader the road crate's geometry is compared with) and
# `scenariogeneration` (an independent OpenDRIVE writer, tests/scenariogeneration.rs).
# Usage: crates/road/tests/pyxodr/setup.sh [VENV_DIR]   (default: $TMPDIR/road-pyxodr-venv)
# Then run the check with:  ROAD_PYXODR_PYTHON=VENV_DIR/bin/python cargo test -p road --test pyxodr
set -euo pipefail
venv="${1:-${TMPDIR:-/tmp}/road-pyxodr-venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet pyxodr scenariogeneration
"$venv/bin/python" -c "import pyxodr, scenariogeneration; print('pyxodr and scenariogeneration ready in $venv')"
