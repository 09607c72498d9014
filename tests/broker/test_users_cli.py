"""`broker users`, `broker clients`, `broker keys` and the demo clients: what operators do,
through the app's CLI runner, each change audited and no password or secret kept or shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from broker import create_app
from broker.core.runtime import runtime, transaction
from broker.identity.passwords import verify_password, verify_secret
from broker.storage.models import OAuthClient, Person
from tests.broker.conftest import Api
from tests.broker.test_oauth import bearer, client_token, events

PASSWORD = "Lange-Zin-Voor-Een-Wachtwoord"


def invoke(app: Flask, *args: str, input: str | None = None) -> Result:
    """Run `broker ARGS` as an operator would."""
    return app.test_cli_runner().invoke(args=list(args), input=input)


def person(app: Flask, username: str) -> Person | None:
    """The person row, detached."""
    with app.app_context(), transaction() as session:
        return session.scalar(select(Person).where(Person.username == username))


def client_row(app: Flask, client_id: str) -> OAuthClient | None:
    """The client row, detached."""
    with app.app_context(), transaction() as session:
        return session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


def add_user(
    app: Flask, username: str = "dijkstra", *extra: str, password: str = PASSWORD
) -> Result:
    """`users add` for a school case worker, the password typed twice at the prompt."""
    return invoke(
        app,
        "users",
        "add",
        username,
        "--name",
        "Mentor Eva Dijkstra",
        "--party",
        "school",
        "--role",
        "case_worker",
        *extra,
        input=f"{password}\n{password}\n",
    )


def dump(api: Api) -> str:
    """Every audit record as text."""
    records = api.audit_records()
    return repr([r.entry for r in records]) + "".join(r.body.decode() for r in records)


# ── users ───────────────────────────────────────────────────────────────────────────────────


def test_users_add_and_list(api: Api) -> None:
    """users add stores the person with a scrypt hash of the typed password (never the
    password), audits person.create, and users list shows the person."""
    result = add_user(api.app)
    assert result.exit_code == 0, result.output
    stored = person(api.app, "dijkstra")
    assert stored is not None and stored.party == "school" and stored.roles == ["case_worker"]
    assert stored.password_hash and stored.password_hash.startswith("scrypt$")
    assert PASSWORD not in stored.password_hash
    assert verify_password(PASSWORD, stored.password_hash)
    assert not verify_password(PASSWORD + "x", stored.password_hash)
    created = events(api, "person.create")[-1]
    assert (created.person_id, created.party) == ("dijkstra", "school")
    assert PASSWORD not in dump(api) and PASSWORD not in result.output
    listed = invoke(api.app, "users", "list")
    line = next(x for x in listed.output.splitlines() if x.startswith("dijkstra "))
    assert "school" in line and "case_worker" in line and "password" in line
    assert "active" in line
    assert "jansen" in listed.output and "scrypt" not in listed.output


@pytest.mark.parametrize(
    ("args", "password", "says"),
    [
        (("--party", "bakkerij", "--role", "case_worker"), PASSWORD, "not a party"),
        (("--party", "school", "--role", "coordinator"), PASSWORD, "not a role at school"),
        (("--party", "school", "--role", "case_worker"), "kort", "12 to 1024"),
    ],
    ids=["unknown_party", "role_not_at_party", "short_password"],
)
def test_users_add_refuses_what_the_convenant_does_not_know(
    api: Api, args: tuple[str, ...], password: str, says: str
) -> None:
    """An unknown party, a role the party does not have, a short password: refused, nothing
    stored or audited."""
    before = len(api.audit_records())
    result = invoke(
        api.app,
        "users",
        "add",
        "nieuw",
        "--name",
        "Nieuw Persoon",
        *args,
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code != 0 and says in result.output
    assert person(api.app, "nieuw") is None and len(api.audit_records()) == before


@pytest.mark.parametrize(
    ("username", "says"),
    [
        ("jansen", "already a person"),
        ("politie-bvh", "already a client"),
        ("broker-cli", "reserved"),
        ("Jansen!", "lower-case"),
    ],
    ids=["taken_by_person", "taken_by_client", "reserved", "malformed"],
)
def test_usernames_and_client_ids_share_one_namespace(api: Api, username: str, says: str) -> None:
    """A username may not be another person's, a client's id, reserved or malformed."""
    assert (
        invoke(
            api.app, "clients", "add", "politie-bvh", "--name", "BVH", "--party", "politie"
        ).exit_code
        == 0
    )
    result = add_user(api.app, username)
    assert result.exit_code != 0 and says in result.output


def test_users_disable_ends_access_at_once_and_enable_does_not_revive_it(api: Api) -> None:
    """users disable: the token already issued is 401 on the next request, the list says
    disabled, the time is recorded; users enable: the same token stays 401 (naming iat), a new
    token works. Both are audited."""
    token = api.token("bakker")
    assert api.client.get("/api/v1/convenant", headers=bearer(token)).status_code == 200
    result = invoke(api.app, "users", "disable", "bakker")
    assert result.exit_code == 0, result.output
    refused = api.client.get("/api/v1/convenant", headers=bearer(token))
    assert refused.status_code == 401 and refused.json["code"] == "invalid_token"
    line = next(
        x for x in invoke(api.app, "users", "list").output.splitlines() if x.startswith("bakker ")
    )
    assert "disabled" in line
    assert invoke(api.app, "token", "bakker").exit_code != 0
    disabled = person(api.app, "bakker")
    assert disabled is not None and disabled.disabled_at is not None
    enabled = invoke(api.app, "users", "enable", "bakker")
    assert enabled.exit_code == 0 and "stay refused" in enabled.output
    after = person(api.app, "bakker")
    assert after is not None and not after.disabled and after.disabled_at == disabled.disabled_at
    refused = api.client.get("/api/v1/convenant", headers=bearer(token))
    assert refused.status_code == 401 and "iat" in refused.json["detail"]
    api.clock_ahead(1)  # iat counts whole seconds: a token of the disable's second is refused
    fresh = invoke(api.app, "token", "bakker")
    assert fresh.exit_code == 0, fresh.output
    new_token = fresh.output.strip().splitlines()[-1]
    assert api.client.get("/api/v1/convenant", headers=bearer(new_token)).status_code == 200
    assert api.client.get("/api/v1/convenant", headers=bearer(token)).status_code == 401
    assert [e.person_id for e in events(api, "person.disable")] == ["bakker"]
    assert [e.person_id for e in events(api, "person.enable")] == ["bakker"]
    assert invoke(api.app, "users", "disable", "niemand").exit_code != 0


def test_users_set_password_from_stdin(api: Api) -> None:
    """users set-password --password-stdin replaces the hash; the old password no longer
    matches; audited without the password."""
    assert add_user(api.app).exit_code == 0
    new = "Een-Ander-Wachtwoord-2026"
    result = invoke(
        api.app, "users", "set-password", "dijkstra", "--password-stdin", input=new + "\n"
    )
    assert result.exit_code == 0, result.output
    stored = person(api.app, "dijkstra")
    assert stored is not None
    assert verify_password(new, stored.password_hash)
    assert not verify_password(PASSWORD, stored.password_hash)
    assert events(api, "person.password")[-1].person_id == "dijkstra"
    assert new not in dump(api)


def test_users_add_without_a_password(api: Api) -> None:
    """--no-password: the person exists, cannot log in, and can get operator tokens."""
    result = invoke(
        api.app,
        "users",
        "add",
        "koster",
        "--name",
        "Wijkagent Kees Koster",
        "--party",
        "politie",
        "--role",
        "case_worker",
        "--no-password",
    )
    assert result.exit_code == 0, result.output
    stored = person(api.app, "koster")
    assert stored is not None and stored.password_hash is None
    assert invoke(api.app, "token", "koster").exit_code == 0


# ── clients ─────────────────────────────────────────────────────────────────────────────────


def _secret(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_clients_add_prints_the_secret_once_and_keeps_its_hash(api: Api) -> None:
    """clients add: the secret on the last line works at the token endpoint; only its hash
    is stored; clients list and the audit log never show it."""
    secret = _secret(
        invoke(api.app, "clients", "add", "school-mp", "--name", "Magister", "--party", "school")
    )
    row = client_row(api.app, "school-mp")
    assert row is not None and row.party == "school" and row.grant_types == ["client_credentials"]
    assert row.secret_hash and secret not in row.secret_hash
    assert verify_secret(secret, row.secret_hash)
    response = client_token(api, secret, "school-mp")
    assert response.status_code == 200, response.json
    listed = invoke(api.app, "clients", "list").output
    assert "school-mp" in listed and "confidential" in listed and secret not in listed
    assert events(api, "client.create")[-1].client_id == "school-mp"
    assert secret not in dump(api)


def test_clients_rotate_secret_ends_the_old_secret(api: Api) -> None:
    """rotate-secret: the old secret is refused at once, the new one works; audited."""
    old = _secret(
        invoke(api.app, "clients", "add", "politie-bvh", "--name", "BVH", "--party", "politie")
    )
    new = _secret(invoke(api.app, "clients", "rotate-secret", "politie-bvh"))
    assert new != old
    assert client_token(api, old).status_code == 401
    assert client_token(api, new).status_code == 200
    assert events(api, "client.secret_rotate")[-1].client_id == "politie-bvh"
    assert old not in dump(api) and new not in dump(api)


def test_clients_disable_ends_its_tokens(api: Api) -> None:
    """clients disable: no new token, and the token it has is 401 at once."""
    secret = _secret(
        invoke(api.app, "clients", "add", "politie-bvh", "--name", "BVH", "--party", "politie")
    )
    token = client_token(api, secret).json["access_token"]
    assert invoke(api.app, "clients", "disable", "politie-bvh").exit_code == 0
    signal = api.client.post(
        "/api/v1/signals",
        headers=bearer(token),
        json={"subject": {"bsn": "321146487"}, "fields": {"surname": "X"}},
    )
    assert signal.status_code == 401
    assert client_token(api, secret).status_code == 401
    assert "disabled" in invoke(api.app, "clients", "list").output


def test_clients_enable_does_not_revive_its_tokens(api: Api) -> None:
    """clients disable, then enable: the token it had stays 401 (naming iat), a new token
    works; the time of the disable is kept; both changes are audited."""
    secret = _secret(
        invoke(api.app, "clients", "add", "politie-bvh", "--name", "BVH", "--party", "politie")
    )
    token = client_token(api, secret).json["access_token"]
    body = {"subject": {"bsn": "321146487"}, "fields": {"surname": "X"}}
    assert api.client.post("/api/v1/signals", headers=bearer(token), json=body).status_code == 201
    assert invoke(api.app, "clients", "disable", "politie-bvh").exit_code == 0
    enabled = invoke(api.app, "clients", "enable", "politie-bvh")
    assert enabled.exit_code == 0 and "stay refused" in enabled.output
    row = client_row(api.app, "politie-bvh")
    assert row is not None and not row.disabled and row.disabled_at is not None
    refused = api.client.post("/api/v1/signals", headers=bearer(token), json=body)
    assert refused.status_code == 401 and refused.json["code"] == "invalid_token"
    assert "before its client was last disabled (iat)" in refused.json["detail"]
    api.clock_ahead(1)  # iat counts whole seconds: a token of the disable's second is refused
    fresh = client_token(api, secret)
    assert fresh.status_code == 200, fresh.json
    new = fresh.json["access_token"]
    assert api.client.post("/api/v1/signals", headers=bearer(new), json=body).status_code == 201
    assert [e.client_id for e in events(api, "client.disable")] == ["politie-bvh"]
    assert [e.client_id for e in events(api, "client.enable")] == ["politie-bvh"]


def test_a_public_client_for_persons(api: Api) -> None:
    """--public --grant authorization_code --redirect-uri: no secret printed or stored."""
    result = invoke(
        api.app,
        "clients",
        "add",
        "mt-portaal",
        "--name",
        "Portaal",
        "--party",
        "gemeente",
        "--public",
        "--grant",
        "authorization_code",
        "--redirect-uri",
        "https://portaal.example/callback",
    )
    assert result.exit_code == 0, result.output
    assert "secret" not in result.output
    row = client_row(api.app, "mt-portaal")
    assert row is not None and row.secret_hash is None
    assert row.redirect_uris == ["https://portaal.example/callback"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--public",), "confidential"),
        (("--grant", "authorization_code"), "redirect URI"),
        (("--grant", "authorization_code", "--redirect-uri", "http://portaal.example/cb"), "https"),
        (("--grant", "authorization_code", "--redirect-uri", "https://p.example/cb#x"), "fragment"),
        (("--redirect-uri", "https://p.example/cb"), "only for authorization code"),
        (("--party", "bakkerij"), "not a party"),
    ],
    ids=[
        "public_client_credentials",
        "code_without_redirect",
        "plain_http",
        "fragment",
        "redirect_without_code",
        "unknown_party",
    ],
)
def test_clients_add_refusals(api: Api, args: tuple[str, ...], says: str) -> None:
    """Combinations that make no sense or are unsafe are refused; nothing is stored."""
    party = () if "--party" in args else ("--party", "gemeente")
    result = invoke(api.app, "clients", "add", "nieuw-systeem", "--name", "Nieuw", *party, *args)
    assert result.exit_code != 0 and says in result.output, result.output
    assert client_row(api.app, "nieuw-systeem") is None


# ── keys ────────────────────────────────────────────────────────────────────────────────────


def test_keys_list_after_rotate(api: Api) -> None:
    """keys list: the signing key, and the retired key with until when it verifies."""
    with api.app.app_context():
        first = runtime().tokens.key.kid
    assert invoke(api.app, "keys", "rotate").exit_code == 0
    with api.app.app_context():
        second = runtime().tokens.key.kid
    listed = invoke(api.app, "keys", "list").output.splitlines()
    assert listed[1].split()[:2] == [second, "signing"]
    assert listed[2].split()[:2] == [first, "verifying"] and "UTC" in listed[2]


# ── demo ────────────────────────────────────────────────────────────────────────────────────


def test_demo_adds_a_partner_system_and_shows_its_secret_once(db_url: str, tmp_path: Path) -> None:
    """broker demo creates politie-bvh (politie) and the public portal; the secret it prints
    gets a token; a second run prints no secret and adds no client."""
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )
    try:
        first = invoke(app, "demo")
        assert first.exit_code == 0, first.output
        lines = first.output.splitlines()
        index = next(i for i, x in enumerate(lines) if "client secret of politie-bvh" in x)
        secret = lines[index + 1].strip()
        api = Api(app, app.test_client(), {})
        response = client_token(api, secret)
        assert response.status_code == 200, response.json
        assert client_row(app, "mt-portaal") is not None
        second = invoke(app, "demo")
        assert second.exit_code == 0 and "secret" not in second.output
        assert secret not in dump(api)
    finally:
        app.extensions["broker"].engine.dispose()
