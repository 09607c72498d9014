"""Audit entries validate on construction, so that no field value can slip into the log."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import EFFECTS, AuditEntry, AuditEntryError, AuditRecord, looks_like_bsn, seal
from audit.chain import GENESIS_HASH
from tests.strategies import audit_entries


def entry(**changes: object) -> AuditEntry:
    fields: dict[str, object] = {"event": "case.view", "action": "read", "outcome": "success"}
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def test_a_full_entry_is_accepted_and_normalised() -> None:
    """A complete entry keeps its values; mappings are sorted and read-only, withheld sorted."""
    e = entry(
        person_id="politie:w.agent",
        person_name="Wijkagent De Vries",
        on_behalf_of="gemeente:coord-1",
        role="case_worker",
        party="politie",
        client_id="broker-web",
        purpose="casusoverleg",
        legal_basis="Wpg art. 20",
        subject="psn:Zm9vYmFy",
        case_id="case-7f3a",
        fields_disclosed={"surname": "show", "bsn": "mask", "birth_date": "generalise"},
        fields_withheld=["care_details", "bsn_history", "care_details"],
        convenant_hash="sha256:" + "ab" * 32,
        request_id="0b8f6c1e-8a51-4d0c-9f1e-2f0f5b0c9d11",
        source_address="::ffff:10.0.0.1",
        detail={"status": 200, "rule_ids": "pga.politie.identification", "partial": True},
    )
    assert list(e.fields_disclosed) == ["birth_date", "bsn", "surname"]
    assert e.fields_withheld == ("bsn_history", "care_details")
    assert list(e.detail) == ["partial", "rule_ids", "status"]
    with pytest.raises(TypeError):
        e.detail["extra"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event": "Case View"}, "event"),
        ({"action": "peek"}, "action"),
        ({"outcome": "maybe"}, "outcome"),
        ({"fields_disclosed": {"Surname": "show"}}, "fields_disclosed"),
        ({"fields_disclosed": {"surname": "De Vries"}}, "fields_disclosed.surname"),
        ({"fields_disclosed": ["surname"]}, "fields_disclosed"),
        ({"fields_withheld": ("surname value",)}, "fields_withheld"),
        ({"fields_withheld": "surname"}, "fields_withheld"),
        ({"fields_disclosed": {"bsn": "mask"}, "fields_withheld": ("bsn",)}, "fields_withheld"),
        ({"subject": "123456782"}, "subject"),
        ({"subject": "1234.56.782"}, "subject"),
        ({"subject": "psn:123456782"}, "subject"),
        ({"subject": "4711"}, "subject"),
        ({"subject": "Jan de Vries"}, "subject"),
        ({"case_id": "case-123456782"}, "case_id"),
        ({"person_name": "Jan\nde Vries"}, "person_name"),
        ({"person_name": ""}, "person_name"),
        ({"legal_basis": "x" * 201}, "legal_basis"),
        ({"party": "Politie"}, "party"),
        ({"convenant_hash": "deadbeef"}, "convenant_hash"),
        ({"source_address": "somewhere"}, "source_address"),
        ({"detail": {"Status": 200}}, "detail key"),
        ({"detail": {"bsn": "123456782"}}, "detail.bsn"),
        ({"detail": {"note": "zoek 1234 56 782 op"}}, "detail.note"),
        ({"detail": {"n": 123456782}}, "detail.n"),
        ({"detail": {"n": -999999999}}, "detail.n"),
        ({"detail": {"ratio": 0.5}}, "detail.ratio"),
        ({"detail": {"value": {"surname": "De Vries"}}}, "detail.value"),
        ({"detail": {"values": ["De Vries"]}}, "detail.values"),
        ({"detail": {"text": "x" * 201}}, "detail.text"),
        ({"detail": {"text": "a\tb"}}, "detail.text"),
        ({"detail": {f"k{i}": i for i in range(33)}}, "detail"),
    ],
)
def test_value_like_or_malformed_content_is_refused(changes: dict[str, object], field: str) -> None:
    """Anything that is not a name, an id, an effect or short metadata is refused, by field."""
    with pytest.raises(AuditEntryError, match=f"'{field}'"):
        entry(**changes)


@given(st.from_regex(r"[0-9]{9}", fullmatch=True), st.sampled_from(["", "bsn ", "x:", "("]))
def test_nine_digit_runs_never_pass_as_detail(bsn: str, prefix: str) -> None:
    """A nine-digit run (the shape of a BSN) is refused in detail text and as a detail number."""
    with pytest.raises(AuditEntryError):
        entry(detail={"note": prefix + bsn})
    if not bsn.startswith("0"):
        with pytest.raises(AuditEntryError):
            entry(detail={"n": int(bsn)})


@given(st.uuids())
def test_uuids_and_hex_pseudonyms_do_not_look_like_a_bsn(value: object) -> None:
    """Ordinary ids (request UUIDs, hex pseudonyms) are never mistaken for a BSN."""
    text = str(value)
    assert not looks_like_bsn(text)
    assert not looks_like_bsn("psn:" + text.replace("-", "") * 2)


@given(audit_entries())
def test_generated_entries_are_valid_and_stable(e: AuditEntry) -> None:
    """Re-validating an entry's own fields gives the same entry."""
    again = AuditEntry(**{f.name: getattr(e, f.name) for f in dataclasses.fields(e) if f.init})
    assert again == e


def test_effects_match_the_convenant_engine() -> None:
    """The effects an entry may name are exactly the engine's effects."""
    policies = pytest.importorskip("policies")
    assert {effect.value for effect in policies.Effect} == EFFECTS


def test_a_record_refuses_a_naive_time_and_bad_hashes() -> None:
    """A sealed record needs an aware time, a UUID event id, and hex hashes."""
    good = seal(entry(), seq=1, prev_hash=GENESIS_HASH, time=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(AuditEntryError):
        AuditRecord(1, good.event_id, datetime(2026, 1, 1), good.prev_hash, good.hash, good.entry)
    with pytest.raises(AuditEntryError):
        AuditRecord(1, "not-a-uuid", good.time, good.prev_hash, good.hash, good.entry)
    with pytest.raises(AuditEntryError):
        AuditRecord(1, good.event_id, good.time, good.prev_hash, "ABC", good.entry)
    with pytest.raises(AuditEntryError):
        AuditRecord(0, good.event_id, good.time, good.prev_hash, good.hash, good.entry)
