"""Save and load StreamDiT weights as safetensors, the config in the file's metadata.

Never unpickles. Loading checks the config's bounds, then every key and shape in the
file's header against the shapes the config implies (worked out without allocating any
weights), names the first mismatch, and only then reads the weights: a small file cannot
make the loader allocate a large model.
"""
from __future__ import annotations

import json
import os

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .model import StreamDiT, StreamDiTConfig

CONFIG_KEY = "streamdit.config"
FORMAT = "streamdit-v1"


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why and names the file."""


def save(model: StreamDiT, path: str | os.PathLike, extra: dict[str, str] | None = None) -> None:
    """Write ``model``'s weights (float32 unless already lower) and config to ``path``."""
    metadata = {"format": FORMAT, CONFIG_KEY: json.dumps(model.config.to_dict())}
    metadata.update(extra or {})
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, os.fspath(path), metadata=metadata)


def read_config(path: str | os.PathLike) -> tuple[StreamDiTConfig, dict[str, str]]:
    """The config and all metadata of a StreamDiT file, without reading the weights."""
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"{path}: not a StreamDiT file (no '{CONFIG_KEY}' in its metadata)")
    try:
        config = StreamDiTConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad StreamDiT config in metadata ({e})") from None
    return config, metadata


def expected_shapes(config: StreamDiTConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every weight of a model of ``config``, allocating nothing."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in StreamDiT(config).state_dict().items()}


def load(path: str | os.PathLike, device: str | torch.device = "cpu",
         dtype: torch.dtype = torch.float32) -> StreamDiT:
    """Check the file against its config's shapes, then build the model and load its weights; eval mode."""
    config, _ = read_config(path)
    expected = expected_shapes(config)
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            keys = set(f.keys())
            missing = sorted(set(expected) - keys)
            if missing:
                raise CheckpointError(f"{path}: weight '{missing[0]}' is missing ({len(missing)} missing in all)")
            unexpected = sorted(keys - set(expected))
            if unexpected:
                raise CheckpointError(f"{path}: unexpected weight '{unexpected[0]}' ({len(unexpected)} unexpected in all)")
            for key in sorted(expected):
                shape = tuple(f.get_slice(key).get_shape())
                if shape != expected[key]:
                    raise CheckpointError(f"{path}: weight '{key}' has shape {shape}, the config needs {expected[key]}")
            state = {key: f.get_tensor(key) for key in sorted(expected)}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    for key, value in state.items():
        if not value.is_floating_point():
            raise CheckpointError(f"{path}: weight '{key}' is {str(value.dtype).replace('torch.', '')}, "
                                  "a StreamDiT's weights are floating point")
        if not torch.isfinite(value).all():
            raise CheckpointError(f"{path}: weight '{key}' contains NaN or Inf")
    model = StreamDiT(config)
    model.load_state_dict(state)
    return model.to(device=device, dtype=dtype).eval()
