"""Video-to-video in the engine: input frames enter the buffer noised to the level their
strength sets, wait there, then are denoised like any other frame."""
import pytest
import torch

from analytic import point_mass_velocity
from stream_core.engine.frame_input import LatentClip, entry_level
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream
from stream_core.engine.time_grid import tau_grid

SHAPE = (2, 3, 3)
P = Partition(K=0, N=4, c=2, s=1)


def constant(value):
    return lambda frame_index: torch.full(frame_index.shape, float(value))


def stream(strength=None, clip=None, seed=0, partition=P, target=5.0):
    s = Stream(point_mass_velocity(constant(target)), partition, SHAPE, seed=seed)
    if strength is not None:
        s.frame_input = LatentClip(clip, strength)
    return s


def test_the_entry_level_is_the_grid_time_nearest_one_less_the_strength():
    grid = tau_grid(4)   # 0, .25, .5, .75, 1
    assert entry_level(grid, 0.6) == 0.5 and entry_level(grid, 1.0) == 0.0 and entry_level(grid, 0.0) == 1.0


@pytest.mark.parametrize("partition", [P, Partition(K=2, N=3, c=2, s=2)], ids=["K=0", "K=2"])
def test_strength_zero_gives_the_input_unchanged(partition):
    clip = torch.randn(1, 20, *SHAPE)
    assert torch.equal(stream(0.0, clip, partition=partition).take(20), clip)


def test_strength_one_is_text_to_video():
    assert torch.equal(stream(1.0, torch.randn(1, 20, *SHAPE)).take(12), stream().take(12))


def test_an_input_frame_waits_at_its_level_then_is_denoised_like_any_other():
    a, b = torch.zeros(1, 40, *SHAPE), torch.ones(1, 40, *SHAPE)
    sa, sb = stream(0.5, a), stream(0.5, b)
    sa.take(6), sb.take(6)
    level = entry_level(sa.grid, 0.5)
    # same noise, inputs 1 apart: the frames still waiting differ by level x 1, the rest have moved on
    waiting = sa.tau < level
    assert waiting.sum() == 4
    diff = (sb.buffer - sa.buffer)[0].flatten(1).mean(1)
    assert torch.allclose(diff[waiting], torch.full((4,), level, dtype=diff.dtype))
    # the point-mass field lands every frame on its data, whatever it started from
    assert torch.allclose(sa.take(10), torch.full((1, 10, *SHAPE), 5.0), atol=1e-5)


def test_frames_after_the_clip_or_after_the_input_is_removed_are_text_to_video():
    clip = torch.randn(1, 10, *SHAPE)
    s = stream(0.0, clip)
    out = s.take(24)
    assert torch.equal(out[:, :10], clip) and s.frame_input.used == 10
    assert torch.allclose(out[:, 12:], torch.full((1, 12, *SHAPE), 5.0), atol=1e-5)
    live = stream(0.0, torch.randn(1, 100, *SHAPE))
    live.take(4)
    live.frame_input = None          # the camera stops: no reset, the next frames are the prompt's
    assert torch.allclose(live.take(20)[:, 12:], torch.full((1, 8, *SHAPE), 5.0), atol=1e-5)


def test_a_clip_ending_inside_a_chunk_holds_its_last_frame_and_bad_clips_are_refused():
    clip = LatentClip(torch.arange(3.0).reshape(1, 3, 1, 1, 1), 0.5)
    assert clip.latents(2, 2).flatten().tolist() == [2.0, 2.0] and clip.latents(3, 2) is None
    with pytest.raises(ValueError, match="strength"):
        LatentClip(torch.zeros(1, 3, 1, 1, 1), 1.5)
    with pytest.raises(ValueError, match="Bsz, F"):
        LatentClip(torch.zeros(3, 1, 1, 1), 0.5)
