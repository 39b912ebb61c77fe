"""The native model as a stream velocity: prompt timeline + text encoder + guidance."""
from __future__ import annotations

import torch

from .model import StreamDiT
from .sampler import GUIDANCE_UNTIL, guidance_scales, guide
from .timeline import PromptTimeline


class TextVelocity:
    """``velocity(x [Bsz, F, C, H, W], tau [F], frame_index [F]) -> v`` for a StreamDiT.

    Each frame's context is the blend of its prompts' encodings given by the timeline.
    ``guidance`` = 1 runs one pass; otherwise classifier-free guidance against the
    empty prompt in one doubled batch, on the frames whose ``tau`` is below
    ``guidance_until`` (``sampler.guidance_scales``; one pass when no frame is).
    Assign ``timeline`` to change prompts live.
    """

    def __init__(self, model: StreamDiT, timeline: PromptTimeline, guidance: float = 1.0,
                 guidance_until: float = GUIDANCE_UNTIL):
        self.model = model
        self.guidance = guidance
        self.guidance_until = guidance_until
        self._encoded: dict[str, torch.Tensor] = {}
        self.timeline = timeline

    @property
    def timeline(self) -> PromptTimeline:
        return self._timeline

    @timeline.setter
    def timeline(self, timeline: PromptTimeline) -> None:
        new = [p for p in (*timeline.prompts, "") if p not in self._encoded]
        if new:
            with torch.inference_mode():
                for prompt, ctx in zip(new, self.model.encode(new)):
                    self._encoded[prompt] = ctx.clone()
        self._timeline = timeline
        self._stack = torch.stack([self._encoded[p] for p in timeline.prompts])  # [P, L, Dc]

    def unknown(self, prompt: str) -> list[str]:
        """Words of ``prompt`` that the model's vocabulary does not have."""
        return self.model.tokenizer.unknown(prompt)

    def unknown_words(self) -> list[str]:
        """Words of the timeline's prompts that the model's vocabulary does not have."""
        seen: list[str] = []
        for prompt in self.timeline.prompts:
            seen += [w for w in self.unknown(prompt) if w not in seen]
        return seen

    def context(self, frame_index: torch.Tensor) -> torch.Tensor:
        """Per-frame context [F, L, Dc]."""
        w = self.timeline.weights(frame_index).to(self._stack)
        return torch.einsum("fp,pld->fld", w, self._stack)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor:
        b, f = x.shape[:2]
        ctx = self.context(frame_index).to(x.dtype)[None].expand(b, -1, -1, -1)
        tau = tau.to(x.dtype)[None].expand(b, f)
        scales = guidance_scales(tau, self.guidance, self.guidance_until)
        if bool((scales == 1.0).all()):
            return self.model(x, tau, ctx)
        null = self._encoded[""].to(x.dtype)[None, None].expand_as(ctx)
        v_cond, v_uncond = self.model(torch.cat([x, x]), torch.cat([tau, tau]), torch.cat([ctx, null])).chunk(2)
        return guide(v_cond, v_uncond, scales)
