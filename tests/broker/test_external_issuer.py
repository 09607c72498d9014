"""An external OpenID Connect provider's access tokens: verified against its JWKS (inline here,
never the network), mapped to a known, enabled person of the broker, and routed by `iss`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from broker import create_app
from broker.cli.demo import ensure_accounts
from broker.cli.service import init_database
from broker.core.runtime import transaction
from broker.identity.accounts import set_person_disabled
from broker.identity.external import (
    EXTERNAL_MAX_TOKEN_LIFETIME,
    ExternalIssuer,
    ExternalIssuerConfigError,
    ExternalTokenValidator,
    JwksSource,
)
from broker.identity.tokens import CLOCK_SKEW
from tests.broker.conftest import Api

IDP = "https://login.leeuwarden.test/realms/multiteam"
AUDIENCE = "multiteam-broker-api"
CLAIMS = {"username": "preferred_username", "party": "org", "roles": "broker_roles"}
BSN = "321146487"
THIRTY_YEARS = 30 * 365 * 24 * 3600


@pytest.fixture(scope="module")
def idp_key() -> RSAKey:
    """The provider's RSA signing key (one per module: generating keys is the slow part)."""
    return RSAKey.generate_key(2048, parameters={"kid": "idp-2026", "use": "sig"})


@pytest.fixture(scope="module")
def idp_ec_key() -> ECKey:
    """A second, ES256 signing key of the provider."""
    return ECKey.generate_key("P-256", parameters={"kid": "idp-ec", "use": "sig"})


def _jwks(*keys: Any) -> str:
    return json.dumps({"keys": [k.as_dict(private=False) for k in keys]})


@pytest.fixture
def ext_app(db_url: str, tmp_path: Path, idp_key: RSAKey, idp_ec_key: ECKey) -> Iterator[Flask]:
    """The broker with the provider configured through an inline JWKS, and demo accounts."""
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
            "EXTERNAL_ISSUER": IDP,
            "EXTERNAL_AUDIENCE": AUDIENCE,
            "EXTERNAL_JWKS": _jwks(idp_key, idp_ec_key),
            "EXTERNAL_CLAIMS": json.dumps(CLAIMS),
        }
    )
    with app.app_context():
        init_database()
        ensure_accounts()
    yield app
    app.extensions["broker"].engine.dispose()


@pytest.fixture
def ext_api(ext_app: Flask) -> Api:
    """The API helper on the app with the provider."""
    return Api(ext_app, ext_app.test_client(), {})


def idp_claims(**changes: Any) -> dict[str, Any]:
    """The claims of jansen's access token from the provider; None removes a claim."""
    now = int(time.time())
    claims = {
        "iss": IDP,
        "aud": [AUDIENCE, "account"],
        "sub": "f3a1-77",
        "azp": "mt-portaal",
        "iat": now,
        "exp": now + 300,
        "jti": "idp-token-1",
        "preferred_username": "jansen",
        "org": "politie",
        "broker_roles": ["case_worker", "coordinator"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def idp_token(key: Any, alg: str = "RS256", kid: str | None = None, **changes: Any) -> str:
    """A token signed by `key` as the provider would issue it (typ JWT, as Keycloak does)."""
    header = {"alg": alg, "typ": "JWT", "kid": kid or key.kid}
    return jwt.encode(header, idp_claims(**changes), key, algorithms=[alg])


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_case(api: Api) -> str:
    """A case in track lokaal_preventief, signalled by politie (jansen, the broker's token)."""
    response = api.signal(
        "jansen", {"bsn": BSN}, {"surname": "Kramer", "given_names": "Jesse", "incident_count": 2}
    )
    assert response.status_code == 201, response.json
    case_id = str(response.json["case_id"])
    assert api.track(case_id, "lokaal_preventief").status_code == 200
    return case_id


def view(api: Api, case_id: str, token: str) -> Any:
    """GET the case for casusoverleg with a bearer token."""
    return api.client.get(
        f"/api/v1/cases/{case_id}",
        query_string={"purpose": "casusoverleg"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_accepted_end_to_end(ext_api: Api, idp_key: RSAKey) -> None:
    """A provider's token for jansen (politie) reads a case as the broker's own token would:
    the person's party, only the roles both hold, and the audit names jansen."""
    case_id = make_case(ext_api)
    response = view(ext_api, case_id, idp_token(idp_key))
    assert response.status_code == 200, response.json
    assert response.json["role"] == "case_worker" and response.json["on_case_team"] is True
    assert response.json["fields"]["incident_count"] == 2
    assert response.json["case_id"] == case_id
    last = ext_api.audit_records()[-1].entry
    assert (last.event, last.person_id, last.party) == ("case.view", "jansen", "politie")
    assert last.client_id == "external:mt-portaal"


def test_es256_key_of_the_provider_is_accepted(ext_api: Api, idp_ec_key: ECKey) -> None:
    """ES256, the other allowed algorithm, verifies against the provider's EC key."""
    case_id = make_case(ext_api)
    assert view(ext_api, case_id, idp_token(idp_ec_key, alg="ES256")).status_code == 200


def test_the_brokers_own_tokens_still_work(ext_api: Api) -> None:
    """With a provider configured, the broker's own tokens are still accepted."""
    case_id = make_case(ext_api)
    assert ext_api.view("devries", case_id).status_code == 200


def test_roles_are_the_intersection(ext_api: Api, idp_key: RSAKey) -> None:
    """A role the token claims but the person lacks is not granted; no shared role: no read."""
    case_id = make_case(ext_api)
    token = idp_token(idp_key, broker_roles=["coordinator"])
    response = view(ext_api, case_id, token)
    assert response.status_code == 403
    assert response.json["code"] == "purpose_not_for_role"
    token = idp_token(idp_key, broker_roles="case_worker")  # one string, space separated
    assert view(ext_api, case_id, token).status_code == 200


def _hs256(key: RSAKey) -> str:
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64(idp_claims())}"
    secret = key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _lifetime(key: RSAKey, seconds: int) -> str:
    now = int(time.time())
    return idp_token(key, iat=now, exp=now + seconds)


REJECTED: dict[str, Any] = {
    "wrong_iss": lambda k: idp_token(k, iss="https://login.other.test/realms/x"),
    "wrong_aud": lambda k: idp_token(k, aud="another-api"),
    "no_aud": lambda k: idp_token(k, aud=None),
    "expired": lambda k: idp_token(k, exp=int(time.time()) - 5),
    "no_exp": lambda k: idp_token(k, exp=None),
    "no_iat": lambda k: idp_token(k, iat=None),
    "thirty_year_lifetime": lambda k: idp_token(k, exp=int(time.time()) + THIRTY_YEARS),
    "lifetime_over_max": lambda k: _lifetime(k, 3601),
    "iat_in_the_future": lambda k: idp_token(
        k, iat=int(time.time()) + 3600, exp=int(time.time()) + 3900
    ),
    "unknown_kid": lambda k: idp_token(k, kid="idp-2025"),
    "no_kid": lambda k: jwt.encode({"alg": "RS256"}, idp_claims(), k, algorithms=["RS256"]),
    "other_key_same_kid": lambda k: idp_token(
        RSAKey.import_key({**RSAKey.generate_key(2048).as_dict(private=True), "kid": k.kid})
    ),
    "alg_none": lambda k: f"{_b64({'alg': 'none', 'kid': k.kid})}.{_b64(idp_claims())}.",
    "alg_hs256": _hs256,
    "unknown_user": lambda k: idp_token(k, preferred_username="nobody"),
    "no_username": lambda k: idp_token(k, preferred_username=None),
    "party_mismatch": lambda k: idp_token(k, org="gemeente"),
    "no_party": lambda k: idp_token(k, org=None),
    "tampered": lambda k: ".".join(
        [
            idp_token(k).split(".")[0],
            _b64(idp_claims(preferred_username="mulder", org="gemeente")),
            idp_token(k).split(".")[2],
        ]
    ),
}


@pytest.mark.parametrize("kind", sorted(REJECTED))
def test_rejected(ext_api: Api, idp_key: RSAKey, kind: str) -> None:
    """Each kind of bad token gets 401 invalid_token, and no case content."""
    case_id = make_case(ext_api)
    response = view(ext_api, case_id, REJECTED[kind](idp_key))
    assert response.status_code == 401, response.json
    assert response.json["code"] == "invalid_token"
    assert "Kramer" not in response.get_data(as_text=True)


def test_disabled_person_loses_access_at_once(ext_api: Api, idp_key: RSAKey) -> None:
    """Disabling the person in the broker ends access with a still-valid provider token."""
    case_id = make_case(ext_api)
    token = idp_token(idp_key)
    assert view(ext_api, case_id, token).status_code == 200
    with ext_api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", True)
    response = view(ext_api, case_id, token)
    assert response.status_code == 401 and response.json["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("no_iat", "missing_claim: iat"),
        ("thirty_year_lifetime", "invalid_claim: exp, its lifetime exp - iat must be over 0"),
        ("lifetime_over_max", "at most 3600 seconds"),
        ("iat_in_the_future", "invalid_claim: iat, issued in the future"),
    ],
)
def test_a_lifetime_refusal_names_the_claim_and_is_audited(
    ext_api: Api, idp_key: RSAKey, kind: str, says: str
) -> None:
    """A provider's token signed with its real key but living too long (30 years, or an hour
    and a second), issued in the future or without iat: 401 naming the claim, audited."""
    before = len(ext_api.audit_records())
    response = view(ext_api, "case-" + "0" * 32, REJECTED[kind](idp_key))
    assert response.status_code == 401 and response.json["code"] == "invalid_token"
    assert says in response.json["detail"]
    records = ext_api.audit_records()
    assert len(records) == before + 1 and records[-1].entry.outcome == "unauthorized"


def test_the_lifetime_limit_and_the_clock_skew_are_inclusive(ext_api: Api, idp_key: RSAKey) -> None:
    """exp - iat of exactly EXTERNAL_MAX_TOKEN_LIFETIME, and iat CLOCK_SKEW seconds ahead
    (the provider's clock), are accepted."""
    case_id = make_case(ext_api)
    now = int(time.time())
    longest = idp_token(idp_key, iat=now, exp=now + EXTERNAL_MAX_TOKEN_LIFETIME)
    assert view(ext_api, case_id, longest).status_code == 200
    ahead = idp_token(idp_key, iat=now + CLOCK_SKEW - 5, exp=now + CLOCK_SKEW + 300)
    assert view(ext_api, case_id, ahead).status_code == 200


def test_a_configured_maximum_lifetime(idp_key: RSAKey) -> None:
    """EXTERNAL_MAX_TOKEN_LIFETIME (here as the environment gives it, a string) bounds exp - iat."""
    issuer = ExternalIssuer.from_config(
        _config(
            EXTERNAL_JWKS_URL=None,
            EXTERNAL_JWKS=_jwks(idp_key),
            EXTERNAL_MAX_TOKEN_LIFETIME="600",
        )
    )
    assert issuer is not None and issuer.max_lifetime == 600
    validator = ExternalTokenValidator(issuer)
    now = int(time.time())
    claims = validator.authenticate_token(idp_token(idp_key, iat=now, exp=now + 600))
    assert claims["exp"] - claims["iat"] == 600
    with pytest.raises(InvalidTokenError) as caught:
        validator.authenticate_token(idp_token(idp_key, iat=now, exp=now + 601))
    assert "at most 600 seconds" in str(caught.value.description)


def test_a_person_enabled_again_does_not_revive_a_provider_token(
    ext_api: Api, idp_key: RSAKey
) -> None:
    """The person is disabled and enabled in the broker: the provider's token issued before
    stays 401 (naming iat), one the provider issues after the enable works."""
    case_id = make_case(ext_api)
    now = int(time.time())
    old = idp_token(idp_key, iat=now - 5, exp=now + 300)
    assert view(ext_api, case_id, old).status_code == 200
    with ext_api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", True)
    with ext_api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", False)
    refused = view(ext_api, case_id, old)
    assert refused.status_code == 401 and refused.json["code"] == "invalid_token"
    assert "before its person was last disabled (iat)" in refused.json["detail"]
    later = int(time.time()) + 1  # iat counts whole seconds: the disable's second is refused
    assert view(ext_api, case_id, idp_token(idp_key, iat=later, exp=later + 300)).status_code == 200


def test_without_configuration_provider_tokens_are_rejected(api: Api, idp_key: RSAKey) -> None:
    """A broker without EXTERNAL_ISSUER does not accept the provider's tokens."""
    response = view(api, "case-" + "0" * 32, idp_token(idp_key))
    assert response.status_code == 401 and response.json["code"] == "invalid_token"


# ── configuration and the JWKS source (no app, no network) ──────────────────────────────────


def _config(**changes: Any) -> dict[str, Any]:
    config = {
        "EXTERNAL_ISSUER": IDP,
        "EXTERNAL_AUDIENCE": AUDIENCE,
        "EXTERNAL_JWKS_URL": "https://login.leeuwarden.test/certs",
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"EXTERNAL_AUDIENCE": None}, "external_audience"),
        ({"EXTERNAL_JWKS_URL": None}, "external_jwks"),
        ({"EXTERNAL_JWKS": '{"keys": []}'}, "external_jwks"),
        ({"EXTERNAL_JWKS_URL": "http://idp.example/certs"}, "external_jwks"),
        ({"EXTERNAL_ALGORITHMS": ["RS256", "HS256"]}, "external_algorithms"),
        ({"EXTERNAL_ALGORITHMS": "none"}, "external_algorithms"),
        ({"EXTERNAL_CLAIMS": '{"user": "sub"}'}, "external_claims"),
        ({"EXTERNAL_ISSUER": "https://broker.test"}, "external_issuer"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": 0}, "external_max_token_lifetime"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": 86401}, "external_max_token_lifetime"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": "an hour"}, "external_max_token_lifetime"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": "３６００"}, "external_max_token_lifetime"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": 3600.5}, "external_max_token_lifetime"),
        ({"EXTERNAL_MAX_TOKEN_LIFETIME": True}, "external_max_token_lifetime"),
    ],
)
def test_bad_configuration_is_refused(changes: dict[str, Any], code: str) -> None:
    """An incomplete or unsafe EXTERNAL_* configuration is refused at start, with a code."""
    with pytest.raises(ExternalIssuerConfigError) as caught:
        ExternalIssuer.from_config(_config(**changes), own_issuer="https://broker.test")
    assert caught.value.code == code


def test_jwks_from_a_file(tmp_path: Path, idp_key: RSAKey) -> None:
    """EXTERNAL_JWKS may name a file; its private parts, if any, are never used."""
    path = tmp_path / "jwks.json"
    path.write_text(_jwks(idp_key))
    issuer = ExternalIssuer.from_config(_config(EXTERNAL_JWKS_URL=None, EXTERNAL_JWKS=str(path)))
    assert issuer is not None
    assert [k.kid for k in issuer.keys.key_set()] == [idp_key.kid]
    assert ExternalIssuer.from_config({}) is None


def test_fetched_jwks_is_cached_and_refetched(idp_key: RSAKey, idp_ec_key: ECKey) -> None:
    """A fetched JWKS is reused within its TTL, refetched after it, refetched early (rate
    limited) for an unknown kid, and kept when a later fetch fails."""
    now = [0.0]
    fetched: list[float] = []
    documents = [json.loads(_jwks(idp_key)), json.loads(_jwks(idp_key, idp_ec_key))]

    def fetch(url: str, timeout: float) -> Any:
        assert timeout == 2.0
        fetched.append(now[0])
        if not documents:
            raise OSError("unreachable")
        return documents.pop(0)

    source = JwksSource(
        url="https://idp/certs",
        ttl=300,
        timeout=2.0,
        refresh_after=30,
        fetch=fetch,
        clock=lambda: now[0],
    )
    assert [k.kid for k in source.key_set()] == ["idp-2026"]
    now[0] = 10
    source.key_set("idp-ec")  # unknown, but too soon to refetch
    assert fetched == [0.0]
    now[0] = 40
    assert {k.kid for k in source.key_set("idp-ec")} == {"idp-2026", "idp-ec"}
    now[0] = 400
    assert {k.kid for k in source.key_set()} == {"idp-2026", "idp-ec"}  # fetch failed: kept
    assert fetched == [0.0, 40, 400]
