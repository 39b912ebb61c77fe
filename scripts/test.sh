#!/usr/bin/env bash
# Set up (once; later runs reuse .venv and .deps) and run the whole test suite.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
# rootdir tests/: the pack root is a Python package whose __init__ needs ComfyUI
exec .venv/bin/python -m pytest -q -c tests/pytest.ini --rootdir tests tests "$@"
