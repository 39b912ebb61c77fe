# The newer ComfyUI and frontend the pack is tested on besides the registry's ComfyUI 0.3.75 (sourced
# by scripts/setup.sh and scripts/test.sh, after they set ROOT): where the ComfyUI comes from, and
# the frontend the browser tests run on once more.
NEWER_COMFYUI_TARBALL="${STREAMDIT_SHARED:-$ROOT/../shared}/comfyui/ComfyUI-0.33.0.tar.gz"
NEWEST_FRONTEND=1.58.1
