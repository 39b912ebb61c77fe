"""All or nothing for a step: what it may change, taken before it and put back when it fails.

Anything a step consumes or advances besides the stream's own fields (an input that takes
frames from a queue, an encoder's feature cache, a stateful integrator, a causal model's KV
cache) takes part through
``checkpoint() -> undo``: called before the step, ``undo()`` puts it back as it was.
"""
from __future__ import annotations

from typing import Callable

import torch

Undo = Callable[[], None]


def checkpoint(thing) -> Undo:
    """``thing.checkpoint()`` where it has one, else an undo that does nothing (a stateless
    integrator, an input that consumes nothing, none at all)."""
    take = getattr(thing, "checkpoint", None)
    return take() if callable(take) else (lambda: None)


class Snapshot:
    """``owner``'s ``fields``, its ``generator``'s state and the checkpoints of ``parts``, as
    they are now; ``restore()`` puts them all back. Fields are kept by reference: a step must
    replace tensors, never write into them."""

    def __init__(self, owner, fields: tuple[str, ...], generator: torch.Generator, parts: tuple = ()):
        self._owner = owner
        self._values = {name: getattr(owner, name) for name in fields}
        self._generator, self._generator_state = generator, generator.get_state()
        self._undo = [checkpoint(part) for part in parts]

    def restore(self) -> None:
        for name, value in self._values.items():
            setattr(self._owner, name, value)
        self._generator.set_state(self._generator_state)
        for undo in reversed(self._undo):
            undo()
