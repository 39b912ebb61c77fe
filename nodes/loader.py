"""Loader node: a StreamDiT file from models/streamdit/ or the pack's own models/."""
from __future__ import annotations

import os
import threading

import comfy.model_management
import folder_paths
import torch
from comfy_api.latest import io

from ..stream_core.native.checkpoint import load
from .types import CATEGORY, LoadedModel, ModelType
from .validation import checked

FOLDER = "streamdit"
PACK_MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def register_folders() -> None:
    """models/streamdit/ of ComfyUI (created if absent) first, the pack's embedded models after."""
    user = os.path.join(folder_paths.models_dir, FOLDER)
    os.makedirs(user, exist_ok=True)
    folder_paths.add_model_folder_path(FOLDER, user)
    folder_paths.add_model_folder_path(FOLDER, PACK_MODELS)
    paths, _ = folder_paths.folder_names_and_paths[FOLDER]
    folder_paths.folder_names_and_paths[FOLDER] = (paths, {".safetensors"})


def pick_device(choice: str) -> torch.device:
    """auto: ComfyUI's own device (it honours --cpu and finds CUDA, MPS, XPU, DirectML)."""
    if choice == "auto":
        return comfy.model_management.get_torch_device()
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was chosen but no CUDA device is available; choose 'auto' or 'cpu'")
    return torch.device(choice)


_cache: dict[tuple, LoadedModel] = {}
_cache_lock = threading.Lock()


class StreamDiTLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StreamDiTLoader",
            display_name="StreamDiT Loader",
            category=CATEGORY,
            description="Loads a StreamDiT model (safetensors) for streaming.",
            inputs=[
                io.Combo.Input("model_name", options=folder_paths.get_filename_list(FOLDER),
                               tooltip="A .safetensors file from models/streamdit/ or the pack's own models/ folder."),
                io.Combo.Input("device", options=["auto", "cpu", "cuda"], default="auto",
                               tooltip="Where the model runs; auto: where ComfyUI runs its models (--cpu honoured)."),
                io.Combo.Input("dtype", options=list(DTYPES), default="float32",
                               tooltip="Weight and compute precision; half precision is for GPUs."),
            ],
            outputs=[ModelType.Output(display_name="model", tooltip="To StreamDiT Stream.")],
        )

    @classmethod
    def validate_inputs(cls, model_name=None):
        if model_name is not None and not isinstance(model_name, str):
            return f"model_name must be a file name from models/streamdit/, got {model_name!r}"
        if model_name is not None and folder_paths.get_full_path(FOLDER, model_name) is None:
            return f"StreamDiT model '{model_name}' not found in {folder_paths.get_folder_paths(FOLDER)}"
        return True

    @classmethod
    @checked
    def execute(cls, model_name: str, device: str, dtype: str) -> io.NodeOutput:
        path = folder_paths.get_full_path_or_raise(FOLDER, model_name)
        dev = pick_device(device)
        key = (os.path.realpath(path), os.path.getmtime(path), str(dev), dtype)
        with _cache_lock:
            if key not in _cache:
                _cache.clear()  # keep one model in memory
                _cache[key] = LoadedModel(load(path, device=dev, dtype=DTYPES[dtype]), key)
            return io.NodeOutput(_cache[key])
