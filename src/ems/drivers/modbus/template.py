"""Register-map templates: a device type as data, validated once at load.

A template is a YAML file that maps a profile's channels to Modbus registers::

    description: Generic battery inverter
    word_order: big                  # default for 32-bit values: big = high word first
    channels:
      ActivePower: {address: 0, function: holding, type: int32, scale: 1}     # W
      Soc:         {address: 2, function: input, type: uint16, scale: 0.1}    # %
      Voltage:     {address: 3, function: input, type: int16, scale_factor: 4}
      State:       {address: 5, function: input, type: uint16,
                    enum: {0: idle, 1: charging, 2: discharging}}
      SetActivePower: {address: 100, function: holding, type: int32, access: write}

``scale`` multiplies the raw register (value = raw × scale, in the profile's
unit); ``scale_factor`` names the register (same function, int16) holding a
SunSpec-style power of ten (value = raw × 10^sf). Shipped templates live in
``templates/`` beside this module; a user's own are found by name in the
folder of the edge YAML first. Every error names the file and the field.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ems.dal import Category
from ems.errors import TemplateError
from ems.profiles import DeviceProfile

__all__ = [
    "Function",
    "RegisterMap",
    "RegisterSpec",
    "check_against_profile",
    "find_template",
    "load_template",
    "shipped_templates",
]

WordOrder = Literal["big", "little"]
DataType = Literal["int16", "uint16", "int32", "uint32", "float32", "bool"]

#: Registers a value of each type spans.
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "bool": 1}


class Function(StrEnum):
    HOLDING = "holding"  # read 03, write 06/16
    INPUT = "input"  # read 04, read-only
    COIL = "coil"  # read 01, write 05; type bool
    DISCRETE = "discrete"  # read 02, read-only; type bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterSpec(_Strict):
    address: int = Field(ge=0, le=65535, description="Register (or coil) number, 0-based")
    function: Function
    type: DataType = "uint16"
    word_order: WordOrder | None = None  # None: the template's
    scale: float = Field(default=1.0, description="value = raw × scale")
    scale_factor: int | None = Field(
        default=None, ge=0, le=65535, description="Register holding a power of ten (int16)"
    )
    access: Literal["read", "write"] = "read"
    enum: dict[int, str] | None = None  # raw value -> string channel value

    @model_validator(mode="after")
    def _consistent(self) -> RegisterSpec:
        bits = self.function in (Function.COIL, Function.DISCRETE)
        if bits != (self.type == "bool"):
            raise ValueError("type: 'bool' goes with function coil or discrete, and only there")
        if self.access == "write" and self.function not in (Function.HOLDING, Function.COIL):
            raise ValueError("access: only holding registers and coils can be written")
        if self.scale == 0:
            raise ValueError("scale: must not be 0")
        if self.scale_factor is not None and self.scale != 1.0:
            raise ValueError("scale_factor: give scale or scale_factor, not both")
        if self.enum is not None and self.access == "write":
            raise ValueError("enum: only read channels map numbers to names")
        return self


class RegisterMap(_Strict):
    description: str = ""
    word_order: WordOrder = "big"
    channels: dict[str, RegisterSpec] = Field(min_length=1)
    name: str = ""  # filled from the file name

    def order_of(self, spec: RegisterSpec) -> WordOrder:
        return spec.word_order or self.word_order


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_template(path: Path) -> RegisterMap:
    """Read and validate one template file; :class:`TemplateError` names file and field."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise TemplateError(f"template {path.name}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path.name}: invalid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"template {path.name}: expected a mapping at the top level")
    try:
        parsed = RegisterMap.model_validate(document)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{_where(err['loc'])}: {msg}")
        raise TemplateError(f"template {path.name}: " + "; ".join(problems)) from None
    return parsed.model_copy(update={"name": path.stem})


def check_against_profile(template: RegisterMap, profile: DeviceProfile, file: str) -> None:
    """Refuse a template whose channels are not the profile's, or written the wrong way."""
    for name, spec in template.channels.items():
        where = f"template {file}: channels.{name}"
        channel = profile.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(profile.channels))
            raise TemplateError(f"{where}: not a channel of profile {profile.type} ({known})")
        output = channel.category is Category.OUTPUT
        if output != (spec.access == "write"):
            want = "write" if output else "read"
            raise TemplateError(f"{where}.access: must be {want!r} for this {channel.category}")
        if (channel.type == "string") != (spec.enum is not None):
            raise TemplateError(f"{where}.enum: string channels need an enum, and only they")
        if (channel.type == "boolean") != (spec.type == "bool"):
            raise TemplateError(f"{where}.type: boolean channels are coils/discretes, only they")
        if spec.scale_factor is not None and spec.scale_factor in _addresses(template, spec):
            raise TemplateError(f"{where}.scale_factor: overlaps a channel's own register")


def _addresses(template: RegisterMap, spec: RegisterSpec) -> set[int]:
    return set(range(spec.address, spec.address + WIDTH[spec.type]))


def shipped_templates() -> dict[str, Path]:
    """Name -> file of the templates shipped in the package."""
    folder = resources.files("ems.drivers.modbus").joinpath("templates")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def find_template(name: str, config_dir: Path) -> Path:
    """A user's template ``<config dir>/<name>.yaml`` first, else the shipped one."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise TemplateError(f"template {name!r}: a name like 'generic_battery', not a path")
    own = config_dir / f"{name}.yaml"
    if own.is_file():
        return own
    shipped = shipped_templates()
    if name in shipped:
        return shipped[name]
    known = ", ".join(sorted(shipped))
    raise TemplateError(
        f"template {name!r}: no {name}.yaml in the config folder, and none shipped ({known})"
    )
