"""Real-time pacing on a fake clock: frames are due 1/fps apart, a slow moment is forgiven."""
import pytest

from conftest import ROOT  # noqa: F401  (puts the pack on sys.path)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def pacer_cls(comfy, pack):
    return pack("nodes.run.pacer").Pacer


def test_frames_are_made_no_faster_than_fps(pacer_cls):
    clock = FakeClock()
    pacer = pacer_cls(10.0, clock=clock, sleep=clock.sleep)
    checks = []
    pacer.made(2, check=lambda: checks.append(clock.now))   # frames 0, 1 made at once: the next is due at 0.2 s
    assert clock.now == pytest.approx(100.2) and max(clock.slept) <= 0.05 and len(checks) >= 4
    clock.now += 0.05                                         # the model took 50 ms for the next two
    pacer.made(2)
    assert clock.now == pytest.approx(100.4)


def test_a_slow_moment_is_forgiven_beyond_the_slack(pacer_cls):
    clock = FakeClock()
    pacer = pacer_cls(10.0, slack=0.25, clock=clock, sleep=clock.sleep)
    pacer.made(1)
    assert clock.now == pytest.approx(100.1)
    clock.now += 5.0                                          # a 5 s stall (a model load, a gap between runs)
    pacer.made(10)                                            # no burst of 50 frames' catching up:
    before = clock.now
    pacer.made(4)                                             # 0.25 s of the stall is made up (4 frames in
    assert clock.now - before == pytest.approx(0.15)          # 0.15 s instead of 0.4 s) ...
    pacer.made(2)
    assert clock.now - before == pytest.approx(0.35)          # ... then the pace is 10 fps again


def test_a_check_can_cut_the_wait_short(pacer_cls):
    clock = FakeClock()
    pacer = pacer_cls(1.0, clock=clock, sleep=clock.sleep)

    def stop():
        if clock.now > 100.1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pacer.made(1, check=stop)
    assert clock.now < 100.2


def test_fps_must_be_positive(pacer_cls):
    with pytest.raises(ValueError, match="fps > 0"):
        pacer_cls(0.0)


def test_a_runs_last_frames_are_counted_without_a_wait_and_the_next_run_waits_instead(pacer_cls):
    clock = FakeClock()
    pacer = pacer_cls(10.0, clock=clock, sleep=clock.sleep)
    pacer.made(2)                                             # frames 0, 1: the next is due at 0.2 s
    pacer.made(2, wait=False)                                 # frames 2, 3 end a run: no sleep
    assert clock.now == pytest.approx(100.2)
    pacer.made(2)                                             # the next run's first two: frame 4 is due at 0.4 s
    assert clock.now == pytest.approx(100.6)
