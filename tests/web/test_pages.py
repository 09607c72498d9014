"""The web pages through Flask's test client: login through the broker's own OAuth (PKCE and
TOTP), sessions and CSRF, the case worker's and the privacy officer's pages, their security
headers, and no withheld value in any page."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from broker.core.runtime import runtime, transaction
from broker.identity.accounts import set_person_disabled
from broker.storage.models import FieldValue, OAuthClient, Signal
from broker.web.i18n import EN
from broker.web.session import WEB_CLIENT_ID
from tests.web.conftest import (
    DEMO_BSN,
    DEMO_INCIDENTS,
    Site,
    build_site,
    csrf_of,
    form_of,
    log_in,
    text_of,
)

ROOT = Path(__file__).resolve().parents[2]
CASE_PAGES = ("/", "/cases", "/cases?purpose=casusoverleg", "/signals/new")
COORDINATOR_PAGES = ("/triage", "/dashboard", "/notifications")
OFFICER_PAGES = (
    "/privacy/audit",
    "/privacy/chain",
    "/privacy/anomalies",
    "/privacy/access-report",
    "/privacy/convenant",
    "/privacy/convenant/diff",
)


# ── logging in ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "path",
    [
        *CASE_PAGES,
        *COORDINATOR_PAGES,
        *OFFICER_PAGES,
        *(f"/cases/case-{'0' * 32}{end}" for end in ("", "/track", "/plan", "/history")),
    ],
)
def test_pages_need_a_login(site: Site, path: str) -> None:
    """Without a session every page sends the browser to /login, remembering where it was."""
    response = site.client().get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query).get("next") == [path]


def test_login_is_an_authorization_code_flow_with_pkce_and_audited(any_site: Site) -> None:
    """/login sends the browser to the authorization server with an S256 challenge and a
    state; the callback's exchange is a token issue of the pages' client, audited."""
    client = any_site.client()
    start = client.get("/login")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert urlsplit(start.headers["Location"]).path == "/oauth/authorize"
    assert query["client_id"] == [WEB_CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == ["http://localhost/callback"] and query["state"][0]
    assert log_in(client, "jansen").headers["Location"] == "/"
    issued = [e for e in any_site.entries() if e.event == "token.issue" and e.person_id == "jansen"]
    assert [(e.client_id, e.outcome, e.detail["grant_type"]) for e in issued] == [
        (WEB_CLIENT_ID, "success", "authorization_code")
    ]
    logins = [e for e in any_site.entries() if e.event == "login" and e.person_id == "jansen"]
    assert [(e.client_id, e.outcome) for e in logins] == [(WEB_CLIENT_ID, "success")]
    assert client.get("/cases").status_code == 200


def test_the_web_client_is_registered_once_as_a_public_pkce_client(site: Site) -> None:
    """The pages' client is created at the first login (audited), public, for the callback
    under ISSUER, and not again."""
    site.login("jansen")
    site.login("bakker")
    with site.app.app_context(), transaction() as session:
        client = session.scalars(
            select(OAuthClient).where(OAuthClient.client_id == WEB_CLIENT_ID)
        ).one()
        assert client.secret_hash is None
        assert client.grant_types == ["authorization_code"]
        assert client.redirect_uris == ["http://localhost/callback"]
    created = [e for e in site.entries() if e.event == "client.create"]
    assert [e.client_id for e in created].count(WEB_CLIENT_ID) == 1


def test_a_callback_with_another_state_is_refused(site: Site) -> None:
    """A code with a state the session did not make (login CSRF) is not exchanged."""
    client = site.client()
    client.get("/login")
    response = client.get("/callback?code=abc&state=not-the-one")
    assert response.status_code == 400
    assert client.get("/cases").status_code == 302
    assert not [e for e in site.entries() if e.event == "token.issue" and e.person_id]


def test_the_privacy_officer_logs_in_with_a_totp_code(site: Site) -> None:
    """The privacy officer's login asks a code after the password; with it, the pages open."""
    client = site.client()
    start = client.get("/login")
    page = client.get(start.headers["Location"])
    action, token = form_of(text_of(page))
    second = client.post(action, data={"csrf_token": token, "username": "dekker", "password": ""})
    assert "onjuist" in text_of(second)
    client = site.login("dekker")
    assert client.get("/").headers["Location"].endswith("/privacy/audit")
    assert client.get("/privacy/audit").status_code == 200


def test_a_disabled_person_is_out_at_once(any_site: Site) -> None:
    """Disabling a person ends their session on the next request, and that is audited."""
    client = any_site.login("jansen")
    assert client.get("/cases").status_code == 200
    with any_site.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", True)
    response = client.get("/cases?purpose=casusoverleg")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    ended = [e for e in any_site.entries() if e.event == "web.session"]
    assert [(e.person_id, e.outcome, e.detail["reason"]) for e in ended] == [
        ("jansen", "unauthorized", "invalid_token")
    ]
    assert not [e for e in any_site.entries() if e.event == "case.list" and e.person_id == "jansen"]


def test_logout_clears_the_session(site: Site) -> None:
    """After logging out (a form with its CSRF token) the pages need a login again."""
    client = site.login("bakker")
    token = csrf_of(text_of(client.get("/signals/new")))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/logged-out"
    assert client.get("/cases").status_code == 302


# ── safety ──────────────────────────────────────────────────────────────────────────────────


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(any_site: Site) -> None:
    """A signal, a logout or a checkpoint without (or with a wrong) CSRF token is a 400 and
    nothing is stored."""
    client = any_site.login("jansen")
    signals = any_site.count(Signal)
    body = {"subject_mode": "bsn", "subject_bsn": "321146487", "f_surname": "Kramer"}
    assert client.post("/signals/new", data=body).status_code == 400
    assert client.post("/signals/new", data={**body, "csrf_token": "wrong"}).status_code == 400
    assert client.post("/logout", data={}).status_code == 400
    assert any_site.count(Signal) == signals
    assert client.get("/cases").status_code == 200  # still logged in
    officer = any_site.login("dekker")
    assert officer.post("/privacy/chain/checkpoint", data={}).status_code == 400
    refused = [e for e in any_site.entries() if e.detail.get("code") == "csrf_invalid"]
    assert {e.event for e in refused} == {"signal.create", "web.request", "audit.checkpoint"}


def test_pages_send_strict_security_headers_and_cookies(site: Site) -> None:
    """Every page has a CSP without 'unsafe-inline', no framing, no referrer; the session
    cookie is HttpOnly and SameSite=Lax."""
    client = site.client()
    start = client.get("/login")
    cookie = start.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    client = site.login("jansen")
    for path in CASE_PAGES[1:]:
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_secure_when_the_issuer_is_https(tmp_path: Path) -> None:
    """With an https ISSUER the session cookie carries Secure."""
    app, _ = build_site(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "i", "https://localhost")
    try:
        response = app.test_client().get("/login", base_url="https://localhost")
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        app.extensions["broker"].engine.dispose()


def _pages(client: FlaskClient, case_id: str) -> list[str]:
    return [
        text_of(client.get(path))
        for path in (*CASE_PAGES[1:], f"/cases/{case_id}?purpose=casusoverleg")
    ]


def test_no_page_has_inline_script_or_style(site: Site) -> None:
    """Scripts and styles come only from static files (so the CSP needs no 'unsafe-inline')."""
    pages = _pages(site.login("jansen"), site.case_of(DEMO_BSN))
    officer = site.login("dekker")
    pages += [text_of(officer.get(path)) for path in OFFICER_PAGES]
    coordinator = site.login("mulder")
    case_id = site.case_of("691682483")  # scenario 4: in track signaal
    pages += [text_of(coordinator.get(path)) for path in COORDINATOR_PAGES]
    pages += [
        text_of(coordinator.get(f"/cases/{case_id}/{path}"))
        for path in ("track", "close", "history?purpose=triage")
    ]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert "<style" not in page and not re.search(r"\sstyle=", page)
        assert re.search(r'<html lang="(nl|en)">', page)
        assert 'class="skip-link" href="#inhoud"' in page


# ── the case worker ─────────────────────────────────────────────────────────────────────────


def test_the_purpose_is_chosen_before_a_case_opens(site: Site) -> None:
    """Opening a case without a purpose asks for it first, and reads nothing of the case."""
    client = site.login("bakker")
    case_id = site.case_of(DEMO_BSN)
    before = len(site.entries())
    page = text_of(client.get(f"/cases/{case_id}"))
    assert 'name="purpose" value="casusoverleg"' in page and 'value="uitvoering"' in page
    assert 'value="triage"' not in page  # not a purpose of a case worker
    assert len(site.entries()) == before
    assert client.get(f"/cases/{case_id}?purpose=toezicht").status_code == 403


def test_the_police_and_the_school_see_the_same_case_differently(any_site: Site) -> None:
    """The police see their incidents in full; the school sees the birth year only and the
    incidents greyed out with the rule, the legal basis and why."""
    case_id = any_site.case_of(DEMO_BSN)
    police = text_of(any_site.login("jansen").get(f"/cases/{case_id}?purpose=casusoverleg"))
    school = text_of(any_site.login("bakker").get(f"/cases/{case_id}?purpose=casusoverleg"))
    assert DEMO_INCIDENTS in police
    assert DEMO_INCIDENTS not in school
    assert re.search(r"<td class=\"value\">\d{4}-\d{2}-\d{2}</td>", police)
    assert re.search(r"<td class=\"value\">\d{4}</td>", school)  # the birth year
    assert "badge-generalise" in school and "Waarom zie ik dit niet?" in school
    assert "SCH-ADRES" in school and "minimale gegevensverwerking" in school
    views = [e for e in any_site.entries() if e.event == "case.view" and e.case_id == case_id]
    assert [(e.person_id, e.purpose, e.outcome) for e in views] == [
        ("jansen", "casusoverleg", "success"),
        ("bakker", "casusoverleg", "success"),
    ]
    assert "incidents_summary" in views[1].fields_withheld


def test_a_case_of_another_track_is_not_found_and_audited(site: Site) -> None:
    """The school asking for a case it is not on the team of gets 404, audited as a refusal."""
    client = site.login("bakker")
    case_id = site.case_of("192285142")  # scenario 3: track zvh, the school is not on it
    response = client.get(f"/cases/{case_id}?purpose=casusoverleg")
    assert response.status_code == 404
    refused = [e for e in site.entries() if e.event == "case.view" and e.person_id == "bakker"]
    assert [(e.outcome, e.case_id, e.detail["reason"]) for e in refused] == [
        ("not_found", case_id, "not_on_case_team")
    ]


def test_my_cases_lists_what_the_api_lists(site: Site) -> None:
    """The list holds the open cases on the party's tracks, with what it may see of names."""
    page = text_of(site.login("bakker").get("/cases?purpose=uitvoering"))
    listed = set(re.findall(r"/cases/(case-[0-9a-f]{32})\?purpose=uitvoering", page))
    assert site.case_of(DEMO_BSN) in listed
    assert site.case_of("192285142") not in listed
    assert "Hoekstra" in page


def test_a_signal_with_problems_names_each_field_and_stores_nothing(site: Site) -> None:
    """Every problem is shown beside its field, in Dutch, without the value; nothing is
    stored and the refusal is audited."""
    client = site.login("jansen")
    token = csrf_of(text_of(client.get("/signals/new")))
    signals = site.count(Signal)
    response = client.post(
        "/signals/new",
        data={
            "csrf_token": token,
            "subject_mode": "bsn",
            "subject_bsn": "123456780",
            "f_incident_count": "veel-xyz",
            "f_birth_date": "2999-01-01",
        },
    )
    page = text_of(response)
    assert response.status_code == 422
    summary = page[
        page.index('class="error-summary"') : page.index("</div>", page.index("error-summary"))
    ]
    assert "Burgerservicenummer: is geen geldig BSN" in summary
    assert "Aantal incidenten: moet een heel getal zijn" in summary
    assert "veel-xyz" not in summary and "123456780" not in summary
    assert 'aria-invalid="true"' in page and 'aria-describedby="f_incident_count-fout"' in page
    assert site.count(Signal) == signals
    future = client.post(
        "/signals/new",
        data={
            "csrf_token": token,
            "subject_bsn": DEMO_BSN,
            "f_birth_date": "2999-01-01",
        },
    )
    assert "Geboortedatum: ligt in de toekomst" in text_of(future)
    assert site.count(Signal) == signals
    refused = [e for e in site.entries() if e.event == "signal.create"][-2:]
    assert [(e.outcome, e.detail["problems"]) for e in refused] == [("invalid", 2), ("invalid", 1)]


def test_a_signal_is_stored_and_acknowledged(any_site: Site) -> None:
    """A valid signal opens a case (in track signaal) and the form says so once."""
    client = any_site.login("jansen")
    token = csrf_of(text_of(client.get("/signals/new")))
    response = client.post(
        "/signals/new",
        data={
            "csrf_token": token,
            "subject_mode": "identity",
            "subject_surname": "Kramer",
            "subject_given_names": "Jesse",
            "subject_birth_date": "04-05-2011",
            "subject_postcode": "8924aa",
            "subject_house_number": "3",
            "f_incident_count": "2",
            "f_suspect": "ja",
            "summary": "Twee keer aangehouden.",
        },
    )
    assert response.status_code == 303
    receipt = text_of(client.get(response.headers["Location"]))
    assert "Signaal ontvangen" in receipt and "nieuwe casus" in receipt
    assert "Signaal ontvangen" not in text_of(client.get("/signals/new"))
    with any_site.app.app_context(), transaction() as session:
        rows = session.scalars(select(FieldValue).order_by(FieldValue.id.desc()).limit(7))
        stored = {v.field: v.value for v in rows}
    assert stored["incident_count"] == 2 and stored["suspect"] is True
    assert stored["postcode"] == "8924 AA" and stored["birth_date"] == "2011-05-04"


# ── the privacy officer ─────────────────────────────────────────────────────────────────────


def test_the_officer_pages_are_for_the_privacy_officer_only(site: Site) -> None:
    """A case worker asking for the audit log is refused (403), and that is audited."""
    client = site.login("jansen")
    for path in OFFICER_PAGES:
        assert client.get(path).status_code == 403, path
    refused = [e for e in site.entries() if e.event == "audit.query" and e.person_id == "jansen"]
    assert [(e.outcome, e.detail["code"]) for e in refused] == [("denied", "purpose_not_for_role")]


def test_the_explorer_finds_views_by_bsn_without_the_bsn_in_the_url(any_site: Site) -> None:
    """A posted BSN becomes the young person's pseudonym in the URL; the page lists the
    views of that young person's case by party, with the fields and effects."""
    case_id = any_site.case_of(DEMO_BSN)
    any_site.login("bakker").get(f"/cases/{case_id}?purpose=casusoverleg")
    officer = any_site.login("dekker")
    token = csrf_of(text_of(officer.get("/privacy/audit")))
    response = officer.post(
        "/privacy/audit", data={"csrf_token": token, "bsn": DEMO_BSN, "event": "case.view"}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert DEMO_BSN not in location and "subject=yp-" in location
    page = text_of(officer.get(location))
    assert DEMO_BSN not in page
    assert "Mentor Johan Bakker" in page and "school / case_worker" in page
    assert "birth_date (gegeneraliseerd)" in page and "incidents_summary" in page
    queries = [e for e in any_site.entries() if e.event == "audit.query"]
    assert queries[-1].detail["by_bsn"] is True and queries[-1].subject


def test_the_explorer_refuses_bad_filters_by_field(site: Site) -> None:
    """A wrong filter is named beside its input (422) and the refusal is audited."""
    officer = site.login("dekker")
    response = officer.get("/privacy/audit?outcome=maybe&since=gisteren")
    assert response.status_code == 422
    page = text_of(response)
    assert "kies een waarde uit de lijst" in page and "is geen datum of tijd" in page
    refused = [e for e in site.entries() if e.event == "audit.query"][-1]
    assert (refused.outcome, refused.detail["code"]) == ("invalid", "invalid_filters")


def test_chain_status_and_a_checkpoint(any_site: Site) -> None:
    """The chain page says how far the chain verifies; a checkpoint made there shows up."""
    officer = any_site.login("dekker")
    page = text_of(officer.get("/privacy/chain"))
    assert re.search(r"Intact: geverifieerd tot en met volgnummer \d+\.", page)
    response = officer.post("/privacy/chain/checkpoint", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    page = text_of(officer.get(response.headers["Location"]))
    assert "Checkpoint gemaakt bij volgnummer" in page
    assert re.search(r"Laatste checkpoint</dt><dd>volgnummer \d+, op ", page)
    assert "Intact" in text_of(officer.get("/privacy/chain?deep=1"))


def test_a_form_with_problems_is_not_shown_when_its_refusal_cannot_be_audited(
    site: Site,
) -> None:
    """Fail closed: when the refusal of a form with problems cannot be written to the audit
    log, the page is a 503 saying so instead of the form, and nothing is stored."""
    police, officer = site.login("jansen"), site.login("dekker")
    token = csrf_of(text_of(police.get("/signals/new")))
    signals = site.count(Signal)
    with site.app.app_context():
        engine = runtime().engine
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_record RENAME TO audit_record_away"))
    answers = [
        police.post("/signals/new", data={"csrf_token": token, "subject_bsn": "1"}),
        officer.get("/privacy/audit?party=Not-A-Party"),
        officer.get("/privacy/anomalies?since=gisteren"),
    ]
    for answer in answers:
        assert answer.status_code == 503, text_of(answer)
        assert "auditlog kon niet worden geschreven" in text_of(answer)
    assert site.count(Signal) == signals


def test_anomalies_show_refusals(site: Site) -> None:
    """A refused case view shows up on the anomalies page."""
    case_id = site.case_of("192285142")
    site.login("bakker").get(f"/cases/{case_id}?purpose=casusoverleg")
    page = text_of(site.login("dekker").get("/privacy/anomalies"))
    assert "Geweigerde pogingen" in page and "Mentor Johan Bakker" in page


def test_the_access_report_names_fields_and_views_never_values(site: Site) -> None:
    """The printable report lists the data held, from whom, and who saw it; not the values."""
    case_id = site.case_of(DEMO_BSN)
    site.login("bakker").get(f"/cases/{case_id}?purpose=casusoverleg")
    officer = site.login("dekker")
    form = text_of(officer.get("/privacy/access-report"))
    bad = officer.post("/privacy/access-report", data={"csrf_token": csrf_of(form), "bsn": "1"})
    assert bad.status_code == 422 and "is geen geldig BSN" in text_of(bad)
    page = text_of(
        officer.post("/privacy/access-report", data={"csrf_token": csrf_of(form), "bsn": DEMO_BSN})
    )
    assert "Wie heeft welke gegevens ingezien" in page and "data-print" in page
    assert "Mentor Johan Bakker" in page and "Geboortedatum" in page
    assert DEMO_INCIDENTS not in page and "Hoekstra" not in page and DEMO_BSN not in page


def test_the_convenant_matrix_names_a_rule_for_every_cell(site: Site) -> None:
    """The matrix page shows each party's effect and rule per field, and the CSV has it all."""
    officer = site.login("dekker")
    page = text_of(officer.get("/privacy/convenant?track=pga&purpose=casusoverleg"))
    assert "SCH-GEBOORTEJAAR" in page and "woningcorporatie" in page
    csv = officer.get("/privacy/convenant/matrix.csv")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("track,party")


def test_the_convenant_diff_compares_listed_files_and_uploads_only(site: Site) -> None:
    """Only files listed from the instance folder can be chosen (no path from the form); a
    changed version shows what becomes hidden; a broken upload shows its problems."""
    folder = Path(site.app.instance_path) / "convenants"
    folder.mkdir()
    text = (ROOT / "convenant.yaml").read_text(encoding="utf-8")
    changed = text.replace('version: "1.0"', 'version: "1.1"')
    changed = re.sub(r"  - id: SCH-GEBOORTEJAAR\n(?:    .*\n)+", "", changed, count=1)
    assert "SCH-GEBOORTEJAAR" not in changed
    (folder / "convenant-1.1.yaml").write_text(changed, encoding="utf-8")
    officer = site.login("dekker")
    form = text_of(officer.get("/privacy/convenant/diff"))
    assert 'value="convenant-1.1.yaml"' in form
    token = csrf_of(form)
    page = text_of(
        officer.post(
            "/privacy/convenant/diff",
            data={"csrf_token": token, "old": "(in force)", "new": "convenant-1.1.yaml"},
        )
    )
    assert "wordt verborgen" in page and "birth_date" in page
    escape = officer.post(
        "/privacy/convenant/diff",
        data={"csrf_token": token, "old": "../../convenant.yaml", "new": "(in force)"},
    )
    assert escape.status_code == 422 and "Kies een bestand uit de lijst" in text_of(escape)
    broken = officer.post(
        "/privacy/convenant/diff",
        data={
            "csrf_token": token,
            "old": "(in force)",
            "upload": (io.BytesIO(b"rules: [1"), "x.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422 and "De nieuwe versie kan niet worden geladen" in text_of(
        broken
    )
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    aliased = officer.post(
        "/privacy/convenant/diff",
        data={
            "csrf_token": token,
            "old": "(in force)",
            "upload": (io.BytesIO(bomb.encode()), "b.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert aliased.status_code == 422 and "YAML-aliassen" in text_of(aliased)
    shutil.rmtree(folder)


# ── language ────────────────────────────────────────────────────────────────────────────────


def test_english_is_available_and_every_text_is_translated(site: Site) -> None:
    """The language switch turns the pages into English; every Dutch text of the pages has
    an English translation."""
    client = site.login("bakker")
    page = text_of(client.get("/cases?purpose=casusoverleg"))
    assert '<html lang="nl">' in page and "Mijn casussen" in page
    response = client.post(
        "/language",
        data={"csrf_token": csrf_of(page), "lang": "en", "next": "/cases?purpose=casusoverleg"},
    )
    assert response.headers["Location"] == "/cases?purpose=casusoverleg"
    page = text_of(client.get(response.headers["Location"]))
    assert '<html lang="en">' in page and "My cases" in page and "Mijn casussen" not in page
    missing = [text for text in _page_texts() if text not in EN]
    assert not missing, missing


def _page_texts() -> list[str]:
    """Every translatable text of the templates and the web package."""
    from broker.web import coordinator, i18n, team

    web = ROOT / "broker"
    texts: list[str] = []
    for path in sorted((web / "templates" / "web").glob("*.html")):
        source = path.read_text(encoding="utf-8")
        texts += re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"', source)
        texts += re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'", source)
    for path in sorted((web / "web").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        texts += re.findall(r'gettext\(\s*"((?:[^"\\]|\\.)*)"', source)
        texts += re.findall(r'register_nav\(\s*"[^"]+",\s*"((?:[^"\\]|\\.)*)"', source)
    return texts + i18n.texts() + coordinator.texts() + team.texts()


def test_the_coordinator_sees_involvement_for_triage(site: Site) -> None:
    """For triage the coordinator's case view shows the DAT information: which categories
    hold data and which parties signalled, not the content."""
    client = site.login("mulder")
    case_id = site.case_of("691682483")  # scenario 4: only the school signalled
    page = text_of(client.get(f"/cases/{case_id}?purpose=triage"))
    assert "Betrokkenheid (DAT-informatie)" in page and "Signaal van school" in page
    assert "OSG Piter Jelles" not in page  # the school's data itself is not shown
