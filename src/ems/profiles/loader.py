"""Load and validate device profiles: JSON Schema first, then cross-references."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ems.dal import Category
from ems.errors import ProfileError
from ems.profiles.model import (
    ActionSpec,
    Bound,
    ChannelSpec,
    DeviceProfile,
    DynamicLimits,
    ValueSpec,
)

__all__ = [
    "builtin_profile_documents",
    "builtin_profiles",
    "load_profile",
    "load_profiles",
    "parse_profile",
    "profile_schema",
]


@cache
def profile_schema() -> dict[str, Any]:
    """The JSON Schema every profile must satisfy."""
    text = resources.files("ems.profiles").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _json_path(path: Iterable[object]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_profile(document: object, source: str) -> DeviceProfile:
    """Validate a decoded profile document; ``source`` names it in errors."""
    validator = jsonschema.Draft202012Validator(profile_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise ProfileError(f"{source}: {_json_path(error.absolute_path)}: {error.message}")
    assert isinstance(document, dict)
    channels = {
        name: ChannelSpec(
            name=name,
            category=Category(spec["category"]),
            type=spec["type"],
            description=spec["description"],
            unit=spec.get("unit"),
            min=spec.get("min"),
            max=spec.get("max"),
            enum=tuple(spec["enum"]) if "enum" in spec else None,
            default=spec.get("default"),
            optional=bool(spec.get("optional", False)),
        )
        for name, spec in document["channels"].items()
    }
    actions = {
        name: _parse_action(name, spec, channels, source)
        for name, spec in document["actions"].items()
    }
    return DeviceProfile(document["type"], document["description"], channels, actions)


def _parse_action(
    name: str, spec: Mapping[str, Any], channels: Mapping[str, ChannelSpec], source: str
) -> ActionSpec:
    where = f"{source}: $.actions.{name}"
    output = spec.get("output")
    if output is not None:
        channel = channels.get(output)
        if channel is None or channel.category is not Category.OUTPUT:
            raise ProfileError(
                f"{where}.output: {output!r} is not an output channel of this profile"
            )
    v = spec["value"]
    value = ValueSpec(
        type=v["type"],
        unit=v.get("unit"),
        min=v.get("min"),
        max=v.get("max"),
        enum=tuple(v["enum"]) if "enum" in v else None,
    )
    if value.min is not None and value.max is not None and value.min > value.max:
        raise ProfileError(f"{where}.value: min {value.min} is above max {value.max}")
    limits = None
    if "dynamic_limits" in spec:
        d = spec["dynamic_limits"]
        bounds: dict[str, Bound] = {}
        for side in ("min", "max"):
            if side in d:
                bound = Bound(d[side]["channel"], d[side].get("negate", False))
                channel = channels.get(bound.channel)
                if channel is None or channel.category is not Category.INPUT:
                    raise ProfileError(
                        f"{where}.dynamic_limits.{side}.channel: {bound.channel!r} "
                        "is not an input channel of this profile"
                    )
                bounds[side] = bound
        limits = DynamicLimits(float(d["max_age_s"]), bounds.get("min"), bounds.get("max"))
    return ActionSpec(name, spec["description"], spec["request"], output, value, limits)


def load_profile(path: Path) -> DeviceProfile:
    """Read one profile file; errors name the file and the field."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    profile = parse_profile(document, str(path))
    if profile.type != path.stem:
        raise ProfileError(
            f"{path}: $.type: {profile.type!r} does not match the file name {path.stem!r}"
        )
    return profile


def load_profiles(directory: Path) -> dict[str, DeviceProfile]:
    """Every ``*.json`` profile in ``directory`` except the schema, by type."""
    files = sorted(p for p in directory.glob("*.json") if p.name != "schema.json")
    if not files:
        raise ProfileError(f"{directory}: no device profiles found")
    return {p.type: p for p in (load_profile(f) for f in files)}


@cache
def builtin_profile_documents() -> dict[str, dict[str, Any]]:
    """The shipped profiles as their JSON documents (what the cloud serves to edges)."""
    root = resources.files("ems.profiles")
    documents: dict[str, dict[str, Any]] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and entry.name != "schema.json":
            documents[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return documents


@cache
def builtin_profiles() -> dict[str, DeviceProfile]:
    """The profiles shipped with the package."""
    with resources.as_file(resources.files("ems.profiles")) as directory:
        return load_profiles(Path(directory))
