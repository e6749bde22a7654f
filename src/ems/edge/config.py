"""The edge configuration: one YAML file, validated once at start.

Unknown keys, wrong types and missing fields are refused with a message that
names the field (``devices[0].params.capacity_wh: …``).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ems.dal.address import check_device_id
from ems.edge.ha.config import HaConfig
from ems.edge.virtual_meters import VirtualMeterConfig, plan_meters, site_channels
from ems.errors import ConfigError, EmsError, VirtualMeterError
from ems.estimation.config import EstimatorConfig
from ems.profiles import DeviceProfile
from ems.tariff.config import TariffConfig

__all__ = [
    "ClockConfig",
    "CloudConfig",
    "CommandsConfig",
    "ControllerConfig",
    "CycleConfig",
    "DeviceConfig",
    "EdgeConfig",
    "ExecutionsConfig",
    "LoggingConfig",
    "MetricsConfig",
    "SiteConfig",
    "TelemetryConfig",
    "demo_config_path",
    "load_edge_config",
    "parse_edge_config",
    "validate_params",
]

_EDGE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SiteConfig(_Strict):
    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    altitude_m: float = 0.0
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class CycleConfig(_Strict):
    period_s: float = Field(default=1.0, gt=0, le=60, description="Control cycle period [s]")


class CommandsConfig(_Strict):
    deadline_margin_s: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Nothing is written or applied after a command's deadline less this [s]",
    )
    ack_resend_window_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Final acks sent this recently are sent again on a new connection, "
        "also by a restarted edge [s]",
    )


class ClockConfig(_Strict):
    max_offset_ms: float = Field(
        default=500.0,
        gt=0,
        description="Warn when the clock differs from the cloud's by more than this [ms]",
    )
    check_interval_s: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="How often the offset to the cloud's clock is measured again [s]",
    )


class LoggingConfig(_Strict):
    directory: Path | None = Field(
        default=None,
        description="Where the rotating JSON-lines log files go; default <data dir>/edge/<id>/logs",
    )
    max_bytes: int = Field(
        default=10_000_000, ge=10_000, description="A log file is rotated at this size [bytes]"
    )
    backups: int = Field(default=5, ge=0, le=1000, description="Rotated files kept")
    enabled: bool = Field(
        default=True,
        description="Write log files (ems edge with a cloud, or standalone with a data dir)",
    )


class ExecutionsConfig(_Strict):
    """The execution log (``executions.jsonl``): one line per command the cycle applied."""

    max_bytes: int = Field(
        default=1_000_000,
        ge=10_000,
        le=1_000_000_000,
        description="The live file is rotated at this size [bytes] (a line is about 200)",
    )
    keep_files: int = Field(
        default=5,
        ge=2,
        le=1000,
        description="Files kept, the live one included; lines the cloud may still deliver "
        "again are carried forward, never deleted",
    )


class CloudConfig(_Strict):
    url: str | None = None  # ws:// or wss:// address of the cloud; None = standalone
    api_key_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(ws|wss|http|https)://[^\s/]+", value):
            raise ValueError("must be a ws://, wss://, http:// or https:// URL")
        return value


class TelemetryConfig(_Strict):
    """The local buffer that keeps telemetry frames until the cloud acknowledges them."""

    buffer_max_mb: float = Field(
        default=256.0,
        gt=0,
        description="Frames kept on disk at most [MiB]; the oldest go first (about a day "
        "of the demo site at 1 s)",
    )
    buffer_max_age_s: float = Field(
        default=86_400.0, gt=0, description="Frames older than this are dropped [s]"
    )
    flush_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Unacknowledged frames reach the disk at most this long after capture [s]",
    )
    backfill_frames_per_s: float = Field(
        default=50.0, gt=0, description="Pace of sending buffered frames after a reconnect"
    )
    inflight_frames: int = Field(
        default=32, ge=1, le=10_000, description="Buffered frames sent and not yet acknowledged"
    )
    ack_timeout_s: float = Field(
        default=30.0, gt=0, description="A frame sent without an ack after this is sent again [s]"
    )


class MetricsConfig(_Strict):
    """Prometheus ``/metrics`` of the edge (off unless enabled; loopback by default)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535, description="0: any free port")


class DeviceConfig(_Strict):
    id: str
    profile: str
    simulator: str | None = None  # simulator type (ems.devices), or
    driver: str | None = None  # driver type (ems.drivers): a real device
    params: dict[str, Any] = Field(default_factory=dict)
    #: A battery's SOC estimator (DESIGN §17): publishes SocEstimate and SocEstimateStd.
    estimator: EstimatorConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DeviceConfig:
        if self.simulator is not None and self.driver is not None:
            raise ValueError("give either simulator or driver, not both")
        return self

    @field_validator("id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        try:
            return check_device_id(value)
        except EmsError as exc:
            raise ValueError(str(exc)) from None


class ControllerConfig(_Strict):
    id: str = Field(pattern=_ID_RE.pattern)
    type: str
    priority: int = Field(ge=0, le=1000, description="Lower runs first; the last write wins")
    params: dict[str, Any] = Field(default_factory=dict)


class EdgeConfig(_Strict):
    edge_id: str
    site: SiteConfig
    cycle: CycleConfig = CycleConfig()
    commands: CommandsConfig = CommandsConfig()
    cloud: CloudConfig = CloudConfig()
    clock: ClockConfig = ClockConfig()
    logging: LoggingConfig = LoggingConfig()
    executions: ExecutionsConfig = ExecutionsConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    metrics: MetricsConfig = MetricsConfig()
    devices: list[DeviceConfig] = Field(min_length=1)
    controllers: list[ControllerConfig] = Field(default_factory=list)
    #: Channels computed every cycle from others (``<id>/Value``): :mod:`ems.edge.virtual_meters`.
    virtual_meters: list[VirtualMeterConfig] = Field(default_factory=list)
    tariff: TariffConfig | None = None  # None: costs are not computed
    ha: HaConfig | None = None  # None: a single edge box, always in control (DESIGN 18)
    _config_dir: Path = PrivateAttr(default_factory=Path)

    @property
    def config_dir(self) -> Path:
        """The folder relative file names in this config (replay CSVs, price files) start from."""
        return self._config_dir

    @field_validator("edge_id")
    @classmethod
    def _edge_id(cls, value: str) -> str:
        if not _EDGE_ID_RE.match(value):
            raise ValueError("must be lowercase letters, digits and '-', like 'site-1'")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> EdgeConfig:
        for name, items in (("devices", self.devices), ("controllers", self.controllers)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{name}: duplicate id {item.id!r}")
                seen.add(item.id)
        # A controller's status channels are <controller id>/<Name>: not a device's.
        clash = {d.id for d in self.devices} & {c.id for c in self.controllers}
        if clash:
            raise ValueError(f"controllers: id {sorted(clash)[0]!r} is already a device id")
        return self


M = TypeVar("M", bound=BaseModel)


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format(exc: ValidationError, prefix: Sequence[int | str] = ()) -> str:
    lines = []
    for err in exc.errors():
        where = _loc([*prefix, *err["loc"]])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{where}: {msg}")
    return "; ".join(lines)


def validate_params(model: type[M], params: Mapping[str, Any], prefix: Sequence[int | str]) -> M:
    """Validate a device's or controller's ``params`` against its type's config model."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise ConfigError(_format(exc, prefix)) from None


def parse_edge_config(
    document: object, source: str = "<config>", config_dir: Path | None = None
) -> EdgeConfig:
    """Validate a decoded YAML document, including each device's and controller's params.

    ``config_dir``: where relative file names in it are found (default: the
    working directory).
    """
    # Imported here: the registries import every device and controller package.
    from ems.devices.base import SIMULATORS
    from ems.drivers.base import DRIVERS
    from ems.edge.controllers.base import CONTROLLERS
    from ems.profiles import builtin_profiles

    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        config = EdgeConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_format(exc)}") from None
    if config_dir is not None:
        config._config_dir = config_dir
    profiles = builtin_profiles()
    try:
        for i, device in enumerate(config.devices):
            if device.profile not in profiles:
                known = ", ".join(sorted(profiles))
                raise ConfigError(
                    f"devices[{i}].profile: unknown profile {device.profile!r} (known: {known})"
                )
            if device.estimator is not None and device.profile != "battery":
                raise ConfigError(
                    f"devices[{i}].estimator: only a battery takes an estimator "
                    f"(this device is a {device.profile})"
                )
            if device.simulator is not None:
                sim = _lookup(SIMULATORS, device.simulator, f"devices[{i}].simulator")
                validate_params(sim.config_model, device.params, ("devices", i, "params"))
            elif device.driver is not None:
                drv = _lookup(DRIVERS, device.driver, f"devices[{i}].driver")
                validate_params(drv.config_model, device.params, ("devices", i, "params"))
            elif device.params:
                raise ConfigError(
                    f"devices[{i}].params: only a device with a simulator or driver takes params"
                )
        for i, ctrl in enumerate(config.controllers):
            cls = _lookup(CONTROLLERS, ctrl.type, f"controllers[{i}].type")
            validate_params(cls.config_model, ctrl.params, ("controllers", i, "params"))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    _check_virtual_meters(config, profiles, source)
    return config


def _check_virtual_meters(
    config: EdgeConfig, profiles: Mapping[str, DeviceProfile], source: str
) -> None:
    """Refuse a virtual meter that reads what the site does not have, or a loop of them."""
    devices = {d.id: profiles[d.profile] for d in config.devices}
    try:
        plan_meters(
            config.virtual_meters, site_channels(devices), {c.id for c in config.controllers}
        )
    except VirtualMeterError as exc:
        raise exc.in_file(source) from None


def _lookup(registry: Any, name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except EmsError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_edge_config(path: Path | None = None) -> EdgeConfig:
    """Read and validate an edge YAML file; ``None`` loads the shipped demo site."""
    path = demo_config_path() if path is None else path
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_edge_config(document, str(path), path.parent)


def demo_config_path() -> Path:
    """The demo site (``site-1``) shipped with the package."""
    return Path(str(resources.files("ems.edge.sites").joinpath("demo.yaml")))
