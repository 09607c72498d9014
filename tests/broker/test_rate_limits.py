"""Limits on case views, counted from the shared audit log: a per-person rate (429 with
Retry-After, audited as refused) that holds across broker processes, and the bulk-view alarm
raised the moment a person opens more young people in an hour than allowed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import pytest

from broker.core.limits import check_view_rate
from broker.core.problems import Problem
from broker.core.runtime import runtime
from broker.storage.models import utcnow
from tests.broker.conftest import Api
from tests.broker.test_privacy_api import (
    Young,
    configured,  # noqa: F401  (a fixture)
    officer,
    sentinel,
    young_person,
)
from tests.broker.test_views_matrix import valid_bsn


def pupils(api: Api, count: int, seed: int) -> list[Young]:
    """Young people with a school signal each, on a track the school's mentor may view."""
    rng = random.Random(seed)
    return [
        young_person(
            api,
            valid_bsn(rng),
            "lokaal_preventief",
            [("bakker", {"school_name": sentinel("school", "school"), "dropout_risk": True})],
        )
        for _ in range(count)
    ]


def test_views_over_the_rate_are_refused_with_retry_after(
    configured: Callable[..., Api],  # noqa: F811
) -> None:
    """With a limit of 3 a minute the 4th view is a 429 problem with Retry-After, audited as
    a refused case.view; another person is not limited by it."""
    api = configured(VIEW_RATE_LIMIT=3)
    (young,) = pupils(api, 1, seed=1)
    for _ in range(3):
        assert api.view("bakker", young.case_id).status_code == 200
    refused = api.view("bakker", young.case_id)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and refused.json["retry_after"] == retry_after
    body = refused.get_data(as_text=True)
    assert not any(str(v) in body for v in young.values)
    last = api.audit_records()[-1].entry
    assert (last.event, last.outcome, last.person_id) == ("case.view", "denied", "bakker")
    assert (last.detail["status"], last.detail["reason"]) == (429, "rate_limited")
    assert api.view("jansen", young.case_id, purpose="casusoverleg").status_code != 429


def test_the_rate_holds_across_broker_processes(
    configured: Callable[..., Api],  # noqa: F811
) -> None:
    """Two brokers on one database share the count: views on one use up the other's rate."""
    first = configured(VIEW_RATE_LIMIT=2)
    second = configured(VIEW_RATE_LIMIT=2)
    (young,) = pupils(first, 1, seed=2)
    assert first.view("bakker", young.case_id).status_code == 200
    assert second.view("bakker", young.case_id).status_code == 200
    assert first.view("bakker", young.case_id).status_code == 429
    assert second.view("bakker", young.case_id).status_code == 429


def test_the_rate_window_is_one_minute(configured: Callable[..., Api]) -> None:  # noqa: F811
    """Views older than a minute no longer count (the clock passed in)."""
    api = configured(VIEW_RATE_LIMIT=2)
    (young,) = pupils(api, 1, seed=3)
    for _ in range(2):
        assert api.view("bakker", young.case_id).status_code == 200
    with api.app.app_context():
        session = runtime().sessions()
        try:
            now = utcnow()
            with pytest.raises(Problem) as refused:
                check_view_rate(session, "bakker", 2, now)
            assert refused.value.status == 429
            check_view_rate(session, "bakker", 3, now)
            check_view_rate(session, "bakker", 2, now + dt.timedelta(seconds=61))
        finally:
            session.close()


def test_bulk_views_raise_one_alarm_when_the_limit_is_crossed(
    configured: Callable[..., Api],  # noqa: F811
) -> None:
    """Opening a 3rd young person in an hour (limit 2) writes alarm.bulk_views at that view —
    person and count, no young person — once; the anomalies list it."""
    api = configured(BULK_VIEW_LIMIT=2)
    kids = pupils(api, 4, seed=4)
    for young in kids[:2]:
        assert api.view("bakker", young.case_id).status_code == 200
    assert api.view("bakker", kids[0].case_id).status_code == 200  # the same one again
    assert [r for r in api.audit_records() if r.entry.event == "alarm.bulk_views"] == []
    crossing = api.view("bakker", kids[2].case_id)
    assert crossing.status_code == 200
    records = api.audit_records()
    alarm = records[-1]
    assert records[-2].entry.request_id == crossing.headers["X-Request-ID"]
    assert alarm.entry.event == "alarm.bulk_views" and alarm.entry.outcome == "success"
    assert alarm.entry.person_id == "bakker" and alarm.entry.subject is None
    assert (alarm.entry.detail["person"], alarm.entry.detail["young_people"]) == ("bakker", 3)
    dumped = repr(alarm.entry) + alarm.body.decode()
    assert not any(str(v) in dumped for young in kids for v in young.values)
    assert api.view("bakker", kids[3].case_id).status_code == 200
    alarms = [r for r in api.audit_records() if r.entry.event == "alarm.bulk_views"]
    assert [r.seq for r in alarms] == [alarm.seq]
    found = officer(api, "/api/v1/audit/anomalies")
    assert found.status_code == 200, found.get_data(as_text=True)
    assert [a["seq"] for a in found.json["alarms"]] == [alarm.seq]
    assert api.audit_records()[-1].entry.detail["alarms"] == 1
