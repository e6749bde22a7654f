"""The cloud's checks of a ``set_controller`` command, against what the edge advertised.

The edge's inventory lists its controllers and, for each, the parameters an
operator may change with their type and range (:class:`~ems.protocol.ParamSpec`).
Checked here: the controller exists on that edge, every key is one of its
settable parameters, each value has the right type and lies in its range, and
a ``below`` pair sent together is ordered. The edge checks again with every
current value (a ``recharge_below_w`` alone against the ``peak_import_w`` in
force) and has the last word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ems.profiles import Problem
from ems.protocol import (
    INVALID_PARAMS,
    UNKNOWN_CONTROLLER,
    UNKNOWN_PARAM,
    ControllerRef,
    ParamSpec,
)

__all__ = ["check_settings"]


def check_settings(
    edge_id: str, controllers: Sequence[ControllerRef], controller_id: str, value: object
) -> Problem | None:
    """Why the edge's controller ``controller_id`` cannot take ``value``, or ``None``."""
    ref = next((c for c in controllers if c.id == controller_id), None)
    if ref is None:
        known = ", ".join(c.id for c in controllers) or "none"
        return Problem(
            UNKNOWN_CONTROLLER, f"{edge_id} has no controller {controller_id!r} (known: {known})"
        )
    if not isinstance(value, Mapping) or not value:
        return Problem("invalid_payload", "set_controller takes an object of parameters")
    specs = {p.name: p for p in ref.params}
    for name, new in value.items():
        spec = specs.get(name)
        if spec is None:
            settable = ", ".join(specs) or "none"
            return Problem(
                UNKNOWN_PARAM,
                f"{controller_id} has no runtime parameter {name!r} (settable: {settable})",
            )
        problem = _check_one(spec, new)
        if problem is not None:
            return problem
    for name, new in value.items():
        below = specs[name].below
        if below is not None and below in value and new >= value[below]:
            return Problem(INVALID_PARAMS, f"{name} must be below {below}")
    return None


def _check_one(spec: ParamSpec, value: object) -> Problem | None:
    if spec.type == "boolean":
        if isinstance(value, bool):
            return None
        return Problem(INVALID_PARAMS, f"{spec.name} takes true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Problem(INVALID_PARAMS, f"{spec.name} takes a finite number, got {value!r}")
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        unit = f" {spec.unit}" if spec.unit else ""
        low = "" if spec.min is None else f"{spec.min:g}"
        high = "" if spec.max is None else f"{spec.max:g}"
        return Problem("out_of_range", f"{spec.name} {value:g}{unit} is outside [{low}, {high}]")
    return None
