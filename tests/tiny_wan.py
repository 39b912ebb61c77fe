"""Random-weight Wan models and VAEs built from ComfyUI's own classes (tiny for tests, or
at the real sizes for speed measurements), saved where the stock loaders find them
(needs ComfyUI importable)."""
from __future__ import annotations

import os

import torch
from safetensors.torch import save_file

TEXT_DIM = 4096   # ComfyUI's Wan detection assumes the umt5-xxl width


def _randomized(module: torch.nn.Module, seed: int, scale: float) -> dict:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * scale)
    return {k: v.contiguous() for k, v in module.state_dict().items()}


def wan_model_state(seed: int = 0, **kwargs) -> dict:
    """State dict of a tiny WanModel (dim 128 -> 1 head, as detection assumes 128 per head)."""
    from comfy.ldm.wan.model import VaceWanModel, WanModel
    cls = VaceWanModel if kwargs.get("model_type") == "vace" else WanModel
    config = dict(model_type="t2v", patch_size=(1, 2, 2), in_dim=16, dim=128, ffn_dim=256, freq_dim=256,
                  text_dim=TEXT_DIM, out_dim=16, num_heads=1, num_layers=2, operations=torch.nn)
    config.update(kwargs)
    return _randomized(cls(**config), seed, 0.05)


WAN21_1_3B = dict(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)   # the real 1.3B shapes
WAN21_VAE_DIM = 96


def wan_vae_state(seed: int = 0, dim: int = 8) -> dict:
    """State dict of a Wan 2.1 VAE, tiny by default (4x time, 8x8 space, 16 latent channels)."""
    from comfy.ldm.wan.vae import WanVAE
    vae = WanVAE(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True])
    return _randomized(vae, seed, 0.2)


CAUSAL_METADATA = {"config": '{"transformer": {"causal_ar": true}}'}
"""What marks a Wan file causal for ComfyUI's loader (it then builds a ``CausalWanModel``)."""


def write(path: str, state: dict, metadata: dict | None = None) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(state, path, metadata=metadata)
    return path


def tiny_wan22_vae(seed: int = 0):
    """A ComfyUI VAE object around a tiny Wan 2.2 VAE (48 latent channels, 4x time, 16x16
    space). ComfyUI recognises 2.2 VAE files only at their full size (dim 160, 705 M
    parameters), so the tiny one of the same class goes into a VAE loaded from a tiny 2.1
    file, with the 2.2 settings ComfyUI's loader would give it."""
    import math

    import comfy.model_patcher
    import comfy.sd
    from comfy.ldm.wan.vae2_2 import WanVAE
    vae = comfy.sd.VAE(sd=wan_vae_state(seed))
    tiny = WanVAE(dim=8, dec_dim=8, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                  temperal_downsample=[False, True, True])
    tiny.load_state_dict(_randomized(tiny, seed, 0.2))
    vae.first_stage_model = tiny.eval().to(vae.vae_dtype)
    vae.patcher = comfy.model_patcher.ModelPatcher(tiny, load_device=vae.device, offload_device=vae.device)
    vae.latent_channels = 48
    vae.upscale_ratio = (lambda a: max(0, a * 4 - 3), 16, 16)
    vae.downscale_ratio = (lambda a: max(0, math.floor((a + 3) / 4)), 16, 16)
    return vae


def write_tiny_wan(base: str) -> None:
    """The tiny Wan 2.1 model, a tiny causal one and the VAE in a ComfyUI base directory, for
    ``wan_stream_prompt`` and ``causal_stream_prompt``."""
    write(os.path.join(base, "models", "diffusion_models", "tiny_wan_t2v.safetensors"), wan_model_state())
    write(os.path.join(base, "models", "diffusion_models", "tiny_causal_wan.safetensors"), wan_model_state(seed=5),
          CAUSAL_METADATA)
    write(os.path.join(base, "models", "vae", "tiny_wan_vae.safetensors"), wan_vae_state())


def wan_stream_prompt(stream_id: str, frames: int, **stream) -> dict:
    """An API prompt: the tiny Wan through the stock loaders into a StreamDiT Wan Stream (node "5"),
    32x32, N=2 c=2 s=1, guidance 1, its conditionings from the tests' StreamDiTTestConditioning
    node (tests/fixtures); ``stream`` overrides the stream node's inputs."""
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "tiny_wan_t2v.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "VAELoader", "inputs": {"vae_name": "tiny_wan_vae.safetensors"}},
        "3": {"class_type": "StreamDiTTestConditioning", "inputs": {"seed": 1, "tokens": 8}},
        "4": {"class_type": "StreamDiTTestConditioning", "inputs": {"seed": 2, "tokens": 8}},
        "5": {"class_type": "StreamDiTWanStream", "inputs": {
            "model": ["1", 0], "positive": ["3", 0], "negative": ["4", 0], "vae": ["2", 0], "stream_id": stream_id,
            "action": "continue", "seed": 0, "width": 32, "height": 32, "K": 0, "N": 2, "c": 2, "s": 1,
            "scheduler": "simple", "guidance": 1.0, "frames": frames, **stream}},
    }


def causal_stream_prompt(stream_id: str, frames: int, **stream) -> dict:
    """An API prompt: a tiny causal Wan (its file under ``tiny_causal_wan.safetensors``, written with
    ``CAUSAL_METADATA``) through the stock loader into a StreamDiT Causal Wan Stream (node "5"),
    32x32, N=2 c=1 s=1; ``stream`` overrides the stream node's inputs."""
    prompt = wan_stream_prompt(stream_id, frames)
    prompt["1"]["inputs"]["unet_name"] = "tiny_causal_wan.safetensors"
    inputs = {k: v for k, v in prompt["5"]["inputs"].items() if k not in ("negative", "K", "guidance")}
    prompt["5"] = {"class_type": "StreamDiTCausalWanStream", "inputs": {
        **inputs, "N": 2, "c": 1, "s": 1, "sampler": "renoise", "sink": 1, "window": 2, "recache": True, **stream}}
    return prompt


def taehv_state(seed: int = 0, latent_channels: int = 16) -> dict:
    """State dict of a random-weight TAEHV (ComfyUI's own class) with the published key layout
    (encoder.*, decoder.*): a stand-in for taew2_1 (16 channels) or taew2_2 (48)."""
    import comfy.taesd.taehv
    torch.manual_seed(seed)
    taehv = comfy.taesd.taehv.TAEHV(latent_channels=latent_channels)
    with torch.no_grad():
        for p in taehv.parameters():                  # ComfyUI's layers start uninitialised
            p.copy_(torch.randn_like(p) * (0.5 / p[0].numel() ** 0.5))
        taehv.decoder[-1].bias.fill_(0.5)
    return {k: v.contiguous() for k, v in taehv.state_dict().items()}
