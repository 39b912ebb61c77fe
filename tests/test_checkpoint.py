import json

import pytest
import torch
from safetensors.torch import save_file

from conftest import tiny_model
from stream_core.native.checkpoint import CheckpointError, load, save


@pytest.fixture
def saved(tmp_path, model):
    path = tmp_path / "tiny.safetensors"
    save(model, path)
    return path


def test_round_trip_gives_the_same_model(saved, model):
    loaded = load(saved)
    assert loaded.config == model.config
    x, tau = torch.randn(1, 4, 3, 16, 16), torch.rand(1, 4)
    ctx = model.encode(["a red ball"])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, tau, ctx), model(x, tau, ctx), rtol=0, atol=0)


def _rewrite(path, tensors, metadata):
    save_file(tensors, str(path), metadata=metadata)


def _contents(path):
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_missing_unexpected_and_misshapen_weights_are_named(saved, tmp_path):
    tensors, meta = _contents(saved)
    first = sorted(tensors)[0]
    bad = tmp_path / "bad.safetensors"
    _rewrite(bad, {k: v for k, v in tensors.items() if k != first}, meta)
    with pytest.raises(CheckpointError, match=f"weight '{first}' is missing"):
        load(bad)
    _rewrite(bad, {**tensors, "extra.weight": torch.zeros(2)}, meta)
    with pytest.raises(CheckpointError, match="unexpected weight 'extra.weight'"):
        load(bad)
    other = tiny_model(dim=64)
    _rewrite(bad, {k: v.contiguous() for k, v in other.state_dict().items()}, meta)
    with pytest.raises(CheckpointError, match=r"weight 'ada_out.1.bias' has shape \(128,\), the config needs \(96,\)"):
        load(bad)
    nan = dict(tensors)
    nan[first] = torch.full_like(tensors[first], float("nan"))
    _rewrite(bad, nan, meta)
    with pytest.raises(CheckpointError, match=f"weight '{first}' contains NaN"):
        load(bad)
    whole = dict(tensors)
    whole[first] = torch.ones_like(tensors[first], dtype=torch.int32)     # loading would round it silently
    _rewrite(bad, whole, meta)
    with pytest.raises(CheckpointError, match=f"weight '{first}' is int32, a StreamDiT's weights are floating point"):
        load(bad)


def test_corrupt_or_foreign_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors: not a readable safetensors file"):
        load(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load(junk)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a StreamDiT file"):
        load(foreign)
    tensors, meta = _contents(saved)
    _rewrite(foreign, tensors, {**meta, "streamdit.config": json.dumps({"dim": 48, "bogus": 1})})
    with pytest.raises(CheckpointError, match="unknown config field.*bogus"):
        load(foreign)
    with pytest.raises(CheckpointError, match="no such file"):
        load(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("field, value, message", [
    ("heads", 0, "heads must be a number from 1 to 64, got 0"),
    ("patch", 0, "patch must be a number from 1 to 32, got 0"),
    ("dim", 16384, "dim must be a number from 1 to 4096, got 16384"),
    ("depth", 2.5, "depth must be a whole number, got 2.5"),
    ("text_heads", 5, "text_dim=32 must be divisible by text_heads=5"),
    ("frames", True, "frames must be a number"),
])
def test_a_config_out_of_bounds_is_refused_with_its_field_named(saved, tmp_path, field, value, message):
    tensors, meta = _contents(saved)
    config = json.loads(meta["streamdit.config"])
    bad = tmp_path / "bad-config.safetensors"
    _rewrite(bad, tensors, {**meta, "streamdit.config": json.dumps({**config, field: value})})
    with pytest.raises(CheckpointError, match=message):
        load(bad)


HUGE_CONFIG_PROBE = r"""
import json, resource, sys, torch
sys.path.insert(0, sys.argv[1])
from safetensors.torch import save_file
from stream_core.native.checkpoint import CheckpointError, load
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
config = {"dim": 4096, "depth": 64, "heads": 64, "vocab": ["a"]}     # about 13 B parameters, 50 GB
save_file({"patch_in.weight": torch.zeros(2)}, sys.argv[2], metadata={"streamdit.config": json.dumps(config)})
try:
    load(sys.argv[2])
except CheckpointError as e:
    print(str(e).split(": ", 1)[1])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow   # a fresh interpreter measures its memory
def test_a_tiny_file_cannot_make_the_loader_allocate_a_huge_model(tmp_path):
    """Its header is checked against the shapes the config implies before anything is allocated."""
    import subprocess
    import sys
    from conftest import ROOT
    out = subprocess.run([sys.executable, "-c", HUGE_CONFIG_PROBE, ROOT, str(tmp_path / "huge.safetensors")],
                         capture_output=True, text=True, check=True, timeout=120)
    message, grown_mib = out.stdout.strip().splitlines()
    assert message.startswith("weight '") and "is missing" in message
    assert int(grown_mib) < 200, grown_mib
