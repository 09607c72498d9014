"""An external issuer (the municipality's OpenID Connect provider) whose access tokens the broker
accepts too: its configuration (issuer, audience, JWKS from a URL with a timeout and TTL or
given inline, the claim mapping, the algorithms) and the strict validator of its tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .tokens import (
    IssuedAtRegistry,
    check_lifetime,
    failure_reason,
    invalid_token,
    unverified_header,
    whole_seconds,
)

__all__ = [
    "EXTERNAL_ALGORITHMS",
    "EXTERNAL_MAX_TOKEN_LIFETIME",
    "JWKS_MAX_BYTES",
    "JWKS_REFRESH_AFTER",
    "JWKS_TIMEOUT",
    "JWKS_TTL",
    "ClaimMapping",
    "ExternalIssuer",
    "ExternalIssuerConfigError",
    "ExternalTokenClaims",
    "ExternalTokenValidator",
    "JwksSource",
    "peek_issuer",
]


EXTERNAL_ALGORITHMS = ("RS256", "ES256")  # what EXTERNAL_ALGORITHMS may name, and its default


EXTERNAL_MAX_TOKEN_LIFETIME = 3600  # seconds an external token may live (exp - iat), by default


MAX_TOKEN_LIFETIME_RANGE = (60, 86400)  # what EXTERNAL_MAX_TOKEN_LIFETIME may be set to


JWKS_TTL = 300  # seconds a fetched JWKS is used before it is fetched again


JWKS_TIMEOUT = 5.0  # seconds a JWKS fetch may take


JWKS_REFRESH_AFTER = 30  # an unknown kid refetches the JWKS at most this often (key rotation)


JWKS_MAX_BYTES = 256 * 1024


class ExternalIssuerConfigError(ValueError):
    """The EXTERNAL_* configuration is incomplete or unsafe; `code` is stable."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _fetch_json(url: str, timeout: float) -> Any:
    """GET a JSON document, with a timeout and a size limit."""
    from urllib.request import Request, urlopen  # only the URL source needs the network

    with urlopen(Request(url, headers={"Accept": "application/json"}), timeout=timeout) as r:
        data = r.read(JWKS_MAX_BYTES + 1)
    if len(data) > JWKS_MAX_BYTES:
        raise ValueError("the JWKS is too large")
    return json.loads(data)


def _signing_keys(document: Any) -> KeySet:
    """The signing keys of a JWKS document that have a kid (a key without one is never used)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    usable = [
        k
        for k in document["keys"]
        if isinstance(k, dict)
        and isinstance(k.get("kid"), str)
        and k.get("kty") in ("RSA", "EC")
        and k.get("use", "sig") == "sig"
        and "d" not in k  # a JWKS publishes public keys only
    ]
    if not usable:
        raise ValueError("the JWKS holds no public signing key with a kid")
    return KeySet.import_key_set({"keys": usable})


class JwksSource:
    """An issuer's public keys: a fixed JWKS (inline or file), or one fetched from a URL.

    A fetched JWKS is cached for `ttl` seconds; a token naming a kid the cache does not hold
    refetches it (at most every `refresh_after` seconds), so a key rotation at the issuer is
    picked up. When a fetch fails, keys fetched before stay in use.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        document: Any = None,
        ttl: float = JWKS_TTL,
        timeout: float = JWKS_TIMEOUT,
        refresh_after: float = JWKS_REFRESH_AFTER,
        fetch: Callable[[str, float], Any] = _fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (document is None):
            raise ValueError("give the JWKS either as a URL or as a document")
        self.url = url
        self._ttl, self._timeout, self._refresh_after = ttl, timeout, refresh_after
        self._fetch, self._clock = fetch, clock
        self._keys: KeySet | None = _signing_keys(document) if document is not None else None
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_set(self, kid: str | None = None) -> KeySet:
        """The keys to verify with; `kid`, when given and not known, may trigger a refetch."""
        if self.url is None:
            assert self._keys is not None
            return self._keys
        with self._lock:
            now = self._clock()
            age = None if self._fetched_at is None else now - self._fetched_at
            stale = self._keys is None or age is None or age >= self._ttl
            unknown = kid is not None and self._keys is not None and not _holds(self._keys, kid)
            if stale or (unknown and age is not None and age >= self._refresh_after):
                try:
                    self._keys = _signing_keys(self._fetch(self.url, self._timeout))
                except Exception:
                    if self._keys is None:
                        raise invalid_token(
                            "the keys of the token's issuer are unavailable"
                        ) from None
                self._fetched_at = now
            assert self._keys is not None
            return self._keys


def _holds(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys)


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims of an external token hold the username, the party and the roles.

    A name with dots reaches into objects (`realm_access.roles`).
    """

    username: str = "preferred_username"
    party: str = "party"
    roles: str = "roles"

    @staticmethod
    def lookup(claims: dict[str, Any], name: str) -> Any:
        """The value at a (dotted) claim name, None when absent."""
        value: Any = claims
        for part in name.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def username_of(self, claims: dict[str, Any]) -> str | None:
        """The mapped username, when it is a non-empty string."""
        value = self.lookup(claims, self.username)
        return value if isinstance(value, str) and value else None

    def party_of(self, claims: dict[str, Any]) -> str | None:
        """The mapped party, when it is a non-empty string."""
        value = self.lookup(claims, self.party)
        return value if isinstance(value, str) and value else None

    def roles_of(self, claims: dict[str, Any]) -> tuple[str, ...]:
        """The mapped roles: a list of strings, or one space- or comma-separated string."""
        value = self.lookup(claims, self.roles)
        if isinstance(value, str):
            return tuple(r for r in re.split(r"[\s,]+", value) if r)
        if isinstance(value, list):
            return tuple(r for r in value if isinstance(r, str) and r)
        return ()


@dataclass(frozen=True)
class ExternalIssuer:
    """An OpenID Connect provider whose access tokens the broker accepts, and how to read them."""

    issuer: str
    audience: str
    keys: JwksSource
    claims: ClaimMapping = ClaimMapping()
    algorithms: tuple[str, ...] = EXTERNAL_ALGORITHMS
    token_types: tuple[str, ...] = ()  # when given, the header's typ must be one of them
    max_lifetime: int = EXTERNAL_MAX_TOKEN_LIFETIME  # the longest exp - iat accepted
    clock: Callable[[], float] = time.time

    @classmethod
    def from_config(cls, config: Any, own_issuer: str | None = None) -> ExternalIssuer | None:
        """The external issuer the EXTERNAL_* settings describe; None when there is none."""
        issuer = config.get("EXTERNAL_ISSUER")
        if not issuer:
            return None
        if not isinstance(issuer, str) or issuer == own_issuer:
            raise ExternalIssuerConfigError(
                "external_issuer", "EXTERNAL_ISSUER must be a URL other than the broker's ISSUER"
            )
        audience = config.get("EXTERNAL_AUDIENCE")
        if not isinstance(audience, str) or not audience:
            raise ExternalIssuerConfigError(
                "external_audience", "EXTERNAL_AUDIENCE is required with EXTERNAL_ISSUER"
            )
        return cls(
            issuer=issuer,
            audience=audience,
            keys=_jwks_source(config),
            claims=_claim_mapping(config.get("EXTERNAL_CLAIMS")),
            algorithms=_algorithms(config.get("EXTERNAL_ALGORITHMS")),
            token_types=tuple(t.lower() for t in _names(config.get("EXTERNAL_TOKEN_TYPES"))),
            max_lifetime=_max_lifetime(config.get("EXTERNAL_MAX_TOKEN_LIFETIME")),
        )


def _max_lifetime(value: Any) -> int:
    """EXTERNAL_MAX_TOKEN_LIFETIME: whole seconds in MAX_TOKEN_LIFETIME_RANGE (a string from the
    environment too); the default when not set."""
    if value is None or value == "":
        return EXTERNAL_MAX_TOKEN_LIFETIME
    low, high = MAX_TOKEN_LIFETIME_RANGE
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ExternalIssuerConfigError(
            "external_max_token_lifetime",
            f"EXTERNAL_MAX_TOKEN_LIFETIME is a whole number of seconds, {low} to {high}",
        )
    return value


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise ExternalIssuerConfigError(
                "external_json", "an EXTERNAL_* setting is not valid JSON"
            ) from None
    return value


def _names(value: Any) -> list[str]:
    value = _parsed(value)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ExternalIssuerConfigError("external_list", "expected a list of names")


def _algorithms(value: Any) -> tuple[str, ...]:
    algorithms = tuple(_names(value)) or EXTERNAL_ALGORITHMS
    wrong = sorted(set(algorithms) - set(EXTERNAL_ALGORITHMS))
    if wrong:
        raise ExternalIssuerConfigError(
            "external_algorithms",
            f"EXTERNAL_ALGORITHMS may name only {', '.join(EXTERNAL_ALGORITHMS)} "
            f"(not {', '.join(wrong)})",
        )
    return algorithms


def _claim_mapping(value: Any) -> ClaimMapping:
    value = _parsed(value)
    if value is None or value == "":
        return ClaimMapping()
    allowed = {"username", "party", "roles"}
    if (
        not isinstance(value, dict)
        or set(value) - allowed
        or not all(isinstance(v, str) and v for v in value.values())
    ):
        raise ExternalIssuerConfigError(
            "external_claims",
            'EXTERNAL_CLAIMS is a JSON object like {"username": "preferred_username", '
            '"party": "org", "roles": "broker_roles"}',
        )
    return ClaimMapping(**value)


def _jwks_source(config: Any) -> JwksSource:
    url, inline = config.get("EXTERNAL_JWKS_URL"), config.get("EXTERNAL_JWKS")
    if bool(url) == bool(inline):
        raise ExternalIssuerConfigError(
            "external_jwks", "give exactly one of EXTERNAL_JWKS_URL and EXTERNAL_JWKS"
        )
    try:
        if url:
            if not isinstance(url, str) or not (
                url.startswith("https://")
                or url.startswith(("http://127.0.0.1", "http://localhost"))
            ):
                raise ValueError("EXTERNAL_JWKS_URL must be an https URL")
            return JwksSource(
                url=url,
                ttl=float(config.get("EXTERNAL_JWKS_TTL") or JWKS_TTL),
                timeout=float(config.get("EXTERNAL_JWKS_TIMEOUT") or JWKS_TIMEOUT),
            )
        document = _parsed(inline)
        if isinstance(document, str):  # a file path
            with open(document, encoding="utf-8") as f:
                document = json.load(f)
        return JwksSource(document=document)
    except (OSError, ValueError) as exc:
        raise ExternalIssuerConfigError("external_jwks", f"EXTERNAL_JWKS: {exc}") from None


def _payload(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWS, unverified; None when they cannot be read."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        encoded = parts[1].encode("ascii")
        payload = json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def peek_issuer(token: str) -> str | None:
    """The token's `iss`, read without verifying anything: only to choose its validator."""
    payload = _payload(token)
    issuer = payload.get("iss") if payload else None
    return issuer if isinstance(issuer, str) else None


class ExternalTokenClaims(dict[str, Any]):
    """The verified claims of an external issuer's access token."""

    actor: Any = None  # who the token stands for, set by the resource protector


class ExternalTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    """Access tokens of an external OpenID Connect provider, as strict as the broker's own:
    an allowed asymmetric alg, a kid of the issuer's JWKS, the signature, then iss, aud, exp and
    iat (nbf when present), iat at most CLOCK_SKEW ahead and the lifetime exp - iat at most the
    issuer's `max_lifetime`. `typ` is checked only when token types are configured.
    """

    def __init__(self, issuer: ExternalIssuer) -> None:
        super().__init__(
            issuer=issuer.issuer, resource_server=issuer.audience, realm="multiteam-broker"
        )
        self.external = issuer

    def authenticate_token(self, token_string: str) -> ExternalTokenClaims:
        ext = self.external
        header = unverified_header(token_string)
        if header.get("alg") not in ext.algorithms:
            raise invalid_token(f"the token is not signed with {' or '.join(ext.algorithms)}")
        if ext.token_types:
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ext.token_types:
                raise invalid_token("the token is not an access token (typ)")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise invalid_token("the token was signed with an unknown key")
        keys = ext.keys.key_set(kid)
        if not _holds(keys, kid):
            raise invalid_token("the token was signed with an unknown key")
        try:
            token = jwt.decode(token_string, keys, algorithms=list(ext.algorithms))
            IssuedAtRegistry(
                now=whole_seconds(ext.clock),
                iss={"essential": True, "value": ext.issuer},
                aud={"essential": True, "value": ext.audience},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(token.claims)
            check_lifetime(token.claims, ext.max_lifetime)
        except JoseError as exc:
            raise invalid_token(failure_reason(exc)) from None
        except (ValueError, TypeError):
            raise invalid_token("the token is not a JWT") from None
        return ExternalTokenClaims(token.claims)

    def validate_token(
        self, token: ExternalTokenClaims, scopes: Any, request: Any, **kwargs: Any
    ) -> None:
        """Nothing beyond `authenticate_token`: who the token stands for is the broker's call."""
