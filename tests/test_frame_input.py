"""Video-to-video in the engine: a frame takes its input, noised to the level its strength
sets, when its chunk reaches that level, then is denoised like any other frame."""
import pytest
import torch

from analytic import point_mass_velocity
from stream_core.engine.frame_input import LatentClip, entry_chunk, entry_level
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream

SHAPE = (2, 3, 3)
P = Partition(K=0, N=4, c=2, s=1)


def constant(value):
    return lambda frame_index: torch.full(frame_index.shape, float(value))


def stream(strength=None, clip=None, seed=0, partition=P, target=5.0):
    s = Stream(point_mass_velocity(constant(target)), partition, SHAPE, seed=seed)
    if strength is not None:
        s.frame_input = LatentClip(clip, strength)
    return s


def test_a_chunk_takes_its_input_in_the_cycle_that_takes_it_across_its_level():
    assert entry_level(0.6) == pytest.approx(0.4) and entry_level(1.0) == 0.0 and entry_level(0.0) == 1.0
    chunk_tau = [0.75, 0.5, 0.25, 0.0]   # cleanest first, at the start of a cycle
    levels = (1.0, 0.8, 0.75, 0.6, 0.5, 0.4, 0.25, 0.1, 0.0)
    assert [entry_chunk(chunk_tau, level) for level in levels] == [0, 0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("partition", [P, Partition(K=2, N=3, c=2, s=2)], ids=["K=0", "K=2"])
def test_strength_zero_gives_the_input_unchanged(partition):
    clip = torch.randn(1, 20, *SHAPE)
    assert torch.equal(stream(0.0, clip, partition=partition).take(20), clip)


def test_strength_one_is_text_to_video():
    assert torch.equal(stream(1.0, torch.randn(1, 20, *SHAPE)).take(12), stream().take(12))


def test_an_input_frame_enters_late_at_exactly_its_level_then_is_denoised_like_any_other():
    a, b = torch.zeros(1, 40, *SHAPE), torch.ones(1, 40, *SHAPE)
    sa, sb = stream(0.6, a), stream(0.6, b)   # level 0.4, between the grid's 0.25 and 0.5
    sa.take(6), sb.take(6)
    assert sa.tau.tolist() == [0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0]
    # same noise, inputs 1 apart. Frames 6, 7 took theirs at the start-up and waited at 0.4;
    # frames 8, 9 took theirs at 0.4 in the last cycle, an off-grid step to 0.5; the newer
    # frames are still the prompt's alone, and the clip has been read only up to frame 9.
    # Point-mass field: a difference d made at time 0.4 is d * (1 - tau) / 0.6 at tau.
    diff = (sb.buffer - sa.buffer)[0].flatten(1).mean(1)
    want = [0.4 * 0.25 / 0.6] * 2 + [0.4 * 0.5 / 0.6] * 2 + [0.0] * 4
    assert torch.allclose(diff, torch.tensor(want, dtype=diff.dtype), atol=1e-6), diff
    assert sa.frame_input.used == 10
    # the point-mass field lands every frame on its data, whatever it started from
    assert torch.allclose(sa.take(10), torch.full((1, 10, *SHAPE), 5.0), atol=1e-5)


@pytest.mark.parametrize("strength, position", [(0.9, 6), (0.6, 4), (0.3, 2), (0.0, 0)])
def test_each_chunk_reads_its_input_as_late_as_it_can(strength, position):
    """After the start-up, a chunk reads its input in the cycle that takes it across its level:
    the later the level, the cleaner the chunk's position then (chunk times 0.75, 0.5, 0.25, 0)."""
    read = []

    class Recording(LatentClip):
        def latents(self, index, count):
            read.append((index, index - s.first_index))
            return super().latents(index, count)

    s = stream()
    s.frame_input = Recording(torch.zeros(1, 40, *SHAPE), strength)
    s.take(16)   # 8 steps: the start-up reads frames 0-7 at once, then step k reads frames first_index + position
    assert read == [(0, 0)] + [(index, position) for index in range(8, 2 * 7 + position + 1, 2)]


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
