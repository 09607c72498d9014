"""Bearer tokens: RFC 9068 access-token JWTs signed by the broker's own key (ES256)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

__all__ = ["TokenError", "TokenService"]

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"


class TokenError(Exception):
    """A token that is not accepted; `reason` is safe to show (it names no claim values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenService:
    """Issues and verifies the broker's access tokens."""

    key: ECKey
    issuer: str
    audience: str
    ttl: int = 900
    clock: Callable[[], float] = time.time

    def issue(
        self,
        *,
        subject: str,
        party: str,
        roles: list[str],
        name: str,
        client_id: str = "broker-cli",
        ttl: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed token and its claims."""
        now = int(self.clock())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "iat": now,
            "exp": now + (ttl or self.ttl),
            "jti": uuid.uuid4().hex,
            "party": party,
            "roles": roles,
            "name": name,
        }
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=[ALGORITHM]), claims

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; TokenError naming what is wrong otherwise."""
        try:
            decoded = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        except JoseError as exc:
            raise TokenError(f"the token is not valid ({exc.error})") from None
        except (ValueError, TypeError):
            raise TokenError("the token is not a JWT") from None
        header = decoded.header
        if header.get("typ", "").lower() not in (TOKEN_TYPE, "application/at+jwt"):
            raise TokenError("the token is not an access token (typ must be at+jwt)")
        if header.get("kid") != self.key.kid:
            raise TokenError("the token was signed with an unknown key")
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise TokenError(
                f"the token is not accepted ({exc.error}: "
                f"{getattr(exc, 'claim', '') or exc.description})"
            ) from None
        claims = decoded.claims
        if not isinstance(claims.get("sub"), str):
            raise TokenError("the token has no subject")
        return claims
