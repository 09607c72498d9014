"""What a verification found, and what it checked: `Verification` and the reason codes.

A verification either finds the log intact over what it checked, or names the first bad seq
with a reason code (`REASONS`), a description and, for a stored column that differs from the
record, the column. It always says what it checked: the records whose content (and, from the
store, columns) it read, the stored tree hashes it compared, the purged records whose leaf
hashes it checked, and the root of the tree it recomputed. Descriptions name seqs, columns
and tree positions, never a stored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .chain import GENESIS_HASH

__all__ = ["REASONS", "Verification", "broken", "unreadable"]

# Why a verification failed; `Verification.reason` is one of these codes.
REASONS: Final[Mapping[str, str]] = {
    "checkpoint_signature": "a checkpoint is not validly signed by a trusted key",
    "checkpoint_conflict": "two checkpoints name different hashes for the same seq",
    "unanchored_start": "the log does not start at genesis nor at a checkpoint",
    "sequence_gap": "a seq is missing (a record was removed or moved)",
    "sequence_repeat": "a seq comes again (a record was inserted, duplicated or moved)",
    "renumbered": "a record's stored seq differs from its place (removed/inserted, renumbered)",
    "hash_mismatch": "a record's content does not match its hash",
    "broken_link": "a record does not chain to the record before it",
    "checkpoint_mismatch": "the chain does not reach a checkpoint's hash (rewritten and rehashed)",
    "truncated": "records a checkpoint or the head vouch for are missing at the end",
    "head_mismatch": "the log goes past or differs from its recorded head",
    "column_mismatch": "a stored column differs from what the record's canonical bytes say",
    "unreadable_record": "a record's canonical bytes do not decode to a valid record",
    "tree_hash_mismatch": "a stored tree hash differs from the hash of its records",
    "tree_hash_missing": "a stored tree hash is missing",
    "tree_hash_extra": "a stored tree hash lies past the recorded head",
    "purged_mismatch": "the leaf hashes kept for purged records do not reach their checkpoint",
    "seq_out_of_range": "a record is stored with a seq below 1",
    "unreadable": "the log could not be read; nothing is vouched for",
}


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a verification: intact over what it checked, or the first bad seq with a
    reason code and why (and the column, when a stored column differs from its record).

    What was checked: `records_checked` records (`first_seq`..`last_seq`) by content and
    chain, with `columns_checked` when their stored columns were compared too; the chain's
    hash there (`head_hash`); `tree_hashes_checked` stored tree hashes compared with what the
    bodies give; `tree_root`, the recomputed root of the tree of `tree_size` leaves when the
    tree was recomputed from its first leaf (None otherwise); and `purged` records (1..purged)
    whose contents were deleted by retention, with `purged_checked` when their kept leaf
    hashes were recomputed into the chain and the checkpoint that anchors the rest.
    """

    is_intact: bool
    records_checked: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str
    anchor_seq: int
    checkpoints_matched: int
    signatures_checked: bool
    first_bad_seq: int | None = None
    reason: str | None = None
    description: str = "intact"
    column: str | None = None
    columns_checked: bool = False
    tree_hashes_checked: int = 0
    tree_size: int | None = None
    tree_root: str | None = None
    purged: int = 0
    purged_checked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (for the CLI and the privacy officer's page)."""
        return {
            "is_intact": self.is_intact,
            "records_checked": self.records_checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_hash": self.head_hash,
            "anchor_seq": self.anchor_seq,
            "checkpoints_matched": self.checkpoints_matched,
            "signatures_checked": self.signatures_checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "column": self.column,
            "description": self.description,
            "columns_checked": self.columns_checked,
            "tree_hashes_checked": self.tree_hashes_checked,
            "tree_size": self.tree_size,
            "tree_root": self.tree_root,
            "purged": self.purged,
            "purged_checked": self.purged_checked,
            "checked": self.checked(),
        }

    def checked(self) -> list[str]:
        """What this verification read and compared, in words (and nothing it did not)."""
        said: list[str] = []
        if self.purged:
            said.append(
                f"records 1..{self.purged}: purged by retention, content not checked; "
                + (
                    "their kept leaf hashes recomputed into the chain"
                    if self.purged_checked
                    else "their kept leaf hashes not checked"
                )
            )
        if self.records_checked and self.first_seq is not None:
            what = "content and chain" + (", every stored column" if self.columns_checked else "")
            said.append(f"records {self.first_seq}..{self.last_seq}: {what}")
        elif not self.purged:
            said.append("no records")
        if self.tree_hashes_checked:
            said.append(f"{self.tree_hashes_checked} stored tree hashes against the bodies")
        if self.tree_root is not None:
            said.append(f"tree of {self.tree_size} records recomputed from its first leaf")
        if self.anchor_seq:
            said.append(f"anchored at the checkpoint at seq {self.anchor_seq}")
        said.append(
            f"{self.checkpoints_matched} checkpoint(s) matched"
            + (", signatures checked" if self.signatures_checked else ", signatures NOT checked")
        )
        return said


def broken(
    reason: str,
    first_bad_seq: int | None,
    description: str,
    *,
    signatures_checked: bool,
    records_checked: int = 0,
    first_seq: int | None = None,
    last_seq: int | None = None,
    head_hash: str = GENESIS_HASH,
    anchor_seq: int = 0,
    checkpoints_matched: int = 0,
    column: str | None = None,
) -> Verification:
    """A failed verification."""
    return Verification(
        is_intact=False,
        records_checked=records_checked,
        first_seq=first_seq,
        last_seq=last_seq,
        head_hash=head_hash,
        anchor_seq=anchor_seq,
        checkpoints_matched=checkpoints_matched,
        signatures_checked=signatures_checked,
        first_bad_seq=first_bad_seq,
        reason=reason,
        description=description,
        column=column,
    )


def unreadable(error: BaseException, *, signatures_checked: bool) -> Verification:
    """The answer when the log could not be read: a finding, naming the error's kind only."""
    return broken(
        "unreadable",
        None,
        f"the log could not be read ({type(error).__name__}); nothing was verified",
        signatures_checked=signatures_checked,
    )
