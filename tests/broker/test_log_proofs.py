"""The log's proofs over HTTP (GET /api/v1/audit/checkpoint, /proofs/inclusion,
/proofs/consistency): every proof verifies with `audit.tlog` (RFC 9162 §2.1.3.2, §2.1.4.2)
against the signed checkpoint's root, which equals the tree recomputed here from the stored
bodies; who may ask for what; and the witness's own check (`broker witness verify`) against the
broker served over HTTP."""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from audit.tlog import (
    LogCheckpoint,
    format_add_checkpoint,
    leaf_hash,
    merkle_tree_hash,
    open_log_checkpoint,
    parse_verifier_key,
    verify_consistency,
)
from audit.tlog import verify_inclusion as _verify_inclusion
from broker.cli.audit import audit_group
from broker.main import cli
from tests.broker.conftest import Api
from tests.broker.test_log_checkpoints import bodies, vkey_of
from tests.broker.test_privacy_api import OFFICER, execute, scenario_one, scenario_three
from witness.cosigning import Witness
from witness.state import StateDir

CHECKPOINT = "/api/v1/audit/checkpoint"
INCLUSION = "/api/v1/audit/proofs/inclusion"
CONSISTENCY = "/api/v1/audit/proofs/consistency"


def get(api: Api, username: str, path: str, **params: Any) -> Any:
    return api.client.get(path, query_string=params, headers=api.headers(username))


def signed(api: Api) -> tuple[LogCheckpoint, bytes]:
    """A C2SP checkpoint made now (`broker audit checkpoint --c2sp`), opened with the vkey."""
    made = api.app.test_cli_runner().invoke(audit_group, ["checkpoint", "--c2sp"])
    assert made.exit_code == 0, made.output
    verifier = parse_verifier_key(vkey_of(api.app))
    checkpoint, _ = open_log_checkpoint(made.stdout.encode(), [verifier])
    return checkpoint, made.stdout.encode()


def verify_inclusion(index: int, size: int, leaf: bytes, root: bytes, proof: list[bytes]) -> bool:
    return _verify_inclusion(leaf, index, size, proof, root)


def hashes(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item, validate=True) for item in items]


def test_the_served_checkpoint_is_the_newest_and_opens_with_the_vkey(api: Api) -> None:
    scenario_one(api, random.Random(1))
    api.token(OFFICER), api.token("smit")  # their issue is audited too
    checkpoint, note = signed(api)
    for username in (OFFICER, "smit"):
        served = get(api, username, CHECKPOINT)
        assert served.status_code == 200, served.get_data(as_text=True)
        assert served.mimetype == "text/plain"
        assert served.data == note
    leaves = [leaf_hash(b) for b in bodies(api.app)[: checkpoint.size]]
    assert checkpoint.root_hash == merkle_tree_hash(leaves)
    events = [(r.entry.event, r.entry.person_id) for r in api.audit_records()[-2:]]
    assert events == [("audit.log_checkpoint", OFFICER), ("audit.log_checkpoint", "smit")]


def test_every_inclusion_proof_verifies_against_the_signed_root(api: Api) -> None:
    scenario_one(api, random.Random(2))
    checkpoint, _ = signed(api)
    size, root = checkpoint.size, checkpoint.root_hash
    stored = bodies(api.app)
    shorter_root = merkle_tree_hash([leaf_hash(b) for b in stored[: size - 1]])
    for seq in range(1, size + 1):
        answer = get(api, OFFICER, INCLUSION, seq=seq, size=size)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        document = answer.json
        assert (document["seq"], document["tree_size"]) == (seq, size)
        leaf = base64.b64decode(document["leaf"])
        assert leaf == stored[seq - 1]
        proof = hashes(document["proof"])
        assert verify_inclusion(seq - 1, size, leaf_hash(leaf), root, proof), seq
        # another index, the root of another size or another leaf does not verify
        assert not verify_inclusion(seq % size, size, leaf_hash(leaf), root, proof) or size == 1
        assert not verify_inclusion(seq - 1, size, leaf_hash(leaf), shorter_root, proof)
        assert not verify_inclusion(seq - 1, size, leaf_hash(leaf + b" "), root, proof)
    # a smaller tree: the proof verifies against that tree's root
    small = size // 2
    answer = get(api, OFFICER, INCLUSION, seq=1, size=small).json
    small_root = merkle_tree_hash([leaf_hash(b) for b in stored[:small]])
    assert verify_inclusion(0, small, leaf_hash(stored[0]), small_root, hashes(answer["proof"]))
    assert api.audit_records()[-1].entry.event == "audit.inclusion_proof"
    assert api.audit_records()[-1].entry.detail == {"seq": 1, "tree_size": small}


def test_consistency_proofs_between_checkpoints_verify(api: Api) -> None:
    scenario_one(api, random.Random(3))
    first, _ = signed(api)
    scenario_three(api, random.Random(4))
    second, _ = signed(api)
    assert second.size > first.size
    for username in (OFFICER, "bakker"):
        answer = get(api, username, CONSISTENCY, old=first.size, new=second.size)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        document = answer.json
        assert (document["old_size"], document["new_size"]) == (first.size, second.size)
        proof = hashes(document["proof"])
        assert verify_consistency(first.size, second.size, first.root_hash, second.root_hash, proof)
        assert not verify_consistency(first.size, second.size, bytes(32), second.root_hash, proof)
    for old in range(0, second.size + 1, 3):
        proof = hashes(get(api, OFFICER, CONSISTENCY, old=old, new=second.size).json["proof"])
        old_root = merkle_tree_hash([leaf_hash(b) for b in bodies(api.app)[:old]])
        assert verify_consistency(old, second.size, old_root, second.root_hash, proof), old
    assert api.audit_records()[-1].entry.event == "audit.consistency_proof"


def test_a_party_sees_inclusion_proofs_of_its_own_records_only(api: Api) -> None:
    scenario_one(api, random.Random(5))
    checkpoint, _ = signed(api)
    records = api.audit_records()[: checkpoint.size]
    own = next(r.seq for r in records if r.entry.party == "politie")
    other = next(r.seq for r in records if r.entry.party not in (None, "politie"))
    mine = get(api, "jansen", INCLUSION, seq=own, size=checkpoint.size)
    assert mine.status_code == 200, mine.get_data(as_text=True)
    leaf = base64.b64decode(mine.json["leaf"])
    assert verify_inclusion(
        own - 1, checkpoint.size, leaf_hash(leaf), checkpoint.root_hash, hashes(mine.json["proof"])
    )
    refused = get(api, "jansen", INCLUSION, seq=other, size=checkpoint.size)
    assert refused.status_code == 404
    assert refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "record_not_found"
    assert base64.b64encode(bodies(api.app)[other - 1]).decode() not in refused.get_data(
        as_text=True
    )
    last = api.audit_records()[-1].entry  # the refusal is audited
    assert (last.event, last.person_id, last.detail["status"]) == (
        "audit.inclusion_proof",
        "jansen",
        404,
    )
    assert last.outcome != "success"
    # the officer sees both
    for seq in (own, other):
        assert get(api, OFFICER, INCLUSION, seq=seq, size=checkpoint.size).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        (INCLUSION, {"seq": 1, "size": "{above}"}, 404, "size"),
        (INCLUSION, {"seq": "{above}", "size": "{size}"}, 404, "seq"),
        (INCLUSION, {"seq": 0, "size": "{size}"}, 422, "seq"),
        (INCLUSION, {"seq": "x", "size": "{size}"}, 422, "seq"),
        (INCLUSION, {"seq": 1}, 422, "size"),
        (CONSISTENCY, {"old": 1, "new": "{above}"}, 404, "new"),
        (CONSISTENCY, {"old": "{size}", "new": 1}, 404, "old"),
        (CONSISTENCY, {"old": -1, "new": 1}, 422, "old"),
        (CONSISTENCY, {"new": 1}, 422, "old"),
    ],
)
def test_sizes_past_the_newest_checkpoint_are_refused_naming_the_parameter(
    api: Api, path: str, params: dict[str, Any], status: int, named: str
) -> None:
    scenario_one(api, random.Random(6))
    checkpoint, _ = signed(api)
    values = {"size": checkpoint.size, "above": checkpoint.size + 1}
    query = {k: str(v).format(**values) for k, v in params.items()}
    answer = get(api, OFFICER, path, **query)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.json["errors"][0]["field"] == named


def test_without_a_token_nothing_is_served(api: Api) -> None:
    for path in (CHECKPOINT, INCLUSION, CONSISTENCY):
        assert api.client.get(path, query_string={"seq": 1, "size": 1}).status_code == 401


# ── the witness's own check against the broker served over HTTP ─────────────────────────────


@pytest.fixture
def served(api: Api) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, api.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_the_witness_says_the_log_only_grew(api: Api, served: str, tmp_path: Path) -> None:
    """A witness that cosigned an earlier checkpoint asks the live broker for its newest one
    and the consistency proof; after more records it says the log only grew."""
    state = tmp_path / "witness"
    runner = CliRunner()
    made = runner.invoke(cli, ["witness", "init", "--state", str(state), "--name", "w.test/1"])
    assert made.exit_code == 0, made.output
    trusted = runner.invoke(
        cli, ["witness", "trust", "--state", str(state), "--vkey", vkey_of(api.app)]
    )
    assert trusted.exit_code == 0, trusted.output
    scenario_one(api, random.Random(7))
    first, note = signed(api)
    cosigned = Witness(StateDir(state)).add_checkpoint(format_add_checkpoint(0, [], note))
    assert cosigned.status == 200, cosigned.description
    scenario_three(api, random.Random(8))
    second, _ = signed(api)
    token = api.token("smit")
    checked = runner.invoke(
        cli,
        ["witness", "verify", "--state", str(state), "--url", served, "--token", token],
    )
    assert checked.exit_code == 0, checked.output
    assert "the log only grew" in checked.output
    assert f"{second.size - first.size} were added (size {second.size})" in checked.output
    # history rewritten (every stored tree hash): the cosigned root is not a prefix → refused
    execute(api.app, "UPDATE audit_tree_hash SET hash = :h", h=bytes(32))
    signed_again = api.app.test_cli_runner().invoke(audit_group, ["checkpoint", "--c2sp"])
    assert signed_again.exit_code == 0
    again = runner.invoke(
        cli,
        ["witness", "verify", "--state", str(state), "--url", served, "--token", token],
    )
    assert again.exit_code != 0
    assert "did not only grow" in again.output
