"""Causal (autoregressive) Wan streams on a tiny random-weight ``CausalWanModel`` built from
ComfyUI's own class and opened by its stock loader (ComfyUI 0.33 and newer), against ComfyUI's
own ``ar_video`` sampler."""
import os

import pytest
import torch

from tiny_wan import CAUSAL_METADATA, TEXT_DIM, wan_model_state, wan_vae_state, write

LATENT = (16, 4, 4)            # [C, h, w] of one latent frame: 32x32 video


@pytest.fixture(scope="module")
def causal(comfy, comfy_base):
    """Stock loaders over tiny files: (causal MODEL, VAE)."""
    import importlib.util
    if importlib.util.find_spec("comfy.ldm.wan.ar_model") is None:
        pytest.skip("this ComfyUI has no causal Wan model (comfy/ldm/wan/ar_model.py, ComfyUI 0.33 and newer)")
    write(os.path.join(comfy_base, "models", "diffusion_models", "tiny_causal_wan.safetensors"),
          wan_model_state(seed=5), CAUSAL_METADATA)
    write(os.path.join(comfy_base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())
    model = comfy.UNETLoader().load_unet("tiny_causal_wan.safetensors", "default")[0]
    assert type(model.model.diffusion_model).__name__ == "CausalWanModel"
    return model, comfy.VAELoader().load_vae("tiny_wan_vae.safetensors")[0]


def conditioning(seed: int, length: int = 12):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, length, TEXT_DIM, generator=g), {}]]


def schedule_of(pack, *prompts):
    """A ConditioningSchedule: prompt i (a conditioning seed) from stream frame at_i on."""
    source = pack("nodes.wan.source")
    (at, seed), *rest = prompts
    schedule = source.ConditioningSchedule.single(f"p{seed}", source.cross_attn(conditioning(seed)))
    for at, seed in rest:
        schedule = schedule.with_entry(source.output_frame(at), f"p{seed}", source.cross_attn(conditioning(seed)), 0)
    return schedule


def causal_stream(pack, model, schedule, N: int, c: int, steps: int, seed: int = 0, **source):
    from stream_core.engine.integrator import renoise
    from stream_core.engine.partition import Partition
    from stream_core.engine.stream import Stream
    wan = pack("nodes.wan.source")
    velocity = pack("nodes.wan.causal_source").CausalWanVelocity(model, schedule, **source)
    grid = wan.model_tau_grid(model, "simple", N * steps)
    return Stream(velocity, Partition(0, N, c, steps), LATENT, seed=seed, grid=grid, integrator=renoise), velocity


@pytest.mark.parametrize("c", [1, 3])
def test_one_chunk_window_equals_comfyuis_ar_video_sampler(pack, causal, monkeypatch, c):
    """N = 1: the stream is block-by-block generation. With the same noise (the stream's own draws:
    each block's starting noise, then one fresh noise per step), its frames equal those of
    ComfyUI's ``ar_video`` sampler with ``num_frame_per_block`` = c, frame-wise and chunk-wise."""
    import comfy.sample
    import comfy.samplers
    model, _ = causal
    steps, blocks = 3, 3
    drawn, randn = [], torch.randn

    def recording(*args, **kwargs):
        drawn.append(randn(*args, **kwargs))
        return drawn[-1]
    stream, velocity = causal_stream(pack, model, schedule_of(pack, (0, 1)), N=1, c=c, steps=steps)
    with monkeypatch.context() as patch:
        patch.setattr(torch, "randn", recording)
        ours = stream.take(blocks * c)
    per_block = [drawn[b * (steps + 1):(b + 1) * (steps + 1)] for b in range(blocks)]   # start noise, fresh x steps
    assert len(drawn) == blocks * (steps + 1) + 1 and len(velocity.cache.chunks) == blocks

    start = torch.cat([block[0] for block in per_block], dim=1).movedim(1, 2)        # [1, C, frames, h, w]
    fresh = iter([noise.movedim(1, 2) for block in per_block for noise in block[1:steps]])   # not the last step's
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)
    sampler = comfy.samplers.ksampler("ar_video", {"num_frame_per_block": c})
    with monkeypatch.context() as patch:
        patch.setattr(torch, "randn_like", lambda like, **kw: next(fresh))
        stock = comfy.sample.sample_custom(model, start, 1.0, sampler, sigmas, conditioning(1), conditioning(2),
                                           torch.zeros_like(start), disable_pbar=True, seed=0)
    assert next(fresh, None) is None, "ar_video drew less noise than the stream"
    assert stock.abs().mean() > 0.1
    torch.testing.assert_close(model.model.process_latent_out(ours.movedim(1, 2)), stock, rtol=1e-4, atol=1e-4)
