"""broker.identity.tokens: the broker's ES256 access tokens (RFC 9068), issued and verified."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from broker.identity.tokens import CLOCK_SKEW, MAX_TTL, TokenError, TokenService

ISSUER = "https://broker.test"
AUDIENCE = "multiteam-broker"
NOW = 1_900_000_000
THIRTY_YEARS = 30 * 365 * 24 * 3600


def _key(kid: str | None = None) -> ECKey:
    key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
    return key if kid is None else ECKey.import_key({**key.as_dict(private=True), "kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture(scope="module")
def key() -> ECKey:
    """The broker's signing key (one per module: generating keys is the slow part)."""
    return _key()


@pytest.fixture
def service(key: ECKey) -> TokenService:
    """A token service whose clock stands still at NOW."""
    return TokenService(key=key, issuer=ISSUER, audience=AUDIENCE, ttl=900, clock=lambda: NOW)


def _issue(service: TokenService) -> str:
    token, _ = service.issue(
        subject="jansen", party="politie", roles=["case_worker"], name="Wijkagent Pieter Jansen"
    )
    return token


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "jansen",
        "client_id": "broker-cli",
        "iat": NOW,
        "exp": NOW + 900,
        "jti": "0" * 32,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(key: ECKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jwt.encode(header, claims, key, algorithms=["ES256"], default_type=None)


def _rejected(service: TokenService, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        service.verify(token)
    return caught.value.reason


def test_round_trip(service: TokenService) -> None:
    """An issued token verifies, with the claims it was issued with and an RFC 9068 header."""
    token, issued = service.issue(
        subject="mulder",
        party="gemeente",
        roles=["coordinator"],
        name="Coördinator Lisa Mulder",
        client_id="portal",
    )
    claims = service.verify(token)
    assert claims == issued
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, "mulder")
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 900)
    assert claims["roles"] == ["coordinator"] and claims["client_id"] == "portal"
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": service.key.kid}


def test_each_token_has_its_own_id(service: TokenService) -> None:
    """Two tokens for the same person carry different jti values."""
    assert service.verify(_issue(service))["jti"] != service.verify(_issue(service))["jti"]


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", None])
def test_typ_must_be_at_jwt(service: TokenService, key: ECKey, typ: str | None) -> None:
    """A correctly signed JWT whose typ is not at+jwt (or is missing) is not an access token."""
    header = {"alg": "ES256", "kid": key.kid, **({"typ": typ} if typ else {})}
    assert "at+jwt" in _rejected(service, _signed(key, header, _claims()))


def test_typ_application_at_jwt_is_accepted(service: TokenService, key: ECKey) -> None:
    """The media-type spelling application/at+jwt (RFC 9068 §2.1) is accepted too."""
    header = {"alg": "ES256", "typ": "application/at+jwt", "kid": key.kid}
    assert service.verify(_signed(key, header, _claims()))["sub"] == "jansen"


def test_alg_none_is_rejected(service: TokenService, key: ECKey) -> None:
    """An unsigned token (alg none, empty signature) is rejected."""
    header = {"alg": "none", "typ": "at+jwt", "kid": key.kid}
    token = f"{_b64json(header)}.{_b64json(_claims())}."
    _rejected(service, token)


def test_hs256_with_the_public_key_as_secret_is_rejected(service: TokenService, key: ECKey) -> None:
    """Algorithm confusion: an HS256 token keyed with the public key's PEM is rejected."""
    signing_input = (
        f"{_b64json({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}.{_b64json(_claims())}"
    )
    secret = key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    _rejected(service, f"{signing_input}.{_b64(signature)}")


def test_expired(service: TokenService) -> None:
    """A token is valid one second before exp and rejected one second after it."""
    token = _issue(service)
    assert dataclasses.replace(service, clock=lambda: NOW + 899).verify(token)
    reason = _rejected(dataclasses.replace(service, clock=lambda: NOW + 901), token)
    assert "exp" in reason


def test_wrong_issuer(service: TokenService) -> None:
    """A token from another issuer is rejected, without echoing that issuer."""
    token = _issue(dataclasses.replace(service, issuer="https://evil.invalid"))
    reason = _rejected(service, token)
    assert "iss" in reason and "evil" not in reason


def test_wrong_audience(service: TokenService) -> None:
    """A token for another audience is rejected, without echoing that audience."""
    token = _issue(dataclasses.replace(service, audience="other-service"))
    reason = _rejected(service, token)
    assert "aud" in reason and "other-service" not in reason


def test_unknown_kid(service: TokenService, key: ECKey) -> None:
    """A token signed with the broker's key but naming another kid is rejected."""
    token = _signed(key, {"alg": "ES256", "typ": "at+jwt", "kid": "another-kid"}, _claims())
    assert "unknown key" in _rejected(service, token)


@pytest.mark.parametrize("same_kid", [False, True], ids=["own_kid", "borrowed_kid"])
def test_other_key(service: TokenService, key: ECKey, same_kid: bool) -> None:
    """A token signed with another key is rejected, also when it borrows the broker's kid."""
    other = _key(key.kid if same_kid else None)
    _rejected(service, _issue(dataclasses.replace(service, key=other)))


@pytest.mark.parametrize("claim", ["sub", "jti", "exp", "iat", "iss", "aud", "client_id"])
def test_missing_essential_claim(service: TokenService, key: ECKey, claim: str) -> None:
    """A signed access token without one of the essential claims is rejected."""
    header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    _rejected(service, _signed(key, header, _claims(**{claim: None})))


def test_tampered_payload(service: TokenService) -> None:
    """Changing the payload of a valid token (another subject) breaks its signature."""
    header, payload, signature = _issue(service).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = _b64json({**claims, "sub": "mulder", "roles": ["coordinator"]})
    _rejected(service, f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "..", "é.é.é"])
def test_not_a_jwt(service: TokenService, token: str) -> None:
    """Strings that are not JWTs raise TokenError, never anything else."""
    _rejected(service, token)


def test_a_retired_key_still_verifies_and_is_published(service: TokenService) -> None:
    """After a rotation, a token signed with the retired key verifies; the JWKS lists both
    public keys (and no private part)."""
    old_token = _issue(service)
    rotated = dataclasses.replace(service, key=_key(), retired=(service.key,))
    assert rotated.verify(old_token)["sub"] == "jansen"
    assert rotated.verify(_issue(rotated))["sub"] == "jansen"
    jwks = rotated.jwks()["keys"]
    assert [k["kid"] for k in jwks] == [rotated.key.kid, service.key.kid]
    assert all("d" not in k for k in jwks)
    assert "unknown key" in _rejected(dataclasses.replace(rotated, retired=()), old_token)


# ── the lifetime: iat not in the future, exp - iat at most the configured TOKEN_TTL ─────────


def _header(key: ECKey) -> dict[str, Any]:
    return {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}


def test_a_real_signature_does_not_make_a_thirty_year_token_valid(
    service: TokenService, key: ECKey
) -> None:
    """Signed with the broker's own key, iat now, exp 30 years out: refused, naming exp."""
    token = _signed(key, _header(key), _claims(exp=NOW + THIRTY_YEARS))
    reason = _rejected(service, token)
    assert "exp" in reason and "lifetime" in reason and "900" in reason
    assert str(NOW + THIRTY_YEARS) not in reason


@pytest.mark.parametrize("ttl", [60, 300, MAX_TTL])
def test_the_lifetime_is_at_most_the_configured_ttl(key: ECKey, ttl: int) -> None:
    """exp - iat equal to the configured TOKEN_TTL is accepted, one second more is refused."""
    service = TokenService(key=key, issuer=ISSUER, audience=AUDIENCE, ttl=ttl, clock=lambda: NOW)
    assert service.max_lifetime == ttl
    accepted = _signed(key, _header(key), _claims(exp=NOW + ttl))
    assert service.verify(accepted)["exp"] == NOW + ttl
    reason = _rejected(service, _signed(key, _header(key), _claims(exp=NOW + ttl + 1)))
    assert "exp" in reason and f"at most {ttl} seconds" in reason


def test_max_ttl_caps_a_larger_configured_ttl(key: ECKey) -> None:
    """A service built with a ttl over MAX_TTL still accepts at most MAX_TTL seconds."""
    service = TokenService(key=key, issuer=ISSUER, audience=AUDIENCE, ttl=3600, clock=lambda: NOW)
    assert service.max_lifetime == MAX_TTL
    token = _signed(key, _header(key), _claims(exp=NOW + MAX_TTL + 1))
    assert f"at most {MAX_TTL} seconds" in _rejected(service, token)


def test_a_lifetime_that_is_not_positive_is_refused(service: TokenService, key: ECKey) -> None:
    """exp at or before iat (iat within the clock skew, exp not yet passed): refused."""
    for iat, exp in ((NOW + 30, NOW + 30), (NOW + 30, NOW + 10)):
        token = _signed(key, _header(key), _claims(iat=iat, exp=exp))
        assert "exp" in _rejected(service, token)


def test_iat_in_the_future_is_refused_beyond_the_clock_skew(
    service: TokenService, key: ECKey
) -> None:
    """iat up to CLOCK_SKEW seconds ahead is accepted (another host's clock); one more second
    is refused, naming iat."""
    at_skew = NOW + CLOCK_SKEW
    token = _signed(key, _header(key), _claims(iat=at_skew, exp=at_skew + 900))
    assert service.verify(token)["iat"] == at_skew
    ahead = NOW + CLOCK_SKEW + 1
    token = _signed(key, _header(key), _claims(iat=ahead, exp=ahead + 900))
    reason = _rejected(service, token)
    assert "iat" in reason and "future" in reason
    far = NOW + THIRTY_YEARS
    assert "iat" in _rejected(service, _signed(key, _header(key), _claims(iat=far, exp=far + 60)))


@pytest.mark.parametrize("iat", ["1900000000", True, None, [NOW]], ids=repr)
def test_iat_must_be_a_number(service: TokenService, key: ECKey, iat: Any) -> None:
    """An iat that is not a NumericDate (a string, a bool, absent, a list) is refused."""
    claims = {**_claims(), "iat": iat} if iat is not None else _claims(iat=None)
    assert "iat" in _rejected(service, _signed(key, _header(key), claims))


def test_issue_refuses_a_ttl_over_the_configured_one(key: ECKey) -> None:
    """The service never issues a token it would itself refuse."""
    service = TokenService(key=key, issuer=ISSUER, audience=AUDIENCE, ttl=300, clock=lambda: NOW)
    with pytest.raises(ValueError, match="300"):
        service.issue(subject="jansen", party="politie", roles=["case_worker"], name="J", ttl=301)
    token, claims = service.issue(
        subject="jansen", party="politie", roles=["case_worker"], name="J", ttl=120
    )
    assert claims["exp"] - claims["iat"] == 120 and service.verify(token)["exp"] == NOW + 120
    _, claims = service.issue(subject="jansen", party="politie", roles=["case_worker"], name="J")
    assert claims["exp"] - claims["iat"] == 300
