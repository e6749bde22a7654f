"""``set_controller``: an operator changes a controller's parameters at runtime.

The request (``ui_requests/<controller id>_settings``, written by the
:class:`~ems.edge.requests.RequestWriter` like any command) is taken by the
cycle before the controllers run. The changes are checked with the
controller's own config model, merged into its current parameters, so the
same validation as at start applies (unknown key, a negative threshold,
``recharge_below_w`` not below ``peak_import_w``); a refused request is acked
``rejected`` with a reason code and changes nothing. An accepted one is
handed to :meth:`Controller.reconfigure` and acked ``executed``; it takes
effect in the cycle that took it. The changes are kept as the controller's
``settings`` and saved with its durable state, so they survive a restart.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError

from ems.dal import ACK_PREFIX, REQUEST_PREFIX
from ems.edge.context import Ack
from ems.edge.controllers.base import Controller, ControllerParams
from ems.profiles import Problem
from ems.protocol import (
    INVALID_PARAMS,
    OUT_OF_RANGE,
    SET_CONTROLLER,
    UNKNOWN_PARAM,
    ControllerRef,
    ParamSpec,
)
from ems.timefmt import parse_rfc3339

__all__ = [
    "apply_request",
    "controller_ref",
    "merged_params",
    "restore_settings",
    "settings_ack_address",
    "settings_request_address",
    "status_name",
]

log = logging.getLogger(__name__)

_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_UNIT = re.compile(r"\[([^\]\s]+)\]")


def settings_request_address(controller_id: str) -> str:
    return f"{REQUEST_PREFIX}/{controller_id}_settings"


def settings_ack_address(controller_id: str) -> str:
    return f"{ACK_PREFIX}/{controller_id}_settings"


def status_name(param: str) -> str:
    """The status channel showing a parameter: ``target_grid_w`` → ``TargetGridW``."""
    return "".join(part.capitalize() for part in param.split("_"))


def controller_ref(controller: Controller) -> ControllerRef:
    """What the inventory advertises: the settable parameters with type, unit and range."""
    return ControllerRef(
        id=controller.id,
        type=controller.type_name,
        priority=controller.priority,
        params=[_spec(controller, name) for name in controller.settable_params],
    )


def _spec(controller: Controller, name: str) -> ParamSpec:
    field = controller.config_model.model_fields[name]
    kind: Literal["number", "boolean"] = "boolean" if field.annotation is bool else "number"
    low: float | None = None
    high: float | None = None
    for rule in field.metadata:
        # Gt/Lt are advertised as inclusive bounds: the edge refuses the bound itself.
        if isinstance(rule, Ge | Gt):
            low = float(rule.ge if isinstance(rule, Ge) else rule.gt)  # type: ignore[arg-type]
        elif isinstance(rule, Le | Lt):
            high = float(rule.le if isinstance(rule, Le) else rule.lt)  # type: ignore[arg-type]
    unit = _UNIT.search(field.description or "")
    return ParamSpec(
        name=name,
        type=kind,
        unit=unit.group(1) if unit and kind == "number" else None,
        min=low,
        max=high,
        below=controller.settable_below.get(name),
    )


def merged_params(controller: Controller, changes: Mapping[str, Any]) -> ControllerParams | Problem:
    """The controller's current parameters with ``changes``, validated as at start."""
    unknown = sorted(k for k in changes if k not in controller.settable_params)
    if unknown:
        settable = ", ".join(controller.settable_params) or "none"
        return Problem(
            UNKNOWN_PARAM,
            f"{controller.id} has no runtime parameter {unknown[0]!r} (settable: {settable})",
        )
    for name, value in changes.items():
        problem = _type_problem(controller, name, value)
        if problem is not None:
            return problem
    current = controller.params.model_dump()
    try:
        return controller.config_model.model_validate({**current, **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or controller.id
        reason = OUT_OF_RANGE if first["type"] in _RANGE_ERRORS else INVALID_PARAMS
        return Problem(reason, f"{where}: {first['msg']}")


def _type_problem(controller: Controller, name: str, value: object) -> Problem | None:
    # Checked here, not left to pydantic: it would take true for 1.0 and 1 for true.
    wants_bool = controller.config_model.model_fields[name].annotation is bool
    if wants_bool and not isinstance(value, bool):
        return Problem(INVALID_PARAMS, f"{name} takes true or false, got {value!r}")
    if not wants_bool and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        return Problem(INVALID_PARAMS, f"{name} takes a finite number, got {value!r}")
    return None


def apply_request(
    controller: Controller, request: Mapping[str, Any], past_deadline: Callable[[float], bool]
) -> Ack:
    """Check and apply one taken ``set_controller`` request; the ack says how it ended.

    ``past_deadline(deadline_s) -> bool`` is the cycle's deadline check (with its drift margin).
    """
    command_id = str(request.get("command_id", ""))
    address = settings_ack_address(controller.id)
    deadline = request.get("deadline")
    if deadline is not None:
        try:
            expired = past_deadline(parse_rfc3339(str(deadline)))
        except ValueError:
            return Ack(address, command_id, "failed", "revalidation_failed", "unreadable deadline")
        if expired:
            return Ack(address, command_id, "failed", "expired", f"past its deadline {deadline}")
    changes = request.get("value")
    if request.get("action") != SET_CONTROLLER or not isinstance(changes, Mapping) or not changes:
        return Ack(address, command_id, "rejected", "invalid_payload", "not a set_controller")
    params = merged_params(controller, changes)
    if isinstance(params, Problem):
        return Ack(address, command_id, "rejected", params.reason, params.detail)
    old = controller.params
    try:
        controller.reconfigure(params)
    except Exception:
        # A controller's own hook failed: keep the old parameters and the cycle running.
        log.exception("controller %s could not take %s", controller.id, dict(changes))
        controller.reconfigure(old)
        return Ack(address, command_id, "failed", "controller_error", "parameters not applied")
    controller.settings.update(changes)
    shown = ", ".join(f"{k} = {v!r}" for k, v in changes.items())
    return Ack(address, command_id, "executed", None, f"{controller.id}: {shown}")


def restore_settings(controller: Controller, saved: Mapping[str, Any]) -> Problem | None:
    """Put back changes saved before a restart (checked against today's config)."""
    params = merged_params(controller, saved)
    if isinstance(params, Problem):
        return params
    controller.reconfigure(params)
    controller.settings.update(saved)
    return None
