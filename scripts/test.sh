#!/usr/bin/env bash
# The tests, each part on the ComfyUI and frontend it names, set up first (scripts/setup.sh):
#
#   bash scripts/test.sh            every part of the matrix (what CI runs):
#                                     ComfyUI 0.3.75, frontend 1.32.9   the whole suite
#                                     ComfyUI 0.33.0, frontend 1.49.6   the whole suite   (when ../shared has it)
#                                     ComfyUI 0.33.0, frontend 1.58.1   the browser tests (likewise)
#   bash scripts/test.sh ARGS...    pytest ARGS on one ComfyUI: 0.3.75, or the one STREAMDIT_COMFY names
#                                   (STREAMDIT_COMFY=0.33, STREAMDIT_FRONTEND=1.58.1 for the newest frontend)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/scripts/versions.sh"
TARBALL="$NEWER_COMFYUI_TARBALL"

# pytest on ComfyUI $1 with frontend $2 ("" = the one that ComfyUI pins), then the rest of the arguments
on() {
  local edition=$1 frontend=$2; shift 2
  bash scripts/setup.sh "$edition"
  local venv=.venv comfy="" front=""
  if [ "$edition" = 0.33 ]; then venv=.venv-0.33; comfy="$ROOT/.deps/comfyui-0.33"; fi
  if [ -n "$frontend" ]; then front="$ROOT/.deps/frontend-$frontend/comfyui_frontend_package/static"; fi
  COMFYUI_PATH="${comfy:-${COMFYUI_PATH:-}}" STREAMDIT_FRONTEND_ROOT="$front" "$venv/bin/python" scripts/comfy_server.py
  # rootdir tests/: the pack root is a Python package whose __init__ needs ComfyUI
  COMFYUI_PATH="${comfy:-${COMFYUI_PATH:-}}" STREAMDIT_FRONTEND_ROOT="$front" \
    "$venv/bin/python" -m pytest -q -c tests/pytest.ini --rootdir tests "$@"
}

if [ $# -gt 0 ]; then
  on "${STREAMDIT_COMFY:-0.3.75}" "${STREAMDIT_FRONTEND:-}" "$@"
  exit
fi

parts=("0.3.75||the whole suite")
if [ -f "$TARBALL" ]; then
  parts+=("0.33||the whole suite" "0.33|$NEWEST_FRONTEND|the browser tests")
else
  echo "test: no $TARBALL, so the parts on ComfyUI 0.33 do not run"
fi

summary=() passed=0 failed=0 skipped=0 status=0
for part in "${parts[@]}"; do
  IFS="|" read -r edition frontend what <<< "$part"
  if [ "$what" = "the browser tests" ]; then targets=(tests -m browser); else targets=(tests); fi   # tests/conftest.py marks them
  label="ComfyUI $edition, frontend ${frontend:-as pinned}: $what"
  echo; echo "=== $label"
  log=$(mktemp)
  start=$SECONDS
  set +e
  on "$edition" "$frontend" "${targets[@]}" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  set -e
  last=$(grep -E "(passed|failed|error)" "$log" | tail -1 | sed -E 's/^=+ //; s/ =+$//')
  rm -f "$log"
  for kind in passed failed skipped; do
    n=$(grep -oE "[0-9]+ $kind" <<< "$last" | grep -oE "[0-9]+" || true)
    declare "$kind=$(( ${!kind} + ${n:-0} ))"
  done
  errors=$(grep -oE "[0-9]+ errors?" <<< "$last" | grep -oE "[0-9]+" || true)
  failed=$(( failed + ${errors:-0} ))
  [ "$code" -eq 0 ] || status=1
  summary+=("$(printf '%-62s %-46s %5d s' "$label" "${last:-no result (exit $code)}" $((SECONDS - start)))")
done

echo; echo "=== the matrix"
printf '%s\n' "${summary[@]}"
echo "matrix: $passed passed, $failed failed, $skipped skipped"
exit $status
