"""Cloud-side authentication: verifying the auth service's JWTs."""

from ems.cloud.auth.jwt import (
    AuthError,
    Claims,
    JwksProvider,
    JwtVerifier,
    jwks_from_url,
    jwks_in_process,
)

__all__ = ["AuthError", "Claims", "JwksProvider", "JwtVerifier", "jwks_from_url", "jwks_in_process"]
