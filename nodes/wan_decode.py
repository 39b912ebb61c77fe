"""Streaming decode for Wan 2.1 / 2.2 VAEs: latent frames decoded as they come, with
the causal decoder's feature cache kept between calls.

ComfyUI's one-shot decode already runs the decoder one latent frame at a time over a
fresh cache; keeping that cache alive across calls makes chunk-by-chunk decoding give
the same frames as decoding the whole latent video at once, so the stream has no seams.
"""
from __future__ import annotations

import comfy.ldm.wan.vae
import comfy.ldm.wan.vae2_2
import comfy.model_management
import torch

from .wan import WanModelError


def wan_vae_module(vae):
    """ComfyUI's ``comfy.ldm.wan.vae`` or ``vae2_2`` module of ``vae``'s model, or a
    ``WanModelError`` saying which VAE to load."""
    model = getattr(vae, "first_stage_model", None)
    for module in (comfy.ldm.wan.vae, comfy.ldm.wan.vae2_2):
        if isinstance(model, module.WanVAE):
            return module
    raise WanModelError(f"the VAE is a {type(model).__name__}, not a Wan 2.1 / 2.2 VAE: load the VAE that "
                        "belongs to the model (wan_2.1_vae.safetensors, or wan2.2_vae for the 5B model)")


def load_vae(vae, shape: tuple, encode: bool) -> None:
    """The VAE's weights onto its device (a run loads them with the model; this is for the rest)."""
    if vae.patcher not in comfy.model_management.loaded_models():
        memory = (vae.memory_used_encode if encode else vae.memory_used_decode)(shape, vae.vae_dtype)
        comfy.model_management.load_models_gpu([vae.patcher], memory_required=memory)


class CausalCoder:
    """A Wan VAE's encoder or decoder (``part``) run piece by piece: its per-convolution
    feature cache, kept between calls, and whether the next call is the first."""

    def __init__(self, vae, part: str):
        module = wan_vae_module(vae)
        self.vae = vae
        self.wan22 = module is comfy.ldm.wan.vae2_2
        self._cache: list = [None] * module.count_conv3d(getattr(vae.first_stage_model, part))
        self._first = True

    @property
    def nbytes(self) -> int:
        """Memory the feature cache holds between calls."""
        return sum(t.nbytes for t in self._cache if torch.is_tensor(t))


class WanStreamDecoder(CausalCoder):
    """``decoder(latents [n, C, h, w] in the VAE's space) -> images [m, H, W, 3]`` in [0, 1];
    m = 4 n, less 3 on the first call (Wan's first latent is one video frame)."""

    def __init__(self, vae):
        super().__init__(vae, "decoder")

    @torch.inference_mode()
    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        vae, model = self.vae, self.vae.first_stage_model
        z = latents.movedim(0, 1)[None]                                          # [1, C, n, h, w]
        load_vae(vae, z.shape, encode=False)
        x = model.conv2(z.to(vae.device, vae.vae_dtype))
        frames = []
        for i in range(x.shape[2]):
            first = {"first_chunk": True} if self.wan22 and self._first else {}
            frames.append(model.decoder(x[:, :, i:i + 1], feat_cache=self._cache, feat_idx=[0], **first))
            self._first = False
        out = torch.cat(frames, dim=2)
        if self.wan22:
            out = comfy.ldm.wan.vae2_2.unpatchify(out, patch_size=2)
        # ComfyUI's decode does these per-pixel steps on the CPU; on the VAE's device they give the same
        # values (float32 arithmetic), and leave the stream's thread only the copy
        return vae.process_output(out.float())[0].movedim(0, -1).to(vae.output_device)   # [m, H, W, 3]
