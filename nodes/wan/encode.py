"""Streaming encode for Wan 2.1 / 2.2 VAEs: video frames encoded piece by piece, with the
causal encoder's feature cache kept between calls.

ComfyUI's one-shot encode runs the encoder over the first frame alone, then over 4 frames
per latent, on a fresh cache; keeping the cache alive across calls makes a long video
encoded in pieces give the latents of encoding it at once (as ``decode`` does for
decoding).
"""
from __future__ import annotations

import inspect

import comfy.ldm.wan.vae2_2
import torch

from .decode import CausalCoder, load_vae
from .source import VIDEO_FRAMES_PER_LATENT as FRAMES_PER_LATENT   # after the first latent, which is one frame


class WanStreamEncoder(CausalCoder):
    """``encoder(images [m, H, W, 3] in [0, 1]) -> latents [n, C, h, w]`` in the VAE's space;
    the first call takes m = 1 + 4k frames (n = 1 + k), later calls m = 4k (n = k)."""

    def __init__(self, vae):
        super().__init__(vae, "encoder")
        # newer encoders hold a lone output frame back for the next call unless told the piece is the last;
        # a stream wants every latent as soon as its frames are in (and the cache top-up keeps that exact)
        takes_final = "final" in inspect.signature(self._coder.forward).parameters
        self._no_holding_back = {"final": True} if takes_final else {}

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        lead = 1 if self._first else 0
        if not len(images) or (len(images) - lead) % FRAMES_PER_LATENT:
            raise ValueError(f"a Wan VAE encodes {'1 + ' if lead else ''}a multiple of {FRAMES_PER_LATENT} frames at a "
                             f"time{' first' if lead else ' after its first call'}, got {len(images)}")
        vae, model = self.vae, self.vae.first_stage_model
        load_vae(vae, (1, 3, *images.shape[:3]), encode=True)
        x = vae.process_input(images.movedim(-1, 0)[None].to(vae.device, vae.vae_dtype))   # [1, 3, m, H, W]
        if self.wan22:
            x = comfy.ldm.wan.vae2_2.patchify(x, patch_size=2)
        pieces = ([x[:, :, :1]] if lead else []) + list(x[:, :, lead:].split(FRAMES_PER_LATENT, dim=2))
        pieces = [piece for piece in pieces if piece.shape[2]]
        out = torch.cat([self.run(piece, **self._no_holding_back) for piece in pieces], dim=2)
        self._first = False
        mu = model.conv1(out).chunk(2, dim=1)[0]                                  # [1, C, n, h, w]
        return mu[0].movedim(1, 0).to(vae.output_device).float()
