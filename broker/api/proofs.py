"""The audit log as a transparency log over HTTP (issue 13): the newest C2SP checkpoint,
inclusion and consistency proofs — what `witness/check.py` and any RFC 9162 client ask for.

The privacy officer (purpose toezicht) may ask for any record; a person or partner system of a
party for the checkpoint, consistency proofs and inclusion proofs of its own party's records
(any other record is "not found", as a case is). Sizes are at most the newest signed
checkpoint's: a proof for a tree no checkpoint vouches for would prove nothing (404 naming the
parameter, as for a case that does not exist; a malformed value is 422).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.privacy.proofs import consistency, inclusion, newest_checkpoint, served_note

from . import responses as out
from .declare import Answer, Operation, Param, declare
from .privacy import officer_context
from .requests import authenticate_request, current_actor

__all__ = ["proofs"]

proofs = Blueprint("proofs", __name__, url_prefix="/api/v1/audit")
proofs.before_request(authenticate_request)

OFFICER_PURPOSE = "toezicht"
_MAX = 2**62


def _size(name: str, description: str, minimum: int = 1) -> Param:
    return Param(
        name,
        "integer",
        required=True,
        minimum=minimum,
        maximum=_MAX,
        status=422,
        code="invalid_proof_request",
        description=description,
    )


_SEQ = _size("seq", "The record's seq (its leaf is seq - 1)")
_SIZE = _size("size", "The tree size, at most the newest signed checkpoint's")
_OLD = _size("old", "The older tree size (0: an empty proof)", minimum=0)
_NEW = _size("new", "The newer tree size, at most the newest signed checkpoint's")
_ACCESS = (
    " The privacy officer (purpose toezicht) may ask for any record; a person or partner "
    "system of a party for its own party's records."
)


def _context() -> tuple[Context, str | None]:
    """The acting context, and the party whose records alone it may see (None: any)."""
    actor = current_actor()
    convenant = runtime().convenant
    purpose = convenant.purposes.get(OFFICER_PURPOSE)
    if purpose is not None and any(
        role in purpose.roles and actor.party in convenant.roles[role].parties
        for role in actor.roles
    ):
        return officer_context(OFFICER_PURPOSE), None
    return Context(actor, request_id(), source_address()), actor.party


def _not_found(param: Param, what: str) -> Problem:
    """404 naming `param`: no signed tree holds what it asks for (a well-formed value that
    names nothing, as an unknown case is)."""
    return Problem(
        404,
        "not_in_signed_tree",
        f"{param.name} {what}.",
        errors=[{"field": param.name, "problem": what}],
    )


def _newest_size(param: Param, value: int) -> int:
    """`value`, refused naming `param` when above the newest signed checkpoint's size."""
    newest = newest_checkpoint(db_session()).size
    if value > newest:
        raise _not_found(param, f"is above the newest signed checkpoint's tree size, {newest}")
    return value


@proofs.get("/checkpoint")
@declare(
    Operation(
        "The newest signed checkpoint of the log (c2sp.org/tlog-checkpoint), cosignatures included",
        (Answer(200, "The checkpoint as a signed note", None, "text/plain"),),
        description="Any person or partner system of a party may read it.",
        problems=(403, 404),
    )
)
def log_checkpoint() -> Response:
    """The newest signed checkpoint, as a signed note with every cosignature gathered."""
    ctx, _ = _context()
    note = served_note(db_session(), runtime(), ctx)
    return Response(note, mimetype="text/plain")


@proofs.get("/proofs/inclusion")
@declare(
    Operation(
        "The inclusion proof of a record in the tree of a size (RFC 9162 §2.1.3)",
        (Answer(200, "The record's leaf bytes and the proof", out.INCLUSION_PROOF),),
        description="The leaf is the record's canonical bytes (base64)." + _ACCESS,
        params=(_SEQ, _SIZE),
        problems=(400, 403, 404, 422),
    )
)
def inclusion_proof() -> Response:
    """The proof that record `seq` is leaf seq - 1 of the tree of `size` leaves."""
    ctx, party = _context()
    seq, size = _SEQ.read(), _SIZE.read()
    _newest_size(_SIZE, size)
    if seq > size:
        raise _not_found(_SEQ, f"is above the tree size {size}")
    return jsonify(inclusion(db_session(), runtime(), ctx, seq, size, party))


@proofs.get("/proofs/consistency")
@declare(
    Operation(
        "The consistency proof between two tree sizes (RFC 9162 §2.1.4)",
        (Answer(200, "The proof", out.CONSISTENCY_PROOF),),
        description="Any person or partner system of a party may ask for it.",
        params=(_OLD, _NEW),
        problems=(400, 403, 404, 422),
    )
)
def consistency_proof() -> Response:
    """The proof that the tree of `new` leaves extends the tree of `old` leaves."""
    ctx, _ = _context()
    old, new = _OLD.read(), _NEW.read()
    _newest_size(_NEW, new)
    if old > new:
        raise _not_found(_OLD, f"is above new ({new}): a tree does not shrink")
    return jsonify(consistency(db_session(), runtime(), ctx, old, new))
