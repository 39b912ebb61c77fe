"""The evaluator's metrics on the world's own clips: a perfect model's scores, and a wrong one's."""
import dataclasses

from conftest import OPPOSITE
from stream_core.evaluate import HELD, SEEN, adherence, world_frames
from stream_core.world import HELD_OUT


def test_held_out_prompts_are_the_held_out_pairs():
    assert {(s.colour, s.shape) for s in HELD} == HELD_OUT
    assert not {(s.colour, s.shape) for s in SEEN} & HELD_OUT


def test_world_clips_score_full_adherence():
    r = adherence(lambda scene, seed: world_frames(scene, 16, seed), SEEN + HELD, seeds=2)
    assert r["colour"] == r["shape"] == r["motion"] == 1.0, r
    assert 0 < r["flicker"] < 0.1


def test_clips_of_another_colour_and_direction_score_low():
    def other(scene):
        return dataclasses.replace(scene, colour="red" if scene.colour == "blue" else "blue",
                                   direction=OPPOSITE[scene.direction])
    r = adherence(lambda scene, seed: world_frames(other(scene), 16, seed), SEEN, seeds=2)
    assert r["colour"] == 0 and r["shape"] == 1.0 and r["motion"] <= 0.25, r
