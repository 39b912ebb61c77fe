import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from stream_core.model import StreamDiT, StreamDiTConfig  # noqa: E402

VOCAB = ("a", "red", "blue", "ball", "square", "rolling", "left", "right")


def tiny_config(**overrides) -> StreamDiTConfig:
    base = dict(channels=3, patch=4, dim=48, depth=2, heads=4, text_dim=32, text_depth=1, text_heads=2,
                text_length=6, vocab=VOCAB, frames=8, height=16, width=16)
    base.update(overrides)
    return StreamDiTConfig(**base)


def tiny_model(seed: int = 0, **overrides) -> StreamDiT:
    """A tiny StreamDiT with every weight random (zero-init layers would hide bugs)."""
    torch.manual_seed(seed)
    model = StreamDiT(tiny_config(**overrides)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


@pytest.fixture
def model() -> StreamDiT:
    return tiny_model()

SCRIPTS = os.path.join(ROOT, "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)
WORKFLOWS = os.path.join(ROOT, "workflows")
SHIPPED_MODEL = os.path.join(ROOT, "models", "streamdit-shapes-64px.safetensors")


def load_workflow(name: str, api: bool = True) -> dict:
    import json
    with open(os.path.join(WORKFLOWS, "api" if api else "", name + ".json")) as f:
        return json.load(f)


def workflow_names() -> list[str]:
    return sorted(n[:-5] for n in os.listdir(os.path.join(WORKFLOWS, "api")) if n.endswith(".json"))
