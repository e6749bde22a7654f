"""The cloud's JwtVerifier accepts what the auth service issues, over each JWKS provider."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import ems.authsvc
from ems.cloud.auth.jwt import AuthError, JwtVerifier, jwks_from_url, jwks_in_process

PASSWORD = "correct horse battery staple"


@pytest.fixture
def tokens() -> dict[str, Any]:
    from ems.authsvc.models import User

    ems.authsvc.create_user("olga", "operator", PASSWORD)
    body = ems.authsvc.authenticate_tokens("olga", PASSWORD)
    assert body is not None
    return {**body, "uid": User.objects.get(username="olga").pk}


@pytest.mark.asyncio
async def test_in_process_jwks(tokens: dict[str, Any]) -> None:
    issuer, audience = await asyncio.to_thread(
        lambda: (ems.authsvc.issuer(), ems.authsvc.audience())
    )
    verifier = JwtVerifier(jwks_in_process(ems.authsvc.jwks), issuer, audience)
    claims = await verifier.verify(tokens["access"])
    assert (claims.username, claims.role, claims.uid) == ("olga", "operator", tokens["uid"])
    assert claims.exp - claims.iat == 900
    with pytest.raises(AuthError) as info:
        await verifier.verify(tokens["refresh"])
    assert info.value.reason == "wrong_token_type"


@pytest.mark.asyncio
async def test_jwks_over_http_from_the_mounted_service(tokens: dict[str, Any]) -> None:
    transport = httpx.ASGITransport(app=ems.authsvc.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        provider = jwks_from_url("http://testserver/auth/jwks.json", client)
        verifier = JwtVerifier(provider, "ems-auth", "ems-cloud")
        claims = await verifier.verify(tokens["access"])
        assert claims.username == "olga"
        wrong = JwtVerifier(provider, "ems-auth", "another-audience")
        with pytest.raises(AuthError) as info:
            await wrong.verify(tokens["access"])
        assert info.value.reason == "wrong_audience"
