"""Guidance only below ``guidance_until``: the stream's velocity and the distillation teacher."""
import torch

from stream_core.native.conditioning import TextVelocity
from stream_core.lab.distill import teacher_segment
from stream_core.engine.guidance import guidance_scales, guide
from stream_core.engine.timeline import PromptTimeline

SHAPE = (3, 16, 16)
PROMPT = PromptTimeline(((0, "a red ball rolling right"),))


def test_scales_guide_below_until_and_not_from_it_on():
    tau = torch.tensor([[0.0, 0.5, 0.74, 0.75, 0.9, 1.0]])
    assert guidance_scales(tau, 3.0, 0.75).tolist() == [[3.0, 3.0, 3.0, 1.0, 1.0, 1.0]]
    assert guidance_scales(tau, 3.0, 1.0).tolist() == [[3.0] * 5 + [1.0]]


def test_per_frame_scales_guide_each_frame_with_its_own():
    g = torch.Generator().manual_seed(0)
    v_cond, v_uncond = torch.randn(2, 2, 3, *SHAPE, generator=g)
    out = guide(v_cond, v_uncond, torch.tensor([1.0, 2.0, 3.0]))
    for f, scale in enumerate((1.0, 2.0, 3.0)):
        torch.testing.assert_close(out[:, f], guide(v_cond[:, f], v_uncond[:, f], scale))


def test_frames_from_until_on_get_the_conditional_velocity_alone(model):
    x = torch.randn(1, 4, *SHAPE, generator=torch.Generator().manual_seed(1))
    tau, index = torch.tensor([0.9, 0.75, 0.5, 0.1]), torch.arange(4)
    plain = TextVelocity(model, PROMPT, 1.0)(x, tau, index)
    everywhere = TextVelocity(model, PROMPT, 3.0, guidance_until=1.0)(x, tau, index)
    split = TextVelocity(model, PROMPT, 3.0, guidance_until=0.75)(x, tau, index)
    torch.testing.assert_close(split[:, :2], plain[:, :2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(split[:, 2:], everywhere[:, 2:], rtol=1e-4, atol=1e-5)
    assert (everywhere[:, :2] - plain[:, :2]).abs().max() > 1e-3   # so guidance would have changed them


def test_a_buffer_past_until_runs_one_pass(model):
    batches = []
    hook = model.register_forward_hook(lambda module, args, out: batches.append(args[0].shape[0]))
    try:
        x = torch.randn(1, 2, *SHAPE, generator=torch.Generator().manual_seed(2))
        TextVelocity(model, PROMPT, 3.0, guidance_until=0.75)(x, torch.tensor([0.9, 0.8]), torch.arange(2))
        TextVelocity(model, PROMPT, 3.0, guidance_until=0.75)(x, torch.tensor([0.9, 0.5]), torch.arange(2))
    finally:
        hook.remove()
    assert batches == [1, 2]


def test_the_distillation_teacher_is_unguided_from_until_on(model):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, *SHAPE, generator=g)
    start = torch.tensor([0.75, 0.75, 0.5, 0.5]).expand(2, 4)   # chunk 0 and chunk 1 of c = 2
    length = torch.full((2, 4), 0.25)
    with torch.no_grad():
        context = model.encode(["a red ball rolling right"] * 2)[:, None].expand(2, 4, -1, -1)
        null = model.encode([""])[None].expand_as(context)
        unguided, guided, split = (teacher_segment(model, x, start, length, context, null, 1, guidance, until)
                                   for guidance, until in ((1.0, 1.0), (3.0, 1.0), (3.0, 0.75)))
    torch.testing.assert_close(split[:, :2], unguided[:, :2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(split[:, 2:], guided[:, 2:], rtol=1e-4, atol=1e-5)
    assert (guided[:, :2] - unguided[:, :2]).abs().max() > 1e-3
