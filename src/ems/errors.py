"""The project's error tree. Each boundary translates these into its own codes.

::

    EmsError
    ├── ConfigError            edge YAML refused (names the field)
    ├── ProfileError           a device profile refused (names the file and field)
    ├── ChannelError
    │   ├── InvalidAddress     malformed ``device/Channel`` address
    │   └── UnknownChannel     address never declared in the store
    └── RegistryError          unknown or duplicate device/controller type
"""

from __future__ import annotations


class EmsError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(EmsError):
    """The edge configuration is invalid; the message names the offending field."""


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
