"""A partner's own check of the broker's log: did it only grow since this witness last cosigned?

It asks the broker, over HTTP, for what any transparency-log client may ask:

    GET {broker}/api/v1/audit/checkpoint
        → text/plain: the latest checkpoint as a signed note, cosignatures included
    GET {broker}/api/v1/audit/proofs/consistency?old=M&new=N
        → application/json: {"old_size": M, "new_size": N, "proof": [base64 hashes]}

and believes nothing it is told: the checkpoint must carry a valid signature by a key this
witness trusts for its origin; a cosignature in this witness's name must verify; and the
consistency proof must lead from the root this witness cosigned at size M (its own state) to
the checkpoint's root at size N (RFC 9162 §2.1.4.2). It never writes the witness's state (the
state is what the witness cosigned, not what it was shown).

The answer is a `CheckReport`: what was checked, line by line, and a verdict that says either
that the log only grew, or where and why it could not be shown to (a broker that cannot be
reached, answers 4xx/5xx, or sends what does not parse is a finding too, never a crash).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from audit.tlog import (
    InvalidSignatureError,
    KeyFormatError,
    MalformedCheckpointError,
    MalformedNoteError,
    UnverifiedNoteError,
    cosignature_timestamp,
    decode_b64,
    open_log_checkpoint,
    open_note,
    parse_cosignature_key,
    parse_note,
    verify_consistency,
)

from .state import StateDir, WitnessStateError

__all__ = [
    "CHECKPOINT_PATH",
    "CONSISTENCY_PATH",
    "MAX_RESPONSE_BYTES",
    "CheckReport",
    "check_log",
]

CHECKPOINT_PATH: Final = "/api/v1/audit/checkpoint"
CONSISTENCY_PATH: Final = "/api/v1/audit/proofs/consistency"
MAX_RESPONSE_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What was checked (one line each) and the verdict; `only_grew` is the exit status."""

    only_grew: bool
    lines: tuple[str, ...]
    verdict: str


class _Finding(Exception):
    """Why the log could not be shown to have only grown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not followed: the token goes to the broker named and no other."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _time(timestamp: int | None) -> str:
    if timestamp is None:
        return "an unknown time"
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"POSIX time {timestamp}"


def _excerpt(data: bytes) -> str:
    """A short, printable reading of an error body: a problem's title and detail, or its text."""
    text = data.decode("utf-8", "replace")
    try:
        problem = json.loads(text)
    except ValueError:
        problem = None
    if isinstance(problem, dict) and (problem.get("title") or problem.get("detail")):
        text = ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return f" ({text[:200]})" if text else ""


def _base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Finding(f"{url!r} is not a broker's address: an http:// or https:// URL")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _fetch(url: str, what: str, accept: str, token: str | None, timeout: float) -> bytes:
    """The body of a 200 answer to GET `url`; any other outcome is a finding naming `what`."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            data: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            location = error.headers.get("Location", "nowhere")
            detail = f" to {location[:200]!r} (redirects are not followed)"
        else:
            detail = _excerpt(error.read(4096) if error.fp is not None else b"")
        error.close()
        raise _Finding(f"{what}: the broker answered {error.code} {error.reason}{detail}") from None
    except urllib.error.URLError as error:
        raise _Finding(f"{what}: the broker cannot be reached at {url}: {error.reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        reason = f"{type(error).__name__}: {error}".rstrip(": ")
        raise _Finding(f"{what}: the connection to {url} failed ({reason})") from None
    if status != 200:
        raise _Finding(f"{what}: the broker answered {status}, not 200")
    if len(data) > MAX_RESPONSE_BYTES:
        raise _Finding(f"{what}: the broker's answer is over {MAX_RESPONSE_BYTES} bytes")
    return data


def _read_proof(data: bytes, old: int, new: int) -> list[bytes]:
    """The hashes of a consistency-proof document for `old` → `new`; a finding otherwise."""
    try:
        document = json.loads(data)
    except ValueError:
        raise _Finding("the consistency proof is not JSON") from None
    if not isinstance(document, dict):
        raise _Finding("the consistency proof is not a JSON object")
    sizes = (document.get("old_size"), document.get("new_size"))
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise _Finding("the consistency proof has no integer old_size and new_size")
    if sizes != (old, new):
        raise _Finding(
            f"the broker sent a consistency proof for {sizes[0]} → {sizes[1]}, not {old} → {new}"
        )
    proof = document.get("proof")
    if not isinstance(proof, list):
        raise _Finding("the consistency proof has no list of hashes")
    hashes = [decode_b64(item) if isinstance(item, str) else None for item in proof]
    if any(h is None or len(h) != 32 for h in hashes):
        raise _Finding("the consistency proof holds an item that is not a base64 SHA-256 hash")
    return [h for h in hashes if h is not None]


def _check(store: StateDir, url: str, token: str | None, timeout: float, out: list[str]) -> str:
    try:
        state = store.read()
        own = parse_cosignature_key(state.vkey)
    except (WitnessStateError, KeyFormatError) as error:
        raise _Finding(f"the witness state cannot be read: {error}") from None
    base = _base_url(url)
    out.append(f"witness {state.name}, asking the broker at {base}")
    message = _fetch(base + CHECKPOINT_PATH, "the checkpoint", "text/plain", token, timeout)
    try:
        origin = parse_note(message).text.partition("\n")[0]
    except MalformedNoteError as error:
        raise _Finding(f"the broker's checkpoint is not a signed note: {error}") from None
    log = state.log(origin)
    if log is None:
        trusted = ", ".join(repr(o) for o in sorted(state.logs)) or "none"
        raise _Finding(f"the checkpoint is of log {origin!r}, not one trusted here ({trusted})")
    try:
        checkpoint, note = open_log_checkpoint(message, log.verifiers)
    except UnverifiedNoteError:
        raise _Finding(f"no signature on the checkpoint is by a trusted key of {origin}") from None
    except InvalidSignatureError as error:
        raise _Finding(f"the log's signature on the checkpoint is bad: {error}") from None
    except MalformedCheckpointError as error:
        raise _Finding(f"the signed note is not a checkpoint: {error}") from None
    signed_by = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
    out.append(
        f"checkpoint: log {origin} at size {checkpoint.size}, root {_b64(checkpoint.root_hash)}"
        f", signed by {signed_by} (trusted)"
    )
    try:
        ours = open_note(message, [own]).signatures
        made = _time(cosignature_timestamp(ours[0]))
        out.append(f"this witness's cosignature on it verifies (made {made})")
    except UnverifiedNoteError:
        out.append("this witness has not cosigned this checkpoint (not yet, or it was refused)")
    except InvalidSignatureError:
        raise _Finding(
            f"the checkpoint carries a cosignature in this witness's name ({own.name}) that does"
            " not verify: the broker serves a cosignature this witness did not make"
        ) from None
    latest = log.latest
    if latest is None:
        raise _Finding(
            f"cannot tell: this witness has cosigned no checkpoint of {origin} yet, so there is"
            " no earlier tree to compare with (only the log's signature was checked)"
        )
    old, new = latest.size, checkpoint.size
    out.append(
        f"this witness last cosigned size {old}, root {_b64(latest.root_hash)}"
        f" ({_time(log.cosigned_at)})"
    )
    if new < old:
        raise _Finding(
            f"the broker's checkpoint is at size {new}, below the size {old} this witness"
            " cosigned: the log shows a shorter tree (records removed, or a stale view)"
        )
    if new == old:
        if checkpoint.root_hash != latest.root_hash:
            raise _Finding(
                f"at size {old} the broker's root is {_b64(checkpoint.root_hash)}, but this"
                f" witness cosigned {_b64(latest.root_hash)}: the log's history was rewritten"
            )
        return f"the log did not change: same size {old}, same root as this witness cosigned"
    query = urllib.parse.urlencode({"old": old, "new": new})
    data = _fetch(
        f"{base}{CONSISTENCY_PATH}?{query}",
        f"the consistency proof {old} → {new}",
        "application/json",
        token,
        timeout,
    )
    proof = _read_proof(data, old, new)
    if not verify_consistency(old, new, latest.root_hash, checkpoint.root_hash, proof):
        raise _Finding(
            f"the consistency proof from size {old} to {new} does not verify against the root"
            f" this witness cosigned at size {old}: the log did not only grow (records among"
            f" the first {old} were changed, removed or reordered, or the proof is false)"
        )
    out.append(f"consistency proof {old} → {new}: verifies ({len(proof)} hashes)")
    return (
        f"the log only grew: the {old} records this witness cosigned are unchanged,"
        f" {new - old} were added (size {new})"
    )


def check_log(
    store: StateDir, url: str, *, token: str | None = None, timeout: float = 10.0
) -> CheckReport:
    """Check the broker at `url` against this witness's state; never raises for what it finds."""
    lines: list[str] = []
    try:
        grew = _check(store, url, token, timeout, lines)
    except _Finding as finding:
        return CheckReport(False, tuple(lines), f"FAILED: {finding.reason}")
    return CheckReport(True, tuple(lines), f"OK: {grew}")
