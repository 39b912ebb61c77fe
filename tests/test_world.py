import torch

from conftest import OPPOSITE
from stream_core.lab.analysis import follows, look, steps
from stream_core.lab.world import COLOURS, HELD_OUT, SHAPES, SPEEDS, Scene, World, footprint, render


def colour_shape_pairs(world: World, clips: int = 400) -> set[tuple[str, str]]:
    """The (colour, shape) pairs the captions of a world's first ``clips`` clips name."""
    return {tuple(c.split()[1:3]) for i in range(clips) for c in world.clip(i)[1]}


def test_clips_are_deterministic_and_seeded():
    a, b, c = World(seed=3), World(seed=3), World(seed=4)
    clip, captions = a.clip(17)
    clip2, captions2 = b.clip(17)
    assert torch.equal(clip, clip2) and captions == captions2
    assert not torch.equal(clip, c.clip(17)[0])
    assert clip.shape == (8, 3, 64, 64) and clip.min() >= -1 and clip.max() <= 1


def test_captions_match_what_the_frames_show():
    world = World(seed=0, frames=8)
    for i in range(60):
        clip, captions = world.clip(i)
        seen = [look(frame) for frame in clip]
        for s, caption in zip(seen, captions):
            words = caption.split()
            assert s.colour == words[1] and s.shape == words[2], (i, caption, s)
        direction = captions[0].split()[4]
        # the world wraps around: every clip follows its direction all the way, never the opposite
        assert follows(seen, direction, 64) and not follows(seen, OPPOSITE[direction], 64), (i, captions[0], seen)


def test_every_colour_is_told_apart_from_the_others_with_every_shape_on_either_background():
    scenes = [Scene(colour, shape, "right", stripes=stripes) for colour in COLOURS for shape in SHAPES
              for stripes in (False, True)]
    frames = render([[scene] for scene in scenes], [(30.0, 20.0)] * len(scenes), 64, 8.0)[:, 0]
    assert [(s.colour, s.shape) for s in map(look, frames)] == [(s.colour, s.shape) for s in scenes]


def test_a_shape_leaving_one_side_comes_back_on_the_other_and_keeps_its_speed():
    world = World(seed=0, frames=200)
    clip, captions = next((c, caps) for c, caps in map(world.clip, range(50)) if "right" in caps[0] and "quickly" in caps[0])
    seen = [look(frame) for frame in clip]
    assert all(s.shape == captions[0].split()[2] for s in seen)          # whole shapes, over the border too
    assert all(abs(dx - SPEEDS["quickly"]) < 0.6 and abs(dy) < 0.6 for dx, dy in steps(seen, 64)), steps(seen, 64)
    crossing = footprint(torch.tensor(SHAPES.index("square")), torch.tensor(1.0), torch.tensor(30.0), 8.0, 64)   # 1 px from the left border
    assert crossing[30, :8].all() and crossing[30, -6:].all() and not crossing[30, 20:50].any()


def test_held_out_pairs_never_appear_in_training_clips():
    pairs = colour_shape_pairs(World(seed=1))
    assert not pairs & HELD_OUT
    assert len(pairs) >= 14


def test_a_batch_renders_each_clip_as_it_renders_alone_and_every_pair_world_shows_the_held_out_pairs():
    world = World(seed=2, frames=6)
    clips, captions = world.batch([3, 4, 5])
    alone, alone_captions = world.clip(4)
    assert torch.equal(clips[1], alone) and captions[1] == alone_captions and clips.shape == (3, 6, 3, 64, 64)
    assert HELD_OUT <= colour_shape_pairs(World(seed=1, held_out=False))
