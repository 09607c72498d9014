"""Property tests: no withheld value ever leaves the broker, in a response, an audit record or a
log line; a refused signal leaves no trace of its values and stores nothing.

Log lines are read with `capsys`; `caplog` is read too but sees no broker line, because structlog
prints straight to stdout, bypassing the logging module. The broker's `configure_logging` binds
the `sys.stdout` of the moment it runs, and pytest gives capsys a new stream in every test phase,
so the test calls it again in its own phase and restores the configuration afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from audit import AuditRecord
from broker.core.observability import configure_logging
from broker.core.runtime import runtime
from broker.storage.models import Case, FieldValue, Signal, YoungPerson
from tests.broker.conftest import Api
from tests.broker.test_views_matrix import (
    BOOLEANS,
    CATEGORY_OF,
    DENIED,
    EFFECTS,
    FIELDS,
    INTEGERS,
    PARTIES,
    USERS,
    appears,
    rendered,
    suppliable,
    valid_bsn,
)

# Every demo account and its one role (gemeente has two people: coordinator and FG).
ACCOUNTS = {
    **{u: (p, "coordinator" if p == "gemeente" else "case_worker") for p, u in USERS.items()},
    "dekker": ("gemeente", "privacy_officer"),
}
# Weighted towards the purposes that show case content; "onderzoek" is no purpose at all.
PURPOSES = ("casusoverleg", "uitvoering") * 3 + ("triage", "toezicht", "inzageverzoek", "onderzoek")
NO_CASE_CONTENT = frozenset({"toezicht", "inzageverzoek"})  # convenant-matrix.md, "Always"
TRACKS = ("lokaal_preventief", "pga", "zvh") * 2 + ("signaal",)
TEXTS = frozenset(FIELDS) - BOOLEANS - INTEGERS - {"bsn", "birth_date", "postcode"}
TOO_LONG = 4001  # longer than any string or text field may be

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Decoration around a string sentinel: any character but digits (so no stray number or date
# can be mistaken for a leaked one), control characters and lone surrogates (refused as 422).
decoration = st.text(st.characters(exclude_categories=("Cs", "Cc", "Nd")), max_size=6)


class Logs:
    """The log output of the test's own phase: the broker's stdout lines and any log records."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
        self.capsys, self.caplog = capsys, caplog

    def start(self) -> None:
        """Send the broker's log lines to this phase's stdout, from now on; forget earlier ones."""
        configure_logging("DEBUG")
        self.read()

    def read(self) -> str:
        """Everything logged since the last read."""
        text = self.capsys.readouterr().out + self.caplog.text
        self.caplog.clear()
        return text


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    """Log capture for the test; structlog's configuration is restored afterwards."""
    saved = structlog.get_config()
    yield Logs(capsys, caplog)
    structlog.configure(**saved)


# ── what is sent, and where it may not show up ──────────────────────────────────────────────


@dataclass(frozen=True)
class Value:
    """A supplied value and the needle that finds it in text (None: a boolean, not findable)."""

    party: str
    field: str
    value: Any
    needle: Any


@dataclass
class Sent:
    """Everything sent about one young person, and each field's newest value."""

    bsn: str
    supplied: list[Value] = field(default_factory=list)
    current: dict[str, Value] = field(default_factory=dict)

    def record(self, party: str, fields: dict[str, Any], needles: dict[str, Any]) -> None:
        """Note a stored signal, with the BSN taken from its subject while the case has none."""
        if "bsn" not in fields and "bsn" not in self.current:
            fields, needles = {**fields, "bsn": self.bsn}, {**needles, "bsn": self.bsn}
        for name, value in fields.items():
            self.current[name] = Value(party, name, value, needles[name])
            self.supplied.append(self.current[name])

    def needles(self) -> set[Any]:
        """Every findable value sent, the BSN included."""
        return {v.needle for v in self.supplied if v.needle is not None} | {self.bsn}


def materialise(name: str, drawn: Any, bsn: str) -> tuple[Any, Any, Any]:
    """For a drawn value: what is sent, what is stored, and the needle that finds it."""
    if name == "bsn":
        return bsn, bsn, bsn
    if name in TEXTS:
        prefix, suffix = drawn
        core = f"Qz{uuid.uuid4().hex[:14]}"
        return f"{prefix}{core}{suffix}", f"{prefix}{core}{suffix}", core
    if name == "postcode":  # sent in any of the accepted spellings, stored as '8924 AB'
        digits, letters, spaced = drawn
        stored = f"{digits} {letters.upper()}"
        return f"{digits}{' ' if spaced else ''}{letters}", stored, stored
    return drawn, drawn, None if name in BOOLEANS else drawn


def value_of(name: str) -> st.SearchStrategy[Any]:
    """What is drawn for a field; `materialise` turns it into the value sent."""
    if name == "bsn":
        return st.none()
    if name in TEXTS:
        return st.tuples(decoration, decoration)
    if name in BOOLEANS:
        return st.booleans()
    if name in INTEGERS:  # five digits: findable as a number of its own
        return st.integers(10_000, 99_999)
    if name == "birth_date":  # 11 to 21 years old
        return st.dates(dt.date(2005, 1, 1), dt.date(2014, 12, 31)).map(dt.date.isoformat)
    assert name == "postcode"
    return st.tuples(
        st.integers(1000, 9999).map(str),
        st.text("ABCDEFGHJKLNPRTVXZabcdeghjklnprtvxz", min_size=2, max_size=2),
        st.booleans(),
    )


@dataclass(frozen=True)
class Plan:
    """Signals about one young person, the track the coordinator assigns, and one view."""

    track: str
    signals: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    username: str
    purpose: str


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Random signals from random suppliers, a random track, a random requester and purpose."""
    signals = []
    for _ in range(draw(st.integers(1, 4))):
        party = draw(st.sampled_from(PARTIES))
        names = draw(
            st.lists(st.sampled_from(suppliable(party)), min_size=1, max_size=14, unique=True)
        )
        signals.append((party, tuple((n, draw(value_of(n))) for n in names)))
    suppliers = sorted({USERS[party] for party, _ in signals})
    username = draw(st.sampled_from(suppliers) | st.sampled_from(sorted(ACCOUNTS)))
    return Plan(
        draw(st.sampled_from(TRACKS)), tuple(signals), username, draw(st.sampled_from(PURPOSES))
    )


def expected_view(plan: Plan, sent: Sent) -> tuple[int, dict[str, str]]:
    """The status the suite's matrix gives this view, and the effect for each value held."""
    party, role = ACCOUNTS[plan.username]
    key = (party, role, plan.purpose, plan.track)
    own = {name for name, v in sent.current.items() if v.party == party}
    if plan.purpose not in NO_CASE_CONTENT and key in EFFECTS:
        cells = EFFECTS[key]
        return 200, {n: "show" if n in own else cells[n] for n in sent.current}
    if DENIED.get(key) == "not_on_case_team":
        return (200 if own else 404), {n: "show" if n in own else "withhold" for n in sent.current}
    return 403, dict.fromkeys(sent.current, "withhold")


def submit_all(api: Api, plan: Plan, sent: Sent) -> str:
    """Send the plan's signals and assign its track; the case id."""
    case_id = ""
    for party, drawn in plan.signals:
        values = {n: materialise(n, d, sent.bsn) for n, d in drawn}
        response = api.signal(
            USERS[party], {"bsn": sent.bsn}, {n: v for n, (v, _, _) in values.items()}
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        sent.record(
            party,
            {n: v for n, (_, v, _) in values.items()},
            {n: v for n, (_, _, v) in values.items()},
        )
        case_id = response.json["case_id"]
    if plan.track != "signaal":
        response = api.track(case_id, plan.track)
        assert response.status_code == 200, response.get_data(as_text=True)
    return case_id


def audit_since(api: Api, seq: int) -> tuple[list[AuditRecord], str]:
    """The audit records after `seq`, and their text: each entry's repr and its stored bytes."""
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            records = list(rt.audit.records(session, since_seq=seq + 1))
            stored = b"".join(link.body for link in rt.audit.links(session, since_seq=seq + 1))
        finally:
            session.close()
    return records, repr([r.entry for r in records]) + stored.decode()


def audit_head(api: Api) -> int:
    """The seq of the newest audit record."""
    with api.app.app_context():
        rt = runtime()
        session = rt.sessions()
        try:
            return rt.audit.head(session).seq
        finally:
            session.close()


_SCHOOL_ON_ZVH = Plan(
    "zvh",
    (("politie", (("incidents_summary", ("", "")), ("incident_count", 12_345))),),
    "bakker",
    "uitvoering",
)


@PROPERTY
@given(plan=plans())
@example(plan=_SCHOOL_ON_ZVH)
def test_no_withheld_value_appears_in_a_response_audit_record_or_log(
    api: Api, logs: Logs, plan: Plan
) -> None:
    """A value a view withholds is in neither its body, nor the audit log, nor the logs."""
    logs.start()
    start = audit_head(api)
    sent = Sent(valid_bsn(random.Random(uuid.uuid4().int)))
    case_id = submit_all(api, plan, sent)
    party, _ = ACCOUNTS[plan.username]
    response = api.view(plan.username, case_id, plan.purpose)
    status, effects = expected_view(plan, sent)
    event(f"view answered {status}")
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    shown = set()
    if status == 200:
        disclosed = {n: e for n, e in effects.items() if e != "withhold"}
        assert response.json["fields"] == {
            n: rendered(n, e, sent.current[n].value) for n, e in disclosed.items()
        }
        assert response.json["effects"] == disclosed
        shown = {sent.current[n].needle for n, e in disclosed.items() if e == "show"}
    withheld = {
        v.needle for v in sent.supplied if v.party != party and v.needle is not None
    } - shown
    assert not [n for n in withheld if appears(n, text)], "a withheld value is in the response"
    _, audited = audit_since(api, start)
    assert response.headers["X-Request-ID"] in audited, "the view was not audited"
    assert not [n for n in sent.needles() if appears(n, audited)], "a value is in the audit log"
    logged = logs.read()
    assert response.headers["X-Request-ID"] in logged, "the view's log line was not captured"
    assert not [n for n in sent.needles() if appears(n, logged)], "a value is in the logs"


# ── refused signals ─────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class BadSignal:
    """A signal that must be refused: one sound sentinel field and one fault."""

    party: str
    fault: str  # bad_bsn | not_supplier | wrong_type | too_long
    good: str  # a field the party may supply, with a valid sentinel
    bad: str  # the field at fault ("bsn" of the subject for bad_bsn)
    decoration: tuple[str, str]


FAULTS = ("bad_bsn", "not_supplier", "wrong_type", "too_long")


@st.composite
def bad_signals(draw: st.DrawFn) -> BadSignal:
    """A party, a sentinel in a field it may supply, and a fault in the same signal."""
    party = draw(st.sampled_from(PARTIES))
    fault = draw(st.sampled_from(FAULTS))
    texts = sorted(TEXTS & set(suppliable(party)))
    good = draw(st.sampled_from(texts))
    pool = {
        "bad_bsn": ["bsn"],
        "not_supplier": sorted(set(FIELDS) - set(suppliable(party))),
        "wrong_type": sorted(set(suppliable(party)) - TEXTS),
        "too_long": [n for n in texts if n != good] or [good],
    }[fault]
    bad = draw(st.sampled_from(pool))
    return BadSignal(party, fault, good, bad, draw(st.tuples(decoration, decoration)))


def bad_body(case: BadSignal, bsn: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The subject and fields to send, and every needle they carry."""
    prefix, suffix = case.decoration
    good_core, bad_core = f"Qg{uuid.uuid4().hex[:14]}", f"Qb{uuid.uuid4().hex[:14]}"
    subject = {"bsn": bsn}
    fields: dict[str, Any] = {case.good: f"{prefix}{good_core}{suffix}"}
    needles = [good_core, bsn]
    if case.fault == "bad_bsn":
        bad = bsn[:8] + str((int(bsn[8]) + 1) % 10)
        subject, needles = {"bsn": bad}, [good_core, bad]
    elif case.fault == "too_long":
        fields[case.bad] = f"{prefix}{bad_core}{suffix}".ljust(TOO_LONG, "x")
        needles.append(bad_core)
    else:
        fields[case.bad] = f"{prefix}{bad_core}{suffix}"
        needles.append(bad_core)
    return subject, fields, needles


@PROPERTY
@given(case=bad_signals())
@example(case=BadSignal("school", "not_supplier", "school_name", "care_details", ("", "")))
@example(case=BadSignal("politie", "bad_bsn", "incidents_summary", "bsn", ("", "")))
def test_a_refused_signal_leaves_no_trace_of_its_values(
    api: Api, logs: Logs, case: BadSignal
) -> None:
    """A refused signal: 422 naming the field at fault, no value anywhere, nothing stored."""
    logs.start()
    event(case.fault)
    tables = (Signal, FieldValue, Case, YoungPerson)
    counts = [api.count(t) for t in tables]
    api.token(USERS[case.party])  # issued (and audited) before the count of records starts
    before = audit_head(api)
    subject, fields, needles = bad_body(case, valid_bsn(random.Random(uuid.uuid4().int)))
    response = api.signal(USERS[case.party], subject, fields)
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text
    assert response.json["code"] == "invalid_signal"
    at_fault = "subject.bsn" if case.fault == "bad_bsn" else f"fields.{case.bad}"
    assert at_fault in {e["field"] for e in response.json["errors"]}
    assert not [n for n in needles if appears(n, text)], "a sent value is in the refusal"
    assert [api.count(t) for t in tables] == counts, "a refused signal stored something"
    records, audited = audit_since(api, before)
    assert [(r.entry.event, r.entry.outcome) for r in records] == [("signal.create", "invalid")]
    assert not [n for n in needles if appears(n, audited)], "a sent value is in the audit log"
    logged = logs.read()
    assert response.headers["X-Request-ID"] in logged, "the refusal's log line was not captured"
    assert not [n for n in needles if appears(n, logged)], "a sent value is in the logs"


def test_text_the_database_cannot_hold_is_refused_as_invalid(api: Api) -> None:
    """A string no database can store (NUL, lone surrogate) is a 422, not a 503, and not stored."""
    for text in ("nul\x00byte", "lone\ud800surrogate"):
        bsn = valid_bsn(random.Random(uuid.uuid4().int))
        response = api.signal("jansen", {"bsn": bsn}, {"incidents_summary": text})
        assert response.status_code == 422, response.get_data(as_text=True)
        assert "fields.incidents_summary" in {e["field"] for e in response.json["errors"]}
        assert api.count(FieldValue) == 0


def test_every_field_kind_is_covered() -> None:
    """The strategies know every field's kind, and every party has fields to get right and wrong."""
    assert set(FIELDS) == TEXTS | BOOLEANS | INTEGERS | {"bsn", "birth_date", "postcode"}
    assert set(CATEGORY_OF) == set(FIELDS)
    assert all(TEXTS & set(suppliable(p)) for p in PARTIES)
    assert all(set(FIELDS) - set(suppliable(p)) for p in PARTIES)
