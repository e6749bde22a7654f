"""Config sync, the edge's side (DESIGN 16): apply a pushed config between two cycles,
keep the applied one on disk, and start from it while the cloud is unreachable."""

from ems.edge.configsync.applied import (
    APPLIED_CONFIG_FILE,
    AppliedConfig,
    AppliedConfigFile,
    choose_start_config,
)
from ems.edge.configsync.applier import ConfigApplier
from ems.edge.configsync.port import PushedConfigs

__all__ = [
    "APPLIED_CONFIG_FILE",
    "AppliedConfig",
    "AppliedConfigFile",
    "ConfigApplier",
    "PushedConfigs",
    "choose_start_config",
]
