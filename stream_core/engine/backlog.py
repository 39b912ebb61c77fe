"""Jobs run in order on one worker thread, a few at most waiting: what a run does with its
frames once they are made (encode them for the live view, write them to the recording), so
that the stream makes the next ones meanwhile.

``Backlog(limit)``: ``submit(job)`` queues ``job()`` and returns at once while fewer than
``limit`` jobs wait; past that it waits for the oldest (so memory stays bounded when the
jobs are slower than the stream). Jobs run one at a time in the order submitted, in the
submitter's inference / grad mode (both are thread-local in torch). A job that raises fails
the backlog: ``submit`` and ``drain`` raise its error, and the jobs after it still run
(``close`` waits for them), so frames made before a failure or a Cancel still reach their
viewers and their recording.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def in_callers_mode(job: Callable[[], T]) -> Callable[[], T]:
    """``job`` to run on another thread in the calling thread's inference / grad mode (torch keeps
    both per thread, so a worker would otherwise run with grad on and outside inference mode)."""
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def run() -> T:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return job()

    return run


class Backlog:
    """``submit(job)``, ``drain()``, ``close()``: jobs in order on one worker, at most ``limit`` waiting."""

    def __init__(self, limit: int = 2, name: str = "streamdit-output"):
        if limit < 1:
            raise ValueError(f"a backlog holds at least one job, got limit {limit}")
        self.limit = limit
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._waiting: deque[Future] = deque()
        self._failure: BaseException | None = None

    def submit(self, job: Callable[[], object]) -> None:
        """Queue ``job``; raises the error of a job that failed before it."""
        self._settle(lambda: len(self._waiting) >= self.limit)
        self._waiting.append(self._worker.submit(in_callers_mode(job)))

    def drain(self) -> None:
        """Wait for every job queued; raises the first error of one that failed."""
        self._settle(lambda: bool(self._waiting))

    def close(self) -> None:
        """Wait for every job queued (their errors are dropped: ``drain`` reports them) and end the worker."""
        self._worker.shutdown(wait=True)
        self._waiting.clear()

    def _settle(self, waiting: Callable[[], bool]) -> None:
        """Collect finished jobs, and the oldest ones while ``waiting()``; then raise the first failure."""
        while self._waiting and (self._waiting[0].done() or waiting()):
            error = self._waiting.popleft().exception()
            self._failure = self._failure or error
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
