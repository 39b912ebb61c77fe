"""Streaming decode for Wan 2.1 / 2.2 VAEs: latent frames decoded as they come, with
the causal decoder's feature cache kept between calls.

ComfyUI's one-shot decode already runs the decoder piece by piece over a fresh cache;
keeping that cache alive across calls makes chunk-by-chunk decoding give the same frames as
decoding the whole latent video at once, so the stream has no seams.

Two cache protocols exist, told apart by what the module has, not by ComfyUI's version:

- older ComfyUI (``count_conv3d``): each causal convolution keeps its input's last two
  frames, joining the one before when a piece brings only one; pieces of any length are exact.
- newer ComfyUI (``count_cache_layers``, which also counts the downsampling layers' slots):
  a convolution keeps only the frames of the piece it was given, which is exact only when
  every piece after the first brings two frames or more, so its one-shot passes go 1, 2, 2, ...
  latent frames; the decoder returns a list of pieces, and the encoder may hold a lone frame
  back for the next call (``final=False``). A stream's pieces are as long as its chunks, so
  ``CausalCoder`` tops up any cache entry a short piece left with one frame, from the entry
  it replaced: the old protocol's rule, which makes pieces of any length exact here too.
"""
from __future__ import annotations

from typing import Callable

import comfy.ldm.wan.vae
import comfy.ldm.wan.vae2_2
import comfy.model_management
import torch

from .source import WanModelError


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


CACHED_FRAMES = 2   # what a causal convolution of the Wan VAEs needs of the frames before a piece


def cache_slots(module, coder: torch.nn.Module) -> int:
    """How many feature-cache entries ``coder`` (a Wan VAE's encoder or decoder) uses."""
    count = getattr(module, "count_cache_layers", None) or module.count_conv3d
    return count(coder)


def carry_short_entries(before: list, after: list) -> None:
    """Where a piece left a cache entry of fewer than ``CACHED_FRAMES`` frames, put the last
    frames of the entry it replaced in front (in place): what the next piece's causal
    convolution must see before it. Entries that are no frames yet (None, markers) stay."""
    for i, (old, new) in enumerate(zip(before, after)):
        if torch.is_tensor(old) and torch.is_tensor(new) and new is not old and new.shape[2] < CACHED_FRAMES:
            after[i] = torch.cat([old[:, :, new.shape[2] - CACHED_FRAMES:].to(new.device, new.dtype), new], dim=2)


class CausalCoder:
    """A Wan VAE's encoder or decoder (``part``) run piece by piece: its per-convolution
    feature cache, kept between calls, and whether the next call is the first."""

    def __init__(self, vae, part: str):
        module = wan_vae_module(vae)
        self.vae = vae
        self.wan22 = module is comfy.ldm.wan.vae2_2
        self._coder = getattr(vae.first_stage_model, part)
        self._cache: list = [None] * cache_slots(module, self._coder)
        self._first = True

    def run(self, x: torch.Tensor, **options) -> torch.Tensor:
        """The coder over one piece x [1, C, t, h, w], its cache carried on: its output [1, C', t', h', w']."""
        before = list(self._cache)
        out = self._coder(x, feat_cache=self._cache, feat_idx=[0], **options)
        carry_short_entries(before, self._cache)
        return torch.cat(out, dim=2) if isinstance(out, (list, tuple)) else out

    def checkpoint(self) -> Callable[[], None]:
        """The feature cache as it is now (its entries are replaced, never written into, so a
        copy of the list keeps them): the undo of a failed step."""
        cache, first = list(self._cache), self._first

        def undo() -> None:
            self._cache[:], self._first = cache, first
        return undo

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
            frames.append(self.run(x[:, :, i:i + 1], **first))
            self._first = False
        out = torch.cat(frames, dim=2)
        if self.wan22:
            out = comfy.ldm.wan.vae2_2.unpatchify(out, patch_size=2)
        # ComfyUI's decode does these per-pixel steps on the CPU; on the VAE's device they give the same
        # values (float32 arithmetic), and leave the stream's thread only the copy
        return vae.process_output(out.float())[0].movedim(0, -1).to(vae.output_device)   # [m, H, W, 3]
