"""The HTTP endpoints, through the ASGI app served alone and mounted in Starlette at /auth."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import ems.authsvc
from ems.authsvc import bootstrap
from ems.authsvc.asgi import AuthAsgiApp
from ems.authsvc.signing import SigningKey
from ems.authsvc.tokens import issue

PASSWORD = "correct horse battery staple"

T = TypeVar("T")


async def _orm(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM code from a test coroutine: in a thread, as Django requires."""

    def run() -> T:
        from django.db import connection

        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(run)


def _update_olga(**fields: Any) -> None:
    from ems.authsvc.models import User

    olga = User.objects.get(username="olga")
    for name, value in fields.items():
        setattr(olga, name, value)
    olga.save()


@pytest.fixture(scope="module")
def auth_app(auth_data_dir: object) -> AuthAsgiApp:
    return ems.authsvc.asgi_app()


async def _home(request: object) -> PlainTextResponse:
    return PlainTextResponse("cloud home")


@pytest.fixture(params=["alone", "mounted"])
def app(request: pytest.FixtureRequest, auth_app: AuthAsgiApp) -> Any:
    if request.param == "alone":
        return auth_app
    return Starlette(routes=[Route("/", _home), Mount("/auth", app=auth_app)])


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def user() -> int:
    """Creates the operator olga; returns her user id."""
    from ems.authsvc.models import User

    ems.authsvc.create_user("olga", "operator", PASSWORD)
    uid: int = User.objects.get(username="olga").pk
    return uid


def _decode(token: str) -> dict[str, Any]:
    key = bootstrap.signing_key()
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key,
        algorithms=["EdDSA"],
        audience="ems-cloud",
        issuer="ems-auth",
    )
    return claims


async def _login(app: Any, username: str = "olga", password: str = PASSWORD) -> httpx.Response:
    async with _client(app) as client:
        return await client.post("/auth/token", json={"username": username, "password": password})


# --- POST /auth/token ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_good_credentials_give_access_and_refresh_tokens(app: Any, user: int) -> None:
    before = time.time()
    response = await _login(app)
    after = time.time()
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user", "role"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert (body["user"], body["role"]) == ("olga", "operator")

    header = jwt.get_unverified_header(body["access"])
    assert header["alg"] == "EdDSA"
    assert header["kid"] == bootstrap.signing_key().kid
    access = _decode(body["access"])
    refresh = _decode(body["refresh"])
    for claims, typ, ttl_s in ((access, "access", 900), (refresh, "refresh", 8 * 3600)):
        assert claims["iss"] == "ems-auth"
        assert claims["aud"] == "ems-cloud"
        assert claims["sub"] == "olga"
        assert claims["role"] == "operator"
        assert claims["uid"] == user
        assert claims["typ"] == typ
        assert before <= claims["iat"] <= after
        assert claims["nbf"] == claims["iat"]
        assert claims["exp"] == claims["iat"] + ttl_s
        assert uuid.UUID(claims["jti"]).version == 4
    assert access["jti"] != refresh["jti"]
    assert "sv" not in access  # the session digest is only for the auth service


@pytest.mark.asyncio
async def test_form_encoded_credentials_work_too(app: Any, user: int) -> None:
    async with _client(app) as client:
        response = await client.post("/auth/token", data={"username": "olga", "password": PASSWORD})
    assert response.status_code == 200
    assert _decode(response.json()["access"])["sub"] == "olga"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("username", "password"), [("olga", "wrong password"), ("nobody", PASSWORD), ("OLGA", PASSWORD)]
)
async def test_bad_credentials_are_401(app: Any, user: int, username: str, password: str) -> None:
    response = await _login(app, username, password)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_credentials"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.asyncio
async def test_repeated_failures_are_429_with_retry_after(app: Any, user: int) -> None:
    """Five wrong passwords for one account: the sixth attempt is not even checked,
    the right password included; another account still signs in."""
    for _ in range(5):
        assert (await _login(app, "olga", "wrong password")).status_code == 401
    refused = await _login(app)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert (await _login(app, "nobody", "x")).status_code == 401  # address not yet out


@pytest.mark.asyncio
async def test_a_deactivated_user_gets_no_tokens(app: Any, user: int) -> None:
    await _orm(_update_olga, is_active=False)
    assert (await _login(app)).status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'["olga", "pw"]', "application/json"),
        (b'{"username": "olga"}', "application/json"),
        (b'{"username": "olga", "password": 12345678}', "application/json"),
        (b'{"username": "", "password": "x"}', "application/json"),
        (b"username=olga", "application/x-www-form-urlencoded"),
        (b"username=olga&password=x", "text/plain"),
        (b'{"username": "olga", "password": "' + b"x" * 20000 + b'"}', "application/json"),
    ],
    ids=["not-json", "array", "no-password", "number", "empty", "form-missing", "text", "huge"],
)
async def test_a_malformed_body_is_400(
    app: Any, user: int, content: bytes, content_type: str
) -> None:
    async with _client(app) as client:
        response = await client.post(
            "/auth/token", content=content, headers={"Content-Type": content_type}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/refresh"])
async def test_token_endpoints_take_only_post(app: Any, path: str) -> None:
    async with _client(app) as client:
        response = await client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.asyncio
async def test_token_endpoints_need_no_csrf_token(auth_app: AuthAsgiApp, user: int) -> None:
    # A browser-like request with a foreign Origin and no CSRF cookie still gets JSON,
    # because these endpoints authenticate by body, not by cookie.
    async with _client(auth_app) as client:
        response = await client.post(
            "/auth/token",
            json={"username": "olga", "password": PASSWORD},
            headers={"Origin": "http://elsewhere.example"},
        )
    assert response.status_code == 200


# --- POST /auth/token/refresh -------------------------------------------------------------


async def _refresh(app: Any, token: str) -> httpx.Response:
    async with _client(app) as client:
        return await client.post("/auth/token/refresh", json={"refresh": token})


@pytest.mark.asyncio
async def test_a_refresh_token_gives_a_new_access_token(app: Any, user: int) -> None:
    first = (await _login(app)).json()
    response = await _refresh(app, first["refresh"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user", "role"}
    assert body["refresh"] == first["refresh"]
    access = _decode(body["access"])
    assert access["typ"] == "access"
    assert access["sub"] == "olga"
    assert access["jti"] != _decode(first["access"])["jti"]


@pytest.mark.asyncio
async def test_a_role_change_shows_in_the_next_refresh(app: Any, user: int) -> None:
    refresh = (await _login(app)).json()["refresh"]
    await _orm(_update_olga, role="viewer")
    body = (await _refresh(app, refresh)).json()
    assert body["role"] == "viewer"
    assert _decode(body["access"])["role"] == "viewer"


@pytest.mark.asyncio
async def test_an_access_token_cannot_refresh(app: Any, user: int) -> None:
    access = (await _login(app)).json()["access"]
    response = await _refresh(app, access)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def _forge(key: SigningKey | Ed25519PrivateKey, kid: str, uid: int, **overrides: Any) -> str:
    private = key.private_key if isinstance(key, SigningKey) else key
    fake = SigningKey(private, kid, bootstrap.signing_key().path)
    claims: dict[str, Any] = {
        "typ": "refresh",
        "username": "olga",
        "role": "admin",
        "uid": uid,
        "now_s": int(time.time()),
    }
    claims.update(overrides)
    return issue(fake, bootstrap.token_policy(), **claims)


@pytest.mark.asyncio
async def test_forged_expired_or_garbage_refresh_tokens_are_refused(app: Any, user: int) -> None:
    kid = bootstrap.signing_key().kid
    forged = _forge(Ed25519PrivateKey.generate(), kid, user)  # right kid, wrong key
    expired = _forge(bootstrap.signing_key(), kid, user, now_s=int(time.time()) - 9 * 3600)
    other_kid = _forge(bootstrap.signing_key(), "another-kid", user)
    for token in (forged, expired, other_kid, "garbage", "a.b.c"):
        response = await _refresh(app, token)
        assert response.status_code == 401, token
        assert response.json()["error"] == "invalid_token"
    assert "expired" in (await _refresh(app, expired)).json()["detail"]


@pytest.mark.asyncio
async def test_a_deactivated_user_cannot_refresh(app: Any, user: int) -> None:
    refresh = (await _login(app)).json()["refresh"]
    await _orm(_update_olga, is_active=False)
    response = await _refresh(app, refresh)
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]


@pytest.mark.asyncio
async def test_a_new_password_ends_old_refresh_tokens(app: Any, user: int) -> None:
    refresh = (await _login(app)).json()["refresh"]
    assert (await _refresh(app, refresh)).status_code == 200
    await _orm(ems.authsvc.set_password, "olga", "another fine passphrase")
    response = await _refresh(app, refresh)
    assert response.status_code == 401
    assert "password" in response.json()["detail"]


@pytest.mark.asyncio
async def test_refresh_with_a_malformed_body_is_400(app: Any) -> None:
    async with _client(app) as client:
        response = await client.post("/auth/token/refresh", json={"token": "x"})
    assert response.status_code == 400


# --- JWKS and health ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_jwks_publishes_the_signing_key(app: Any, user: int) -> None:
    async with _client(app) as client:
        response = await client.get("/auth/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    jwks = response.json()
    key = bootstrap.signing_key()
    assert jwks == ems.authsvc.jwks()
    [jwk] = jwks["keys"]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jwk["x"],
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
    }
    # The published key verifies what the service signs.
    access = (await _login(app)).json()["access"]
    claims = jwt.decode(
        access, jwt.PyJWK(jwk), algorithms=["EdDSA"], audience="ems-cloud", issuer="ems-auth"
    )
    assert claims["sub"] == "olga"


@pytest.mark.asyncio
async def test_healthz(app: Any) -> None:
    async with _client(app) as client:
        response = await client.get("/auth/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- routing, served alone and mounted ----------------------------------------------------


@pytest.mark.asyncio
async def test_the_admin_redirects_to_its_login_under_auth(app: Any) -> None:
    async with _client(app) as client:
        response = await client.get("/auth/admin/")
        assert response.status_code == 302
        assert response.headers["location"] == "/auth/admin/login/?next=/auth/admin/"
        login = await client.get("/auth/admin/login/", params={"next": "/auth/admin/"})
        assert login.status_code == 200
        assert 'action="/auth/admin/login/?next=' in login.text
        assert "EMS administration" in login.text
        css = re.search(r'href="(/auth/static/admin/css/base\.css)"', login.text)
        assert css is not None, "the admin links its CSS under /auth/static/"
        style = await client.get(css.group(1))
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert "body" in style.text


@pytest.mark.asyncio
async def test_served_alone_nothing_outside_auth_is_served(auth_app: AuthAsgiApp) -> None:
    async with _client(auth_app) as client:
        for path in ("/", "/token", "/admin/", "/static/admin/css/base.css"):
            assert (await client.get(path)).status_code == 404, path


@pytest.mark.asyncio
async def test_mounted_the_host_app_keeps_its_own_routes(auth_app: AuthAsgiApp) -> None:
    outer = Starlette(routes=[Route("/", _home), Mount("/auth", app=auth_app)])
    async with _client(outer) as client:
        assert (await client.get("/")).text == "cloud home"
        assert (await client.get("/auth/healthz")).status_code == 200


@pytest.mark.asyncio
async def test_an_unknown_host_is_refused(auth_app: AuthAsgiApp) -> None:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as client:
        assert (await client.get("/auth/healthz")).status_code == 400
