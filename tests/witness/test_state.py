"""The witness's key and state directory: made once, read strictly, changed only by
compare-and-swap under a lock that holds across processes."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from audit.tlog import (
    KeyFormatError,
    TreeState,
    generate_signer_key,
    parse_cosignature_key,
)
from tests.witness._race_worker import race
from tests.witness.support import ORIGIN, WITNESS_NAME, FakeLog
from witness import StateDir, Witness, WitnessStateError
from witness.keys import format_cosigner_key, parse_cosigner_key, read_key


def test_init_makes_a_private_cosigner_key(tmp_path: Path) -> None:
    """The key file is mode 0600 whatever the umask, holds a 0x04 (cosignature/v1) signer key
    whose verifier key is the one state.json and witness.vkey record."""
    old_umask = os.umask(0)
    try:
        store, signer = StateDir.create(tmp_path / "w", WITNESS_NAME)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
    text = store.key_file.read_text(encoding="ascii")
    prefix = f"PRIVATE+KEY+{WITNESS_NAME}+{signer.key_id:08x}+"
    assert text.startswith(prefix) and text.endswith("\n")
    material = base64.b64decode(text[len(prefix) : -1])
    assert material[0] == 0x04 and len(material) == 33  # cosignature/v1 type, Ed25519 seed
    vkey = store.read().vkey
    assert vkey == signer.verifier.vkey == store.vkey_file.read_text().strip()
    assert parse_cosignature_key(vkey).key_id == signer.key_id
    assert store.signer().verifier.vkey == vkey


def test_the_signer_key_string_reads_back(tmp_path: Path) -> None:
    """format_cosigner_key and parse_cosigner_key are inverse; a changed key ID is refused."""
    _, signer = StateDir.create(tmp_path / "w", WITNESS_NAME)
    skey = format_cosigner_key(signer)
    assert parse_cosigner_key(skey).verifier.vkey == signer.verifier.vkey
    name, key_id, material = skey.removeprefix("PRIVATE+KEY+").split("+", 2)
    wrong_id = f"{(int(key_id, 16) ^ 1):08x}"
    with pytest.raises(KeyFormatError, match="key ID"):
        parse_cosigner_key(f"PRIVATE+KEY+{name}+{wrong_id}+{material}")
    ed25519_skey, _ = generate_signer_key(WITNESS_NAME)  # type 0x01: a log's key, not ours
    with pytest.raises(KeyFormatError, match="0x04"):
        parse_cosigner_key(ed25519_skey)


def test_a_key_open_to_others_is_refused(tmp_path: Path) -> None:
    """A key file readable by the group or others is not used."""
    store, _ = StateDir.create(tmp_path / "w", WITNESS_NAME)
    store.key_file.chmod(0o644)
    with pytest.raises(KeyFormatError, match="0600"):
        read_key(store.key_file)
    with pytest.raises(WitnessStateError, match="0600"):
        store.signer()


def test_init_never_overwrites(tmp_path: Path) -> None:
    """A second init in the same directory is refused and leaves key and state as they were."""
    store, _ = StateDir.create(tmp_path / "w", WITNESS_NAME)
    key, state = store.key_file.read_bytes(), store.state_file.read_bytes()
    with pytest.raises(WitnessStateError, match="already holds a witness"):
        StateDir.create(tmp_path / "w", "other.example/w")
    store.state_file.unlink()  # a key without state is still a witness's key
    with pytest.raises(WitnessStateError, match="holds a witness"):
        StateDir.create(tmp_path / "w", "other.example/w")
    assert store.key_file.read_bytes() == key
    assert state.startswith(b"{")


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there"])
def test_init_refuses_a_name_that_is_not_a_key_name(tmp_path: Path, name: str) -> None:
    """A witness's name is a note key name: non-empty, no spaces, no '+'."""
    with pytest.raises(KeyFormatError):
        StateDir.create(tmp_path / "w", name)
    assert not (tmp_path / "w" / "witness.key").exists()


def test_trust_adds_keys_by_origin(tmp_path: Path) -> None:
    """Trusting a log's key makes its name an origin; a second key of the same name is added
    (rotation); the same key twice changes nothing; a cosignature key is no log key."""
    store, signer = StateDir.create(tmp_path / "w", WITNESS_NAME)
    first, second = FakeLog(1), FakeLog(1)
    log, added = store.trust(first.vkey)
    assert (log.origin, log.keys, added) == (ORIGIN, (first.vkey,), True)
    log, added = store.trust(second.vkey + "\n")
    assert (log.keys, added) == ((first.vkey, second.vkey), True)
    assert store.trust(first.vkey)[1] is False
    assert store.read().log(ORIGIN) == log
    with pytest.raises(KeyFormatError, match="Ed25519"):
        store.trust(signer.verifier.vkey)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(format="something/v2"),
        lambda d: d.update(logs={}),
        lambda d: d["logs"].append(dict(d["logs"][0])),
        lambda d: d["logs"][0].update(keys=[]),
        lambda d: d["logs"][0].update(keys=["not a key"]),
        lambda d: d["logs"][0].update(size=3),
        lambda d: d["logs"][0].update(size=3, root_hash="c2hvcnQ="),
        lambda d: d["logs"][0].update(size="3", root_hash="A" * 43 + "="),
        lambda d: d["logs"][0].update(size=3, root_hash="A" * 43 + "=", checkpoint=None),
        lambda d: d.pop("name"),
    ],
)
def test_a_state_file_not_as_written_is_refused(tmp_path: Path, change: object) -> None:
    """Each kind of damage to state.json is a WitnessStateError, never a guess."""
    store, _ = StateDir.create(tmp_path / "w", WITNESS_NAME)
    store.trust(FakeLog(1).vkey)
    document = json.loads(store.state_file.read_text())
    change(document)  # type: ignore[operator]
    store.state_file.write_text(json.dumps(document))
    with pytest.raises(WitnessStateError):
        store.read()


def test_swap_latest_is_a_compare_and_swap(witness_dir: StateDir, log: FakeLog) -> None:
    """The latest tree is stored only where the stored one is still the expected one; a stale
    expectation gets the tree stored now, and the file is not touched."""
    ten, twenty = TreeState(10, log.store.root(10)), TreeState(20, log.store.root(20))
    checkpoint = log.checkpoint(10).decode()
    assert witness_dir.swap_latest(ORIGIN, None, ten, checkpoint, 1) is None
    assert witness_dir.swap_latest(ORIGIN, ten, twenty, log.checkpoint(20).decode(), 2) is None
    written = witness_dir.state_file.read_bytes()
    assert witness_dir.swap_latest(ORIGIN, ten, ten, checkpoint, 3) == twenty
    assert witness_dir.swap_latest(ORIGIN, None, ten, checkpoint, 3) == twenty
    assert witness_dir.state_file.read_bytes() == written
    trusted = witness_dir.read().log(ORIGIN)
    assert trusted is not None
    assert (trusted.latest, trusted.cosigned_at) == (twenty, 2)
    assert trusted.checkpoint == log.checkpoint(20).decode()


def test_a_race_decided_on_the_same_state_has_one_winner(
    witness_dir: StateDir, log: FakeLog
) -> None:
    """Two answers decided on the same stored tree: the first commit wins, the second is 409
    with the winner's size — the witness is not rolled back to the smaller tree."""
    witness = Witness(witness_dir)
    small, large = witness.decide(log.request(0, 10)), witness.decide(log.request(0, 15))
    assert small.answer.status == large.answer.status == 200
    assert witness.commit(large).status == 200
    lost = witness.commit(small)
    assert (lost.status, lost.content_type, lost.body) == (409, "text/x.tlog.size", b"15\n")
    trusted = witness_dir.read().log(ORIGIN)
    assert trusted is not None and trusted.latest == TreeState(15, log.store.root(15))


def test_racing_processes_never_roll_the_witness_back(witness_dir: StateDir, log: FakeLog) -> None:
    """Two processes, released together after deciding on the same stored size, commit at
    once, round after round: each round exactly one wins and the other is 409 with the
    winner's size, and the stored size only grows (the lock holds across processes)."""
    rounds = 12
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    skey = log.key.skey
    workers = [
        context.Process(
            target=race, args=(str(witness_dir.path), skey, i, rounds, barrier, results)
        )
        for i in (0, 1)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=120) for _ in range(2 * rounds)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    size = 0
    for round_ in range(rounds):
        pair = sorted((a for a in answers if a[0] == round_), key=lambda a: a[3])
        (_, win_index, win_old, win_status, _), (_, _, lose_old, lose_status, lose_body) = pair
        assert win_old == lose_old == size
        assert (win_status, lose_status) == (200, 409)
        size = win_old + 1 + win_index
        assert lose_body == f"{size}\n".encode()
    trusted = witness_dir.read().log(ORIGIN)
    assert trusted is not None and trusted.latest is not None
    assert trusted.latest.size == size
