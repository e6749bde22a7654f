"""The ``set_controller`` command's contract: what an edge advertises and what a command may carry.

An edge lists its controllers in its inventory frame (:class:`ControllerRef`),
each with the parameters an operator may change at runtime (:class:`ParamSpec`:
type, unit and range). A ``set_controller`` command names the controller in
its ``device`` field and carries the changes as its ``value``, an object of
parameter name -> new value (:data:`ControllerSettings`). Cloud and edge both
refuse a bad one with one of the reason codes below; the edge, which knows
every current value, also checks the parameters together (its controller's
own config model) and has the last word.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ems.protocol.types import ActionName, DeviceId

__all__ = [
    "INVALID_PARAMS",
    "OUT_OF_RANGE",
    "SET_CONTROLLER",
    "UNKNOWN_CONTROLLER",
    "UNKNOWN_PARAM",
    "ControllerRef",
    "ControllerSettings",
    "ParamName",
    "ParamSpec",
    "ParamValue",
]

#: The action of a command that changes a controller's parameters.
SET_CONTROLLER = "set_controller"

# Reason codes of a refused set_controller (besides forbidden, unknown_edge, invalid_payload).
UNKNOWN_CONTROLLER = "unknown_controller"  # the edge has no controller of that id
UNKNOWN_PARAM = "unknown_param"  # not a parameter settable at runtime
OUT_OF_RANGE = "out_of_range"  # a value outside its parameter's range
INVALID_PARAMS = "invalid_params"  # wrong type, or the parameters do not fit together

ParamName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", max_length=64)]
ParamValue: TypeAlias = StrictBool | StrictInt | StrictFloat
#: The value of a ``set_controller`` command: the parameters to change, at least one.
ControllerSettings = Annotated[dict[ParamName, ParamValue], Field(min_length=1, max_length=16)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParamSpec(_Strict):
    """One runtime-settable parameter. ``min``/``max`` are inclusive; ``below`` names a
    parameter this one must stay strictly below (``recharge_below_w`` < ``peak_import_w``)."""

    name: ParamName
    type: Literal["number", "boolean"]
    unit: Annotated[StrictStr, Field(max_length=16)] | None = None
    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None
    below: ParamName | None = None


class ControllerRef(_Strict):
    """A controller of an edge: its id (the ``device`` of a set_controller), type and priority."""

    id: DeviceId
    type: ActionName  # a registered controller type: lower_snake like an action
    priority: StrictInt
    params: Annotated[list[ParamSpec], Field(max_length=32)] = []
