"""The JSON endpoints: token, token refresh, JWKS, edge-key check, health.

The token endpoints are CSRF-exempt: they take credentials in the body and set no
cookie, so there is no ambient authority for a cross-site request to abuse.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from ems.authsvc import api, bootstrap
from ems.authsvc.throttle import login_throttle

__all__ = ["edge_key_check", "healthz", "jwks", "logout", "token", "token_refresh"]

log = logging.getLogger(__name__)

#: A credentials body is a few hundred bytes; anything much bigger is not one [bytes].
MAX_BODY_BYTES = 16 * 1024
#: How long clients and proxies may cache the JWKS [s].
JWKS_MAX_AGE_S = 300


class _BadRequest(Exception):
    """The body is not what the endpoint takes; ``str()`` says what is wrong."""


def _json(
    status: int, body: dict[str, Any], *, no_store: bool = True, **headers: str
) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if no_store:
        # Tokens and errors about them must not be kept by any cache (RFC 6749 5.1).
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _method_not_allowed(allowed: str) -> JsonResponse:
    return _json(405, {"error": "method_not_allowed"}, Allow=allowed)


def _fields(request: HttpRequest, names: tuple[str, ...]) -> dict[str, str]:
    """Read string fields from a JSON or form-encoded body."""
    if len(request.body) > MAX_BODY_BYTES:
        raise _BadRequest("body too large")
    content_type = request.content_type or ""
    if content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _BadRequest("body must be a JSON object")
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = {name: request.POST.get(name) for name in names if name in request.POST}
    else:
        raise _BadRequest("send application/json or application/x-www-form-urlencoded")
    fields: dict[str, str] = {}
    for name in names:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise _BadRequest(f"{name!r} must be a non-empty string")
        fields[name] = value
    return fields


@csrf_exempt
@sensitive_variables("fields", "body")
@sensitive_post_parameters("password")
def token(request: HttpRequest) -> JsonResponse:
    """``POST /auth/token``: username and password → access and refresh tokens."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    try:
        fields = _fields(request, ("username", "password"))
    except _BadRequest as exc:
        return _json(400, {"error": "invalid_request", "detail": str(exc)})
    address = str(request.META.get("REMOTE_ADDR") or "unknown")
    throttle = login_throttle()
    allowed = throttle.check(address, fields["username"])
    if not allowed.allowed:
        log.warning(
            "token refused for %r from %s: too many failed logins", fields["username"][:64], address
        )
        return _json(
            429,
            {"error": "rate_limited", "detail": "too many failed logins; try again later"},
            Retry_After=allowed.retry_after_header,
        )
    body = api.authenticate_tokens(fields["username"], fields["password"])
    if body is None:
        throttle.failed(address, fields["username"])
        log.info("token refused for %r: invalid credentials", fields["username"][:64])
        return _json(401, {"error": "invalid_credentials"})
    log.info("tokens issued to %s (%s)", body["user"], body["role"])
    return _json(200, body)


@csrf_exempt
@sensitive_variables("fields", "body")
@sensitive_post_parameters("refresh")
def token_refresh(request: HttpRequest) -> JsonResponse:
    """``POST /auth/token/refresh``: a refresh token → a new access token."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    try:
        fields = _fields(request, ("refresh",))
    except _BadRequest as exc:
        return _json(400, {"error": "invalid_request", "detail": str(exc)})
    try:
        body = api.refresh_tokens(fields["refresh"])
    except api.InvalidRefresh as exc:
        log.info("refresh refused: %s", exc)
        return _json(401, {"error": "invalid_token", "detail": str(exc)})
    return _json(200, body)


@csrf_exempt
@sensitive_variables("access", "refresh")
@sensitive_post_parameters("refresh")
def logout(request: HttpRequest) -> JsonResponse:
    """``POST /auth/logout``: end every session of the user (``Authorization: Bearer
    <access>``, or ``{"refresh": …}`` in the body, or both). Their tokens, refresh
    tokens included, are refused from now on, and the cloud closes their sockets."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    scheme, _, access = request.headers.get("Authorization", "").partition(" ")
    access = access.strip() if scheme.lower() == "bearer" else ""
    refresh = ""
    if request.body:
        try:
            refresh = _optional_field(request, "refresh")
        except _BadRequest as exc:
            return _json(400, {"error": "invalid_request", "detail": str(exc)})
    if not access and not refresh:
        return _json(
            401,
            {"error": "invalid_token", "detail": "send the access token as a bearer token"},
            WWW_Authenticate="Bearer",
        )
    try:
        username = api.logout(access or None, refresh or None)
    except api.InvalidRefresh as exc:
        log.info("logout refused: %s", exc)
        return _json(401, {"error": "invalid_token", "detail": str(exc)})
    return _json(200, {"status": "logged_out", "user": username})


def _optional_field(request: HttpRequest, name: str) -> str:
    """A string field of a JSON or form body, or "" when absent."""
    if len(request.body) > MAX_BODY_BYTES:
        raise _BadRequest("body too large")
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _BadRequest("body must be a JSON object")
        value = data.get(name)
    else:
        value = request.POST.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadRequest(f"{name!r} must be a string")
    return value


def jwks(request: HttpRequest) -> JsonResponse:
    """``GET /auth/jwks.json``: the public keys that verify our tokens."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    response = _json(200, api.jwks(), no_store=False)
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
    return response


@csrf_exempt
@sensitive_variables("fields", "expected", "given")
@sensitive_post_parameters("api_key")
def edge_key_check(request: HttpRequest) -> JsonResponse:
    """``POST /auth/edge-keys/check`` (``edge_id``, ``api_key``) -> ``{"valid": bool}``.

    For clouds running without the auth service in their process: only with the
    bearer token ``EMS_AUTH_SERVICE_TOKEN`` (404 when that is unset, 401 when it
    does not match), so that it is no key-guessing oracle for anyone else.
    """
    if request.method != "POST":
        return _method_not_allowed("POST")
    expected = bootstrap.service_token()
    if expected is None:
        return _json(404, {"error": "edge_key_check_disabled"})
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _json(401, {"error": "unauthorized", "detail": "wrong service token"})
    try:
        fields = _fields(request, ("edge_id", "api_key"))
    except _BadRequest as exc:
        return _json(400, {"error": "invalid_request", "detail": str(exc)})
    return _json(200, {"valid": api.verify_edge_key(fields["edge_id"], fields["api_key"])})


def healthz(request: HttpRequest) -> JsonResponse:
    """``GET /auth/healthz``: 200 when the database answers, else 503."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not healthy"
        log.warning("health check: database unavailable: %s", exc)
        return _json(503, {"status": "unavailable", "detail": "database unavailable"})
    return _json(200, {"status": "ok"})
