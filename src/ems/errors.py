"""The project's error tree. Each boundary translates these into its own codes.

::

    EmsError
    ├── ConfigError            edge YAML refused (names the field)
    │   └── VirtualMeterError  a ``virtual_meters`` entry refused (``reason``, ``field``)
    ├── ProfileError           a device profile refused (names the file and field)
    ├── ChannelError
    │   ├── InvalidAddress     malformed ``device/Channel`` address
    │   └── UnknownChannel     address never declared in the store
    ├── RegistryError          unknown or duplicate device/controller type
    ├── TemplateError          a driver's register-map template refused (names file and field)
    └── DeviceIOError          a real device did not answer or refused (``reason``)
        ├── DeviceTimeout      no answer in time, or the connection is gone
        └── DeviceRefused      it answered with an error (a Modbus exception)
"""

from __future__ import annotations


class EmsError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(EmsError):
    """The edge configuration is invalid; the message names the offending field."""


class VirtualMeterError(ConfigError):
    """A virtual meter definition is invalid.

    ``reason`` is a stable lower_snake code (``duplicate_id``, ``invalid_address``,
    ``unknown_device``, ``unknown_channel``, ``not_an_input``, ``unit_mismatch``,
    ``cycle``); ``field`` is where in the YAML (``virtual_meters[1].sum[0]``).
    """

    def __init__(self, reason: str, field: str, detail: str, source: str | None = None) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        self.source = source
        where = f"{source}: {field}" if source else field
        super().__init__(f"{where}: {detail}")

    def in_file(self, source: str) -> VirtualMeterError:
        """The same error, naming the file it came from."""
        return VirtualMeterError(self.reason, self.field, self.detail, source)


class ProfileError(EmsError):
    """A device profile is invalid; the message names the file and the field."""


class ChannelError(EmsError):
    """A DAL channel operation was refused."""


class InvalidAddress(ChannelError, ValueError):
    """An address does not follow ``device/Channel`` (or ``ui_requests/x``, ``ack/x``)."""


class UnknownChannel(ChannelError, KeyError):
    """The address is well formed but was never declared in the store."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown channel"


class RegistryError(EmsError):
    """A type name is not registered, or registered twice."""


class TemplateError(EmsError):
    """A driver template (register map) is invalid; the message names the file and field."""


class DeviceIOError(EmsError):
    """Talking to a real device failed; ``reason`` is the stable code a command fails with."""

    reason = "device_io_failed"


class DeviceTimeout(DeviceIOError):
    """The device did not answer within the timeout, or the connection is down."""

    reason = "device_timeout"


class DeviceRefused(DeviceIOError):
    """The device answered with an error (e.g. Modbus exception 2, illegal data address)."""

    reason = "device_write_failed"
