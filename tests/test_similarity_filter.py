"""The stochastic similarity filter: a stream whose input barely changes skips steps, and a
skipped step repeats the last finished chunk while the frame index moves on."""
import math

import pytest
import torch

from analytic import point_mass_velocity
from stream_core.engine.frame_input import LatentClip
from stream_core.engine.live_input import LiveFrames
from stream_core.engine.partition import Partition
from stream_core.engine.similarity_filter import (MAX_SKIPS_IN_A_ROW, check_threshold, similarity,
                                                  skip_probability)
from stream_core.engine.stream import Stream

SHAPE = (3, 2, 2)
P = Partition(K=0, N=4, c=2, s=1)


def index_valued(**kw) -> Stream:
    """A stream whose frame i comes out as the constant i (the point mass at i)."""
    return Stream(point_mass_velocity(lambda i: i.double()), P, SHAPE, **kw)


def clip(frames: torch.Tensor, strength: float = 0.5) -> LatentClip:
    return LatentClip(frames[None], strength)


def still(frames: int) -> torch.Tensor:
    return torch.ones(frames, *SHAPE)


def run(stream: Stream, steps: int) -> list[tuple[list[float], bool]]:
    """Per step: the values of the frames it finished, and whether it ran the model."""
    out = []
    for _ in range(steps):
        before = stream.evaluations
        frames = stream.step()
        out.append(([round(float(v), 6) for v in frames[0].flatten(1).mean(1)], stream.evaluations > before))
    return out


def test_the_rule():
    x = torch.arange(5.0)
    assert similarity(x, 2 * x + 1) == pytest.approx(1.0)         # brightness and contrast aside
    assert similarity(x, -x) == pytest.approx(-1.0)
    assert similarity(torch.zeros(5), torch.zeros(5)) == 1.0      # identical, flat
    assert similarity(torch.zeros(5), torch.ones(5)) == 0.0       # flat and different: no likeness
    background = -torch.ones(64, 64)
    a, b = background.clone(), background.clone()
    a[10:20, 10:20], b[10:20, 12:22] = 1, 1                        # a square two pixels on, on a dark ground
    assert similarity(a, b) < 0.9 < torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), 0)
    assert skip_probability(0.97, 0.98) == 0.0
    assert skip_probability(0.99, 0.98) == pytest.approx(0.5)
    assert skip_probability(1.0, 0.98) == 1.0
    assert skip_probability(1.0, 0.0) == 0.0                       # threshold 0: off
    for bad in (1.0, -0.01, math.nan, True, "0.9", None):
        with pytest.raises(ValueError, match="similarity threshold"):
            check_threshold(bad)


def test_a_still_input_skips_steps_and_a_skip_repeats_the_last_chunk_a_few_times_in_a_row_at_most():
    stream = index_valued()
    stream.frame_input = clip(still(400))
    stream.similarity_filter.threshold = 0.9
    steps = run(stream, 60)
    ran = [r for _, r in steps]
    report = stream.similarity_filter.report()
    assert report["skipped"] > 20 and report["checked"] >= 55, report
    assert stream.evaluations < 60 - 20
    longest = max(len(run) for run in "".join("s" if not r else "." for r in ran).split("."))
    assert longest == MAX_SKIPS_IN_A_ROW                           # a still input: skipped up to the cap
    for n, (frames, model_ran) in enumerate(steps[1:], 1):
        first = stream.frames_out - 2 * (len(steps) - n)
        if model_ran:                                              # a frame keeps the value of its own index
            assert frames == [first, first + 1], (n, frames)
        else:                                                      # a skip: the last chunk again
            assert frames == steps[n - 1][0], (n, frames)


def test_a_changing_input_skips_nothing_and_threshold_zero_is_the_stream_without_a_filter():
    moving = torch.randn(400, *SHAPE, generator=torch.Generator().manual_seed(1))
    plain = index_valued(seed=3)
    plain.frame_input = clip(moving)
    filtered = index_valued(seed=3)
    filtered.frame_input = clip(moving)
    filtered.similarity_filter.threshold = 0.9
    assert run(filtered, 30) == run(plain, 30)
    assert filtered.similarity_filter.report() | {"threshold": 0} == {"threshold": 0, "checked": 29, "skipped": 0}
    off = index_valued(seed=3)
    off.frame_input = clip(still(400))
    assert run(off, 30) == run(index_valued(seed=3), 30) and off.similarity_filter.checked == 0


def test_the_same_seed_skips_the_same_steps_and_an_undone_step_draws_the_same_again():
    def filtered():
        stream = index_valued(seed=5)
        stream.frame_input = clip(still(400))
        stream.similarity_filter.threshold = 0.5
        return stream

    unbroken = run(filtered(), 40)
    assert run(filtered(), 40) == unbroken
    broken, calls = filtered(), []

    def cancel_once():
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt

    broken.before_pass = cancel_once
    got = []
    while len(got) < 40:
        try:
            got += run(broken, 1)
        except KeyboardInterrupt:
            pass
    assert got == unbroken
    assert broken.similarity_filter.report() == {"threshold": 0.5, "checked": 39,
                                                  "skipped": sum(not r for _, r in unbroken[1:])}


def test_a_camera_that_sends_nothing_new_is_still_and_a_new_frame_is_not():
    live = LiveFrames(lambda images: images.permute(0, 3, 1, 2)[None], 0.5)
    assert live.similarity(0, 2) is None                          # nothing taken yet
    picture = torch.arange(12, dtype=torch.uint8).reshape(2, 2, 3) * 20
    live.push(picture, 0.5)
    live.latents(0, 2)
    assert live.similarity(2, 2) == 1.0                           # nothing waiting: the held frame repeats
    live.push(picture + 1, 0.5)
    assert live.similarity(2, 2) > 0.99
    live.push(picture.flip(0), 0.5)
    assert live.similarity(2, 2) < 0                              # the picture upside down
    assert live.received == 3 and live.used == 1                  # looking takes nothing


def test_a_skip_moves_the_camera_stamps_with_the_frames_so_each_output_frame_names_its_own_input():
    stream = index_valued()
    live = stream.frame_input = LiveFrames(lambda images: images.permute(0, 3, 1, 2)[None], 0.0)   # the input itself
    stream.similarity_filter.threshold = 0.5
    pushed = 0
    stamped = repeats = 0
    for _ in range(40):
        for _ in range(2):                                         # a camera as fast as the stream, barely moving
            live.push(torch.linspace(0, 0.5, 12).reshape(2, 2, 3) + 1e-3 * pushed, 0.0, stamp=pushed)
            pushed += 1
        first = stream.frames_out
        for n, value in enumerate(stream.step()[0].flatten(1).mean(1).tolist()):
            stamp = live.left(first + n)
            if stamp is None:
                repeats += 1
            else:                                                  # the frame shows the input its stamp names
                stamped += 1
                assert value == pytest.approx(0.25 + 1e-3 * stamp, abs=1e-6), (first + n, stamp, value)
    assert stream.similarity_filter.skipped >= 10 and stamped >= 10 and repeats >= 2 * stream.similarity_filter.skipped
