import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from stream_core.native.model import StreamDiT, StreamDiTConfig  # noqa: E402

VOCAB = ("a", "red", "blue", "ball", "square", "rolling", "left", "right")
OPPOSITE = {"right": "left", "left": "right", "up": "down", "down": "up"}   # world directions


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


COMFY_FIXTURES = {"comfy", "comfy_base", "pack", "server"}   # a real ComfyUI, in this process or as a server
BROWSER_MODULES = {"test_browser", "test_templates", "test_webrtc"}        # headless Chromium on a ComfyUI server
SERVER_MODULES = {"test_hardening", "test_benchmarks"}      # a ComfyUI server, or the bench scripts, of their own
SLOW = {"test_benchmarks", "test_train", "test_distill", "test_shipped_model", "test_tune_decoder", "test_evaluate",
        "test_autoencoder", "test_world"}


def tier(item) -> str:
    """engine (torch and the pack alone: seconds), server (a real ComfyUI) or browser."""
    module = item.module.__name__.rsplit(".", 1)[-1]
    if module in BROWSER_MODULES:
        return "browser"
    if module in SERVER_MODULES or COMFY_FIXTURES & set(item.fixturenames):
        return "server"
    return "engine"


def pytest_collection_modifyitems(config, items):
    """Every test gets its tier's marker (``-m engine``, ``-m server``, ``-m browser``) and, where
    it trains, distils or runs the benchmarks, ``slow`` (``-m "engine and not slow"``: seconds)."""
    for item in items:
        item.add_marker(tier(item))
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW:
            item.add_marker("slow")


@pytest.fixture
def model() -> StreamDiT:
    return tiny_model()

SCRIPTS = os.path.join(ROOT, "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)
WORKFLOWS = os.path.join(ROOT, "example_workflows")
SHIPPED_MODEL = os.path.join(ROOT, "models", "streamdit-shapes-64px.safetensors")
SHIPPED_STUDENT = os.path.join(ROOT, "models", "streamdit-shapes-64px-distilled.safetensors")


def poll(condition, timeout: float = 60.0, what: str = "condition not met"):
    """The first true value of ``condition()``, asked every 0.1 s; TimeoutError(what) after ``timeout`` s."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def load_workflow(name: str, api: bool = True) -> dict:
    import json
    with open(os.path.join(WORKFLOWS, "api" if api else "", name + ".json")) as f:
        return json.load(f)


def workflow_names(native_only: bool = False) -> list[str]:
    """Shipped workflows; ``native_only``: those that run on the pack's own model (the others
    need weights a user downloads, e.g. Wan 2.1)."""
    names = sorted(n[:-5] for n in os.listdir(os.path.join(WORKFLOWS, "api")) if n.endswith(".json"))
    if native_only:
        names = [n for n in names if any(node["class_type"] == "StreamDiTLoader" for node in load_workflow(n).values())]
    return names


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory) -> str:
    """The base directory (models, custom_nodes, output, ...) of the in-process ComfyUI."""
    from comfy_server import prepare_base
    return prepare_base(str(tmp_path_factory.mktemp("inprocess")))


@pytest.fixture(scope="session")
def comfy(comfy_base):
    """ComfyUI's ``nodes`` module in this process, with the pack loaded the way ComfyUI's
    loader does it; ``folder_paths`` points into ``comfy_base``."""
    import asyncio
    from comfy_server import comfy_path
    if comfy_path() not in sys.path:
        sys.path.insert(0, comfy_path())
    from comfy.cli_args import args
    args.cpu = True   # as `main.py --cpu`: this machine may have no GPU
    import folder_paths
    import nodes
    folder_paths.set_temp_directory(os.path.join(comfy_base, "temp"))
    folder_paths.set_output_directory(os.path.join(comfy_base, "output"))
    for folder in ("diffusion_models", "vae", "vae_approx"):
        folder_paths.add_model_folder_path(folder, os.path.join(comfy_base, "models", folder), is_default=True)
    assert asyncio.run(nodes.load_custom_node(os.path.join(comfy_base, "custom_nodes", "streamdit-comfy")))
    return nodes


@pytest.fixture(scope="session")
def pack(comfy, comfy_base):
    """``pack("nodes.wan.source")``: a module of the pack as ComfyUI imported it."""
    import importlib
    path = os.path.join(comfy_base, "custom_nodes", "streamdit-comfy")
    name = next(n for n, m in list(sys.modules.items()) if getattr(m, "__file__", None) == os.path.join(path, "__init__.py"))
    return lambda module: importlib.import_module(f"{name}.{module}")
