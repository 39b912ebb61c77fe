"""The native model as a stream's conditioning source: prompt timeline + text encoder + guidance."""
from __future__ import annotations

import torch

from ..engine.guidance import GUIDANCE_UNTIL, guidance_scales, guide
from ..engine.timeline import PromptTimeline
from .model import StreamDiT

HOW_TO_REPROMPT = "type a new prompt (the panel's prompt box), or edit the Prompt Schedule and queue again"


def guided_velocity(model: StreamDiT, x: torch.Tensor, tau: torch.Tensor, context: torch.Tensor,
                    null: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The model's velocity with classifier-free guidance of one scale per frame.

    x [Bsz, F, C, H, W], tau and scales [Bsz, F], context and null [Bsz, F, L, Dc]
    (null: the empty prompt's). Cond and uncond run in one doubled batch; one pass alone
    when every scale is 1.
    """
    if bool((scales == 1.0).all()):
        return model(x, tau, context)
    v_cond, v_uncond = model(torch.cat([x, x]), torch.cat([tau, tau]), torch.cat([context, null])).chunk(2)
    return guide(v_cond, v_uncond, scales)


class TextVelocity:
    """``velocity(x [Bsz, F, C, H, W], tau [F], frame_index [F]) -> v`` for a StreamDiT, and
    the ``session.ConditioningSource`` of native streams.

    Each frame's context is the blend of its prompts' encodings given by the timeline.
    ``guidance`` = 1 runs one pass; otherwise classifier-free guidance against the
    empty prompt on the frames whose ``tau`` is below ``guidance_until``
    (``guidance.guidance_scales``; one pass when no frame is).
    """

    accepts_text = True
    how_to_reprompt = HOW_TO_REPROMPT

    def __init__(self, model: StreamDiT, timeline: PromptTimeline, guidance: float = 1.0,
                 guidance_until: float = GUIDANCE_UNTIL):
        self.model = model
        self.guidance = guidance
        self.guidance_until = guidance_until
        self._encoded: dict[str, torch.Tensor] = {}
        self.follow(timeline)

    @property
    def timeline(self) -> PromptTimeline:
        return self._timeline

    def follow(self, timeline: PromptTimeline) -> None:
        new = [p for p in (*timeline.prompts, "") if p not in self._encoded]
        if new:
            with torch.inference_mode():
                for prompt, ctx in zip(new, self.model.encode(new)):
                    self._encoded[prompt] = ctx.clone()
        self._timeline = timeline
        self._stack = torch.stack([self._encoded[p] for p in timeline.prompts])  # [P, L, Dc]

    def switch(self, prompt: str, at_frame: int) -> None:
        self.follow(self.timeline.switched(prompt, at_frame))

    def unknown_words(self, *prompts: str) -> list[str]:
        """Words of ``prompts`` (default: the timeline's) that the model's vocabulary does not have."""
        seen: list[str] = []
        for prompt in prompts or self.timeline.prompts:
            seen += [w for w in self.model.tokenizer.unknown(prompt) if w not in seen]
        return seen

    def output_frame(self, index: int) -> int:
        """The native model's frames are the output frames."""
        return index

    def context(self, frame_index: torch.Tensor) -> torch.Tensor:
        """Per-frame context [F, L, Dc]."""
        w = self.timeline.weights(frame_index).to(self._stack)
        return torch.einsum("fp,pld->fld", w, self._stack)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, tau: torch.Tensor, frame_index: torch.Tensor) -> torch.Tensor:
        b, f = x.shape[:2]
        ctx = self.context(frame_index).to(x.dtype)[None].expand(b, -1, -1, -1)
        tau = tau.to(x.device, x.dtype)[None].expand(b, f)
        null = self._encoded[""].to(x.dtype)[None, None].expand_as(ctx)
        return guided_velocity(self.model, x, tau, ctx, null, guidance_scales(tau, self.guidance, self.guidance_until))
