"""A decode run one step behind on a worker thread, so that decoding overlaps the next step.

``DecodeAhead(decode)``: called with the latents a step finished, it starts ``decode`` on
them on its worker thread and returns what ``decode`` made of the latents it was given the
call before (None on the first call). The stream's next step (the model calls) then runs
while the worker decodes: on a GPU the decoder's kernels go on their own CUDA stream, after
an event on the caller's stream, and fill the gaps the model's leave.

The cost is one step of latency: a step's images come out with the next step. They are
``decode``'s, unchanged and in order; every latent frame reaches it once, in stream order,
on one thread, so a causal decoder's state stays consistent. The worker runs in the
caller's inference / grad mode (both are thread-local in torch).
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import torch

from .backlog import in_callers_mode

Decode = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]
"""latents [n, C, H, W] -> a tuple of tensors (images [m, H, W, 3], and whatever goes with them)."""


class DecodeAhead:
    """``decode`` one call behind: ``__call__(latents_t)`` -> ``decode(latents_{t-1})``, None at first."""

    def __init__(self, decode: Decode):
        self.decode = decode
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamdit-decode")
        self._in_flight: tuple[Future, torch.device] | None = None   # the decode under way, its latents' device
        self._side_streams: dict = {}   # CUDA device -> the worker's stream on it

    def __call__(self, latents: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        previous, self._in_flight = self._in_flight, (self._start(latents), latents.device)
        return None if previous is None else self._finish(*previous)

    def _start(self, latents: torch.Tensor) -> Future:
        """``decode(latents)`` on the worker: a future of (what it made, the CUDA event after it or None)."""
        side = ready = None
        if latents.is_cuda:   # the worker's stream waits for the caller's to have made the latents
            side = self._side_streams.setdefault(latents.device, torch.cuda.Stream(latents.device))
            ready = torch.cuda.current_stream(latents.device).record_event()
            latents.record_stream(side)

        def work() -> tuple[tuple[torch.Tensor, ...], torch.cuda.Event | None]:
            if side is None:
                return self.decode(latents), None
            with torch.cuda.stream(side):
                side.wait_event(ready)
                return self.decode(latents), side.record_event()

        return self._worker.submit(in_callers_mode(work))

    @staticmethod
    def _finish(future: Future, device: torch.device) -> tuple[torch.Tensor, ...]:
        made, done = future.result()
        if done is not None:   # the caller's stream waits for the worker's before it uses what it made
            caller = torch.cuda.current_stream(device)
            caller.wait_event(done)
            for tensor in made:
                if tensor.is_cuda:
                    tensor.record_stream(caller)
        return made

    @property
    def nbytes(self) -> int:
        """Memory held between calls: what the decode in flight has made, once it is done."""
        future = self._in_flight[0] if self._in_flight is not None else None
        if future is None or not future.done() or future.exception() is not None:
            return 0
        return sum(tensor.nbytes for tensor in future.result()[0])

    def close(self) -> None:
        """Wait for the decode in flight (what it makes is dropped) and end the worker."""
        self._in_flight = None
        self._worker.shutdown(wait=True)
