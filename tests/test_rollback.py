"""A failed step changes nothing: not the stream, not what it took from its input (a camera's
queue, an encoder's cache), not a stateful integrator's history."""
import pytest
import torch

from analytic import means, point_mass_velocity
from stream_core.engine.integrator import euler
from stream_core.engine.live_input import LiveFrames
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream, StreamError

SHAPE = (3, 2, 2)
P = Partition(K=0, N=2, c=2, s=1)


class FailOnce:
    """The point-mass velocity, failing (NaN) on call ``fail_at``."""

    def __init__(self, fail_at: int):
        self.calls, self.fail_at, self.exact = 0, fail_at, point_mass_velocity(means)

    def __call__(self, x, tau, frame_index):
        self.calls += 1
        return torch.full_like(x, float("nan")) if self.calls == self.fail_at else self.exact(x, tau, frame_index)


class CountingEncoder:
    """images [F, H, W, 3] -> latents [1, F, 3, H, W], with a running count as its state (as a
    causal video encoder's cache), which it rolls back through ``checkpoint``."""

    def __init__(self):
        self.seen = 0

    def __call__(self, images):
        self.seen += len(images)
        return images.permute(0, 3, 1, 2)[None].double()

    def checkpoint(self):
        seen = self.seen
        return lambda: setattr(self, "seen", seen)


def camera_stream(velocity, encoder):
    stream = Stream(velocity, P, SHAPE, seed=2, dtype=torch.float64)
    stream.frame_input = LiveFrames(encoder, 0.5)
    for value in range(6):
        stream.frame_input.push(torch.full((2, 2, 3), float(value) / 10), 0.5, stamp=value)
    return stream


def test_a_failed_step_gives_back_the_camera_frames_it_took_and_the_encoders_state():
    unbroken_encoder, encoder = CountingEncoder(), CountingEncoder()
    unbroken = camera_stream(point_mass_velocity(means), unbroken_encoder)
    want = unbroken.take(8)
    stream = camera_stream(FailOnce(fail_at=1), encoder)
    camera = stream.frame_input
    with pytest.raises(StreamError, match="undone"):
        stream.take(8)
    assert (camera.received, camera.used, camera.dropped, camera.repeated) == (6, 0, 0, 0)
    assert encoder.seen == 0 and len(camera._waiting) == 6
    torch.testing.assert_close(stream.take(8), want, rtol=0, atol=0)
    assert (camera.used, camera.dropped, camera.repeated) == (unbroken.frame_input.used, unbroken.frame_input.dropped,
                                                              unbroken.frame_input.repeated)
    assert encoder.seen == unbroken_encoder.seen


def test_frames_that_arrive_during_a_failed_step_queue_after_those_it_gives_back():
    stream = camera_stream(point_mass_velocity(means), CountingEncoder())
    camera = stream.frame_input

    def failing(x, tau, frame_index):
        camera.push(torch.full((2, 2, 3), 0.9), 0.5, stamp=99)   # arrives while the model runs
        return torch.full_like(x, float("nan"))

    stream.velocity = failing
    with pytest.raises(StreamError):
        stream.step()
    assert [stamp for _, _, stamp in camera._waiting] == [0, 1, 2, 3, 4, 5, 99]
    assert camera.received == 7


class Momentum:
    """A stateful integrator (Euler on the mean of this and the last velocity): its history is
    rolled back with the step."""

    def __init__(self):
        self.last = None

    def __call__(self, field, x, tau, dtau, noise):
        v = field(x, tau)
        mixed = v if self.last is None or self.last.shape != v.shape else (v + self.last) / 2
        self.last = v
        return euler(lambda *_: mixed, x, tau, dtau, noise)

    def checkpoint(self):
        last = self.last
        return lambda: setattr(self, "last", last)


def test_a_stateful_integrators_history_is_rolled_back_with_a_failed_step():
    p = Partition(K=0, N=3, c=1, s=2)
    want = Stream(point_mass_velocity(means), p, SHAPE, seed=1, dtype=torch.float64, integrator=Momentum()).take(9)
    stream = Stream(FailOnce(fail_at=7), p, SHAPE, seed=1, dtype=torch.float64, integrator=Momentum())
    with pytest.raises(StreamError):
        stream.take(9)
    torch.testing.assert_close(stream.take(9), want, rtol=0, atol=0)


def test_the_schedule_is_read_on_the_cpu_and_handed_to_the_velocity_there():
    """k-diffusion keeps ``sigmas_cpu`` for its bookkeeping: the stream's grid, every frame's time
    and the frame indices stay on the CPU, so reading them (the panel's status) never waits for
    a device."""
    seen = []

    def velocity(x, tau, frame_index):
        seen.append((tau.device.type, frame_index.device.type))
        return point_mass_velocity(means)(x, tau, frame_index)

    stream = Stream(velocity, P, SHAPE, grid=torch.linspace(0, 1, P.T + 1), dtype=torch.float64)
    stream.take(4)
    assert stream.grid.device.type == "cpu" and stream.tau.device.type == "cpu"
    assert set(seen) == {("cpu", "cpu")} and all(isinstance(t, float) for t in stream.chunk_tau)
