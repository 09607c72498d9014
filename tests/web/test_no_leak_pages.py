"""Property: a withheld value never appears in any page — not in the case worker's list, case
view or refusal, not in the coordinator's triage queue or forms, and no case value at all in
the privacy officer's pages — and a value that is shown is escaped."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

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
# What the coordinator's triage (DAT-information) withholds of them: all but the identification.
WITHHELD_FROM_TRIAGE = ("guardian_name", "phone", "incidents_summary")


# each example gets a young person of its own, also when Hypothesis draws a seed again (the
# site, and so the case a seed's BSN leads to, lives on across examples)
_EXAMPLES = itertools.count()


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


def _around(value: str, page: str) -> str:
    """Where in a page a value is (for the failure message)."""
    at = max(page.find(value), page.find(str(escape(value))))
    return page[max(0, at - 300) : at + 100]


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
    """A police signal's withheld values are in none of the school's pages, the coordinator's
    triage pages nor the privacy officer's; the coordinator's pages about the case (history,
    forms, plan) hold no value at all; the values shown appear only escaped."""
    bsn = _bsn((seed + 7919 * next(_EXAMPLES)) % 90_000_000 + 10_000_000)
    # the site lives on across examples: the seed, as letters, keeps this example's values
    # apart from those of earlier ones (Hypothesis likes to draw "Zq<<<<<<Xw" more than once)
    tag = "".join(chr(ord("a") + int(digit)) for digit in str(seed))
    fields = {
        name: f"{value}{tag}"
        for name, value in zip(SHOWN_TO_SCHOOL + WITHHELD_FROM_SCHOOL, values, strict=True)
    }
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
    coordinator = site.browser("mulder")
    triage_pages = [
        text_of(coordinator.get(path))
        for path in ("/triage", f"/cases/{case_id}/track?purpose=triage")
    ]
    moved = coordinator.post(
        f"/cases/{case_id}/track",
        data={
            "csrf_token": csrf_of(triage_pages[1]),
            "purpose": "triage",
            "track": "lokaal_preventief",
            "reason": "Lokaal op te pakken",
        },
    )
    assert moved.status_code == 303, text_of(moved)
    # the coordinator's pages about the case that show no field at all
    about_pages = [text_of(coordinator.get("/triage"))] + [
        text_of(coordinator.get(f"/cases/{case_id}/{path}"))
        for path in (
            "history?purpose=casusoverleg",
            "director?purpose=casusoverleg",
            "close?purpose=uitvoering",
            "plan?purpose=casusoverleg",
        )
    ]
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
    for page in triage_pages:
        for name in WITHHELD_FROM_TRIAGE:
            assert not _appears(fields[name], page), (name, _around(fields[name], page))
        assert not re.search(rf"(?<![0-9]){bsn}(?![0-9])", page)
    assert str(escape(fields["surname"])) in triage_pages[0]  # identification is for triage
    for page in about_pages:
        for name, value in fields.items():
            assert not _appears(value, page), (name, _around(value, page))
        assert not re.search(rf"(?<![0-9]){bsn}(?![0-9])", page)
    for page in school_pages:
        for name in WITHHELD_FROM_SCHOOL:
            assert not _appears(fields[name], page), (name, _around(fields[name], page))
        assert not _appears(bsn, page)
    for page in officer_pages:
        for name, value in fields.items():
            assert not _appears(value, page), name
        assert not re.search(rf"(?<![0-9]){bsn}(?![0-9])", page)
    view = school_pages[2]
    for name in SHOWN_TO_SCHOOL:
        assert str(escape(fields[name])) in view, name
    for page in (*triage_pages, *about_pages, *school_pages, *officer_pages):
        for value in fields.values():
            if value != str(escape(value)):
                assert value not in page  # shown values are escaped, never raw HTML
