"""One check of every input of the pack's nodes against what the node's schema declares.

ComfyUI 0.3.75 checks INT and FLOAT bounds before a prompt runs, but not the options of
a V3 combo, not NaN or infinity (they pass every comparison), and none of the bounds of
the inputs a node's own ``validate_inputs`` takes. ``checked`` runs this check first
thing in a node's ``execute``, before anything is built or any stream is touched, and
raises ``InputError`` naming the input, the value and what is allowed.
"""
from __future__ import annotations

import functools
import inspect
import math

MAX_TEXT = 1000             # characters of a one-line text input
MAX_MULTILINE = 100_000     # characters of a multi-line text input


class InputError(ValueError):
    """A node input outside what its node allows; the message names the input."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def problem(spec, value) -> str | None:
    """What is wrong with ``value`` for the schema input ``spec`` (a V3 Input), or None."""
    kind = spec.io_type
    if kind == "INT":
        if not isinstance(value, int) or isinstance(value, bool):
            return "a whole number is needed"
    elif kind == "FLOAT":
        if not _number(value) or not math.isfinite(value):
            return "a finite number is needed"
    elif kind == "BOOLEAN":
        return None if isinstance(value, bool) else "true or false is needed"
    elif kind == "STRING":
        limit = MAX_MULTILINE if getattr(spec, "multiline", False) else MAX_TEXT
        if not isinstance(value, str):
            return "text is needed"
        return f"at most {limit} characters are allowed, got {len(value)}" if len(value) > limit else None
    elif kind == "COMBO":
        options = list(spec.options or [])
        if value in options:
            return None
        shown = ", ".join(map(repr, options[:12])) + (f" (and {len(options) - 12} more)" if len(options) > 12 else "")
        return f"it must be one of {shown}" if options else "there is nothing to choose from"
    else:
        return None                                   # links: the factories check what arrives on them
    low, high = spec.min, spec.max
    if (low is not None and value < low) or (high is not None and value > high):
        return f"it must be from {low} to {high}"
    return None


def check_inputs(node, values: dict) -> None:
    """Raise ``InputError`` for the first input of ``values`` that the node's schema does not allow.
    Optional inputs may be absent (None)."""
    schema = node.define_schema()
    for spec in schema.inputs:
        value = values.get(spec.id)
        if value is None and spec.optional:
            continue
        why = problem(spec, value)
        if why is not None:
            raise InputError(f"{schema.display_name}: input '{spec.id}' = {value!r} is not allowed: {why}")


def checked(execute):
    """Decorate a node's ``execute`` (under ``@classmethod``) so every input is checked first."""
    signature = inspect.signature(execute)

    @functools.wraps(execute)
    def run(cls, *args, **kwargs):
        bound = signature.bind(cls, *args, **kwargs)
        bound.apply_defaults()
        check_inputs(cls, dict(list(bound.arguments.items())[1:]))
        return execute(cls, *args, **kwargs)
    return run
