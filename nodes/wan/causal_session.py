"""Causal Wan streams: the session factory that turns a Causal Wan Stream node's inputs into a
live session (the stream, its decoding and its video input as for the other Wan kind)."""
from __future__ import annotations

from dataclasses import dataclass

from ...stream_core.engine.integrator import INTEGRATORS
from ...stream_core.engine.session import Session
from .causal_source import SINK_FRAMES, WINDOW_FRAMES, CausalWanVelocity, check_causal_model
from .session import WanSettings
from .source import WanModelError

SAMPLERS = ("renoise", "euler")   # the re-noising step few-step causal models were distilled with, first


@dataclass(frozen=True, eq=False, kw_only=True)
class CausalWanStreamFactory(WanSettings):
    """A ``session.SessionFactory`` for causal Wan models (ComfyUI's ``CausalWanModel``: Self-Forcing,
    Causal Forcing, LongLive, Rolling Forcing). The partition is the model's window: N chunks of
    c latent frames, s steps each, no reference frames (what left the window is the model's KV
    cache: ``sink`` + ``window`` latent frames). ``sampler``: an ``integrator`` by name;
    ``recache``: a new prompt writes the cache again under it."""

    sink: int = SINK_FRAMES
    window: int = WINDOW_FRAMES
    sampler: str = SAMPLERS[0]
    recache: bool = True

    def check_models(self) -> None:
        check_causal_model(self.model)
        if self.partition.K:
            raise WanModelError(f"a causal stream keeps what left its window in the model's cache, not as reference "
                                f"frames: K must be 0, got {self.partition.K}")
        if self.sampler not in SAMPLERS:
            raise WanModelError(f"unknown sampler {self.sampler!r}: choose one of {', '.join(SAMPLERS)}")

    @property
    def key(self) -> tuple:
        return (id(self.model), id(self.vae), self.seed, self.shape, self.partition, self.scheduler, self.decoder,
                self.overlap_decode, self.sink, self.window, self.sampler)

    @property
    def batch(self) -> list[int]:
        """One model call's latents, [1, C, F, h, w], F counting the cached frames it attends to."""
        return [1, self.shape[0], self.partition.B + self.sink + self.window, *self.shape[1:]]

    def create(self) -> Session:
        return self.session(CausalWanVelocity(self.model, self.wanted, self.sink, self.window, self.recache),
                            INTEGRATORS[self.sampler])

    def tune(self, source: CausalWanVelocity) -> None:
        source.recache = self.recache

