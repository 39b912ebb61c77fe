"""The sampler: Euler, and the re-noising step of few-step distilled models, both through the
one ``Integrator`` signature; fresh noise comes from the stream's seeded generator."""
import torch

from analytic import means, point_mass_velocity
from stream_core.engine.flow import noisy, velocity_from_clean
from stream_core.engine.integrator import euler, renoise, seeded_noise
from stream_core.engine.partition import Partition
from stream_core.engine.stream import Stream

SHAPE = (3, 4, 4)


def test_renoise_is_the_clean_estimate_noised_again_to_the_next_time():
    torch.manual_seed(0)
    x1, x = torch.randn(1, 3, *SHAPE), torch.randn(1, 3, *SHAPE)
    tau, dtau = torch.tensor([0.2, 0.5, 0.7]), torch.tensor([0.3, 0.5, 0.0])
    field = lambda x, tau: velocity_from_clean(x1, x, tau)   # noqa: E731  a field that knows the clean frames
    out = renoise(field, x, tau, dtau, seeded_noise(torch.Generator().manual_seed(5)))
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(out[:, 0], noisy(x1, eps, tau + dtau)[:, 0])          # re-noised to 0.5
    torch.testing.assert_close(out[:, 1], x1[:, 1])                                   # reaches tau = 1: the estimate
    torch.testing.assert_close(out[:, 2], x[:, 2], rtol=0, atol=0)                    # dtau = 0: stays


def test_euler_draws_no_noise():
    drawn = []
    x = torch.zeros(1, 2, *SHAPE)
    euler(lambda x, tau: torch.ones_like(x), x, torch.zeros(2), torch.full((2,), 0.5), drawn.append)
    assert drawn == []


def test_a_renoising_stream_lands_on_the_point_mass_and_is_reproducible():
    """With an exact velocity every clean estimate is the point mass, so the re-noising stream's
    frames are exact; the fresh noise comes from the stream's generator: same seed, same frames."""
    p = Partition(K=0, N=3, c=2, s=1)
    one = Stream(point_mass_velocity(means), p, SHAPE, seed=4, dtype=torch.float64, integrator=renoise).take(10)
    two = Stream(point_mass_velocity(means), p, SHAPE, seed=4, dtype=torch.float64, integrator=renoise).take(10)
    torch.testing.assert_close(one, two, rtol=0, atol=0)
    torch.testing.assert_close(one, means(torch.arange(10)).reshape(1, 10, 1, 1, 1).expand_as(one), rtol=0, atol=1e-9)
