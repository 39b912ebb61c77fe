import pytest
import torch

from conftest import tiny_model
from stream_core.native.window_attention import window_attention


def inputs(model, frames=4, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, 3, 16, 16, generator=g)
    ctx = model.encode(["a red ball rolling right", "a blue square"])[:batch]
    return x, ctx


@torch.no_grad()
def test_equal_frame_times_match_scalar_time(model):
    x, ctx = inputs(model)
    tau = torch.tensor([0.3, 0.8])
    scalar = model(x, tau, ctx)
    per_frame = model(x, tau[:, None].expand(2, 4), ctx)
    torch.testing.assert_close(per_frame, scalar, rtol=1e-4, atol=1e-4)  # float32 round-off
    # and the per-frame times do act per frame: changing one frame's time changes the output
    tau_f = tau[:, None].expand(2, 4).clone()
    tau_f[:, 2] = 0.1
    assert not torch.allclose(model(x, tau_f, ctx)[:, 2], scalar[:, 2], atol=1e-3)


@torch.no_grad()
def test_window_covering_everything_is_full_attention():
    full, windowed = tiny_model(depth=2), tiny_model(depth=2, window=(64, 64, 64))
    windowed.load_state_dict(full.state_dict())
    x, ctx = inputs(full)
    tau = torch.rand(2, 4)
    out = full(x, tau, ctx)
    torch.testing.assert_close(windowed(x, tau, ctx), out, rtol=1e-5, atol=1e-5)
    small = tiny_model(depth=2, window=(2, 2, 2))
    small.load_state_dict(full.state_dict())
    assert not torch.allclose(small(x, tau, ctx), out, atol=1e-3)


def _reach(shifted: bool, source: tuple, target: tuple) -> bool:
    """Does changing the value at token ``source`` move the output at ``target``?"""
    q = k = torch.randn(1, 1, 4, 4, 8)
    v = torch.randn(1, 1, 4, 4, 8)
    base = window_attention(q, k, v, 2, (1, 2, 2), shifted)
    v2 = v.clone()
    v2[(0, 0) + source] += 10.0
    return not torch.allclose(window_attention(q, k, v2, 2, (1, 2, 2), shifted)[(0, 0) + target], base[(0, 0) + target])


def test_shifted_windows_connect_neighbours_but_not_across_the_wrap():
    assert not _reach(False, (1, 1), (2, 2))      # different windows
    assert _reach(False, (0, 0), (1, 1))          # same window
    assert _reach(True, (1, 1), (2, 2))           # the shift joins them
    assert not _reach(True, (3, 3), (0, 0))       # the roll brings them together; the mask keeps them apart


@torch.no_grad()
def test_bad_model_inputs_are_named(model):
    x, ctx = inputs(model)
    with pytest.raises(ValueError, match=r"latents must be \[Bsz, F, 3, H, W\]"):
        model(x[:, :, :2], torch.rand(2), ctx)
    with pytest.raises(ValueError, match=r"tau must be \[Bsz\] or \[Bsz, F\]"):
        model(x, torch.rand(3), ctx)
    with pytest.raises(ValueError, match="tau contains NaN"):
        model(x, torch.tensor([0.5, float("nan")]), ctx)
    with pytest.raises(ValueError, match="context must be"):
        model(x, torch.rand(2), ctx[..., :5])
    windowed = tiny_model(window=(3, 2, 2))
    with pytest.raises(ValueError, match="4 token frames is not a multiple of the window size 3"):
        windowed(x, torch.rand(2), ctx)


def test_unknown_words_are_listed(model):
    assert model.tokenizer.unknown("A red ZEBRA, rolling quickly!") == ["zebra", "quickly"]
    ids = model.tokenizer(["red zebra"])
    assert ids[0, :3].tolist() == [3, 1, 0]
