import pytest
import torch

from stream_core.engine.partition import Partition, PartitionError
from stream_core.engine.time_grid import tau_grid
from stream_core.engine.stream import Stream

SHAPE = (3, 2, 2)
PARTITIONS = [Partition(0, 4, 2, 3), Partition(2, 3, 2, 2), Partition.uniform(6, 5),
              Partition.diagonal(5), Partition(1, 1, 3, 4), Partition(0, 2, 3, 1)]


def powers_of_tau(x, tau, frame_index):
    """Channel j moves at speed tau**j, so a finished frame has gained sum(tau**j * dtau)
    over the levels it took: j = 0, 1, 2 pin down which levels those were."""
    v = torch.ones_like(x)
    for j in range(x.shape[2]):
        v[:, :, j] = tau.reshape(1, -1, 1, 1) ** j
    return v


@pytest.mark.parametrize("p", PARTITIONS, ids=str)
def test_every_frame_takes_every_level_once_and_leaves_clean(p):
    grid = tau_grid(p.T, shift=2.0)
    stream = Stream(powers_of_tau, p, SHAPE, grid=grid, seed=3, dtype=torch.float64)
    frames = 4 * p.B + 3
    out = stream.take(frames)
    # the noise each frame started from: the stream's draws, in order
    g = torch.Generator().manual_seed(3)
    draws = [torch.randn(1, p.B, *SHAPE, generator=g)]
    while sum(d.shape[1] for d in draws) < frames + p.B:
        draws.append(torch.randn(1, p.c, *SHAPE, generator=g))
    start = torch.cat(draws, dim=1)[:, :frames].double()
    taken = (out - start)[0, :, :, 0, 0]                                   # [frames, 3]
    levels, steps = grid[:-1], grid[1:] - grid[:-1]
    expected = torch.stack([(levels ** j * steps).sum() for j in range(3)])
    assert expected[0] == pytest.approx(1.0)                               # from noise to clean
    torch.testing.assert_close(taken, expected.expand_as(taken), rtol=0, atol=1e-12)


def test_times_follow_chunks():
    p = Partition(K=1, N=3, c=2, s=2)
    grid = tau_grid(p.T)
    tau, dtau = p.times(1, grid)
    assert tau.tolist() == pytest.approx([1.0, 5 / 6, 5 / 6, 3 / 6, 3 / 6, 1 / 6, 1 / 6])
    assert dtau.tolist() == pytest.approx([0.0] + [1 / 6] * 6)
    assert (p.B, p.T) == (7, 6)


@pytest.mark.parametrize("kwargs, rule", [
    (dict(N=0), "N (chunks) must be >= 1"),
    (dict(c=0), "c (frames per chunk) must be >= 1"),
    (dict(s=0), "s (micro-steps per chunk) must be >= 1"),
    (dict(K=-1), "K (reference frames) must be >= 0"),
    (dict(c=2.5), "c must be an integer"),
    (dict(s=True), "s must be an integer"),
])
def test_bad_partition_names_the_rule(kwargs, rule):
    with pytest.raises(PartitionError, match=rule.replace("(", r"\(").replace(")", r"\)")):
        Partition(**kwargs)


def test_wrong_grid_is_refused():
    with pytest.raises(PartitionError, match="T\\+1 = 9"):
        Partition(0, 4, 2, 2).times(0, tau_grid(5))
    with pytest.raises(PartitionError, match="micro-step"):
        Partition(0, 4, 2, 2).step_index(2)


def test_segments_are_each_positions_span_of_the_grid():
    p = Partition(K=1, N=3, c=2, s=2)
    grid = tau_grid(p.T, shift=2.0)
    start, length = p.segments(grid)
    index = torch.tensor([0, 4, 4, 2, 2, 0, 0])                      # level(i) = (N-1-i)*s; references clean
    torch.testing.assert_close(start[1:], grid[index[1:]])
    torch.testing.assert_close(length[1:], grid[index[1:] + 2] - grid[index[1:]])
    assert (start[0], length[0]) == (1.0, 0.0)
    uniform_start, uniform_length = p.segments()
    assert uniform_start.tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0, 0])
    assert uniform_length.tolist() == pytest.approx([0] + [1 / 3] * 6)
    # the warm-up keeps chunk i where its segment starts, and each micro-step starts from its level
    assert p.warmup_captures() == {4: 0, 2: 1, 0: 2}
    assert p.step_index(1)[1:].tolist() == (index[1:] + 1).tolist()


def test_output_chunks_and_filling():
    p = Partition(K=2, N=3, c=2, s=1)
    assert [p.output_chunk(f) for f in range(8)] == [-1, -1, 0, 0, 1, 1, 2, 2]
    assert Partition.filling(8, K=2, c=2, s=3) == Partition(2, 3, 2, 3)
    with pytest.raises(PartitionError, match="divide the buffer of 8 frames less the K = 2"):
        Partition.filling(8, K=2, c=4)
    assert [c for c in range(1, 10) if Partition.fits(8, 0, c)] == [1, 2, 4, 8]
