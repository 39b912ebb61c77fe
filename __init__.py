"""streamdit-comfy: live StreamDiT video streams in ComfyUI (V3 node schema)."""
from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./web"

__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
