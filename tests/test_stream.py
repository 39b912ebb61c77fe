import math
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from stream_core.native.conditioning import TextVelocity
from stream_core.engine.partition import Partition
from stream_core.engine.integrator import euler_step, sample_uniform
from stream_core.engine.time_grid import tau_grid
from stream_core.engine.stream import Stream, StreamError
from stream_core.engine.timeline import PromptTimeline
from analytic import gaussian_velocity, means, point_mass_velocity

SHAPE = (3, 16, 16)


def text_velocity(model, guidance=1.0):
    timeline = PromptTimeline(((0, "a red ball rolling right"), (5, "a blue square rolling left")), transition=2)
    return TextVelocity(model, timeline, guidance)


def test_uniform_scheme_is_plain_euler_sampling(model):
    p = Partition.uniform(frames=8, steps=6)
    velocity = text_velocity(model, guidance=3.0)
    stream = Stream(velocity, p, SHAPE, seed=7)
    frames = stream.take(8)
    noise = torch.randn(1, 8, *SHAPE, generator=torch.Generator().manual_seed(7))
    expected = sample_uniform(velocity, noise, tau_grid(6))
    torch.testing.assert_close(frames, expected, rtol=1e-5, atol=1e-5)
    assert frames.std() > 0.1


def fifo_diffusion(velocity, frames_in_queue: int, seed: int, frames_out: int) -> torch.Tensor:
    """FIFO-Diffusion written out plainly: a queue of frames at rising noise levels, one
    step for all, dequeue the clean head, enqueue noise. The queue starts from one uniform
    trajectory, frame i of it kept when the trajectory reaches queue level i."""
    f = frames_in_queue
    grid = tau_grid(f)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, f, *SHAPE, generator=g)
    queue = [None] * f
    for k in range(f):
        queue[f - 1 - k] = x[:, f - 1 - k]
        if k < f - 1:
            x = euler_step(x, velocity(x, grid[k].expand(f), torch.arange(f)), (grid[k + 1] - grid[k]).expand(f))
    queue = torch.stack(queue, dim=1)
    levels = torch.arange(f - 1, -1, -1)             # queue slot -> grid index
    out = []
    for first in range(frames_out):
        tau, dtau = grid[levels], grid[levels + 1] - grid[levels]
        queue = euler_step(queue, velocity(queue, tau, first + torch.arange(f)), dtau)
        out.append(queue[:, 0])
        queue = torch.cat([queue[:, 1:], torch.randn(1, 1, *SHAPE, generator=g)], dim=1)
    return torch.stack(out, dim=1)


def test_diagonal_scheme_is_fifo_diffusion(model):
    """Started over the whole buffer (FIFO-Diffusion's queue comes from one joint generation)."""
    velocity = text_velocity(model)
    stream = Stream(velocity, Partition.diagonal(6), SHAPE, seed=11, lean_start=False)
    torch.testing.assert_close(stream.take(15), fifo_diffusion(velocity, 6, 11, 15), rtol=1e-5, atol=1e-5)


def test_same_seed_same_frames_and_take_splits_freely(model):
    p = Partition(K=1, N=3, c=2, s=2)
    a = Stream(text_velocity(model), p, SHAPE, seed=5).take(11)
    s = Stream(text_velocity(model), p, SHAPE, seed=5)
    b = torch.cat([s.take(3), s.take(0), s.take(5), s.take(3)], dim=1)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert s.frames_taken == 11
    c = Stream(text_velocity(model), p, SHAPE, seed=6).take(11)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("p", [Partition(0, 4, 2, 2), Partition.diagonal(5), Partition(2, 2, 3, 2)], ids=str)
def test_point_mass_frames_come_out_exactly(p):
    stream = Stream(point_mass_velocity(means), p, SHAPE, grid=tau_grid(p.T, shift=3.0), seed=1, dtype=torch.float64)
    out = stream.take(40)
    want = means(torch.arange(40)).reshape(1, 40, 1, 1, 1).expand_as(out)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-9)


def test_point_mass_continues_given_reference_frames():
    p = Partition(K=2, N=1, c=3, s=4)
    reference = torch.full((1, 2, *SHAPE), 9.0, dtype=torch.float64)
    stream = Stream(point_mass_velocity(means), p, SHAPE, reference=reference, dtype=torch.float64)
    out = stream.take(9)
    want = means(torch.arange(9)).reshape(1, 9, 1, 1, 1).expand_as(out)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-9)


def test_gaussian_frames_have_the_analytic_distribution():
    std, sigma_min = 0.5, 0.05
    p = Partition(K=0, N=4, c=2, s=16)
    grid = tau_grid(p.T)
    stream = Stream(gaussian_velocity(means, std, sigma_min), p, (4, 128, 128), seed=2, dtype=torch.float64)
    pixels = stream.take(24)[0].flatten(1)
    n = pixels.shape[1]
    # the velocity is affine in x, so Euler on this grid maps noise z to mu + gain * z exactly
    gain = 1.0
    for t, dt in zip(grid[:-1], grid[1:] - grid[:-1]):
        a = 1 - (1 - sigma_min) * t
        gain *= 1 + (t * std ** 2 - (1 - sigma_min) * a) / (t ** 2 * std ** 2 + a ** 2) * dt
    gain = float(gain)
    assert gain == pytest.approx(math.sqrt(std ** 2 + sigma_min ** 2), rel=0.03)  # the continuous flow's end
    err_mean = (pixels.mean(1) - means(torch.arange(24))).abs()
    assert (err_mean < 5 * gain / math.sqrt(n)).all(), err_mean.max()
    err_std = (pixels.std(1) / gain - 1).abs()
    assert (err_std < 5 / math.sqrt(2 * n)).all(), err_std.max()


def test_non_finite_model_output_is_reported():
    def broken(x, tau, frame_index):
        return torch.full_like(x, float("nan"))

    stream = Stream(broken, Partition(0, 2, 1, 1), SHAPE)
    with pytest.raises(StreamError, match="NaN or Inf"):
        stream.take(1)


def test_bad_inputs_are_refused(model):
    velocity = text_velocity(model)
    p = Partition(K=2, N=2, c=2, s=1)
    with pytest.raises(StreamError, match=r"reference latents must have shape \(1, 2, 3, 16, 16\)"):
        Stream(velocity, p, SHAPE, reference=torch.zeros(1, 3, *SHAPE))
    with pytest.raises(StreamError, match="reference latents contains NaN"):
        Stream(velocity, p, SHAPE, reference=torch.full((1, 2, *SHAPE), float("nan")))
    with pytest.raises(StreamError, match="frame_shape"):
        Stream(velocity, p, (3, 0, 16))
    with pytest.raises(StreamError, match="strictly increasing"):
        Stream(velocity, p, SHAPE, grid=torch.zeros(p.T + 1))
    with pytest.raises(StreamError, match="velocity returned shape"):
        Stream(lambda x, t, i: x[:, :1], p, SHAPE).take(1)
    with pytest.raises(ValueError, match=r"latents must be \[Bsz, F, 3, H, W\]"):
        Stream(velocity, p, (3, 15, 16)).take(1)
    with pytest.raises(StreamError, match="negative"):
        Stream(velocity, p, SHAPE).take(-1)


MEMORY_PROBE = r"""
import resource, sys, torch
sys.path.insert(0, sys.argv[1])
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream
sys.path.insert(0, sys.argv[1] + "/tests")
from analytic import point_mass_velocity, means
torch.set_num_threads(1)
stream = Stream(point_mass_velocity(means), Partition(K=1, N=4, c=1, s=1), (4, 32, 32), seed=0)
peaks = []
for total in (100, 2000):
    while stream.frames_taken < total:
        stream.take(10)
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB
print(peaks[0], peaks[1], stream.buffer.numel())
"""


@pytest.mark.slow   # a fresh interpreter measures its memory
def test_peak_memory_does_not_grow_with_stream_length():
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, ROOT], capture_output=True, text=True, check=True)
    peak100, peak2000, buffered = map(int, out.stdout.split())
    frame_kib = 4 * 32 * 32 * 4 / 1024
    # keeping the 1,900 extra frames would cost 1,900 * 16 KiB = 30 MiB; allow 1 MiB of allocator noise
    assert peak2000 - peak100 < 1024, (peak100, peak2000)
    assert 1900 * frame_kib > 20 * 1024
    assert buffered == 5 * 4 * 32 * 32


def test_an_interrupted_take_loses_no_frames(model):
    p = Partition(K=0, N=3, c=2, s=2)
    whole = Stream(text_velocity(model), p, SHAPE, seed=4).take(12)
    stream = Stream(text_velocity(model), p, SHAPE, seed=4)
    calls = []

    def interrupt_at_5(ready, finished):
        calls.append(ready)
        if ready >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream.take(12, progress=interrupt_at_5)
    assert calls == sorted(calls) and calls[-1] >= 5 and stream.ready == calls[-1]
    torch.testing.assert_close(torch.cat([stream.take(7), stream.take(5)], dim=1), whole, rtol=0, atol=0)


def test_half_precision_streams(model):
    model = model.to(torch.bfloat16)
    stream = Stream(text_velocity(model, guidance=2.0), Partition(0, 2, 2, 1), SHAPE, dtype=torch.bfloat16)
    out = stream.take(4)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


class Flaky:
    """A velocity that fails on its ``fail_at``-th call (NaN output, or raising), else the point mass."""

    def __init__(self, fail_at: int, how: str):
        self.calls, self.fail_at, self.how = 0, fail_at, how
        self.exact = point_mass_velocity(means)

    def __call__(self, x, tau, frame_index):
        self.calls += 1
        if self.calls == self.fail_at:
            if self.how == "nan":
                return torch.full_like(x, float("nan"))
            raise KeyboardInterrupt
        return self.exact(x, tau, frame_index)


@pytest.mark.parametrize("fail_at", [2, 5, 9], ids=lambda n: f"call{n}")   # start-up, first step, later
@pytest.mark.parametrize("how", ["nan", "raise"])
def test_a_failed_step_changes_nothing_and_the_stream_goes_on_unbroken(fail_at, how):
    p = Partition(K=1, N=3, c=2, s=2)
    unbroken = Stream(point_mass_velocity(means), p, SHAPE, seed=3, dtype=torch.float64).take(12)
    stream = Stream(Flaky(fail_at, how), p, SHAPE, seed=3, dtype=torch.float64)
    with pytest.raises(StreamError if how == "nan" else KeyboardInterrupt, match="step was undone" if how == "nan" else None):
        stream.take(12)
    frames = stream.take(12)
    torch.testing.assert_close(frames, unbroken, rtol=0, atol=0)


def test_before_pass_runs_before_every_model_pass_start_up_included():
    p = Partition(K=0, N=3, c=1, s=2)
    stream = Stream(point_mass_velocity(means), p, SHAPE, seed=1, dtype=torch.float64)
    passes = []
    stream.before_pass = lambda: passes.append(stream.evaluations)
    stream.take(3)
    assert len(passes) == stream.evaluations and stream.evaluations > p.level(0)   # the warm-up's passes too


@pytest.mark.parametrize("p", [Partition(0, 4, 2, 1), Partition(0, 3, 2, 2), Partition(2, 3, 2, 1)], ids=str)
def test_a_lean_start_leaves_out_the_chunks_taken_and_changes_nothing_frame_by_frame(p):
    """Streams start lean. A velocity of each frame alone (the point mass) gives the same frames as
    from a start over the whole buffer;
    its start-up passes take only the frames still on their way to their level."""
    frames_per_pass = []

    def counting(x, tau, index):
        frames_per_pass.append(x.shape[1])
        return point_mass_velocity(means)(x, tau, index)

    full = Stream(point_mass_velocity(means), p, SHAPE, seed=4, dtype=torch.float64, lean_start=False).take(12)
    lean = Stream(counting, p, SHAPE, seed=4, dtype=torch.float64)
    torch.testing.assert_close(lean.take(12), full, rtol=0, atol=0)
    start = frames_per_pass[:p.T if p.K else p.level(0)]
    # generated references stay in every pass; each chunk leaves once the start-up took it
    want = [p.K + p.c * (p.N - 1 - k // p.s) for k in range(len(start))]
    assert start == want and frames_per_pass[len(start):] == [p.B] * (len(frames_per_pass) - len(start))


def test_a_lean_start_is_a_start_up_of_fewer_frames_for_a_velocity_that_couples_them(model):
    """With a model that attends across frames the start differs, the stream after it is a stream."""
    p = Partition(0, 4, 2, 1)
    full = Stream(text_velocity(model), p, SHAPE, seed=3, lean_start=False).take(16)
    lean = Stream(text_velocity(model), p, SHAPE, seed=3).take(16)
    assert lean.shape == full.shape and torch.isfinite(lean).all()
    assert not torch.allclose(lean[:, :2], full[:, :2])
