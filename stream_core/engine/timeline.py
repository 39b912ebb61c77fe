"""A prompt timeline: which prompt each output frame follows, with blended transitions.

Schedule text, one entry a line: ``frame: prompt`` (``0: a red ball rolling right``).
Blank lines and lines starting with ``#`` are skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

MAX_PROMPT_CHARS = 1000
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"   # what str.splitlines splits at


def live_prompt_problem(prompt: str) -> str | None:
    """What is wrong with a live re-prompt, or None: one line of 1 to ``MAX_PROMPT_CHARS``
    characters (a schedule's entries are lines: a line break would smuggle in another entry)."""
    if not prompt.strip():
        return "the prompt is empty"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"the prompt is longer than {MAX_PROMPT_CHARS} characters"
    broken = next((ch for ch in prompt if ch in LINE_BREAKS), None)
    if broken is not None:
        return f"a prompt is one line: it has a line break (U+{ord(broken):04X})"
    return None


MAX_SCHEDULE_CHARS = 100_000   # a schedule's text, and
MAX_ENTRIES = 1000             # its entries, at most
MAX_FRAME = 10**9              # the last frame an entry may start at
_LINE = re.compile(r"^\s*(-?\d+)\s*:\s*(.*?)\s*$")


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message names the line."""


def parse_schedule(text: str) -> tuple[tuple[int, str], ...]:
    """``frame: prompt`` lines -> ((frame, prompt), ...) sorted by frame. Linear in the text,
    which may be ``MAX_SCHEDULE_CHARS`` long with ``MAX_ENTRIES`` entries."""
    if len(text) > MAX_SCHEDULE_CHARS:
        raise ScheduleError(f"the schedule is {len(text)} characters long; at most {MAX_SCHEDULE_CHARS} are allowed")
    entries: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ScheduleError(f"line {number}: expected 'frame: prompt', got {line.strip()!r}")
        digits, prompt = match.group(1), match.group(2)
        if len(digits.lstrip("-")) > len(str(MAX_FRAME)):
            raise ScheduleError(f"line {number}: frame must be >= 0 and <= {MAX_FRAME}, got a number of "
                                f"{len(digits.lstrip('-'))} digits")
        frame = int(digits)
        if not 0 <= frame <= MAX_FRAME:
            raise ScheduleError(f"line {number}: frame must be >= 0 and <= {MAX_FRAME}, got {frame}")
        if not prompt:
            raise ScheduleError(f"line {number}: the prompt after '{frame}:' is empty")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ScheduleError(f"line {number}: prompt longer than {MAX_PROMPT_CHARS} characters")
        if frame in entries:
            raise ScheduleError(f"line {number}: frame {frame} already has a prompt")
        if len(entries) == MAX_ENTRIES:
            raise ScheduleError(f"line {number}: a schedule has at most {MAX_ENTRIES} entries")
        entries[frame] = prompt
    if not entries:
        raise ScheduleError("the schedule is empty: write at least one line 'frame: prompt'")
    return tuple(sorted(entries.items()))


@dataclass(frozen=True)
class PromptTimeline:
    """Prompts by output frame. Frame f follows the last entry at or before it (the first
    entry before any); for ``transition`` frames after an entry it blends linearly from
    the previous prompt to the new one."""

    entries: tuple[tuple[int, str], ...]
    transition: int = 0

    def __post_init__(self):
        if not self.entries:
            raise ScheduleError("a timeline needs at least one prompt")
        if self.transition < 0:
            raise ScheduleError(f"transition must be >= 0 frames, got {self.transition}")
        object.__setattr__(self, "entries", tuple(sorted(self.entries)))

    @classmethod
    def parse(cls, text: str, transition: int = 0) -> "PromptTimeline":
        return cls(parse_schedule(text), transition)

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(p for _, p in self.entries)

    def prompt_at(self, frame: int) -> str:
        """The prompt that frame ``frame`` ends up following (its entry)."""
        return self.entries[self._entry(torch.tensor([frame]))[0]][1]

    def _entry(self, frame_index: torch.Tensor) -> torch.Tensor:
        starts = torch.tensor([f for f, _ in self.entries])
        return (torch.searchsorted(starts, frame_index.cpu(), right=True) - 1).clamp(min=0)

    def weights(self, frame_index: torch.Tensor) -> torch.Tensor:
        """Blend weights [F, P] over ``self.prompts`` for output frames ``frame_index`` [F]."""
        entry = self._entry(frame_index)
        starts = torch.tensor([f for f, _ in self.entries])
        since = frame_index.cpu() - starts[entry]
        alpha = ((since + 1).float() / (self.transition + 1)).clamp(0.0, 1.0)
        alpha = torch.where(entry == 0, torch.ones_like(alpha), alpha)
        w = torch.zeros(len(frame_index), len(self.entries))
        rows = torch.arange(len(frame_index))
        w[rows, entry] = alpha
        w[rows, (entry - 1).clamp(min=0)] += 1.0 - alpha
        return w

    def switched(self, prompt: str, at_frame: int) -> "PromptTimeline":
        """A copy where ``prompt`` takes over from ``at_frame`` on (later entries dropped). An
        endless stream's live switches keep coming: past ``MAX_ENTRIES`` the oldest go (they
        are long out of the buffer; a recording's index keeps them)."""
        why = live_prompt_problem(prompt)
        if why is not None:
            raise ScheduleError(why)
        kept = tuple((f, p) for f, p in self.entries if f < at_frame)[-(MAX_ENTRIES - 1):]
        return PromptTimeline(kept + ((at_frame, prompt.strip()),), self.transition)
