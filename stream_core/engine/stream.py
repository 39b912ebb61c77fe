"""The stream: a moving buffer of latent frames, each at its own time.

Shapes: buffer [Bsz, B, C, H, W]; position 0 is the oldest (cleanest) frame.
Times follow ``partition.py``: ``tau`` 0 = noise, 1 = clean.
"""
from __future__ import annotations

from typing import Callable

import torch

from .frame_input import FrameInput, entering, entry_chunk, entry_level, waiting_at_floor
from .integrator import Integrator, RemembersFrames, Velocity, euler, seeded_noise
from .partition import Partition
from .rollback import Snapshot
from .similarity_filter import SimilarityFilter
from .time_grid import tau_grid


class StreamError(RuntimeError):
    """The stream cannot go on (bad input, or the model produced NaN/Inf)."""


def _check_finite(x: torch.Tensor, what: str) -> None:
    if not torch.isfinite(x).all():
        raise StreamError(f"{what} contains NaN or Inf values")


STEP_STATE = ("buffer", "micro", "first_index", "frames_out", "_reference", "_floor", "_last_chunk",
              "_start_noise", "_entered", "_last_entry")
"""Every field of a ``Stream`` that a step changes: what its rollback (``rollback.Snapshot``) keeps."""


class Stream:
    """One StreamDiT stream. ``step()`` advances the buffer one micro-step: one integrator step
    over the whole buffer (the start-up's passes first, on the first call; none when the
    similarity filter skips the cycle).

    velocity: see ``integrator.Velocity``; its prompts may change between steps. One that
      ``RemembersFrames`` (a causal model) is handed each chunk as it leaves.
    frame_shape: (C, H, W) of one latent frame.
    integrator: how each micro-step integrates the velocity (``integrator.euler``; any fresh
      noise it draws comes from the stream's generator).
    reference: optional clean latents [Bsz, K, C, H, W] to continue from (video
      extension); without it the first K frames are generated and emitted.
    The noise comes from a CPU generator seeded with ``seed``, so the same seed gives
    the same frames on any device. The time grid and every frame's time stay on the CPU
    (k-diffusion's ``sigmas_cpu``): reading the schedule never waits for the device. Memory
    is constant: the buffer and its frames' starting noise, at most one chunk of finished
    frames not yet taken, and the generator.

    A step is all or nothing: when it raises (a NaN or Inf in the model's output,
    a cancel from ``before_pass``, any error of the velocity) the stream, its input (the
    frames a camera's queue gave up, an encoder's cache), its integrator and its velocity (a
    causal model's cache) are left exactly as before it (``rollback.py``), and the next step makes the same frames an
    unbroken stream would have. ``before_pass()``, when set, runs before every model
    evaluation, start-up included, and may raise to cancel.

    ``frame_input`` (``frame_input.FrameInput``, settable between steps; None =
    text-to-video) gives the frames that reach its entry level from then on an input to
    follow: video-to-video, SDEdit into the buffer (``frame_input.py``). ``similarity_filter``
    (its threshold settable between steps; 0 = off) skips shift cycles whose input barely
    changed: such a step repeats the last finished chunk (``similarity_filter.py``).

    ``lean_start`` (the default): each start-up pass leaves out the chunks the start-up has
    already taken (the noisier, later frames, which no longer change), so the frames still on
    their way there see fewer frames after them; the (N-1)·s start-up passes then cost about
    half as much (N = 4: 6, 4 and 2 of 8 frames), and the first frame comes sooner. With a
    velocity that treats each frame alone it changes nothing; False starts over the whole
    buffer every pass (one joint generation: FIFO-Diffusion's start for the diagonal scheme).
    """

    def __init__(self, velocity: Velocity, partition: Partition, frame_shape: tuple[int, int, int], *,
                 batch: int = 1, seed: int = 0, grid: torch.Tensor | None = None,
                 reference: torch.Tensor | None = None, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, integrator: Integrator = euler, lean_start: bool = True):
        if len(frame_shape) != 3 or any(int(n) < 1 for n in frame_shape):
            raise StreamError(f"frame_shape must be (C, H, W) with positive sizes, got {tuple(frame_shape)}")
        if batch < 1:
            raise StreamError(f"batch must be >= 1, got {batch}")
        self.velocity = velocity
        self.integrator = integrator
        self.lean_start = lean_start
        self.partition = partition
        self.frame_shape = tuple(int(n) for n in frame_shape)
        self.batch = batch
        self.seed = seed
        self.device = torch.device(device)
        self.dtype = dtype
        self.grid = tau_grid(partition.T) if grid is None else grid.detach().to("cpu", torch.float64)
        if self.grid.shape != (partition.T + 1,) or not bool((self.grid[1:] > self.grid[:-1]).all()):
            raise StreamError(f"time grid must be strictly increasing with T+1 = {partition.T + 1} entries")
        if reference is not None:
            want = (batch, partition.K, *self.frame_shape)
            if tuple(reference.shape) != want:
                raise StreamError(f"reference latents must have shape {want} [Bsz, K, C, H, W], got {tuple(reference.shape)}")
            _check_finite(reference, "reference latents")
            reference = reference.to(self.device, dtype)
        self._reference = reference
        self._generator = torch.Generator().manual_seed(seed)
        self._fresh_noise = seeded_noise(self._generator)
        self.buffer: torch.Tensor | None = None
        self.micro = 0            # micro-step inside the current shift cycle, 0..s-1
        self.first_index = 0      # output-video index of buffer position 0
        self.evaluations = 0      # model evaluations so far (warm-up included)
        self.frames_out = 0       # frames handed out by step()
        self.before_pass: Callable[[], None] | None = None
        self.frame_input: FrameInput | None = None
        self.similarity_filter = SimilarityFilter()
        self._last_chunk: torch.Tensor | None = None   # the newest finished chunk [Bsz, c, ...]: what a skip repeats
        self._floor = torch.zeros(partition.B, dtype=torch.float64)   # the time each frame waits at
        self._start_noise: torch.Tensor | None = None   # each position's starting noise, as the buffer
        self._entered = 0         # the frame after the newest that took an input
        self._last_entry: tuple[float, slice] | None = None   # (strength, ``_entry(strength)``)
        self._ready = self._empty()

    # --- helpers -------------------------------------------------------------------
    def _empty(self) -> torch.Tensor:
        return torch.empty(self.batch, 0, *self.frame_shape, device=self.device, dtype=self.dtype)

    def _noise(self, frames: int) -> torch.Tensor:
        z = torch.randn(self.batch, frames, *self.frame_shape, generator=self._generator)
        return z.to(self.device, self.dtype)

    def _taking_input(self, noise: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``index ..`` (one per frame of ``noise`` [Bsz, n, ...], their starting noise)
        taking their input now, and the times they wait at (``frame_input.entering``)."""
        source, count = self.frame_input, noise.shape[1]
        latents = None if source is None else source.latents(index, count)
        if latents is not None:
            _check_finite(latents, "input latents")
            latents = latents.to(self.device, self.dtype)
            self._entered = index + count
        return entering(noise, latents, 0.0 if source is None else entry_level(source.strength))

    def _entry(self, strength: float) -> slice:
        """Buffer positions of the chunk that takes an input of ``strength`` at the start of a
        shift cycle: the same in every cycle (the chunks' times then repeat), so it is worked
        out only when the strength changes."""
        if self._last_entry is None or self._last_entry[0] != strength:
            chunk = entry_chunk(self._chunk_times(0), entry_level(strength))
            self._last_entry = (strength, self.partition.chunk_slice(chunk))
        return self._last_entry[1]

    def next_entry(self, strength: float) -> int:
        """Index of the next frame to take an input of ``strength``: the first of the chunk
        that reaches its level at the start of the next shift cycle (0 before the start)."""
        if not self.started:
            return 0
        index = self.first_index + self._entry(strength).start
        return index if self.micro == 0 else index + self.partition.c

    def _enter(self) -> None:
        """At the start of a shift cycle: the chunk reaching the input's level takes its input,
        noised to that level with its own starting noise (``frame_input.py``)."""
        if self.frame_input is None or self.micro != 0:
            return
        positions = self._entry(self.frame_input.strength)
        index = self.first_index + positions.start
        if index < self._entered:   # took its input already (the strength went down)
            return
        x, floor = self._taking_input(self._start_noise[:, positions], index)
        self.buffer = torch.cat([self.buffer[:, :positions.start], x, self.buffer[:, positions.stop:]], dim=1)
        self._floor = torch.cat([self._floor[:positions.start], floor, self._floor[positions.stop:]])

    def _integrate(self, x: torch.Tensor, tau: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
        """One integrator step of the buffer's first n frames x [Bsz, n, ...] (n <= B) with
        per-frame tau, dtau [n] on the CPU; frames waiting at their input's level (``_floor``) wait."""
        floor = self._floor[:x.shape[1]]
        if bool((floor > 0).any()):
            tau, dtau = waiting_at_floor(tau, dtau, floor)
        index = self.first_index + torch.arange(x.shape[1])

        def field(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
            if self.before_pass is not None:
                self.before_pass()
            v = self.velocity(x, tau, index)
            if v.shape != x.shape:
                raise StreamError(f"velocity returned shape {tuple(v.shape)} for a buffer of shape {tuple(x.shape)}")
            self.evaluations += 1
            return v

        return self.integrator(field, x, tau, dtau, self._fresh_noise)

    @property
    def started(self) -> bool:
        return self.buffer is not None

    @property
    def tau(self) -> torch.Tensor:
        """Current time of every buffer position, [B] on the CPU (what the next step evaluates at)."""
        return self.partition.times(self.micro, self.grid)[0]

    @property
    def chunk_tau(self) -> list[float]:
        """Current time of each chunk, cleanest first: N floats (from the CPU grid: no device read)."""
        return self._chunk_times(self.micro)

    def _chunk_times(self, micro: int) -> list[float]:
        """Each chunk's time at micro-step ``micro`` of a shift cycle, cleanest first."""
        p = self.partition
        return p.times(micro, self.grid)[0][[p.chunk_slice(i).start for i in range(p.N)]].tolist()

    @property
    def live_index(self) -> int:
        """Index of the oldest frame still being denoised (buffer position K): a new prompt
        can still change it and every frame after it."""
        return self.first_index + self.partition.K

    @property
    def newest_index(self) -> int:
        """Index of the newest, noisiest frame in the buffer."""
        return self.first_index + self.partition.B - 1

    # --- start-up ------------------------------------------------------------------
    def _start(self) -> torch.Tensor:
        """Fill the buffer from one uniform generation, keeping each chunk's latents at
        the time that chunk needs. Returns the frames already final: [Bsz, K, ...]
        generated references, or nothing when references were given."""
        p, grid = self.partition, self.grid
        given = self._reference is not None
        noise = self._noise(p.N * p.c if given else p.B)
        x, floor = self._taking_input(noise, 0)
        if given:
            self.first_index = -p.K
            x = torch.cat([self._reference, x], dim=1)
            floor = torch.cat([torch.zeros(p.K, dtype=torch.float64), floor])
            last = p.level(0)
        else:
            last = p.T if p.K else p.level(0)
        self._floor = floor
        self._start_noise = torch.cat([torch.zeros_like(x[:, :p.B - noise.shape[1]]), noise], dim=1)
        moving = torch.arange(p.B) >= (p.K if given else 0)
        captures = p.warmup_captures()
        chunks: list[torch.Tensor | None] = [None] * p.N
        generating = p.B   # frames the next pass takes: all, or (lean) those not yet taken
        for k in range(last + 1):
            if k in captures:
                chunks[captures[k]] = x[:, p.chunk_slice(captures[k])]
                if self.lean_start:   # chunks are taken last to first: from this one on, all are
                    generating = p.chunk_slice(captures[k]).start
            if k == last:
                break
            tau = torch.where(moving, grid[k], grid[-1])[:generating]
            dtau = torch.where(moving, grid[k + 1] - grid[k], torch.zeros((), dtype=grid.dtype))[:generating]
            x = torch.cat([self._integrate(x[:, :generating], tau, dtau), x[:, generating:]], dim=1)
        self.buffer = torch.cat([x[:, :p.K], *chunks], dim=1)
        _check_finite(self.buffer, "the start-up buffer (the step was undone; the stream has not started)")
        self._reference = None
        return self._empty() if given else x[:, :p.K]

    # --- streaming -----------------------------------------------------------------
    def step(self) -> torch.Tensor:
        """One micro-step. Returns the frames finished by it, [Bsz, n, C, H, W] with
        n = c after every s-th micro-step (plus the K generated references on the
        first call) and n = 0 otherwise. On an error nothing changes (see the class).
        A shift cycle the similarity filter skips is one step that runs no model and
        returns the last finished chunk again."""
        similar = self._input_similarity()
        skip = self.similarity_filter.decide(similar, self.seed, self.first_index + self.partition.B)
        if skip:
            done = self._repeat()
        else:
            takes_input = self.buffer is None or self.micro == 0   # the start-up, or a shift cycle's start
            before = Snapshot(self, STEP_STATE, self._generator,
                              (self.frame_input if takes_input else None, self.integrator, self.velocity))
            try:
                done = self._step()
            except BaseException:
                before.restore()
                raise
        self.similarity_filter.record(looked=similar is not None, skipped=skip)
        return done

    def _input_similarity(self) -> float | None:
        """At the start of a shift cycle of a running stream with an input and the filter on: how
        alike the input the chunk reaching its level would take is to the input before it."""
        if (self.similarity_filter.threshold <= 0.0 or self.frame_input is None or self._last_chunk is None
                or self.micro != 0):
            return None
        return self.frame_input.similarity(self.next_entry(self.frame_input.strength), self.partition.c)

    def _repeat(self) -> torch.Tensor:
        """A skipped cycle: the last finished chunk again as the next c frames; the buffer's
        frames move one chunk later in the output, unchanged."""
        self.frame_input.later(self.first_index, self.partition.c)
        self.first_index += self.partition.c
        self._entered += self.partition.c
        self.frames_out += self.partition.c
        return self._last_chunk.clone()

    def _step(self) -> torch.Tensor:
        done = self._start() if self.buffer is None else self._empty()
        self._enter()
        p = self.partition
        tau, dtau = p.times(self.micro, self.grid)
        buffer = self._integrate(self.buffer, tau, dtau)
        _check_finite(buffer, f"the model's output for frames {self.first_index}..{self.newest_index} (the step "
                              "was undone; the stream stays where it was)")
        self.buffer = buffer
        micro = self.micro + 1   # set once below: another thread's report reads it as 0..s-1 (``chunk_tau``)
        if micro == p.s:
            micro = 0
            chunk = self.buffer[:, p.chunk_slice(0)]
            if isinstance(self.velocity, RemembersFrames):
                self.velocity.remember(chunk, self.first_index + p.K)
            history = torch.cat([self.buffer[:, :p.K], chunk], dim=1)
            new = self._noise(p.c)   # the frames after the newest: the prompt's until they take their input
            self.buffer = torch.cat([history[:, history.shape[1] - p.K:], self.buffer[:, p.K + p.c:], new], dim=1)
            self._floor = torch.cat([torch.zeros_like(self._floor[:p.K]), self._floor[p.K + p.c:],
                                     torch.zeros_like(self._floor[:p.c])])
            self._start_noise = torch.cat([self._start_noise[:, :p.K], self._start_noise[:, p.K + p.c:], new], dim=1)
            self.first_index += p.c
            self._last_chunk = chunk
            done = torch.cat([done, chunk], dim=1)
        self.micro = micro
        self.frames_out += done.shape[1]
        return done

    def take(self, frames: int, progress: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """Advance until ``frames`` more frames are finished: [Bsz, frames, C, H, W].

        ``progress(ready, finished)`` is called after every micro-step with the count of
        frames ready so far and the frames that micro-step finished [Bsz, n, C, H, W]; it
        may raise to stop early (a user's interrupt): frames finished before that are
        kept and come first from the next call. Frames beyond ``frames`` wait likewise.
        """
        if frames < 0:
            raise StreamError(f"cannot take a negative number of frames ({frames})")
        while self._ready.shape[1] < frames:
            finished = self.step()
            self._ready = torch.cat([self._ready, finished], dim=1)
            if progress is not None:
                progress(min(self._ready.shape[1], frames), finished)
        out, self._ready = self._ready[:, :frames], self._ready[:, frames:].clone()
        return out

    @property
    def nbytes(self) -> int:
        """Memory held between steps: the buffer and its frames' starting noise, frames finished
        but not yet taken, and the last finished chunk."""
        kept = [self.buffer, self._start_noise, self._last_chunk]
        return sum(t.nbytes for t in kept if t is not None) + self._ready.nbytes

    @property
    def ready(self) -> int:
        """Frames finished but not yet taken."""
        return self._ready.shape[1]

    @property
    def frames_taken(self) -> int:
        """Frames handed out by ``take`` (index of the next frame ``take`` returns)."""
        return self.frames_out - self.ready
