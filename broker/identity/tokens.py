"""Bearer tokens: RFC 9068 access-token JWTs signed by the broker's own key (ES256).

`TokenService` issues them; `AccessTokenValidator` (Authlib's RFC 9068 validator, made
strict) verifies them. Neither imports Flask: the resource protector in `broker.auth` adds the
check that the token's person or client still has access.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeGuard

from authlib.oauth2.claims import ClaimsOption
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims, JWTAccessTokenClaimsValidator
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

__all__ = [
    "ALGORITHM",
    "CLOCK_SKEW",
    "MAX_TTL",
    "TOKEN_TYPE",
    "AccessTokenClaims",
    "AccessTokenValidator",
    "IssuedAtRegistry",
    "IssuedInFutureError",
    "LifetimeTooLongError",
    "TokenError",
    "TokenService",
    "check_lifetime",
]

VERIFIED_CACHE_SIZE = 4096  # tokens whose signature this process has checked
ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"
TOKEN_TYPES = (TOKEN_TYPE, "application/at+jwt")
MAX_TTL = 900  # an access token lives at most 15 minutes
# seconds two hosts' clocks may differ: a token's iat may be this far ahead of the verifier's
# clock, and a retired signing key verifies this long beyond the longest token lifetime
CLOCK_SKEW = 60
_CLAIM_NAME = re.compile(r"^[a-z_,]{1,40}$")


class TokenError(Exception):
    """A token that is not accepted; `reason` is safe to show (it names no claim values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenService:
    """Issues and verifies the broker's access tokens.

    `key` signs; `retired` are the public keys of earlier signing keys, still accepted until
    the tokens they signed have expired (see `broker.keys.KeyRing`).
    """

    key: ECKey
    issuer: str
    audience: str
    ttl: int = MAX_TTL  # the configured TOKEN_TTL: what tokens get, and the most they may live
    clock: Callable[[], float] = time.time
    retired: tuple[ECKey, ...] = ()

    @property
    def max_lifetime(self) -> int:
        """The longest lifetime (exp - iat) a token may have: the configured ttl, at most
        MAX_TTL. A token claiming longer is refused, however well it is signed."""
        return min(self.ttl, MAX_TTL)

    def issue(
        self,
        *,
        subject: str,
        party: str,
        roles: list[str],
        name: str,
        client_id: str = "broker-cli",
        ttl: int | None = None,
        scope: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed token and its claims; ValueError when `ttl` is over `max_lifetime`."""
        lifetime = ttl or self.max_lifetime
        if not 0 < lifetime <= self.max_lifetime:
            raise ValueError(f"a token lives 1 to {self.max_lifetime} seconds")
        now = int(self.clock())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "party": party,
            "roles": roles,
            "name": name,
        }
        if scope:
            claims["scope"] = scope
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=[ALGORITHM]), claims

    @cached_property
    def _key_set(self) -> KeySet:
        seen: set[str | None] = set()
        keys: list[Any] = []
        for key in (self.key, *self.retired):
            if key.kid not in seen:
                seen.add(key.kid)
                keys.append(ECKey.import_key(key.as_dict(private=False)))
        return KeySet(keys)

    def key_set(self) -> KeySet:
        """The public keys that verify tokens: the signing key's first, then the retired."""
        return self._key_set

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set to publish (public keys only)."""
        return {"keys": [dict(k.as_dict(private=False)) for k in self.key_set()]}

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; TokenError naming what is wrong otherwise."""
        validator = AccessTokenValidator(lambda: self)
        try:
            claims = validator.authenticate_token(token)
            validator.validate_token(claims, None, None)
        except InvalidTokenError as exc:
            raise TokenError(exc.description or "the token is not valid") from None
        return dict(claims)


class IssuedInFutureError(InvalidClaimError):
    """`iat` is later than now plus the clock skew."""

    def __init__(self) -> None:
        super().__init__("iat", "the token was issued in the future")


class LifetimeTooLongError(InvalidClaimError):
    """`exp - iat` is not a lifetime the verifier accepts (over the maximum, or not positive)."""

    def __init__(self, maximum: int) -> None:
        super().__init__("exp", "the token's lifetime is not accepted")
        self.maximum = maximum


def _is_time(value: object) -> TypeGuard[int | float]:
    """A NumericDate: a finite number, not a bool."""
    return not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    )


class IssuedAtRegistry(JWTClaimsRegistry):
    """joserfc's JWT claims checks, with `iat` allowed CLOCK_SKEW ahead of the clock (the
    issuer may be another host); `exp` and `nbf` keep their leeway."""

    def validate_iat(self, value: object) -> None:
        if not _is_time(value):
            raise InvalidClaimError("iat", "Claim 'iat' must be a NumericDate value")
        if value > self.now + max(self.leeway, CLOCK_SKEW):
            raise IssuedInFutureError()
        self.check_value("iat", value)


def check_lifetime(claims: dict[str, Any], maximum: int) -> None:
    """LifetimeTooLongError unless 0 < exp - iat <= maximum (both already checked numbers):
    a token signed with the right key but living longer than tokens are issued for is refused,
    so a leaked signing key or a misconfigured issuer cannot mint near-eternal tokens."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_time(exp) or not _is_time(iat):
        raise MissingClaimError("exp" if not _is_time(exp) else "iat")
    if not 0 < exp - iat <= maximum:
        raise LifetimeTooLongError(maximum)


class _AccessTokenRegistry(IssuedAtRegistry, JWTAccessTokenClaimsValidator):  # type: ignore[misc]
    """Authlib's RFC 9068 claims registry, with the `iat` check above."""


class AccessTokenClaims(JWTAccessTokenClaims):  # type: ignore[misc]
    """Authlib's RFC 9068 claims, validated against the service's clock; the lifetime
    (exp - iat) is at most the service's `max_lifetime`."""

    registry_cls = _AccessTokenRegistry
    actor: Any = None  # who the token stands for, set by the resource protector

    def validate(self, now: Any = None, leeway: int = 0) -> None:
        clock = self.params.get("clock")
        if now is None and clock is not None:
            now = whole_seconds(clock)
        super().validate(now=now, leeway=leeway)
        check_lifetime(self, self.params.get("max_lifetime", MAX_TTL))


def whole_seconds(clock: Callable[[], float]) -> Callable[[], int]:
    return lambda: int(clock())


def invalid_token(reason: str) -> InvalidTokenError:
    return InvalidTokenError(description=reason, realm="multiteam-broker")


def failure_reason(exc: BaseException | None) -> str:
    """What is wrong, from the JOSE error Authlib raised; it names claims, never values."""
    claim = getattr(exc, "claim", "")
    claim = claim if isinstance(claim, str) and _CLAIM_NAME.match(claim) else "a claim"
    if isinstance(exc, IssuedInFutureError):
        return "the token is not accepted (invalid_claim: iat, issued in the future)"
    if isinstance(exc, LifetimeTooLongError):
        return (
            "the token is not accepted (invalid_claim: exp, its lifetime exp - iat must be "
            f"over 0 and at most {exc.maximum} seconds)"
        )
    if isinstance(exc, ExpiredTokenError):
        return "the token has expired (exp)"
    if isinstance(exc, MissingClaimError):
        return f"the token is not accepted (missing_claim: {claim})"
    if isinstance(exc, InvalidClaimError):
        return f"the token is not accepted (invalid_claim: {claim})"
    if isinstance(exc, JoseError):
        return f"the token is not valid ({exc.error})"
    return "the token is not valid"


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, read before anything is verified."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise invalid_token("the token is not a JWT")
    try:
        encoded = parts[0].encode("ascii")
        header = json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_token("the token is not a JWT") from None
    if not isinstance(header, dict):
        raise invalid_token("the token is not a JWT")
    return header


class AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    """Authlib's RFC 9068 validator, strict: ES256 only, `typ` at+jwt required, known `kid`.

    Everything that can be checked from the unverified header is checked before the
    signature; iss, aud, exp, iat, sub, client_id and jti are checked by Authlib after it, and
    then the lifetime: iat at most CLOCK_SKEW ahead, exp - iat at most the configured TOKEN_TTL.
    """

    def __init__(self, service: Callable[[], TokenService]) -> None:
        current = service()
        super().__init__(
            issuer=current.issuer, resource_server=current.audience, realm="multiteam-broker"
        )
        self._service = service
        # Tokens whose signature was already checked, so a token used for many requests is
        # verified once; claims (exp, iss, aud, …), the key and the actor are still checked
        # on every request.
        self._verified: OrderedDict[str, tuple[dict[str, Any], dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get_jwks(self) -> KeySet:
        return self._service().key_set()

    def claims_options(self) -> dict[str, ClaimsOption]:
        """The claims every access token carries (RFC 9068 §2.2), and their checks."""
        return {
            "iss": {"essential": True, "validate": self.validate_iss},
            "aud": {"essential": True, "value": self.resource_server},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "sub": {"essential": True},
            "client_id": {"essential": True},
            "jti": {"essential": True},
            "scope": {"essential": False},
            "roles": {"essential": False},
        }

    def authenticate_token(self, token_string: str) -> AccessTokenClaims:
        header = unverified_header(token_string)
        if header.get("alg") != ALGORITHM:
            raise invalid_token(f"the token is not signed with {ALGORITHM}")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES:
            raise invalid_token("the token is not an access token (typ must be at+jwt)")
        service = self._service()
        keys = service.key_set()
        if not isinstance(header.get("kid"), str) or header["kid"] not in {k.kid for k in keys}:
            raise invalid_token("the token was signed with an unknown key")
        with self._lock:
            known = self._verified.get(token_string)
        if known is None:
            try:
                token = jwt.decode(token_string, keys, algorithms=[ALGORITHM])
            except JoseError as exc:
                raise invalid_token(failure_reason(exc)) from None
            except (ValueError, TypeError):
                raise invalid_token("the token is not a JWT") from None
            known = (dict(token.claims), dict(token.header))
            with self._lock:
                self._verified[token_string] = known
                while len(self._verified) > VERIFIED_CACHE_SIZE:
                    self._verified.popitem(last=False)
        claims, checked_header = known
        return AccessTokenClaims(
            dict(claims),
            dict(checked_header),
            self.claims_options(),
            params={"clock": service.clock, "max_lifetime": service.max_lifetime},
        )

    def validate_token(
        self, token: AccessTokenClaims, scopes: Any, request: Any, **kwargs: Any
    ) -> None:
        try:
            super().validate_token(token, scopes, request, **kwargs)
        except InvalidTokenError as exc:
            if exc.description and exc.description != InvalidTokenError.description:
                raise
            raise invalid_token(failure_reason(exc.__cause__)) from None


# ── an external issuer (the municipality's OpenID Connect provider) ─────────────────────────
