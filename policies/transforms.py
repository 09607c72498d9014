"""Value transformations: generalise (year, bands), mask and keyed pseudonymisation."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Transform", "TransformError", "bands", "mask", "pseudonymise", "year"]

# A transform takes the value and the pseudonymisation key (None when the caller has none).
Transform = Callable[[Any, bytes | None], Any]


class TransformError(ValueError):
    """A value that the transform cannot handle; the field is then withheld, never shown raw."""


def year(value: Any, _key: bytes | None = None) -> str:
    """Generalise a date (or ISO date string) to its year, as a string: '2009'."""
    if isinstance(value, dt.date):
        return f"{value.year:04d}"
    if isinstance(value, str):
        try:
            return f"{dt.date.fromisoformat(value).year:04d}"
        except ValueError:
            raise TransformError("not an ISO date") from None
    raise TransformError("not a date")


def bands(limits: Sequence[tuple[int | None, str]]) -> Transform:
    """Generalise an integer to the label of the first band whose max it does not exceed."""
    table = tuple(limits)

    def to_band(value: Any, _key: bytes | None = None) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TransformError("not an integer")
        for upper, label in table:
            if upper is None or value <= upper:
                return label
        raise TransformError("no band holds this value")

    return to_band


def mask(keep_last: int) -> Transform:
    """Mask all but the last `keep_last` characters with '*': '******782'."""

    def masked(value: Any, _key: bytes | None = None) -> str:
        if not isinstance(value, str):
            raise TransformError("not a text value")
        hidden = max(len(value) - keep_last, 0)
        return "*" * hidden + value[hidden:]

    return masked


def pseudonymise(party: str, field: str) -> Transform:
    """A keyed pseudonym, stable per recipient party and field, different across parties."""
    context = f"multiteam-pseudonym\x00{party}\x00{field}\x00".encode()

    def pseudonym(value: Any, key: bytes | None) -> str:
        if not key:
            raise TransformError("no pseudonymisation key")
        digest = hmac.new(key, context + repr(value).encode(), hashlib.sha256).digest()
        return "ps-" + base64.b32encode(digest[:15]).decode().lower()

    return pseudonym
