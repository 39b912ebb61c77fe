"""ComfyUI and this pack in the current process, for benchmarks: the pack imported the way
ComfyUI imports a custom node package (as a package, so its relative imports work)."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from comfy_server import ROOT, comfy_path


def load_pack(reserve_vram: float | None = None, lowvram: bool = False):
    """``pack("nodes.wan.source")`` -> that module of the pack. ComfyUI runs on the GPU when there is one
    (else as ``--cpu``), with its ``--reserve-vram`` / ``--lowvram`` as given."""
    import torch
    sys.path.insert(0, comfy_path())
    from comfy.cli_args import args
    args.cpu = not torch.cuda.is_available()
    args.reserve_vram, args.lowvram = reserve_vram, lowvram
    spec = importlib.util.spec_from_file_location("streamdit_comfy", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["streamdit_comfy"] = module
    spec.loader.exec_module(module)
    return lambda name: importlib.import_module(f"streamdit_comfy.{name}")
