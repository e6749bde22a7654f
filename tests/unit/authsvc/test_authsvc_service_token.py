"""``EMS_AUTH_SERVICE_TOKEN``: read once at start; unset turns the edge-key check off."""

from __future__ import annotations

import pytest

from ems.authsvc.bootstrap import MIN_SERVICE_TOKEN_CHARS, service_token_from_env
from ems.authsvc.errors import AuthConfigError


def test_unset_or_empty_means_no_edge_key_checks_over_http() -> None:
    assert service_token_from_env({}) is None
    assert service_token_from_env({"EMS_AUTH_SERVICE_TOKEN": ""}) is None


def test_a_long_token_is_kept() -> None:
    token = "t" * MIN_SERVICE_TOKEN_CHARS
    assert service_token_from_env({"EMS_AUTH_SERVICE_TOKEN": token}) == token


def test_a_short_token_stops_the_service_naming_the_variable() -> None:
    with pytest.raises(AuthConfigError, match="EMS_AUTH_SERVICE_TOKEN: at least 32"):
        service_token_from_env({"EMS_AUTH_SERVICE_TOKEN": "short"})
