"""A GRU over a window of inputs, read out as one number: written once, for two array modules.

The edge runs :func:`forward` on plain numpy; training runs the very same
function on ``autograd.numpy`` (pass it as ``xp``) to differentiate it, so the
model trained is exactly the model run, and autograd is never imported by the
edge unless it trains. Only operations both modules have, and no in-place
writes (autograd cannot trace them).

For inputs ``x_t`` (``features``) and state ``h`` (``hidden``), with
``[a|b|c]`` the three gate blocks of ``w_x`` (features × 3·hidden), ``w_h``
(hidden × 3·hidden) and ``b`` (3·hidden):

    z = σ(x·w_x[a] + h·w_h[a] + b[a])          update gate
    r = σ(x·w_x[b] + h·w_h[b] + b[b])          reset gate
    n = tanh(x·w_x[c] + r ⊙ (h·w_h[c]) + b[c]) candidate
    h' = (1 - z) ⊙ n + z ⊙ h

starting from ``h = 0``; the output is ``h_T·w_out + b_out``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Params", "forward", "init_params", "param_count"]

#: Parameter name -> array. A dict, so autograd's optimisers can walk it.
Params = dict[str, Any]


def init_params(features: int, hidden: int, seed: int = 0) -> Params:
    """Glorot-scaled random weights, zero biases, the update gate biased to keep state."""
    rng = np.random.default_rng(seed)
    scale_x = np.sqrt(1.0 / features)
    scale_h = np.sqrt(1.0 / hidden)
    b = np.zeros(3 * hidden)
    b[:hidden] = 1.0  # start remembering: long windows train more easily
    return {
        "w_x": rng.normal(0.0, scale_x, (features, 3 * hidden)),
        "w_h": rng.normal(0.0, scale_h, (hidden, 3 * hidden)),
        "b": b,
        "w_out": rng.normal(0.0, scale_h, hidden),
        "b_out": np.zeros(1),
    }


def param_count(params: Params) -> int:
    return int(sum(np.size(v) for v in params.values()))


def _sigmoid(xp: ModuleType, x: Any) -> Any:
    return 0.5 * (xp.tanh(0.5 * x) + 1.0)  # overflow-free form of 1 / (1 + e^-x)


def forward(params: Params, x: Any, xp: ModuleType = np) -> Any:
    """Outputs (batch,) for inputs ``x`` (batch × steps × features)."""
    w_h = params["w_h"]
    hidden = w_h.shape[0]
    w_x, b = params["w_x"], params["b"]
    h = xp.zeros((x.shape[0], hidden))
    for t in range(x.shape[1]):
        hw = xp.dot(h, w_h)
        # Projected step by step, not all steps in one product and sliced: the
        # gradient of each slice would be a zero array of the whole product's size,
        # and a training batch's backward pass would hold hundreds of megabytes.
        xt = xp.dot(x[:, t, :], w_x) + b
        z = _sigmoid(xp, xt[:, :hidden] + hw[:, :hidden])
        r = _sigmoid(xp, xt[:, hidden : 2 * hidden] + hw[:, hidden : 2 * hidden])
        n = xp.tanh(xt[:, 2 * hidden :] + r * hw[:, 2 * hidden :])
        h = (1.0 - z) * n + z * h
    return xp.dot(h, params["w_out"]) + params["b_out"][0]
