"""The GRU: its forward pass by hand, its gradient against finite differences, its training."""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from ems.estimation.learned.gru import forward, init_params, param_count
from ems.estimation.learned.train import fit


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def tiny() -> dict[str, np.ndarray]:
    # One input, one unit; gate blocks [z | r | n].
    return {
        "w_x": np.array([[0.5, -1.0, 2.0]]),
        "w_h": np.array([[0.3, 0.7, -1.5]]),
        "b": np.array([0.1, 0.0, -0.2]),
        "w_out": np.array([2.0]),
        "b_out": np.array([0.25]),
    }


def test_two_steps_by_hand() -> None:
    x1, x2 = 1.0, -0.5
    h = 0.0
    for x in (x1, x2):
        z = sigmoid(0.5 * x + 0.3 * h + 0.1)
        r = sigmoid(-1.0 * x + 0.7 * h)
        n = math.tanh(2.0 * x + r * (-1.5 * h) - 0.2)
        h = (1 - z) * n + z * h
    expected = 2.0 * h + 0.25
    got = forward(tiny(), np.array([[[x1], [x2]]]))
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected, rel=1e-12)
    # The first step alone: h = (1 - σ(0.6))·tanh(1.8).
    first = forward(tiny(), np.array([[[x1]]]))[0]
    assert first == pytest.approx(2.0 * (1 - sigmoid(0.6)) * math.tanh(1.8) + 0.25, rel=1e-12)


def test_numpy_and_autograd_numpy_give_the_same_outputs() -> None:
    params = init_params(4, 8, seed=3)
    x = np.random.default_rng(0).normal(size=(5, 12, 4))
    np.testing.assert_allclose(forward(params, x), forward(params, x, anp), rtol=1e-12)
    assert param_count(params) == 4 * 24 + 8 * 24 + 24 + 8 + 1


def test_the_gradient_matches_finite_differences() -> None:
    params = init_params(3, 4, seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 5, 3)), rng.normal(size=6)

    def loss(p: dict[str, np.ndarray]) -> float:
        err = forward(p, x, anp) - y
        return anp.mean(err * err)  # type: ignore[no-any-return]

    analytic = grad(loss)(params)
    eps = 1e-6
    for name, value in params.items():
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert analytic[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (name, idx)


def test_training_reduces_the_loss_on_a_toy_sequence() -> None:
    # Target: the mean of the last three inputs (a GRU must remember to get it).
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 8, 1))
    y = x[:, -3:, 0].mean(axis=1)
    params = init_params(1, 6, seed=0)

    def mse(p: dict[str, np.ndarray]) -> float:
        return float(np.mean((forward(p, x) - y) ** 2))

    before = mse(params)
    trained = fit(params, x, y, iterations=150, batch=32, learning_rate=0.03, seed=0)
    assert mse(trained) < 0.25 * before
