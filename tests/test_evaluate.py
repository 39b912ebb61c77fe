"""The evaluator's metrics on the world's own clips: a perfect model's scores, and a wrong one's."""
import dataclasses
import math

from conftest import OPPOSITE
from stream_core.lab.analysis import Seen, seam, trajectory
from stream_core.lab.evaluate import HELD, SEEN, adherence, world_frames
from stream_core.lab.world import HELD_OUT


def test_held_out_prompts_are_the_held_out_pairs():
    assert {(s.colour, s.shape) for s in HELD} == HELD_OUT
    assert not {(s.colour, s.shape) for s in SEEN} & HELD_OUT


def test_world_clips_score_full_adherence():
    r = adherence(lambda scene, seed: world_frames(scene, 16, seed), SEEN + HELD, seeds=2)
    assert r["colour"] == r["shape"] == r["motion"] == 1.0, r
    assert 0 < r["flicker"] < 0.1
    assert r["speed"] > 1 and r["jerk"] < 0.5, r   # world objects move steadily, bouncing now and then


def test_clips_of_another_colour_and_direction_score_low():
    def other(scene):
        return dataclasses.replace(scene, colour="red" if scene.colour == "blue" else "blue",
                                   direction=OPPOSITE[scene.direction])
    r = adherence(lambda scene, seed: world_frames(other(scene), 16, seed), SEEN, seeds=2)
    assert r["colour"] == 0 and r["shape"] == 1.0 and r["motion"] <= 0.25, r


def path(xs):
    return [Seen("red", "circle", x, 10.0) if x is not None else Seen(None, None, math.nan, math.nan) for x in xs]


def test_trajectory_tells_steady_from_jerky_motion_at_the_same_speed():
    assert trajectory(path([0, 2, 4, 6, 8])) == (2.0, 0.0)
    assert trajectory(path([0, 1, 4, 5, 8])) == (2.0, 2.0)          # steps 1, 3, 1, 3
    speed, jerk = trajectory(path([0, 2, None, 6, 8]))              # no three shapes in a row
    assert speed == 2.0 and math.isnan(jerk)


def test_seam_finds_chunks_that_start_behind_the_last_one():
    assert seam(path([0, 2, 4, 6, 8, 10]), "right", c=2) == 0.0
    assert seam(path([0, 2, 2, 4, 4, 6]), "right", c=2) == -2.0      # steps 2 inside a chunk, 0 across
    assert seam(path([0, 2, 2, 4, 4, 6]), "left", c=2) == 2.0
    assert seam(path([0, 2, 2, 4, 4, 6]), "right", c=2, K=1) == 2.0     # a reference, then chunks 1-2, 3-4
    assert math.isnan(seam(path([0, 1, 2, 3]), "right", c=1))
