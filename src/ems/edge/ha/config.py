"""The ``ha:`` block of the edge YAML: the two edge nodes, the witness, the lease timing."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["HaConfig", "HaNodeConfig", "parse_address"]


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); a ValueError naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HaNodeConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="What --ha-node picks")
    address: str = Field(description="host:port this node's Raft listens on (peers reach it)")
    bind: str | None = Field(
        default=None,
        description="host:port the Raft listens on when peers reach it at another "
        "address (behind NAT or a proxy); None: address",
    )
    health: str | None = Field(
        default=None,
        description="host:port of this node's GET /ha, GET /metrics and POST /ha/switchover",
    )
    device_source_host: str | None = Field(
        default=None,
        description="Local address this node's Modbus connections leave from "
        "(devices see it as the writer); None: the OS picks",
    )

    @model_validator(mode="after")
    def _address_ok(self) -> HaNodeConfig:
        parse_address(self.address)
        for other in (self.bind, self.health):
            if other is not None:
                parse_address(other)
        return self


class HaConfig(_Strict):
    """Two edge boxes and a witness: a Raft group of three, any two of which are a quorum."""

    nodes: list[HaNodeConfig] = Field(min_length=2, max_length=2)
    witness: str = Field(description="host:port of `ems ha witness`")
    lease_s: float = Field(
        default=1.0, gt=0, le=30, description="How long a granted control lease lasts [s]"
    )
    renew_s: float = Field(
        default=0.2, gt=0, le=10, description="How often the holder renews and others try [s]"
    )
    write_guard_s: float = Field(
        default=0.3,
        ge=0,
        description="The holder stops writing this long before its lease ends: the longest "
        "a device write may take, plus the clock skew between the boxes [s]",
    )
    raft_min_timeout_s: float = Field(default=0.3, gt=0, description="Raft election timeout, min")
    raft_max_timeout_s: float = Field(default=0.6, gt=0, description="Raft election timeout, max")
    heartbeat_s: float = Field(default=0.05, gt=0, description="Raft append-entries period [s]")

    @model_validator(mode="after")
    def _consistent(self) -> HaConfig:
        parse_address(self.witness)
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"nodes: names must differ, got {names}")
        if self.renew_s >= self.lease_s:
            raise ValueError("renew_s must be shorter than lease_s")
        if self.write_guard_s >= self.lease_s - self.renew_s:
            raise ValueError("write_guard_s must be shorter than lease_s - renew_s")
        if self.raft_min_timeout_s >= self.raft_max_timeout_s:
            raise ValueError("raft_min_timeout_s must be below raft_max_timeout_s")
        return self

    def node(self, name: str) -> HaNodeConfig:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise KeyError(f"--ha-node {name!r} is not in ha.nodes ({known})")
