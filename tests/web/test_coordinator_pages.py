"""The coordinator's and the case team's pages through Flask's test client: the triage queue
with its matches, assigning a track and a case director, closing a case, the plan of approach
(read by the case team, written by the coordinator or the case director, versioned), the
history and the notifications — each decided and audited as the API does it, and a refused or
invalid form changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from broker.cli.service import issue_token
from broker.core.runtime import transaction
from broker.storage.models import Case, Notification, Person, PlanVersion, TrackChange
from tests.broker.casework_support import rows
from tests.web.conftest import Site, csrf_of, text_of

SCHOOL_ONLY_BSN = "691682483"  # scenario 4: only the school signalled, still in track signaal
NEXT_YEAR = str(dt.date.today().year + 1)


def _api(site: Site, username: str, method: str, path: str, **kw: Any) -> TestResponse:
    with site.app.app_context():
        token = issue_token(username)
    call = getattr(site.app.test_client(), method)
    response: TestResponse = call(
        f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kw
    )
    return response


def _post(client: FlaskClient, path: str, form_page: str, **data: str) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_of(form_page), **data})


def _errors(page: str) -> dict[str, str]:
    """The per-input problems of a form page: input id → its problems."""
    return dict(re.findall(r'<p class="field-error" id="([^"]+)-fout">([^<]*)</p>', page))


def _case(site: Site, case_id: str) -> Case:
    with site.app.app_context(), transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        session.expunge(found)
        return found


def _person_id(site: Site, username: str) -> int:
    with site.app.app_context(), transaction() as session:
        return int(session.scalars(select(Person.id).where(Person.username == username)).one())


def _moved(site: Site, case_id: str, track: str = "lokaal_preventief", **extra: str) -> None:
    client = site.browser("mulder")
    form = text_of(client.get(f"/cases/{case_id}/track?purpose=triage"))
    answer = _post(
        client,
        f"/cases/{case_id}/track",
        form,
        purpose="triage",
        track=track,
        reason="Lokaal op te pakken",
        **extra,
    )
    assert answer.status_code == 303, text_of(answer)


# ── the triage queue ────────────────────────────────────────────────────────────────────────


def test_the_coordinator_starts_on_the_triage_queue_which_is_the_apis(any_site: Site) -> None:
    """After login the coordinator lands on the queue: the same cases, in the same order, with
    the same matches as GET /api/v1/triage; one triage.list record per case listed."""
    client = any_site.login("mulder")
    assert client.get("/").headers["Location"] == "/triage"
    page = text_of(client.get("/triage"))
    api = _api(any_site, "mulder", "get", "/triage").json
    listed = re.findall(r'<article aria-labelledby="q-(case-[0-9a-f]{32})">', page)
    assert listed == [item["case_id"] for item in api["items"]] and listed
    for item in api["items"]:
        article = page.split(f'aria-labelledby="q-{item["case_id"]}"')[1].split("</article>")[0]
        for match in item["matches"]:
            label = {
                "second_party": "Signalen van meer dan één partij",
                "address": "Andere casus op hetzelfde adres",
                "parent": "Andere jongere met dezelfde ouder of verzorger",
            }[match["kind"]]
            assert label in article
            if match.get("case_id"):
                assert f"/cases/{match['case_id']}?purpose=triage" in article
        for party in item["involvement"]["parties"]:
            assert party in article
    assert any(m["kind"] != "second_party" for i in api["items"] for m in i["matches"])
    listings = [e for e in any_site.entries() if e.event == "triage.list"]
    assert {e.case_id for e in listings[-len(listed) :]} == set(listed)


@pytest.mark.parametrize("username", ["jansen", "dekker"])
def test_the_coordinators_pages_are_refused_to_others(site: Site, username: str) -> None:
    """A case worker or the privacy officer gets 403 on the coordinator's pages and forms;
    a post changes nothing; each refusal is audited."""
    client = site.login(username)
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    token = csrf_of(text_of(client.get("/", follow_redirects=True)))
    was = rows(site)  # type: ignore[arg-type]
    for path in ("/triage", *(f"/cases/{case_id}/{p}" for p in ("track", "director", "close"))):
        assert client.get(path).status_code == 403, path
    for path, data in (
        ("track", {"track": "pga", "reason": "PGA"}),
        ("director", {"case_director": "jansen", "reason": "x"}),
        ("close", {"reason_code": "geen_grond"}),
    ):
        answer = client.post(f"/cases/{case_id}/{path}", data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
    assert rows(site) == was  # type: ignore[arg-type]
    refused = [e for e in site.entries() if e.outcome == "denied" and e.person_id == username]
    assert len(refused) >= 7
    assert {e.event for e in refused} >= {"triage.list", "track.change", "case.close"}


# ── the track, the case director, closing ───────────────────────────────────────────────────


def test_a_track_form_with_problems_names_each_field_and_changes_nothing(any_site: Site) -> None:
    """No track, no reason, a case director of a party not on the track's case team: each
    problem beside its input, 422, nothing written, the refusal audited."""
    client = any_site.login("mulder")
    case_id = any_site.case_of(SCHOOL_ONLY_BSN)
    form = text_of(client.get(f"/cases/{case_id}/track?purpose=triage"))
    was = rows(any_site)  # type: ignore[arg-type]
    answer = _post(client, f"/cases/{case_id}/track", form, purpose="triage", reason=" ")
    assert answer.status_code == 422
    errors = _errors(text_of(answer))
    assert set(errors) == {"track", "reason"}, errors
    assert "moet een van deze zijn" in errors["track"]
    answer = _post(
        client,
        f"/cases/{case_id}/track",
        form,
        purpose="triage",
        track="lokaal_preventief",
        reason="Lokaal",
        case_director="smit",  # woningcorporatie: not on the local preventive case team
    )
    assert answer.status_code == 422
    assert "woningcorporatie" in _errors(text_of(answer))["case_director"]
    assert 'value="Lokaal"' not in text_of(answer)  # a textarea keeps its text inside
    assert ">Lokaal</textarea>" in text_of(answer)
    assert rows(any_site) == was  # type: ignore[arg-type]
    invalid = [e for e in any_site.entries() if e.event == "track.change"]
    assert [e.outcome for e in invalid[-2:]] == ["invalid", "invalid"]


def test_assigning_a_track_with_a_director_notifies_and_returns_to_the_queue(
    any_site: Site,
) -> None:
    """The case leaves the queue, its track and director are set and in its history, the
    director and the persons of the joining parties are notified, and it is audited."""
    client = any_site.login("mulder")
    case_id = any_site.case_of(SCHOOL_ONLY_BSN)
    form = text_of(client.get(f"/cases/{case_id}/track?purpose=triage"))
    answer = _post(
        client,
        f"/cases/{case_id}/track",
        form,
        purpose="triage",
        track="lokaal_preventief",
        reason="School en wijkagent pakken het op",
        case_director="bakker",
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/triage"
    queue = text_of(client.get("/triage"))
    assert "is toegewezen aan traject lokaal_preventief" in queue
    assert f'aria-labelledby="q-{case_id}"' not in queue
    case = _case(any_site, case_id)
    assert case.track == "lokaal_preventief"
    assert case.case_director_id == _person_id(any_site, "bakker")
    history = text_of(client.get(f"/cases/{case_id}/history?purpose=casusoverleg"))
    assert "School en wijkagent pakken het op" in history and "Mentor Johan Bakker" in history
    for username in ("bakker", "jansen", "devries"):  # the director; police and youth care join
        page = text_of(any_site.login(username).get("/notifications"))
        assert case_id in page, username
    assert any(e.event == "track.change" and e.case_id == case_id for e in any_site.entries())


def test_the_same_track_again_is_a_problem_of_the_form(site: Site) -> None:
    """Assigning the track a case is in changes nothing and says so beside the track."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id)
    client = site.browser("mulder")
    form = text_of(client.get(f"/cases/{case_id}/track?purpose=casusoverleg"))
    was = rows(site)  # type: ignore[arg-type]
    answer = _post(
        client,
        f"/cases/{case_id}/track",
        form,
        purpose="casusoverleg",
        track="lokaal_preventief",
        reason="Nog eens",
    )
    assert answer.status_code == 422
    assert _errors(text_of(answer)) == {"track": "de casus zit al in dit traject"}
    assert rows(site) == was  # type: ignore[arg-type]


def test_naming_a_case_director(site: Site) -> None:
    """Only persons of the case team's parties are offered; a director of another party is
    refused by its field; the named one is notified and shown on the case."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id)
    client = site.browser("mulder")
    form = text_of(client.get(f"/cases/{case_id}/director?purpose=casusoverleg"))
    offered = set(re.findall(r'<option value="([a-z]+)"', form))
    assert "bakker" in offered and "smit" not in offered and "dekker" not in offered
    answer = _post(client, f"/cases/{case_id}/director", form, case_director="bos", reason="ZVH")
    assert answer.status_code == 422 and "case_director" in _errors(text_of(answer))
    answer = _post(
        client,
        f"/cases/{case_id}/director",
        form,
        purpose="casusoverleg",
        case_director="devries",
        reason="Jeugdhulp heeft het beste contact",
    )
    assert answer.status_code == 303
    view = text_of(client.get(answer.headers["Location"]))
    assert "devries is nu casusregisseur" in view
    assert _case(site, case_id).case_director_id == _person_id(site, "devries")
    notes = text_of(site.login("devries").get("/notifications"))
    assert "U bent casusregisseur van casus " + case_id in notes


def test_closing_a_case(any_site: Site) -> None:
    """Closing needs a reason code; closed, the case's history says why, its forms offer no
    more changes, and a second close is refused without a change."""
    client = any_site.login("mulder")
    case_id = any_site.case_of(SCHOOL_ONLY_BSN)
    form = text_of(client.get(f"/cases/{case_id}/close?purpose=triage"))
    was = rows(any_site)  # type: ignore[arg-type]
    answer = _post(client, f"/cases/{case_id}/close", form, purpose="triage", note="Geen zorg")
    assert answer.status_code == 422 and "reason_code" in _errors(text_of(answer))
    assert rows(any_site) == was  # type: ignore[arg-type]
    answer = _post(
        client,
        f"/cases/{case_id}/close",
        form,
        purpose="triage",
        reason_code="geen_grond",
        note="Na gesprek met school: geen zorgen",
    )
    assert answer.status_code == 303
    history = text_of(client.get(answer.headers["Location"]))
    assert "Casus " + case_id + " is afgesloten." in history
    assert "Na gesprek met school: geen zorgen" in history and "geen_grond" in history
    case = _case(any_site, case_id)
    assert case.closed_at is not None and case.close_reason == "geen_grond"
    assert "al afgesloten" in text_of(client.get(f"/cases/{case_id}/close?purpose=triage"))
    assert "afgesloten; het traject" in text_of(client.get(f"/cases/{case_id}/track"))
    was = rows(any_site)  # type: ignore[arg-type]
    again = _post(client, f"/cases/{case_id}/close", form, purpose="triage", reason_code="verhuisd")
    assert again.status_code == 409
    assert rows(any_site) == was  # type: ignore[arg-type]


def test_the_case_view_offers_the_coordinators_acts(site: Site) -> None:
    """The coordinator's case view links the plan, the history and the three acts; a case
    worker's the plan and the history only."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id)
    mine = text_of(site.browser("mulder").get(f"/cases/{case_id}?purpose=casusoverleg"))
    for endpoint in ("plan", "history", "track", "director", "close"):
        assert f"/cases/{case_id}/{endpoint}?purpose=casusoverleg" in mine, endpoint
    theirs = text_of(site.browser("bakker").get(f"/cases/{case_id}?purpose=casusoverleg"))
    assert f"/cases/{case_id}/plan?purpose=casusoverleg" in theirs
    assert f"/cases/{case_id}/track" not in theirs and f"/cases/{case_id}/close" not in theirs


# ── the plan of approach ────────────────────────────────────────────────────────────────────


def _plan_form(client: FlaskClient, case_id: str) -> str:
    response = client.get(f"/cases/{case_id}/plan/edit?purpose=casusoverleg")
    assert response.status_code == 200, text_of(response)
    return text_of(response)


def _plan(**parts: str) -> dict[str, str]:
    return {
        "purpose": "casusoverleg",
        "concerns": "Verzuim en winkeldiefstal",
        "goal-1": "Elke dag naar school",
        "agreement-1-party": "school",
        "agreement-1-text": "Mentor spreekt hem wekelijks",
        "review_date": f"{NEXT_YEAR}-02-01",
        **parts,
    }


def test_the_plan_is_written_in_versions_and_read_by_the_case_team(any_site: Site) -> None:
    """The coordinator writes version 1, the case director version 2 from a form filled in
    with version 1; the case team reads either; a party off the team gets 404."""
    case_id = any_site.case_of(SCHOOL_ONLY_BSN)
    _moved(any_site, case_id, case_director="bakker")
    coordinator = any_site.browser("mulder")
    empty = coordinator.get(f"/cases/{case_id}/plan?purpose=casusoverleg")
    assert empty.status_code == 404 and "nog geen plan van aanpak" in text_of(empty)
    form = _plan_form(coordinator, case_id)
    saved = _post(coordinator, f"/cases/{case_id}/plan/edit", form, **_plan(base_version="0"))
    assert saved.status_code == 303
    assert "Versie 1 van het plan" in text_of(coordinator.get(saved.headers["Location"]))
    mentor = any_site.browser("bakker")
    form = _plan_form(mentor, case_id)
    assert "Mentor spreekt hem wekelijks</textarea>" in form  # filled in with version 1
    assert 'name="base_version" value="1"' in form
    body = _plan(**{"goal-2": "Een bijbaan vinden", "base_version": "1"})
    assert _post(mentor, f"/cases/{case_id}/plan/edit", form, **body).status_code == 303
    police = any_site.browser("jansen")
    newest = text_of(police.get(f"/cases/{case_id}/plan?purpose=uitvoering"))
    assert "Een bijbaan vinden" in newest and "2 van 2" in newest
    assert "Mentor Johan Bakker" in newest
    older = text_of(police.get(f"/cases/{case_id}/plan?purpose=uitvoering&version=1"))
    assert "Een bijbaan vinden" not in older and "U bekijkt versie 1" in older
    assert "plan/edit" not in newest  # the police neither write nor are offered the form
    assert police.get(f"/cases/{case_id}/plan/edit?purpose=uitvoering").status_code == 403
    housing = any_site.browser("smit")
    assert housing.get(f"/cases/{case_id}/plan?purpose=casusoverleg").status_code == 404
    with any_site.app.app_context(), transaction() as session:
        versions = session.scalars(
            select(PlanVersion.version).where(PlanVersion.case_id == case_id)
        ).all()
    assert sorted(versions) == [1, 2]
    reads = [e for e in any_site.entries() if e.event == "plan.view" and e.case_id == case_id]
    assert {e.person_id for e in reads} >= {"jansen", "bakker"}


def test_a_plan_with_problems_names_each_input_and_saves_nothing(site: Site) -> None:
    """Blank concerns, no goal, an agreement with a party off the case team and a review date
    in the past: each problem beside its own input; nothing saved, the refusal audited."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id)
    client = site.browser("mulder")
    form = _plan_form(client, case_id)
    was = rows(site)  # type: ignore[arg-type]
    body = _plan(
        concerns="   ",
        **{
            "goal-1": "",
            "agreement-1-party": "",
            "agreement-1-text": "",
            "agreement-2-party": "woningcorporatie",
            "agreement-2-text": "Huurachterstand bespreken",
            "review_date": "01-01-2001",
            "base_version": "0",
        },
    )
    answer = _post(client, f"/cases/{case_id}/plan/edit", form, **body)
    assert answer.status_code == 422
    errors = _errors(text_of(answer))
    assert set(errors) == {"concerns", "goal-1", "agreement-2-party", "review_date"}, errors
    assert "ligt in het verleden" in errors["review_date"]
    assert "casusteam" in errors["agreement-2-party"]
    assert "Huurachterstand bespreken</textarea>" in text_of(answer)  # kept for correcting
    assert rows(site) == was  # type: ignore[arg-type]
    writes = [e for e in site.entries() if e.event == "plan.write" and e.case_id == case_id]
    assert [e.outcome for e in writes] == ["invalid"]


def test_a_plan_saved_meanwhile_is_not_overwritten_unseen(site: Site) -> None:
    """Two writers start from the same version: the second save is refused (409) with its
    text kept and a link to the newer version; saving again, knowingly, makes version 3."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id, case_director="bakker")
    coordinator, mentor = site.browser("mulder"), site.browser("bakker")
    first = _plan_form(coordinator, case_id)
    _post(coordinator, f"/cases/{case_id}/plan/edit", first, **_plan(base_version="0"))
    theirs, mine = _plan_form(coordinator, case_id), _plan_form(mentor, case_id)
    body = _plan(**{"goal-1": "Vaker sporten", "base_version": "1"})
    assert _post(coordinator, f"/cases/{case_id}/plan/edit", theirs, **body).status_code == 303
    was = rows(site)  # type: ignore[arg-type]
    late = _plan(**{"goal-1": "Stage zoeken", "base_version": "1"})
    answer = _post(mentor, f"/cases/{case_id}/plan/edit", mine, **late)
    assert answer.status_code == 409
    page = text_of(answer)
    assert "Intussen is er een nieuwere versie" in page and 'value="Stage zoeken"' in page
    assert 'name="base_version" value="2"' in page
    assert rows(site) == was  # type: ignore[arg-type]
    again = _post(mentor, f"/cases/{case_id}/plan/edit", page, **{**late, "base_version": "2"})
    assert again.status_code == 303
    assert "Stage zoeken" in text_of(mentor.get(f"/cases/{case_id}/plan?purpose=casusoverleg"))


def test_the_plan_pages_ask_for_the_purpose_first(site: Site) -> None:
    """Without a purpose the plan and the history ask for it first; the plan only offers the
    purposes that show case content."""
    client = site.browser("mulder")
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    plan = text_of(client.get(f"/cases/{case_id}/plan"))
    assert "Waarvoor opent u deze casus?" in plan
    assert 'value="casusoverleg"' in plan and 'value="triage"' not in plan
    history = text_of(client.get(f"/cases/{case_id}/history"))
    assert 'value="triage"' in history


# ── notifications ───────────────────────────────────────────────────────────────────────────


def test_notifications_are_ones_own_and_marked_read(any_site: Site) -> None:
    """A person sees their own notifications, marks one read (audited); another person's
    notification cannot be marked (404, unchanged)."""
    case_id = any_site.case_of(SCHOOL_ONLY_BSN)
    _moved(any_site, case_id, case_director="bakker")
    mentor = any_site.browser("bakker")
    page = text_of(mentor.get("/notifications?unread=1"))
    ids = re.findall(r'action="/notifications/([0-9]+)/read"', page)
    unread = _unread(page)
    newest = page.split(f'action="/notifications/{ids[0]}/read"')[0]
    assert ids and unread == len(ids) and case_id in newest  # newest first
    done = mentor.post(
        f"/notifications/{ids[0]}/read", data={"csrf_token": csrf_of(page), "unread": "1"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/notifications?unread=1"
    page = text_of(mentor.get("/notifications?unread=1"))
    assert _unread(page) == unread - 1 and f"/notifications/{ids[0]}/read" not in page
    assert "gelezen op" in text_of(mentor.get("/notifications"))
    police = any_site.browser("jansen")
    theirs = text_of(police.get("/notifications"))
    other = re.findall(r'action="/notifications/([0-9]+)/read"', theirs)[0]
    with any_site.app.app_context(), transaction() as session:
        before = session.get(Notification, int(other))
        assert before is not None and before.read_at is None
    refused = mentor.post(f"/notifications/{other}/read", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 404
    with any_site.app.app_context(), transaction() as session:
        after = session.get(Notification, int(other))
        assert after is not None and after.read_at is None
    reads = [e for e in any_site.entries() if e.event == "notification.read"]
    assert [e.outcome for e in reads] == ["success", "not_found"]


def _unread(page: str) -> int:
    found = re.search(r"([0-9]+) ongelezen van", page)
    assert found, page
    return int(found.group(1))


def test_the_history_shows_every_step(site: Site) -> None:
    """Intake, track, director and close, oldest first, with who decided and why."""
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    _moved(site, case_id, case_director="bakker")
    client = site.browser("mulder")
    form = text_of(client.get(f"/cases/{case_id}/director?purpose=casusoverleg"))
    _post(client, f"/cases/{case_id}/director", form, case_director="devries", reason="Wissel")
    form = text_of(client.get(f"/cases/{case_id}/close?purpose=uitvoering"))
    _post(client, f"/cases/{case_id}/close", form, reason_code="doel_bereikt")
    page = text_of(client.get(f"/cases/{case_id}/history?purpose=uitvoering"))
    steps = re.findall(
        r"<td>(signaal ontvangen|traject gewijzigd|casusregisseur gewijzigd|afgesloten)</td>",
        page,
    )
    assert steps == [
        "signaal ontvangen",
        "traject gewijzigd",
        "casusregisseur gewijzigd",
        "afgesloten",
    ]
    assert "Doelen van het plan van aanpak bereikt" in page and "Wissel" in page
    with site.app.app_context(), transaction() as session:
        kinds = session.scalars(
            select(TrackChange.kind).where(TrackChange.case_id == case_id).order_by(TrackChange.id)
        ).all()
    assert len(kinds) == len(steps)


def test_the_coordinators_pages_are_in_english_too(site: Site) -> None:
    """After the language switch the queue, the forms and the plan page speak English."""
    client = site.browser("mulder")
    case_id = site.case_of(SCHOOL_ONLY_BSN)
    page = text_of(client.get("/triage"))
    switched = client.post(
        "/language", data={"csrf_token": csrf_of(page), "lang": "en", "next": "/triage"}
    )
    assert switched.status_code == 303
    queue = text_of(client.get("/triage"))
    assert "Assign a track" in queue and "Traject toewijzen" not in queue
    assert "Signals from more than one party" in queue or "No matches." in queue
    form = text_of(client.get(f"/cases/{case_id}/close?purpose=triage"))
    assert "No ground for an approach by the MultiTeam" in form and "Afsluiten" not in form
    answer = _post(client, f"/cases/{case_id}/track", form, purpose="triage", reason="x")
    assert "must be one of: lokaal_preventief, pga, zvh" in text_of(answer)
