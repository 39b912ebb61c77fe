"""Causal (autoregressive) Wan 2.1 models as a stream's conditioning source: Self-Forcing, Causal
Forcing, LongLive, Reward Forcing, Rolling Forcing, loaded by ComfyUI as its ``CausalWanModel``.

The buffer is the model's window: N chunks of c latent frames at rising noise levels (N = 1:
block-by-block generation as Self-Forcing samples it; N > 1: Rolling Forcing's joint window),
denoised together with attention to the keys and values of the frames that left it, which each
chunk writes once, clean, as it leaves (``remember``) into a rolling cache
(``stream_core/engine/rolling_cache.py``: a few sink frames and the last ``window``, constant
memory, positions kept within the model's range). Each model call goes through the model's own
``forward_block`` with per-frame timesteps; the cache is handed to it as ComfyUI's
``ar_video`` sampler hands its own.

A new prompt takes over the window at once; with ``recache`` the cache is written again under it
first (LongLive's KV re-cache: the context's look follows the new prompt), without it the
frames before keep the context they were written with.
"""
from __future__ import annotations

import importlib.util
from typing import Callable

import torch

from ...stream_core.engine.flow import sigma_of
from ...stream_core.engine.rolling_cache import CachedChunk, RollingCache
from .source import ConditioningSchedule, WanModelError, WanVelocity, check_text_to_video, is_causal, output_frame

SINK_FRAMES = 3      # latent frames the cache keeps from the stream's start (Rolling Forcing's sink)
WINDOW_FRAMES = 12   # latent frames before the buffer the cache keeps (Self-Forcing trains on 21 in all)


def comfy_has_causal_wan() -> bool:
    """Whether this ComfyUI has its causal Wan model (``comfy/ldm/wan/ar_model.py``)."""
    return importlib.util.find_spec("comfy.ldm.wan.ar_model") is not None


def check_causal_model(patcher) -> None:
    """Refuse a model that is not a causal Wan text-to-video model, saying what works."""
    if not comfy_has_causal_wan():
        raise WanModelError("this ComfyUI has no causal Wan model (comfy/ldm/wan/ar_model.py, in ComfyUI 0.33 and "
                            "newer): update ComfyUI to stream Self-Forcing, Causal Forcing or Rolling Forcing models")
    net = getattr(patcher.model, "diffusion_model", None)
    if not is_causal(net):
        raise WanModelError(
            f"the model is a {type(net).__name__}, not a causal Wan model: load a causal checkpoint (Self-Forcing, "
            "Causal Forcing, LongLive, Rolling Forcing) converted for ComfyUI, which the stock loader opens as a "
            "CausalWanModel; a plain Wan model goes into StreamDiT Wan Stream.")
    check_text_to_video(patcher)


def rotate_keys(net, keys: torch.Tensor, frames: int) -> torch.Tensor:
    """Keys [Bsz, tokens, heads, head_dim] (RoPE applied) moved ``frames`` latent frames later in
    time (earlier when negative): the temporal rotation only, as if written there."""
    from comfy.ldm.flux.math import apply_rope1
    position = torch.tensor([[[float(frames), 0.0, 0.0]]], device=keys.device)
    rotation = net.rope_embedder(position).movedim(1, 2).to(keys.dtype)   # spatial parts: the identity
    return apply_rope1(keys, rotation)


class CausalWanVelocity(WanVelocity):
    """``velocity(x [Bsz, F, C, H, W] in the model's latent space, tau [F], latent index [F]) -> dx/dtau``
    of a causal Wan model over the window ``x``, attending to the frames it remembered; the
    ``session.ConditioningSource`` of causal Wan streams (it follows a ``ConditioningSchedule``
    as ``WanVelocity`` does; one pass per prompt in the window, blended per frame; no guidance:
    these models are distilled without it). ``remember(frames, first_index)`` writes a chunk
    that left the buffer into the cache (one clean pass, timestep 0, as ``ar_video`` does)."""

    def __init__(self, patcher, schedule: ConditioningSchedule, sink: int = SINK_FRAMES, window: int = WINDOW_FRAMES,
                 recache: bool = True):
        check_causal_model(patcher)
        self.patcher, self.schedule, self.recache = patcher, schedule, recache
        self.net = patcher.model.diffusion_model
        self.cache = RollingCache(sink, window, self._reposition)
        self.written_under: str | None = None   # the prompt the newest chunk of the cache was written under
        self.recaches = 0                       # times the cache was written again under a new prompt

    # --- the model call ----------------------------------------------------------------------
    def _pass(self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor,
              chunks: list[CachedChunk]) -> tuple[torch.Tensor, list[dict]]:
        """One ``forward_block`` over ``x`` [Bsz, F, C, h, w] at noise levels ``sigma`` [F] (CPU),
        under ``context`` [1, L, D], attending to ``chunks``: (the flow output v [Bsz, F, C, h, w],
        float32; per layer the KV dict the model wrote ``x``'s keys and values into, after the
        chunks' tokens)."""
        base, net = self.patcher.model, self.net
        dtype = base.manual_cast_dtype or base.get_dtype()
        bsz, frames = x.shape[:2]
        cached = sum(c.keys[0].shape[1] for c in chunks)
        tokens = frames * -(-x.shape[3] // net.patch_size[1]) * -(-x.shape[4] // net.patch_size[2])
        kv, own = [], bool(chunks) and chunks is self.cache.chunks
        for layer in range(net.num_layers):
            if own:                                             # the cache as it is: its own room, no copy
                k, v = self.cache.layer(layer, tokens)
            else:                                               # nothing held, or a cache being written again
                room = [torch.empty(bsz, tokens, net.num_heads, net.head_dim, device=x.device, dtype=dtype)]
                k = torch.cat([*(c.keys[layer] for c in chunks), *room], dim=1)
                v = torch.cat([*(c.values[layer] for c in chunks), *room], dim=1)
            kv.append({"k": k, "v": v, "end": cached})
        timestep = self.patcher.get_model_object("model_sampling").timestep(sigma).float().to(x.device)
        out = net.forward_block(x.movedim(1, 2).to(dtype), timestep.expand(bsz, frames),
                                context.to(x.device, dtype).expand(bsz, -1, -1),
                                start_frame=sum(c.frames for c in chunks), kv_caches=kv,
                                crossattn_caches=[{"is_init": False} for _ in range(net.num_layers)])
        return out.float().movedim(2, 1), kv

    def _written(self, latents: torch.Tensor, label: str, chunks: list[CachedChunk]) -> CachedChunk:
        """The cache entry of clean ``latents`` [Bsz, n, C, h, w] under prompt ``label``, after ``chunks``."""
        _, kv = self._pass(latents, torch.zeros(latents.shape[1]), dict(self.schedule.embeddings)[label], chunks)
        start, end = sum(c.keys[0].shape[1] for c in chunks), kv[0]["end"]   # the model moved "end" past its own
        return CachedChunk(latents, tuple(d["k"][:, start:end].clone() for d in kv),
                           tuple(d["v"][:, start:end].clone() for d in kv), sum(c.frames for c in chunks))

    def _reposition(self, chunk: CachedChunk, position: int) -> CachedChunk:
        keys = tuple(rotate_keys(self.net, k, position - chunk.position) for k in chunk.keys)
        return CachedChunk(chunk.latents, keys, chunk.values, position)

    def _label(self, index: int) -> str:
        """The prompt that (most) governs stream frame ``index``."""
        weights = self.timeline.weights(torch.tensor([output_frame(index)]))[0]
        return self.timeline.prompts[int(weights.argmax())]

    # --- the source --------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor:
        label = self._label(int(frame_index[0]))
        if self.recache and self.written_under not in (None, label):
            self._write_again(label)
        weights = self.timeline.weights(torch.tensor([output_frame(int(i)) for i in frame_index]))   # [F, P]
        embeddings = dict(self.schedule.embeddings)
        sigma = sigma_of(tau.cpu().to(torch.float32))
        v = torch.zeros(x.shape, device=x.device)
        for p in range(weights.shape[1]):
            if bool(weights[:, p].any()):
                out, _ = self._pass(x, sigma, embeddings[self.timeline.prompts[p]], self.cache.chunks)
                v += out * weights[:, p].to(x.device).reshape(1, -1, 1, 1, 1)
        return (-v).to(x.dtype)

    @torch.inference_mode()
    def remember(self, frames: torch.Tensor, first_index: int) -> None:
        label = self._label(first_index)
        self.cache.add(self._written(frames, label, self.cache.chunks))
        self.written_under = label

    def _write_again(self, label: str) -> None:
        """Every remembered chunk written again, in order, under prompt ``label``."""
        chunks: list[CachedChunk] = []
        for chunk in self.cache.chunks:
            chunks.append(self._written(chunk.latents, label, chunks))
        self.cache.replace(chunks)
        self.written_under = label
        self.recaches += 1

    def checkpoint(self) -> Callable[[], None]:
        """The cache and what it was written under, as now: the undo of a failed step."""
        undo_cache, written_under, recaches = self.cache.checkpoint(), self.written_under, self.recaches

        def undo() -> None:
            undo_cache()
            self.written_under, self.recaches = written_under, recaches
        return undo
