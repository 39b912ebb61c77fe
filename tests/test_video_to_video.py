"""Video-to-video through ComfyUI's node classes: an input video of the synthetic world,
re-drawn by the shipped student under another prompt."""
import math
import statistics
from fractions import Fraction

import pytest
import torch

from stream_core.engine.frame_input import VIDEO_GUIDANCE
from stream_core.lab.analysis import look
from stream_core.lab.evaluate import world_frames
from stream_core.lab.world import Scene, wrapped


@pytest.fixture(scope="module")
def nodes(comfy):
    m = comfy.NODE_CLASS_MAPPINGS
    model = m["StreamDiTLoader"].execute("streamdit-shapes-64px-distilled.safetensors", "cpu", "float32").result[0]
    return m, model


def images_of(scene: Scene, frames: int, seed: int = 0) -> torch.Tensor:
    """The world's clip of ``scene`` as ComfyUI IMAGE [F, 64, 64, 3] in [0, 1]."""
    return ((world_frames(scene, frames, seed) + 1) / 2).permute(0, 2, 3, 1).contiguous()


def streamed(m, model, prompt, video_input, stream_id, action="restart", frames=32, skip_similar=0.0,
             guidance=VIDEO_GUIDANCE):
    """The video-to-video workflows' stream (``VIDEO_GUIDANCE``) of ``frames`` frames: IMAGE [F, 64, 64, 3]."""
    schedule = m["StreamDiTPromptSchedule"].execute(f"0: {prompt}", 0).result[0]
    return m["StreamDiTStream"].execute(model=model, schedule=schedule, stream_id=stream_id, action=action, seed=0,
                                        width=64, height=64, K=0, N=4, c=2, s=1, guidance=guidance, frames=frames,
                                        video_input=video_input, skip_similar=skip_similar).result[1]


def seen(images: torch.Tensor):
    return [look(frame) for frame in images.permute(0, 3, 1, 2) * 2 - 1]


def test_strength_zero_gives_the_input_through_the_autoencoder_and_a_continued_run_goes_on(nodes):
    m, model = nodes
    video = images_of(Scene("red", "circle", "right"), 40)
    through = ((model.model.decode_frames(model.model.encode_frames(video.permute(0, 3, 1, 2) * 2 - 1)) + 1) / 2)
    through = through.permute(0, 2, 3, 1)
    video_input = m["StreamDiTVideoInput"].execute(0.0, images=video).result[0]
    first = streamed(m, model, "a blue square moving up", video_input, "v2v-zero", frames=16)
    assert torch.allclose(first, through[:16], atol=1e-5)
    more = streamed(m, model, "a blue square moving up", video_input, "v2v-zero", "continue", frames=16)
    assert torch.allclose(more, through[16:32], atol=1e-5)


def test_a_redrawn_video_takes_the_prompts_colour_and_follows_the_inputs_positions(nodes):
    m, model = nodes
    colours, errors = [], []
    for seed in (0, 1):   # two clips, each from its own start (per seed, 48 frames: median 3.5 and 2.0 px)
        video = images_of(Scene("red", "circle", "right"), 48, seed)
        video_input = m["StreamDiTVideoInput"].execute(0.6, images=video).result[0]
        out = streamed(m, model, "a blue square moving right", video_input, f"v2v-blue-{seed}", frames=48)
        inputs, outputs = seen(video), seen(out)
        colours += [s.colour for s in outputs]
        errors += [math.hypot(wrapped(o.x - i.x, 64), wrapped(o.y - i.y, 64)) for i, o in zip(inputs, outputs)
                   if o.colour is not None]
    assert colours.count("blue") >= 0.95 * len(colours), colours
    assert statistics.median(errors) <= 3.0, errors   # a stream ignoring its input is 20-30 px off


def test_a_video_input_takes_a_stock_video_and_refuses_nothing_connected(nodes):
    from comfy_api.latest import InputImpl, Types
    m, _ = nodes
    images = images_of(Scene("red", "circle", "right"), 4)
    video = InputImpl.VideoFromComponents(Types.VideoComponents(images=images, frame_rate=Fraction(8)))
    got = m["StreamDiTVideoInput"].execute(0.5, video=video).result[0]
    assert torch.equal(got.images, images) and got.strength == 0.5
    with pytest.raises(ValueError, match="connect 'images' or 'video'"):
        m["StreamDiTVideoInput"].execute(0.5)


def test_the_similarity_filter_skips_a_still_video_and_leaves_a_moving_one_alone(nodes, pack):
    STREAMS = pack("nodes.live.registry").STREAMS
    m, model = nodes
    moving = images_of(Scene("red", "circle", "right"), 40)
    still = moving[:1].expand(40, -1, -1, -1).contiguous()
    video_input = m["StreamDiTVideoInput"].execute(0.6, images=still).result[0]
    out = streamed(m, model, "a blue square moving right", video_input, "v2v-still", frames=40, skip_similar=0.98)
    report = STREAMS.get("v2v-still").report()["similarity_filter"]
    assert report["threshold"] == 0.98 and report["skipped"] >= 10, report
    repeats = sum(torch.equal(out[i], out[i - 2]) for i in range(2, 40))
    assert repeats >= 2 * report["skipped"], (repeats, report)   # a skip repeats the last two frames
    assert sum(s.colour == "blue" for s in seen(out)) >= 0.8 * len(out)
    video_input = m["StreamDiTVideoInput"].execute(0.6, images=moving).result[0]
    on = streamed(m, model, "a blue square moving right", video_input, "v2v-moving", frames=24, skip_similar=0.98)
    assert STREAMS.get("v2v-moving").report()["similarity_filter"]["skipped"] == 0
    assert torch.equal(on, streamed(m, model, "a blue square moving right", video_input, "v2v-moving", frames=24))
    with pytest.raises(ValueError, match="skip_similar"):
        streamed(m, model, "a blue square", video_input, "v2v-moving", frames=2, skip_similar=1.0)
