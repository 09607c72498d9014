"""The pages in a real browser: headless Chromium (Debian's, at /usr/bin/chromium) driven by
Playwright, against the broker served on a free port with the demo data.

A week of the MultiTeam: the wijkagent logs in and submits a signal (first with a mistake),
the coordinator triages it onto a track with a case director and writes the plan of approach,
the police and the school open the same case and see it differently, the school's mentor reads
the notification and the plan, the coordinator closes another case, and the privacy officer
logs in with a TOTP code and finds those views in the audit explorer, checks the chain,
anomalies, an access report (also printed to PDF), the convenant matrix and a diff. Every page
is kept as a screenshot under test-artifacts/web/ and checked with axe-core (no serious or
critical violation) and for Content Security Policy violations.

Without Chromium or Playwright the tests skip, saying why; with CI=true they fail instead.
axe-core comes from the `axe-playwright-python` package (a dev dependency), which ships
axe-core's axe.min.js; nothing is downloaded at test time.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from broker.identity.totp import code_at, step_at
from tests.needs import unavailable
from tests.web.site import DEMO_BSN, PASSWORD, build_site

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = os.environ.get("BROKER_CHROMIUM", "/usr/bin/chromium")
NEW_BSN = "321146487"  # the young person of the new signal (fictitious; passes the 11-check)
INCIDENTS = "Twee winkeldiefstallen bij de Albert Heijn"


def _unavailable() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BROKER_CHROMIUM)"
    try:
        importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_bytes()
    except (ImportError, OSError):
        return "axe-core is missing (pip install axe-playwright-python)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    """Skip (or, with CI=true, fail) when the browser tests cannot run."""
    problem = _unavailable()
    if problem is not None:
        unavailable(f"{problem} (the browser tests need it)")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The broker logs its own line per request."""


@dataclass
class Live:
    """The broker served over HTTP on a free port."""

    url: str
    app: Flask
    totp: dict[str, str]
    totp_steps: dict[str, int] = field(default_factory=dict)  # the last step used per person


@pytest.fixture(scope="module")
def live(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The broker with the demo data, on 127.0.0.1 and a free port (ISSUER is that URL)."""
    folder = tmp_path_factory.mktemp("web")
    apps: list[Flask] = []
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start_response: apps[0](environ, start_response),
        threaded=True,
        request_handler=_QuietHandler,
    )
    url = f"http://127.0.0.1:{server.server_port}"
    app, secrets = build_site(f"sqlite:///{folder / 'web.db'}", folder / "instance", url)
    apps.append(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(url, app, secrets)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["broker"].engine.dispose()


@pytest.fixture(scope="module")
def chromium(live: Live) -> Iterator[Any]:
    """Headless Chromium (Debian's), never a downloaded one."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visitor:
    """One person's browser tab: each page it reaches is kept and checked."""

    page: Any
    name: str
    csp_errors: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def check(self, label: str) -> None:
        """Screenshot, axe-core (no serious or critical violation) and no CSP violation."""
        self.page.wait_for_load_state("load")
        shot = f"{len(self.checked) + 1:02d}-{self.name}-{label}"
        self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        violations = axe(self.page)
        (ARTIFACTS / f"{shot}.axe.json").write_text(json.dumps(violations, indent=1))
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, f"{shot}: {serious}"
        assert not self.csp_errors, f"{shot}: {self.csp_errors}"
        self.checked.append(shot)


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))
  }));
}"""


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page (axe.min.js from axe-playwright-python)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        source = importlib.resources.files("axe_playwright_python").joinpath("axe.min.js")
        page.evaluate(source.read_text(encoding="utf-8"))
    result: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    return result


def visitor(chromium: Any, name: str) -> Visitor:
    """A fresh browser context (its own cookies) for one person."""
    context = chromium.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Visitor(page, name)

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            seen.csp_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.csp_errors.append(f"script error: {error}"))
    return seen


def log_in(live: Live, who: Visitor, username: str) -> None:
    """Log in on the authorization server's page (and its TOTP step when needed)."""
    page = who.page
    page.goto(f"{live.url}/login")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    who.check("inloggen")
    page.get_by_role("button", name="Inloggen").click()
    if username in live.totp:
        page.wait_for_selector("#code")
        who.check("tweede-factor")
        page.get_by_label("Code").fill(_fresh_code(live, username))
        page.get_by_role("button", name="Bevestigen").click()
    page.wait_for_selector("main#inhoud")


def _fresh_code(live: Live, username: str) -> str:
    """A TOTP code the broker has not seen yet: a code is used once, so a second login within
    the same 30 seconds gives the next step's (the broker accepts one step of clock drift)."""
    step = max(step_at(time.time()), live.totp_steps.get(username, -1) + 1)
    while step > step_at(time.time()) + 1:
        time.sleep(1)
    live.totp_steps[username] = step
    return code_at(live.totp[username], step)


def test_a_week_of_the_multiteam_in_the_browser(live: Live, chromium: Any) -> None:
    """Signal, two views of one case, and the privacy officer's pages, end to end."""
    # The wijkagent logs in and submits a signal, first with a mistake.
    police = visitor(chromium, "politie")
    log_in(live, police, "jansen")
    page = police.page
    assert page.get_by_role("heading", level=1).inner_text() == "Waarvoor werkt u?"
    police.check("doel-kiezen")
    page.get_by_label("casusoverleg").check()
    page.get_by_role("button", name="Casussen tonen").click()
    assert "Hoekstra" in page.inner_text("main")
    police.check("mijn-casussen")
    page.get_by_role("link", name="Signaal melden").click()
    police.check("signaal-formulier")
    page.get_by_label("Burgerservicenummer").fill("123456789")
    page.get_by_label("Aantal incidenten").fill("twee")
    page.get_by_role("button", name="Signaal versturen").click()
    summary = page.locator(".error-summary")
    assert "is geen geldig BSN" in summary.inner_text()
    assert "moet een heel getal zijn" in summary.inner_text()
    # web.js (deferred) moves the focus to the summary once the page has loaded
    page.wait_for_function("document.activeElement.classList.contains('error-summary')")
    police.check("signaal-fouten")
    page.get_by_label("Burgerservicenummer").fill(NEW_BSN)
    page.locator("#f_surname").fill("Kramer")  # the identity inputs without BSN are hidden
    page.locator("#f_given_names").fill("Jesse")
    page.locator("#f_birth_date").fill("2011-05-04")
    page.locator("#f_wijk").fill("Heechterp-Schieringen")
    page.get_by_label("Aantal incidenten").fill("2")
    page.get_by_label("Samenvatting van de incidenten").fill(INCIDENTS)
    page.get_by_role("button", name="Signaal versturen").click()
    assert "Signaal ontvangen" in page.inner_text(".notice")
    police.check("signaal-ontvangen")
    case_link = page.get_by_role("link", name="Casus openen").get_attribute("href")
    case_id = re.search(r"case-[0-9a-f]{32}", case_link or "")
    assert case_id, case_link

    # The coordinator triages it: the queue shows who signalled, not what; the track form
    # refuses a missing reason by its field; the case goes to the local preventive track with
    # the school's mentor as case director.
    coordinator = visitor(chromium, "coordinator")
    log_in(live, coordinator, "mulder")
    page = coordinator.page
    assert page.get_by_role("heading", level=1).inner_text() == "Triage"
    queue = page.locator("article", has_text=case_id.group(0))
    assert "politie" in queue.inner_text() and INCIDENTS not in page.inner_text("main")
    coordinator.check("triage")
    queue.get_by_role("link", name=re.compile("Traject toewijzen")).click()
    coordinator.check("traject-formulier")
    page.get_by_label("lokaal_preventief").check()
    page.get_by_role("button", name="Traject toewijzen").click()
    assert "Reden: mag niet leeg zijn" in page.locator(".error-summary").inner_text()
    coordinator.check("traject-fouten")
    page.get_by_label("zvh").check()  # the school is not on the ZVH case team: not offered
    assert page.locator("#case_director optgroup[label=school]").is_disabled()
    page.get_by_label("lokaal_preventief").check()
    assert page.locator("#case_director optgroup[label=school]").is_enabled()
    page.get_by_label(re.compile("^Casusregisseur")).select_option("bakker")
    page.get_by_label("Reden").fill("Lokaal op te pakken met school en wijkagent")
    page.get_by_role("button", name="Traject toewijzen").click()
    assert "lokaal_preventief" in page.inner_text(".notice")
    assert page.locator("article", has_text=case_id.group(0)).count() == 0  # out of the queue
    coordinator.check("triage-na-toewijzing")

    # The coordinator writes the plan of approach from the case view.
    page.goto(f"{live.url}/cases/{case_id.group(0)}?purpose=casusoverleg")
    coordinator.check("casus-coordinator")
    page.get_by_role("link", name="Plan van aanpak").click()
    coordinator.check("plan-nog-geen")
    page.get_by_role("link", name="Plan van aanpak schrijven").click()
    page.get_by_label("Zorgen").fill("Winkeldiefstallen en verzuim")
    page.get_by_label("Doel 1").fill("Elke dag naar school")
    page.get_by_label("Partij bij afspraak 1").select_option("school")
    page.get_by_label("Afspraak 1", exact=True).fill("Mentor spreekt Jesse wekelijks")
    page.get_by_label("Evaluatiedatum").fill("2000-01-01")
    page.get_by_role("button", name="Versie opslaan").click()
    assert "ligt in het verleden" in page.locator(".error-summary").inner_text()
    coordinator.check("plan-fouten")
    page.get_by_label("Evaluatiedatum").fill(f"{time.gmtime().tm_year + 1}-03-01")
    page.get_by_role("button", name="Versie opslaan").click()
    assert "Versie 1 van het plan van aanpak is opgeslagen" in page.inner_text(".notice")
    coordinator.check("plan")
    page.get_by_role("link", name="Terug naar de casus").click()
    page.get_by_role("link", name="Casusregisseur aanwijzen").click()
    assert "Mentor Johan Bakker" in page.get_by_label("Casusregisseur").inner_text()
    coordinator.check("casusregisseur-formulier")
    page.get_by_role("link", name="Annuleren").click()
    page.get_by_role("link", name="Geschiedenis").click()
    assert "Lokaal op te pakken met school en wijkagent" in page.inner_text("main")
    coordinator.check("geschiedenis")
    # The police open the case: their incidents in full.
    page = police.page
    page.goto(f"{live.url}{case_link}")
    police.check("casus-doel")
    page.get_by_label("casusoverleg").check()
    page.get_by_role("button", name="Casus openen").click()
    assert INCIDENTS in page.inner_text("main")
    assert "2011-05-04" in page.inner_text("main")
    police.check("casus-politie")

    # The school opens the same case: the birth year only, the incidents greyed out.
    school = visitor(chromium, "school")
    log_in(live, school, "bakker")
    page = school.page
    page.goto(f"{live.url}/cases?purpose=casusoverleg")
    page.get_by_role("link", name=re.compile(f"Openen {case_id.group(0)}")).click()
    main = page.inner_text("main")
    assert INCIDENTS not in main and "2011-05-04" not in main and "2011" in main
    row = page.locator("tr", has_text="Samenvatting van de incidenten")
    assert "Niet zichtbaar voor u" in row.inner_text()
    row.get_by_text("Waarom zie ik dit niet?").click()
    assert "Grondslag" in row.inner_text() and "Regel" in row.inner_text()
    school.check("casus-school")

    # The school's mentor, now case director, has a notification and reads the plan.
    page.get_by_role("link", name="Meldingen").click()
    assert "casusregisseur" in page.inner_text("main")
    school.check("meldingen")
    page.get_by_role("button", name=re.compile("Markeren als gelezen")).first.click()
    page.goto(f"{live.url}/cases/{case_id.group(0)}/plan?purpose=casusoverleg")
    assert "Mentor spreekt Jesse wekelijks" in page.inner_text("main")
    school.check("plan-school")

    # The coordinator closes another case straight from the queue, and looks at the figures.
    page = coordinator.page
    page.get_by_role("link", name="Triage").click()
    page.get_by_role("link", name=re.compile("Afsluiten zonder traject")).first.click()
    coordinator.check("afsluiten")
    page.get_by_label("Geen grond voor een aanpak door het MultiTeam").check()
    page.get_by_role("button", name="Casus afsluiten").click()
    assert "is afgesloten" in page.inner_text(".notice")
    coordinator.check("afgesloten")

    # The privacy officer finds both views in the audit log.
    officer = visitor(chromium, "fg")
    log_in(live, officer, "dekker")
    page = officer.page
    officer.check("auditlog")
    page.get_by_label("BSN van de jongere").fill(NEW_BSN)
    page.get_by_label("Gebeurtenis").fill("case.view")
    page.get_by_role("button", name="Zoeken").click()
    assert NEW_BSN not in page.url
    records = page.inner_text("table.records")
    assert "Wijkagent Pieter Jansen" in records and "Mentor Johan Bakker" in records
    assert "incidents_summary" in records
    officer.check("auditlog-gevonden")
    page.get_by_role("link", name="Keten").click()
    assert "Intact" in page.inner_text(".status")
    officer.check("keten")
    page.get_by_role("button", name="Nu een checkpoint maken").click()
    assert "Checkpoint gemaakt" in page.inner_text(".notice")
    officer.check("keten-checkpoint")
    page.get_by_role("link", name="Afwijkingen").click()
    officer.check("afwijkingen")
    page.get_by_role("link", name="Inzageverzoek").click()
    officer.check("inzageverzoek")
    page.get_by_label("BSN van de jongere").fill(NEW_BSN)
    page.get_by_role("button", name="Overzicht maken").click()
    report = page.inner_text("main")
    assert "Mentor Johan Bakker" in report and INCIDENTS not in report
    officer.check("inzageverzoek-overzicht")
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "inzageverzoek.pdf"), format="A4")
    page.emulate_media(media="screen")
    assert (ARTIFACTS / "inzageverzoek.pdf").read_bytes().startswith(b"%PDF")
    page.get_by_role("link", name="Convenant").click()
    officer.check("convenant-matrix")
    page.get_by_role("link", name="Twee versies vergelijken").click()
    page.get_by_role("button", name="Vergelijken").click()
    assert "Geen verschillen" in page.inner_text("main")
    officer.check("convenant-diff")
    page.get_by_role("button", name="Uitloggen").click()
    assert page.get_by_role("heading", level=1).inner_text() == "U bent uitgelogd"
    officer.check("uitgelogd")
    page.goto(f"{live.url}/privacy/audit")
    assert "/oauth/authorize" in page.url  # the session is gone

    for seen in (police, school, coordinator, officer):
        seen.page.context.close()


def test_the_coordinator_reads_the_monitoring_dashboard(live: Live, chromium: Any) -> None:
    """The coordinator opens Monitoring from the menu: three charts with their tables, another
    period through the month inputs, the CSV download, and a bad period named by its field."""
    coordinator = visitor(chromium, "monitoring")
    log_in(live, coordinator, "mulder")
    page = coordinator.page
    page.get_by_role("link", name="Monitoring").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Monitoring"
    assert page.locator("svg[role=img]").count() == 3
    assert page.locator("table.figures").count() == 4
    coordinator.check("monitoring")
    page.get_by_label("Van (maand)").fill("2026-01")
    page.get_by_label("Tot en met (maand)").fill("2026-03")
    page.get_by_label("Per", exact=True).select_option("quarter")
    page.get_by_role("button", name="Tonen").click()
    assert "from=2026-01&to=2026-03&by=quarter" in page.url
    coordinator.check("monitoring-kwartaal")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download als CSV").click()
    assert download.value.suggested_filename == "monitoring-2026-01-2026-03.csv"
    page.get_by_label("Tot en met (maand)").fill("2025-01")
    page.get_by_role("button", name="Tonen").click()
    summary = page.locator(".error-summary")
    assert "mag niet vóór de eerste maand liggen" in summary.inner_text()
    # web.js (deferred) moves the focus to the summary once the page has loaded
    page.wait_for_function("document.activeElement.classList.contains('error-summary')")
    coordinator.check("monitoring-fout")
    page.context.close()


def test_the_pages_work_with_the_keyboard_and_in_english(live: Live, chromium: Any) -> None:
    """The skip link is the first stop and moves the focus to the content; the reason a
    field is withheld opens with the keyboard; the pages switch to English."""
    school = visitor(chromium, "toetsenbord")
    log_in(live, school, "bakker")
    page = school.page
    page.goto(f"{live.url}/cases/{_demo_case(live)}?purpose=casusoverleg")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "inhoud"
    why = page.locator("tr", has_text="Samenvatting van de incidenten").locator("summary")
    why.focus()
    page.keyboard.press("Enter")
    assert (
        page.locator("tr", has_text="Samenvatting van de incidenten")
        .locator("details")
        .get_attribute("open")
        is not None
    )
    school.check("toetsenbord")
    page.get_by_role("button", name="English").click()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "Why can't I see this?" in page.inner_text("main")
    school.check("english")
    page.context.close()


def test_the_checks_can_fail(live: Live, chromium: Any) -> None:
    """axe-core finds an unlabelled input on a page without a language, and a blocked inline
    script is reported: a clean page means something."""
    seen = visitor(chromium, "controle")
    page = seen.page
    page.route(
        f"{live.url}/controle",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": "script-src 'self'"},
            body="<html><body><input><script>document.title = 'x';</script></body></html>",
        ),
    )
    page.goto(f"{live.url}/controle")
    found = {v["id"] for v in axe(page)}
    assert {"label", "html-has-lang"} <= found
    assert any("Content Security Policy" in error for error in seen.csp_errors)
    page.context.close()


def _demo_case(live: Live) -> str:
    from tests.web.conftest import Site

    return Site(live.app, live.totp).case_of(DEMO_BSN)
