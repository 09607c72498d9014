"""The witness's state directory: its key, the logs it trusts, the latest tree cosigned for each.

    DIR/witness.key    the cosigner key (mode 0600; see `witness.keys`)
    DIR/witness.vkey   its verifier key, the line a log's operator is given
    DIR/state.json     the witness's name and verifier key, and per trusted log: its origin,
                       its verifier keys, and the size, root hash, signed checkpoint note and
                       time of the latest checkpoint cosigned for it (null: never)
    DIR/lock           the lock file: every change of state.json holds an exclusive flock on it
    DIR/evidence/      refused checkpoints that carried a valid signature of the log (422, and
                       409 for another root at the same size): the log's signed word against it

Every change is read-check-write under the lock, which holds across threads and processes (a
new open file description per holder), and is written atomically: a temporary file in DIR,
fsync, rename over state.json, fsync of DIR. Readers need no lock: they see the old file or the
new one. `swap_latest` is the compare-and-swap that keeps two racing add-checkpoint requests
from rolling the witness back (c2sp.org/tlog-witness).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from audit.tlog import (
    NEVER_COSIGNED,
    CosignatureSigner,
    Ed25519Verifier,
    KeyFormatError,
    TreeState,
    parse_verifier_key,
)

from .keys import read_key, write_key

__all__ = [
    "MAX_EVIDENCE_FILES",
    "STATE_FORMAT",
    "StateDir",
    "TrustedLog",
    "WitnessState",
    "WitnessStateError",
]

STATE_FORMAT: Final = "multiteam-witness-state/v1"
MAX_EVIDENCE_FILES: Final = 1000


class WitnessStateError(Exception):
    """The state directory is missing, unreadable, or not what this witness wrote."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True, slots=True)
class TrustedLog:
    """A log the witness cosigns for: its keys, and the latest tree cosigned (None: never)."""

    origin: str
    keys: tuple[str, ...]
    latest: TreeState | None = None
    checkpoint: str | None = None
    cosigned_at: int | None = None

    @property
    def verifiers(self) -> list[Ed25519Verifier]:
        """The log's keys as note verifiers."""
        return [parse_verifier_key(vkey) for vkey in self.keys]


@dataclass(frozen=True, slots=True)
class WitnessState:
    """What state.json holds: the witness's name and verifier key, and the logs it trusts."""

    name: str
    vkey: str
    logs: Mapping[str, TrustedLog] = field(default_factory=dict)

    def log(self, origin: str) -> TrustedLog | None:
        """The trusted log named `origin`, or None."""
        return self.logs.get(origin)


# ---------------------------------------------------------------------------------------------
# state.json
# ---------------------------------------------------------------------------------------------


def _log_to_json(log: TrustedLog) -> dict[str, Any]:
    latest = log.latest
    return {
        "origin": log.origin,
        "keys": list(log.keys),
        "size": None if latest is None else latest.size,
        "root_hash": None if latest is None else base64.b64encode(latest.root_hash).decode(),
        "checkpoint": log.checkpoint,
        "cosigned_at": log.cosigned_at,
    }


def _state_to_json(state: WitnessState) -> bytes:
    document = {
        "format": STATE_FORMAT,
        "name": state.name,
        "vkey": state.vkey,
        "logs": [_log_to_json(state.logs[origin]) for origin in sorted(state.logs)],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _field(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise WitnessStateError(f"state.json: {name!r} is missing or of the wrong kind")
    return value


def _log_from_json(item: Any) -> TrustedLog:
    if not isinstance(item, dict):
        raise WitnessStateError("state.json: each log is an object")
    origin = _field(item, "origin", str)
    keys = tuple(_field(item, "keys", list))
    try:
        if not keys or any(parse_verifier_key(k).name != origin for k in keys):
            raise WitnessStateError(f"state.json: the keys of {origin!r} are not named for it")
    except (KeyFormatError, TypeError, AttributeError) as error:
        raise WitnessStateError(f"state.json: a key of {origin!r} is unreadable") from error
    size, root = item.get("size"), item.get("root_hash")
    if size is None and root is None:
        return TrustedLog(origin, keys)
    if not isinstance(size, int) or not isinstance(root, str):
        raise WitnessStateError(f"state.json: the latest tree of {origin!r} is bad")
    try:
        latest = TreeState(size, base64.b64decode(root, validate=True))
    except (ValueError, binascii.Error) as error:
        raise WitnessStateError(f"state.json: the latest tree of {origin!r} is bad") from error
    checkpoint = item.get("checkpoint")
    cosigned_at = item.get("cosigned_at")
    if not isinstance(checkpoint, str) or not isinstance(cosigned_at, int):
        raise WitnessStateError(f"state.json: the latest checkpoint of {origin!r} is missing")
    return TrustedLog(origin, keys, latest, checkpoint, cosigned_at)


def _state_from_json(data: bytes) -> WitnessState:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise WitnessStateError(f"state.json is not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise WitnessStateError(f"state.json is not a {STATE_FORMAT} document")
    logs = [_log_from_json(item) for item in _field(document, "logs", list)]
    by_origin = {log.origin: log for log in logs}
    if len(by_origin) != len(logs):
        raise WitnessStateError("state.json names a log twice")
    return WitnessState(_field(document, "name", str), _field(document, "vkey", str), by_origin)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_atomically(path: Path, data: bytes, mode: int, durable: bool = True) -> None:
    """Write `data` to `path` so that a reader, or a crash, sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            if durable:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_directory(path.parent)


class StateDir:
    """A witness's state directory (see the module's docstring for its layout)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key_file = path / "witness.key"
        self.vkey_file = path / "witness.vkey"
        self.state_file = path / "state.json"
        self.lock_file = path / "lock"
        self.evidence_dir = path / "evidence"

    @classmethod
    def create(cls, path: Path, name: str) -> tuple[StateDir, CosignatureSigner]:
        """Make a witness named `name` in `path`: a new key and an empty state.

        WitnessStateError when `path` already holds a witness's key or state: never overwritten.
        """
        store = cls(path)
        for existing in (store.key_file, store.state_file):
            if existing.exists():
                raise WitnessStateError(f"{existing} exists: {path} already holds a witness")
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            with store.locked():
                signer = write_key(store.key_file, name)
                vkey = signer.verifier.vkey
                _write_atomically(store.vkey_file, f"{vkey}\n".encode(), 0o644)
                _write_atomically(store.state_file, _state_to_json(WitnessState(name, vkey)), 0o644)
        except FileExistsError as error:
            raise WitnessStateError(f"{error.filename} exists: {path} holds a witness") from error
        except OSError as error:
            raise WitnessStateError(f"cannot make the witness state in {path}: {error}") from error
        return store, signer

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock on the state (across threads and processes) while inside."""
        try:
            descriptor = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise WitnessStateError(f"cannot open {self.lock_file}: {error}") from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing the last descriptor of the description unlocks

    def read(self) -> WitnessState:
        """The state as last written; WitnessStateError when it is missing or unreadable."""
        try:
            data = self.state_file.read_bytes()
        except OSError as error:
            raise WitnessStateError(
                f"no witness state in {self.path} ({error.strerror}); run `broker witness init`"
            ) from error
        return _state_from_json(data)

    def signer(self) -> CosignatureSigner:
        """The witness's cosigner key, checked against the name and key the state records."""
        state = self.read()
        try:
            signer = read_key(self.key_file)
        except KeyFormatError as error:
            raise WitnessStateError(error.description) from error
        if signer.verifier.vkey != state.vkey:
            raise WitnessStateError(f"{self.key_file} is not the key of witness {state.name!r}")
        return signer

    def _write(self, state: WitnessState) -> None:
        _write_atomically(self.state_file, _state_to_json(state), 0o644)

    def trust(self, vkey: str) -> tuple[TrustedLog, bool]:
        """Trust the log whose origin is the key's name, with that Ed25519 key.

        The log and whether the key was new; a second key for an origin is added (rotation).
        KeyFormatError for a key string that is not an Ed25519 verifier key, or that shares
        its key ID with a different key the log already has.
        """
        verifier = parse_verifier_key(vkey.strip())
        canonical = verifier.vkey
        self.read()  # a clear error when DIR holds no witness, before the lock file is made
        with self.locked():
            state = self.read()
            log = state.log(verifier.name) or TrustedLog(verifier.name, ())
            if canonical in log.keys:
                return log, False
            if any(other.key_id == verifier.key_id for other in log.verifiers):
                raise KeyFormatError(
                    f"log {verifier.name!r} already has another key with ID {verifier.key_id:08x}"
                )
            log = replace(log, keys=(*log.keys, canonical))
            self._write(replace(state, logs={**state.logs, log.origin: log}))
        return log, True

    def swap_latest(
        self,
        origin: str,
        expected: TreeState | None,
        new: TreeState,
        checkpoint: str,
        cosigned_at: int,
    ) -> TreeState | None:
        """Store `new` as the origin's latest tree if the stored one is still `expected`.

        None when stored; otherwise the tree stored now (another request came first), and
        nothing is written. Compare-and-swap under the lock.
        """
        with self.locked():
            state = self.read()
            log = state.log(origin)
            if log is None:
                raise WitnessStateError(f"log {origin!r} is no longer trusted")
            stored = log.latest or NEVER_COSIGNED
            if stored != (expected or NEVER_COSIGNED):
                return stored
            log = replace(log, latest=new, checkpoint=checkpoint, cosigned_at=cosigned_at)
            self._write(replace(state, logs={**state.logs, origin: log}))
        return None

    def keep_evidence(self, body: bytes, status: int, code: str, at: int) -> Path | None:
        """Keep a refused request signed by the log (at most MAX_EVIDENCE_FILES); its path."""
        digest = hashlib.sha256(body).hexdigest()[:16]
        when = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.evidence_dir / f"{when}-{status}-{code}-{digest}.txt"
        try:
            self.evidence_dir.mkdir(mode=0o700, exist_ok=True)
            if path.exists() or sum(1 for _ in self.evidence_dir.iterdir()) >= MAX_EVIDENCE_FILES:
                return None
            _write_atomically(path, body, 0o644, durable=False)
        except OSError:
            return None  # evidence is kept when it can be; the answer does not depend on it
        return path
