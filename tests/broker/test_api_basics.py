"""The API end to end: health, a signal in, the case view out, audited."""

from __future__ import annotations

from broker.storage.models import Case, FieldValue, Signal
from tests.broker.conftest import Api

BSN = "725763863"


def test_health_and_readiness(api: Api) -> None:
    """/healthz answers; /readyz checks the database and the audit head."""
    assert api.client.get("/healthz").json == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["database"] == "ok"


def test_signal_opens_a_case_in_signaal_and_lands_on_it_again(api: Api) -> None:
    """A new young person opens a case in track signaal; a second signal lands on the same case."""
    first = api.signal("jansen", {"bsn": BSN}, {"surname": "Hoekstra", "incident_count": 2})
    assert first.status_code == 201, first.json
    assert first.json["new_case"] is True
    second = api.signal("bakker", {"bsn": BSN}, {"attendance_problem": True})
    assert second.status_code == 201
    assert second.json["case_id"] == first.json["case_id"] and second.json["new_case"] is False
    view = api.view("mulder", first.json["case_id"], purpose="triage")
    assert view.status_code == 200
    assert view.json["track"] == "signaal"
    assert view.json["fields"]["bsn"] == "******863"
    assert view.json["involvement"]["parties"] == ["politie", "school"]
    assert view.json["involvement"]["categories"] == ["identification", "police", "school"]
    assert "incident_count" not in view.json["fields"]


def test_every_read_and_write_is_audited_without_values(api: Api) -> None:
    """A signal and a view each leave an audit record naming fields, never their values."""
    case_id = api.signal("jansen", {"bsn": BSN}, {"surname": "Hoekstra-Sentinel"}).json["case_id"]
    api.view("mulder", case_id, purpose="triage")
    records = api.audit_records()
    events = [r.entry.event for r in records if r.entry.event != "token.issue"]
    assert events == ["signal.create", "case.view"]
    view = records[-1].entry
    assert view.case_id == case_id and view.purpose == "triage" and view.role == "coordinator"
    assert view.fields_disclosed["bsn"] == "mask"
    assert view.subject and view.subject.startswith("yp-")
    dump = repr([r.entry for r in records]) + "".join(r.body.decode() for r in records)
    assert "Hoekstra-Sentinel" not in dump and BSN not in dump


def test_without_a_token_nothing_is_stored(api: Api) -> None:
    """No bearer token: 401 problem+json, and no signal stored."""
    response = api.signal(None, {"bsn": BSN}, {"surname": "X"})  # type: ignore[arg-type]
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "missing_token"
    assert api.count(Signal) == api.count(Case) == api.count(FieldValue) == 0
    assert api.audit_records()[-1].entry.outcome == "unauthorized"
