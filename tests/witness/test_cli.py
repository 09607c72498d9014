"""`broker witness init | trust | show`: what a partner types, what it prints, what it refuses
— each run through the `broker` command group, as the console script runs it."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner, Result

from audit.tlog import generate_signer_key, parse_cosignature_key
from broker.main import cli
from tests.witness.support import ORIGIN, FakeLog
from witness import StateDir

NAME = "witness.partner.example/w1"


def broker(*args: str) -> Result:
    """Run `broker ARGS`."""
    return CliRunner().invoke(cli, list(args))


def test_init_prints_the_verifier_key_last(tmp_path: Path) -> None:
    """init makes the state and prints the witness's cosignature/v1 verifier key on its last
    line, the one state.json and witness.vkey hold; the key file is 0600."""
    state = tmp_path / "w"
    result = broker("witness", "init", "--state", str(state), "--name", NAME)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"witness {NAME} made in {state}"
    vkey = parse_cosignature_key(lines[-1])
    assert vkey.name == NAME and lines[-1] == StateDir(state).read().vkey
    assert stat.S_IMODE((state / "witness.key").stat().st_mode) == 0o600


def test_init_refuses_an_existing_state(tmp_path: Path) -> None:
    """A second init on the same directory exits 1 with the reason; the key is unchanged."""
    state = tmp_path / "w"
    assert broker("witness", "init", "--state", str(state), "--name", NAME).exit_code == 0
    key = (state / "witness.key").read_bytes()
    again = broker("witness", "init", "--state", str(state), "--name", "other.example/w")
    assert again.exit_code == 1
    assert "already holds a witness" in again.output
    assert (state / "witness.key").read_bytes() == key


def test_init_refuses_a_bad_name(tmp_path: Path) -> None:
    """A name with a space is a usage error naming --name; nothing is made."""
    result = broker("witness", "init", "--state", str(tmp_path / "w"), "--name", "my witness")
    assert result.exit_code == 2
    assert "--name" in result.output and "no spaces" in result.output
    assert not (tmp_path / "w" / "witness.key").exists()


def test_trust_and_show(tmp_path: Path) -> None:
    """trust takes the log's vkey (origin: its name) and says so; once more changes nothing;
    show lists the log, never cosigned, and the witness's vkey last."""
    state = tmp_path / "w"
    broker("witness", "init", "--state", str(state), "--name", NAME)
    log = FakeLog(1)
    first = broker("witness", "trust", "--state", str(state), "--vkey", log.vkey)
    assert first.exit_code == 0, first.output
    assert first.output == f"now trusts log {ORIGIN} with key {log.vkey} (1 of its keys)\n"
    again = broker("witness", "trust", "--state", str(state), "--vkey", log.vkey)
    assert again.output.startswith(f"already trusted log {ORIGIN}")
    shown = broker("witness", "show", "--state", str(state))
    assert shown.exit_code == 0
    assert shown.output.splitlines() == [
        f"witness {NAME}",
        f"log {ORIGIN}: never cosigned; keys: {log.vkey}",
        StateDir(state).read().vkey,
    ]


def test_trust_refuses_what_is_not_a_log_key(tmp_path: Path) -> None:
    """A string that is no vkey, a signer key, and a cosignature key are each refused with
    a usage error naming --vkey; the state keeps no log."""
    state = tmp_path / "w"
    init = broker("witness", "init", "--state", str(state), "--name", NAME)
    witness_vkey = init.output.strip().splitlines()[-1]
    skey, _ = generate_signer_key(ORIGIN)
    for vkey in ("garbage", skey, witness_vkey):
        result = broker("witness", "trust", "--state", str(state), "--vkey", vkey)
        assert result.exit_code == 2 and "--vkey" in result.output, result.output
        assert skey not in result.output
    assert StateDir(state).read().logs == {}


def test_commands_on_a_missing_state_say_so(tmp_path: Path) -> None:
    """trust and show on a directory without a witness exit 1 pointing to init."""
    log = FakeLog(1)
    for args in (("trust", "--vkey", log.vkey), ("show",)):
        result = broker("witness", args[0], "--state", str(tmp_path / "none"), *args[1:])
        assert result.exit_code == 1
        assert "broker witness init" in result.output
        assert not (tmp_path / "none").exists()
