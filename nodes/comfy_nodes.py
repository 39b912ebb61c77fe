"""ComfyUI's own top-level ``nodes`` module, reached in this one place.

It shares its name with this package, so a bare ``import nodes`` inside the pack reads as
the pack's own folder; what the pack takes from it (``MAX_RESOLUTION``, the web folders
ComfyUI serves) is named here. ComfyUI imports it before it loads any custom node.
"""
from __future__ import annotations

import importlib
import sys


def comfyui_nodes():
    """ComfyUI's ``nodes`` module; ImportError where the name ``nodes`` is something else."""
    module = sys.modules.get("nodes") or importlib.import_module("nodes")
    if not hasattr(module, "NODE_CLASS_MAPPINGS"):
        raise ImportError(f"the module named 'nodes' ({getattr(module, '__file__', '?')}) is not ComfyUI's")
    return module


MAX_RESOLUTION: int = comfyui_nodes().MAX_RESOLUTION


def served_web_folders() -> dict[str, str]:
    """The web folders ComfyUI serves under ``/extensions/<name>/``, by name."""
    return dict(comfyui_nodes().EXTENSION_WEB_DIRS)
