"""Velocity fields whose exact flow-matching answer is known in closed form."""
import torch


def point_mass_velocity(means):
    """Exact flow-matching velocity (sigma_min = 0) when frame f's data is the constant
    means(f): x_tau = tau * mu + (1 - tau) * x0, so v = (mu - x) / (1 - tau)."""

    def velocity(x, tau, frame_index):
        mu = means(frame_index).to(x).reshape(1, -1, 1, 1, 1)
        return (mu - x) / (1 - tau.to(x)).clamp(min=1e-6).reshape(1, -1, 1, 1, 1)

    return velocity


def gaussian_velocity(means, std, sigma_min):
    """Exact velocity when frame f's pixels are iid N(means(f), std^2):
    E[x1 - (1 - sigma_min) x0 | x_tau] for x_tau = tau x1 + a x0, a = 1 - (1 - sigma_min) tau."""

    def velocity(x, tau, frame_index):
        shape = (1, -1, 1, 1, 1)
        mu = means(frame_index).to(x).reshape(shape)
        t = tau.to(x).reshape(shape)
        a = 1 - (1 - sigma_min) * t
        var = t ** 2 * std ** 2 + a ** 2
        centred = x - t * mu
        return mu + (t * std ** 2 - (1 - sigma_min) * a) / var * centred

    return velocity


def means(frame_index):
    return torch.sin(0.7 * frame_index.double()) * 2
