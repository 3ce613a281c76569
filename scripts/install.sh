#!/usr/bin/env bash
# Install ssbflow with the given extras (default: none) into the current Python.
# Installs the CPU build of torch first when none is present: a bare `torch`
# requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
if ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install -q torch==2.13.0
fi
# GPAW (the dft extra) builds from source: Debian needs libxc-dev and libopenblas-dev.
if [[ "$extras" == *dft* ]] && command -v apt-get >/dev/null 2>&1; then
  if ! dpkg -s libxc-dev libopenblas-dev >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq libxc-dev libopenblas-dev) >/dev/null 2>&1 \
      || echo "warning: could not install libxc-dev/libopenblas-dev; GPAW tests will be skipped" >&2
  fi
fi
spec="."
if [[ -n "$extras" ]]; then spec=".[${extras}]"; fi
CC=${CC:-g++} python -m pip install -q -e "$spec"
