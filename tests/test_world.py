import torch

from conftest import OPPOSITE
from stream_core.lab.analysis import follows, look
from stream_core.lab.world import HELD_OUT, World


def test_clips_are_deterministic_and_seeded():
    a, b, c = World(seed=3), World(seed=3), World(seed=4)
    clip, captions = a.clip(17)
    clip2, captions2 = b.clip(17)
    assert torch.equal(clip, clip2) and captions == captions2
    assert not torch.equal(clip, c.clip(17)[0])
    assert clip.shape == (8, 3, 64, 64) and clip.min() >= -1 and clip.max() <= 1


def test_captions_match_what_the_frames_show():
    world = World(seed=0, frames=8)
    reversed_followed = 0
    for i in range(60):
        clip, captions = world.clip(i)
        seen = [look(frame) for frame in clip]
        for s, caption in zip(seen, captions):
            words = caption.split()
            assert s.colour == words[1] and s.shape == words[2], (i, caption, s)
        direction = captions[0].split()[4]
        # every clip follows its direction, bounces included; the opposite one only when
        # the clip starts next to a border (it may have bounced just before)
        assert follows(seen, direction, 64), (i, captions[0], seen)
        reversed_followed += follows(seen, OPPOSITE[direction], 64)
    assert reversed_followed <= 15


def test_held_out_pairs_never_appear_in_training_clips():
    world = World(seed=1)
    pairs = {tuple(c.split()[1:3]) for i in range(400) for c in world.clip(i)[1]}
    assert not pairs & HELD_OUT
    assert len(pairs) >= 14
