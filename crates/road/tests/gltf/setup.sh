#!/usr/bin/env bash
# Installs npm `gltf-validator` (Khronos) into a folder for the road crate's GLB
# test. Usage: crates/road/tests/gltf/setup.sh [DIR]   (default: $TMPDIR/road-gltf)
# Then: ROAD_GLTF_DIR=DIR cargo test -p road --test mesh
set -euo pipefail
dir="${1:-${TMPDIR:-/tmp}/road-gltf}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || npm init -y >/dev/null
npm install --silent gltf-validator
echo "gltf-validator ready in $dir"
