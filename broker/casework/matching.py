"""Match keys: keyed hashes of a young person's address and parent, so triage can flag that two
cases share one (the way the Verwijsindex does) without ever comparing or showing the values.

A key is HMAC-SHA256 under a secret derived from the broker's subject secret for this use only
(domain separation: a match key can never equal a subject key), over the kind and the
normalised value. Only keys are stored, in `match_keys`; the values stay in the case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broker.identity.subjects import _fold as fold_name
from broker.identity.subjects import normalise_postcode
from broker.storage.models import FieldValue, MatchKey

__all__ = ["MATCHED_FIELDS", "match_key", "match_secret", "refresh_match_keys"]


# kind → the fields that together make its key (every one must hold a value)
MATCHED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "address": ("postcode", "house_number"),
    "parent": ("guardian_name",),
}
_MATCH_KEY_CONTEXT = b"multiteam-broker/match-key/v1"
_SPACE = re.compile(r"\s+")


def match_secret(subject_secret: bytes) -> bytes:
    """The key for match keys, derived from the subject secret and used for nothing else."""
    return hmac.new(subject_secret, _MATCH_KEY_CONTEXT, hashlib.sha256).digest()


def _normalised(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if name == "postcode":
        postcode = normalise_postcode(_SPACE.sub("", value))
        return postcode.replace(" ", "") if postcode else None
    if name == "house_number":  # "12 a", "12A" and " 12a " are one house number
        return _SPACE.sub("", value).casefold()
    return fold_name(value)


def match_key(secret: bytes, kind: str, values: Mapping[str, Any]) -> str | None:
    """The match key of this kind for these values (64 hex digits); None when a part is missing.

    `secret` is `match_secret(...)`; the values are normalised for case and white space (a
    name also for accents) before they are hashed.
    """
    parts = [_normalised(name, values.get(name)) for name in MATCHED_FIELDS[kind]]
    if any(part is None for part in parts):
        return None
    message = "\x00".join([kind, *(p for p in parts if p is not None)])
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def refresh_match_keys(
    session: Session, subject_secret: bytes, case_id: str, changed: Iterable[str]
) -> None:
    """After fields of a case changed (values supplied, corrected or deleted): its match keys
    for the kinds they touch, from the case's current values (a new address replaces the old
    key, a deleted one takes its key along). Call inside the transaction, after the change."""
    touched = set(changed)
    kinds = [k for k, names in MATCHED_FIELDS.items() if touched.intersection(names)]
    if not kinds:
        return
    session.flush()
    names = sorted({n for k in kinds for n in MATCHED_FIELDS[k]})
    current: dict[str, Any] = {}
    for name, value in session.execute(
        select(FieldValue.field, FieldValue.value)
        .where(
            FieldValue.case_id == case_id,
            FieldValue.field.in_(names),
            FieldValue.superseded_at.is_(None),
        )
        .order_by(FieldValue.id)
    ):
        current[name] = value
    secret = match_secret(subject_secret)
    for kind in kinds:
        key = match_key(secret, kind, current)
        held = set(
            session.scalars(
                select(MatchKey.key).where(MatchKey.case_id == case_id, MatchKey.kind == kind)
            )
        )
        if held == ({key} if key else set()):
            continue
        session.execute(delete(MatchKey).where(MatchKey.case_id == case_id, MatchKey.kind == kind))
        if key is not None:
            session.add(MatchKey(case_id=case_id, kind=kind, key=key))
