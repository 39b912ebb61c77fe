"""The evaluator's metrics on the world's own clips: a perfect model's scores, and a wrong one's."""
import dataclasses
import math

from conftest import OPPOSITE
from stream_core.lab.analysis import Seen, at_border, look, pinned, seam, trajectory, travel
from stream_core.lab.evaluate import HELD, SEEN, adherence, long_run, world_frames
from stream_core.lab.world import HELD_OUT


def test_held_out_prompts_are_the_held_out_pairs():
    assert {(s.colour, s.shape) for s in HELD} == HELD_OUT
    assert not {(s.colour, s.shape) for s in SEEN} & HELD_OUT


def test_world_clips_score_full_adherence():
    r = adherence(lambda scene, seed: world_frames(scene, 16, seed), SEEN + HELD, seeds=2)
    assert r["colour"] == r["shape"] == r["motion"] == 1.0, r
    assert 0 < r["flicker"] < 0.1
    assert r["speed"] > 1 and r["jerk"] < 0.5, r   # world objects move steadily, across the borders too


def test_clips_of_another_colour_and_direction_score_low():
    def other(scene):
        return dataclasses.replace(scene, colour="red" if scene.colour == "blue" else "blue",
                                   direction=OPPOSITE[scene.direction])
    r = adherence(lambda scene, seed: world_frames(other(scene), 16, seed), SEEN, seeds=2)
    assert r["colour"] == 0 and r["shape"] == 1.0 and r["motion"] <= 0.25, r


def path(xs):
    return [Seen("red", "circle", x, 32.0) if x is not None else Seen(None, None, math.nan, math.nan) for x in xs]


def test_trajectory_tells_steady_from_jerky_motion_at_the_same_speed():
    assert trajectory(path([0, 2, 4, 6, 8]), 64) == (2.0, 0.0)
    assert trajectory(path([0, 1, 4, 5, 8]), 64) == (2.0, 2.0)          # steps 1, 3, 1, 3
    assert trajectory(path([60, 62, 0, 2, 4]), 64) == (2.0, 0.0)        # across the border: still 2 px a step
    speed, jerk = trajectory(path([0, 2, None, 6, 8]), 64)              # no three shapes in a row
    assert speed == 2.0 and math.isnan(jerk)


def test_seam_finds_chunks_that_start_behind_the_last_one():
    assert seam(path([0, 2, 4, 6, 8, 10]), "right", 64, c=2) == 0.0
    assert seam(path([0, 2, 2, 4, 4, 6]), "right", 64, c=2) == -2.0      # steps 2 inside a chunk, 0 across
    assert seam(path([0, 2, 2, 4, 4, 6]), "left", 64, c=2) == 2.0
    assert seam(path([0, 2, 2, 4, 4, 6]), "right", 64, c=2, K=1) == 2.0     # a reference, then chunks 1-2, 3-4
    assert math.isnan(seam(path([0, 1, 2, 3]), "right", 64, c=1))


def test_travel_counts_motion_round_the_world_and_not_jitter():
    assert travel(path([(1.5 * t) % 64 for t in range(201)]), "right", 64) == 150.0   # 1.5 px a frame, wrapping
    assert travel(path([(1.5 * t) % 64 for t in range(201)]), "left", 64) == -150.0
    assert abs(travel(path([30 + (t % 2) for t in range(201)]), "right", 64)) <= 1    # jitter in place goes nowhere


def test_pinned_is_a_shape_stuck_at_a_border_not_one_crossing_it():
    stuck = pinned(path([20, 40, 54] + [55.0] * 20), 64)      # the edge of a shape of radius 8 at 55: 1 px away
    assert not any(stuck[:10]) and all(stuck[11:])
    assert not any(pinned(path([(1.5 * t) % 64 for t in range(200)]), 64))
    assert not any(pinned(path([32.0] * 20), 64))                 # still, but in the middle
    assert at_border(path([2.0])[0], 64) and at_border(path([10.0])[0], 64) and not at_border(path([32.0])[0], 64)


def test_long_world_clips_travel_at_their_speed_and_are_never_pinned():
    r = long_run(lambda scene, seed: [look(f) for f in world_frames(scene, 400, seed)], SEEN, seeds=1, size=64, late=200)
    assert r["pinned"] == 0 and r["colour"] == r["shape"] == r["direction"] == 1.0, r
    assert r["per_scene"][SEEN[0]] == 150.0 and r["per_scene"][SEEN[-1]] == 300.0   # "quickly": twice the speed
    world = r["per_scene"]
    stopped = long_run(lambda scene, seed: [look(world_frames(scene, 1, seed)[0])] * 400, SEEN, 1, 64, world, late=200)
    assert stopped["lowest"][0] == 0 and stopped["direction"] == 0, stopped
