import torch

from stream_core.analysis import direction, look
from stream_core.world import HELD_OUT, World


def test_clips_are_deterministic_and_seeded():
    a, b, c = World(seed=3), World(seed=3), World(seed=4)
    clip, captions = a.clip(17)
    clip2, captions2 = b.clip(17)
    assert torch.equal(clip, clip2) and captions == captions2
    assert not torch.equal(clip, c.clip(17)[0])
    assert clip.shape == (8, 3, 64, 64) and clip.min() >= -1 and clip.max() <= 1


def test_captions_match_what_the_frames_show():
    world = World(seed=0, frames=8)
    checked_direction = 0
    for i in range(60):
        clip, captions = world.clip(i)
        for frame, caption in zip(clip, captions):
            seen = look(frame)
            words = caption.split()
            assert seen.colour == words[1] and seen.shape == words[2], (i, caption, seen)
        words = captions[0].split()
        # a clip that does not reach a border (no bounce) moves the way its caption says
        moved = direction(clip)
        r = world.radius
        if all(r + 1 < v < 64 - r - 1 for s in map(look, clip) for v in (s.x, s.y)):
            assert moved == words[4], (i, captions[0], moved)
            checked_direction += 1
    assert checked_direction > 10


def test_held_out_pairs_never_appear_in_training_clips():
    world = World(seed=1)
    pairs = {tuple(c.split()[1:3]) for i in range(400) for c in world.clip(i)[1]}
    assert not pairs & HELD_OUT
    assert len(pairs) >= 14
