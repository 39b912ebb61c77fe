"""The rolling KV cache of a causal stream, alone (no model): which chunks it keeps, where they
sit, and its undo."""
import pytest
import torch

from stream_core.engine.rolling_cache import CachedChunk, RollingCache


def chunk(frames: int, position: int, tag: float) -> CachedChunk:
    """A stand-in chunk: one layer, 2 tokens a frame, keys holding their position (so a move shows)."""
    keys = torch.full((1, 2 * frames, 1, 2), float(position))
    return CachedChunk(torch.full((1, frames, 1, 1, 1), tag), (keys,), (torch.full_like(keys, tag),), position)


def moved(c: CachedChunk, position: int) -> CachedChunk:
    return CachedChunk(c.latents, (torch.full_like(c.keys[0], float(position)),), c.values, position)


def fill(cache: RollingCache, sizes: list[int]) -> None:
    for tag, frames in enumerate(sizes):
        cache.add(chunk(frames, cache.frames, float(tag)))


def tags(cache: RollingCache) -> list[float]:
    return [float(c.latents.flatten()[0]) for c in cache.chunks]


def test_it_keeps_the_sink_and_the_last_window_in_whole_chunks_at_compact_positions():
    cache = RollingCache(sink=2, window=4, reposition=moved)
    fill(cache, [2, 2, 2, 2, 2])          # chunk 0 is the sink; the last two fill the window
    assert tags(cache) == [0.0, 3.0, 4.0] and cache.frames == 6 and cache.dropped == 4
    assert [c.position for c in cache.chunks] == [0, 2, 4]
    assert [float(c.keys[0][0, 0, 0, 0]) for c in cache.chunks] == [0.0, 2.0, 4.0]   # rotated where they moved
    assert torch.equal(cache.chunks[1].values[0], torch.full_like(cache.chunks[1].values[0], 3.0))   # values stay
    keys, values = cache.layer(0, room=3)                          # the chunks' 12 tokens, then room for 3
    assert keys.shape[1] >= 15 and [float(k) for k in keys[0, :12:4, 0, 0]] == [0.0, 2.0, 4.0]
    assert cache.chunks[1].keys[0].data_ptr() == keys[:, 4:].data_ptr()   # the chunks are views: no copy


def test_a_chunk_larger_than_the_window_is_kept_whole_and_a_sink_of_0_keeps_none():
    cache = RollingCache(sink=0, window=2, reposition=moved)
    fill(cache, [3, 3])
    assert tags(cache) == [1.0] and cache.frames == 3 and cache.chunks[0].position == 0


def test_its_undo_puts_back_the_chunks_and_counts():
    cache = RollingCache(sink=1, window=2, reposition=moved)
    fill(cache, [1, 1, 1])
    undo, before = cache.checkpoint(), cache.chunks
    fill(cache, [1, 1])
    assert cache.chunks is not before
    undo()
    assert cache.chunks is before and cache.dropped == 0 and cache.frames == 3
    with pytest.raises(ValueError, match="position 3"):
        cache.add(chunk(1, 5, 9.0))
    with pytest.raises(ValueError, match="sink >= 0 and window >= 1"):
        RollingCache(sink=0, window=0, reposition=moved)
