"""Property: a withheld value never appears in any page — not in the case worker's list, case
view or refusal, and no case value at all in the privacy officer's pages — and a value that is
shown is escaped."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from broker.commands import issue_token
from tests.strategies import page_sentinels
from tests.web.conftest import Site, csrf_of, text_of

PROPERTY = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# What the police supply and what the school, on track lokaal_preventief, gets of it
# (convenant-matrix.md): the name and the wijk in full, the rest of the address, the contact
# data and the police data not at all.
SHOWN_TO_SCHOOL = ("surname", "given_names", "wijk")
WITHHELD_FROM_SCHOOL = ("street", "city", "guardian_name", "phone", "incidents_summary")


def _bsn(seed: int) -> str:
    """A nine-digit number passing the eleven-check, from a seed."""
    digits = [int(ch) for ch in f"{seed:08d}"[-8:]]
    digits[0] = digits[0] or 1
    check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
    if check == 10:
        digits[7] = (digits[7] + 1) % 10
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
    return "".join(map(str, digits)) + str(check)


def _appears(value: str, page: str) -> bool:
    """Whether a value is in a page, raw or as HTML escapes it."""
    return value in page or str(escape(value)) in page


@PROPERTY
@given(
    values=st.lists(
        page_sentinels,
        min_size=len(SHOWN_TO_SCHOOL + WITHHELD_FROM_SCHOOL),
        max_size=len(SHOWN_TO_SCHOOL + WITHHELD_FROM_SCHOOL),
        unique=True,
    ),
    seed=st.integers(10_000_000, 99_999_999),
)
def test_no_withheld_value_in_any_page(site: Site, values: list[str], seed: int) -> None:
    """A police signal's withheld values are in none of the school's pages nor the privacy
    officer's; the values shown to the school appear only escaped."""
    bsn = _bsn(seed)
    fields = dict(zip(SHOWN_TO_SCHOOL + WITHHELD_FROM_SCHOOL, values, strict=True))
    police = site.browser("jansen")
    token = csrf_of(text_of(police.get("/signals/new")))
    posted = police.post(
        "/signals/new",
        data={
            "csrf_token": token,
            "subject_mode": "bsn",
            "subject_bsn": bsn,
            **{f"f_{name}": value for name, value in fields.items()},
            "f_incident_count": "2",
        },
    )
    assert posted.status_code == 303, text_of(posted)
    case_id = site.case_of(bsn)
    before_triage = text_of(site.browser("bakker").get(f"/cases/{case_id}?purpose=casusoverleg"))
    with site.app.app_context():
        coordinator = issue_token("mulder")
    moved = site.app.test_client().post(
        f"/api/v1/cases/{case_id}/track",
        json={"track": "lokaal_preventief", "reason": "Lokaal op te pakken"},
        headers={"Authorization": f"Bearer {coordinator}"},
    )
    assert moved.status_code == 200, moved.json
    school = site.browser("bakker")
    school_pages = [before_triage] + [
        text_of(school.get(path))
        for path in (
            "/cases?purpose=casusoverleg",
            f"/cases/{case_id}?purpose=casusoverleg",
            f"/cases/{case_id}?purpose=uitvoering",
            f"/cases/{case_id}?purpose=toezicht",
        )
    ]
    officer = site.browser("dekker")
    report_form = text_of(officer.get("/privacy/access-report"))
    officer_pages = [
        text_of(officer.get(f"/privacy/audit?case_id={case_id}")),
        text_of(officer.get("/privacy/anomalies")),
        text_of(
            officer.post(
                "/privacy/access-report", data={"csrf_token": csrf_of(report_form), "bsn": bsn}
            )
        ),
    ]
    for page in school_pages:
        for name in WITHHELD_FROM_SCHOOL:
            assert not _appears(fields[name], page), name
        assert not _appears(bsn, page)
    for page in officer_pages:
        for name, value in fields.items():
            assert not _appears(value, page), name
        assert not re.search(rf"(?<![0-9]){bsn}(?![0-9])", page)
    view = school_pages[2]
    for name in SHOWN_TO_SCHOOL:
        assert str(escape(fields[name])) in view, name
    for page in (*school_pages, *officer_pages):
        for value in fields.values():
            if value != str(escape(value)):
                assert value not in page  # shown values are escaped, never raw HTML
