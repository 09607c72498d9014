"""Identifiers of young people: the BSN eleven-check, postcodes and dates as signals carry them,
and keyed subject keys (the pseudonym the log and the database use, never the BSN)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata

__all__ = [
    "FALLBACK_IDENTITY",
    "is_valid_bsn",
    "normalise_postcode",
    "parse_date",
    "subject_key",
]

# Without a BSN, a young person is identified by these five attributes together.
FALLBACK_IDENTITY = ("surname", "given_names", "birth_date", "postcode", "house_number")

_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Za-z]{2})$")


def is_valid_bsn(value: object) -> bool:
    """Nine digits passing the eleven-check (weights 9…2 and −1); 000000000 is refused."""
    if not isinstance(value, str) or len(value) != 9 or not value.isascii():
        return False
    if not value.isdigit() or value == "000000000":
        return False
    digits = [int(ch) for ch in value]
    total = sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits[:8], strict=True))
    return (total - digits[8]) % 11 == 0


def normalise_postcode(value: object) -> str | None:
    """'8924ab' → '8924 AB'; None when it is not a Dutch postcode."""
    if not isinstance(value, str):
        return None
    match = _POSTCODE.match(value.strip())
    if not match:
        return None
    return f"{match.group(1)} {match.group(2).upper()}"


def parse_date(value: object) -> dt.date | None:
    """An ISO date 'YYYY-MM-DD' as a date; None otherwise."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _fold(text: str) -> str:
    """Case-, accent- and space-insensitive form of a name, for matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def subject_key(
    secret: bytes, *, bsn: str | None = None, identity: dict[str, str] | None = None
) -> str:
    """The keyed pseudonym that identifies a young person: HMAC-SHA256, never the BSN itself."""
    if bsn is not None:
        message = "bsn\x00" + bsn
    elif identity is not None:
        parts = [_fold(str(identity[name])) for name in FALLBACK_IDENTITY]
        message = "identity\x00" + "\x00".join(parts)
    else:
        raise ValueError("a subject key needs a BSN or the fallback identity")
    digest = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()
    return "yp-" + digest[:40]
