#!/usr/bin/env bash
# Main job: set up (once), then stream the text-to-video workflow through a real ComfyUI
# and leave the video in out/. `bash scripts/run.sh --ui` serves ComfyUI for the browser.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/run_stream.py" "$@"
