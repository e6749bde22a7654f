"""Device profiles: per device type, its channels and the actions operators may send."""

from ems.profiles.loader import (
    builtin_profile_documents,
    builtin_profiles,
    load_profile,
    load_profiles,
    parse_profile,
    profile_schema,
)
from ems.profiles.model import (
    ActionSpec,
    Bound,
    ChannelSpec,
    DeviceProfile,
    DynamicLimits,
    ValueSpec,
)
from ems.profiles.validation import Limits, Problem, check_static, dynamic_limits, within

__all__ = [
    "ActionSpec",
    "Bound",
    "ChannelSpec",
    "DeviceProfile",
    "DynamicLimits",
    "Limits",
    "Problem",
    "ValueSpec",
    "builtin_profile_documents",
    "builtin_profiles",
    "check_static",
    "dynamic_limits",
    "load_profile",
    "load_profiles",
    "parse_profile",
    "profile_schema",
    "within",
]
