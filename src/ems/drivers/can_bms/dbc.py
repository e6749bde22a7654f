"""The DBC file of a BMS and the signals a ``can_bms`` device reads from it.

Refusals name the parameter (``dbc``, ``signals.soc_pct``) and the file, so a
user pointing at their own BMS's DBC sees what does not fit at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ems.drivers.can_bms.config import SignalNames
from ems.errors import ConfigError

if TYPE_CHECKING:
    from cantools.database.can import Database, Message

__all__ = ["BmsSignals", "SignalRef", "find_dbc", "load_bms_signals", "shipped_dbcs"]


@dataclass(frozen=True, slots=True)
class SignalRef:
    """One signal of one message, found in the DBC."""

    message: Message
    signal: str

    def __str__(self) -> str:
        return f"{self.message.name}.{self.signal}"


@dataclass(frozen=True, slots=True)
class BmsSignals:
    """The DBC's messages this device listens to, and each quantity's signal."""

    file: str
    by_quantity: dict[str, SignalRef]  # SignalNames key (soc_pct, …) -> its signal

    def messages(self) -> dict[int, Message]:
        """Frame id -> message, for the messages that carry a mapped signal."""
        return {ref.message.frame_id: ref.message for ref in self.by_quantity.values()}


def shipped_dbcs() -> list[str]:
    folder = resources.files("ems.drivers.can_bms").joinpath("dbc")
    return sorted(p.name[: -len(".dbc")] for p in folder.iterdir() if p.name.endswith(".dbc"))


def find_dbc(name: str, config_dir: Path) -> Path:
    """A user's file (relative to the config folder) first, then a shipped DBC by name."""
    own = config_dir / name
    if own.is_file():
        return own
    if name in shipped_dbcs():
        return Path(str(resources.files("ems.drivers.can_bms").joinpath("dbc", name + ".dbc")))
    shipped = ", ".join(shipped_dbcs())
    raise ConfigError(
        f"params.dbc: no file {own}, nor a shipped DBC named {name!r} (shipped: {shipped})"
    )


def load_bms_signals(path: Path, names: SignalNames) -> BmsSignals:
    """Load the DBC and find every named signal in it."""
    import cantools  # here, not at the top: see the package's docstring
    from cantools.database.can import Database

    try:
        db = cantools.database.load_file(path, database_format="dbc")
    except OSError as exc:
        raise ConfigError(f"params.dbc: cannot read {path}: {exc.strerror}") from None
    except Exception as exc:  # cantools raises its own and textparser's errors, and ValueError
        raise ConfigError(f"params.dbc: {path.name} is not a valid DBC file: {exc}") from None
    assert isinstance(db, Database)  # database_format="dbc" yields a CAN database
    found: dict[str, SignalRef] = {}
    for quantity, ref in names.model_dump().items():
        if ref is not None:
            found[quantity] = _find(db, str(ref), f"params.signals.{quantity}", path.name)
    return BmsSignals(path.name, found)


def _find(db: Database, ref: str, where: str, file: str) -> SignalRef:
    message_name, signal_name = ref.split(".", 1)
    try:
        message = db.get_message_by_name(message_name)
    except KeyError:
        known = ", ".join(sorted(m.name for m in db.messages))
        raise ConfigError(
            f"{where}: no message {message_name!r} in {file} (messages: {known})"
        ) from None
    signals = [s.name for s in message.signals]
    if signal_name not in signals:
        known = ", ".join(sorted(signals))
        raise ConfigError(
            f"{where}: no signal {signal_name!r} in message {message_name} of {file} "
            f"(signals: {known})"
        )
    return SignalRef(message, signal_name)
