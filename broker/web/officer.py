"""The privacy officer's pages: the audit explorer, the chain's status, anomalies, the access
report for a young person, the convenant's coverage matrix and the diff of two versions.

The officer works with purpose `toezicht` (the access report: `inzageverzoek`); each look at
the audit log is itself audited, through the same functions as the API (broker.privacy). A BSN
is only ever posted (never in a URL, so never in the browser's history): the explorer turns it
into the young person's pseudonym at once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from flask import current_app, flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

import policies
from audit import ACTIONS, OUTCOMES, AuditQuery, looks_like_bsn
from broker.core.auth import choose_role, request_id, source_address
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import db_session, read_session, runtime
from broker.identity.actors import Actor
from broker.identity.subjects import is_valid_bsn, subject_key
from broker.privacy.access_report import access_report
from broker.privacy.anomalies import anomalies
from broker.privacy.audit_log import (
    AMSTERDAM,
    checkpoint_now,
    query_audit,
    verification_entry,
    verify_log,
)
from policies.report import Change, coverage_csv, diff

from .blueprint import REFUSAL_EVENTS, audit_shown, page, register_home, register_nav, web
from .i18n import OUTCOME_LABELS, gettext
from .session import page_actor

__all__ = ["CONVENANTS_FOLDER", "AuditFilters", "convenant_sources"]

OFFICER = frozenset({"privacy_officer"})
PAGE_SIZE = 50
CONVENANTS_FOLDER = "convenants"  # under the instance folder: versions to compare
MAX_CONVENANT_BYTES = 512 * 1024

register_nav("web.audit_explorer", "Auditlog", OFFICER, order=10)
register_nav("web.chain", "Keten", OFFICER, order=20)
register_nav("web.anomalies", "Afwijkingen", OFFICER, order=30)
register_nav("web.access_report", "Inzageverzoek", OFFICER, order=40)
register_nav("web.convenant_matrix", "Convenant", OFFICER, order=50, also={"web.convenant_diff"})
register_home("privacy_officer", "web.audit_explorer")
REFUSAL_EVENTS.update(
    {
        "web.audit_explorer": ("audit.query", "search"),
        "web.audit_search": ("audit.query", "search"),
        "web.chain": ("audit.verify", "execute"),
        "web.checkpoint": ("audit.checkpoint", "create"),
        "web.anomalies": ("audit.anomalies", "search"),
        "web.access_report": ("subject.access_report", "read"),
        "web.access_report_show": ("subject.access_report", "read"),
    }
)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EVENT = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_SUBJECT = re.compile(r"^yp-[0-9a-f]{40}$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.ya?ml$")


def _officer(purpose: str = "toezicht") -> Context:
    """The privacy officer acting for `purpose` (403 for anyone else)."""
    actor = page_actor()
    g.purpose = purpose
    role = choose_role(runtime().convenant, actor, purpose)
    g.role = role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)


# ── the audit explorer ──────────────────────────────────────────────────────────────────────

FILTERS = ("subject", "person", "party", "purpose", "event", "action", "outcome", "case_id")
TIMES = ("since", "until")


@dataclass
class AuditFilters:
    """The explorer's filters as typed, and the problem with each (by name)."""

    values: dict[str, str]
    errors: dict[str, str]

    @classmethod
    def read(cls, args: Any) -> AuditFilters:
        """The filters of a query string or a posted form (bsn only from a form)."""
        values = {
            name: str(args.get(name, "")).strip()[:200]
            for name in (*FILTERS, *TIMES, "bsn")
            if str(args.get(name, "")).strip()
        }
        errors: dict[str, str] = {}
        checks = {
            "person": _TOKEN,
            "party": NAME,
            "purpose": NAME,
            "event": _EVENT,
            "case_id": _TOKEN,
            "subject": _SUBJECT,
        }
        for name, pattern in checks.items():
            value = values.get(name)
            if value is None:
                continue
            if not pattern.match(value):
                errors[name] = gettext("heeft niet de goede vorm")
            elif name != "subject" and looks_like_bsn(value):
                errors[name] = gettext("lijkt een BSN: zoek een jongere met het veld BSN")
        for name, allowed in (("action", ACTIONS), ("outcome", OUTCOMES)):
            if name in values and values[name] not in allowed:
                errors[name] = gettext("kies een waarde uit de lijst")
        for name in TIMES:
            if name in values and _moment(values[name], name == "until") is None:
                errors[name] = gettext("is geen datum of tijd (dd-mm-jjjj of jjjj-mm-ddTuu:mm)")
        if "bsn" in values and not is_valid_bsn(values["bsn"].replace(" ", "")):
            errors["bsn"] = gettext("is geen geldig BSN (negen cijfers die de elfproef doorstaan)")
        return cls(values, errors)

    def query(self, after_seq: int) -> AuditQuery:
        """The audit query of valid filters."""
        v = self.values
        return AuditQuery(
            subject=v.get("subject"),
            person_id=v.get("person"),
            party=v.get("party"),
            purpose=v.get("purpose"),
            event=v.get("event"),
            action=v.get("action"),
            outcome=v.get("outcome"),
            case_id=v.get("case_id"),
            since=_moment(v["since"], False) if "since" in v else None,
            until=_moment(v["until"], True) if "until" in v else None,
            after_seq=after_seq,
            limit=PAGE_SIZE,
        )

    def link(self, **extra: Any) -> str:
        """The explorer's URL with these filters (never a BSN) and `extra`."""
        params = {k: v for k, v in self.values.items() if k != "bsn"}
        params.update({k: v for k, v in extra.items() if v is not None})
        query = urlencode(params)
        return url_for("web.audit_explorer") + (f"?{query}" if query else "")


def _moment(text: str, end_of_day: bool) -> dt.datetime | None:
    """A date (dd-mm-jjjj or jjjj-mm-dd) or a local time as an aware time (Amsterdam); a
    date as an end (`until`) means the end of that day."""
    match = re.match(r"^([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})$", text)
    if match:
        day, month, year = match.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}"
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10 and end_of_day:
        value += dt.timedelta(days=1)
    return value if value.tzinfo else value.replace(tzinfo=AMSTERDAM)


def _choices() -> dict[str, list[tuple[str, str]]]:
    """The options of the explorer's lists: the convenant's parties and purposes, the
    actions and outcomes of the audit log."""
    c = runtime().convenant
    return {
        "party": [(p, p) for p in c.parties],
        "purpose": [(p, p) for p in c.purposes],
        "action": [(a, a) for a in sorted(ACTIONS)],
        "outcome": [(o, gettext(OUTCOME_LABELS.get(o, o))) for o in sorted(OUTCOMES)],
    }


def _explorer(filters: AuditFilters, status: int = 200) -> Response:
    return page("web/audit.html", status, filters=filters, records=None, choices=_choices())


def _invalid_filters(filters: AuditFilters) -> Response:
    """The explorer with each filter's problem (the refusal audited; nothing searched)."""
    audit_shown(
        Problem(
            422,
            "invalid_filters",
            "The audit query is not valid.",
            audit={"problems": len(filters.errors)},
        )
    )
    return _explorer(filters, 422)


@web.get("/privacy/audit")
def audit_explorer() -> Response:
    """Audit records by young person, person, party, purpose, event, action, outcome, case and
    time, a page at a time (the query is audited)."""
    ctx = _officer()
    filters = AuditFilters.read(request.args)
    filters.values.pop("bsn", None)  # a BSN is only ever posted
    filters.errors.pop("bsn", None)
    if filters.errors:
        return _invalid_filters(filters)
    raw = request.args.get("after_seq", "0")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Problem(400, "bad_parameter", "after_seq must be a whole number.")
    query = filters.query(int(raw))
    result = query_audit(db_session(), runtime(), ctx, query, bsn_given=query.subject is not None)
    after = result["next_after_seq"]
    return page(
        "web/audit.html",
        filters=filters,
        records=result["items"],
        next_link=filters.link(after_seq=after) if after is not None else None,
        first_link=filters.link() if query.after_seq else None,
        choices=_choices(),
    )


@web.post("/privacy/audit")
def audit_search() -> Response:
    """The filter form: a BSN becomes the young person's pseudonym, then the results' page."""
    _officer()
    filters = AuditFilters.read(request.form)
    if filters.errors:
        return _invalid_filters(filters)
    bsn = filters.values.pop("bsn", None)
    if bsn is not None:
        filters.values["subject"] = subject_key(runtime().subject_secret, bsn=bsn.replace(" ", ""))
    return redirect(filters.link(), 303)


# ── the chain ───────────────────────────────────────────────────────────────────────────────


@web.get("/privacy/chain")
def chain() -> Response:
    """Verify the chain against the kept checkpoints; the last checkpoint and how far it holds."""
    ctx = _officer()
    rt = runtime()
    session = db_session()
    session.rollback()  # end the request's transaction: on SQLite it holds the write lock
    deep = request.args.get("deep") == "1"
    with read_session() as reader:
        result = verify_log(reader, rt, deep=deep)
        kept = rt.audit.checkpoints(reader)
    audit_and_commit(session, rt, [verification_entry(ctx, result, deep=deep)])
    return page("web/chain.html", result=result, checkpoints=list(reversed(kept[-20:])), deep=deep)


@web.post("/privacy/chain/checkpoint")
def checkpoint() -> Response:
    """Sign a checkpoint of the chain's head now."""
    made = checkpoint_now(db_session(), runtime(), _officer())
    flash(gettext("Checkpoint gemaakt bij volgnummer {seq}.", seq=made.seq))
    return redirect(url_for("web.chain"), 303)


# ── anomalies ───────────────────────────────────────────────────────────────────────────────


@web.get("/privacy/anomalies", endpoint="anomalies")
def anomalies_page() -> Response:
    """What to look at in a period: refusals, access outside the case team, bulk views, views
    outside office hours, and the alarms raised."""
    ctx = _officer()
    errors: dict[str, str] = {}
    values = {k: request.args.get(k, "").strip()[:40] for k in TIMES if request.args.get(k)}
    until = _moment(values["until"], True) if "until" in values else None
    since = _moment(values["since"], False) if "since" in values else None
    for name, moment in (("since", since), ("until", until)):
        if name in values and moment is None:
            errors[name] = gettext("is geen datum of tijd (dd-mm-jjjj of jjjj-mm-ddTuu:mm)")
    if errors:
        audit_shown(Problem(422, "invalid_filters", "The period is not valid."))
        return page("web/anomalies.html", 422, values=values, errors=errors, found=None)
    until = until or dt.datetime.now(dt.UTC)
    since = since or until - dt.timedelta(days=7)
    config = current_app.config
    found = anomalies(
        db_session(),
        runtime(),
        ctx,
        since,
        until,
        config["OFFICE_HOURS"],
        int(config["BULK_VIEW_LIMIT"]),
    )
    return page("web/anomalies.html", values=values, errors=errors, found=found)


# ── the access report ───────────────────────────────────────────────────────────────────────


@web.get("/privacy/access-report", endpoint="access_report")
def access_report_form() -> Response:
    """The form of an access request: the young person's BSN."""
    _officer("inzageverzoek")
    return page("web/access_report_form.html", errors={})


@web.post("/privacy/access-report")
def access_report_show() -> Response:
    """The access report: which data is held, from whom, and every disclosure — printable
    (the browser prints it, or saves it as PDF)."""
    ctx = _officer("inzageverzoek")
    bsn = request.form.get("bsn", "").strip().replace(" ", "")
    if not is_valid_bsn(bsn):
        audit_shown(Problem(422, "invalid_bsn", "bsn must be a valid BSN (eleven-check)."))
        errors = {"bsn": gettext("is geen geldig BSN (negen cijfers die de elfproef doorstaan)")}
        return page("web/access_report_form.html", 422, errors=errors)
    report = access_report(db_session(), runtime(), ctx, bsn)
    return page("web/access_report.html", report=report)


# ── the convenant: coverage matrix and diff ─────────────────────────────────────────────────


def _require_officer() -> Actor:
    actor = page_actor()
    if not OFFICER.intersection(actor.roles):
        raise Problem(403, "role_required", "This page is for the privacy officer.")
    return actor


LETTERS = {"show": "F", "generalise": "G", "mask": "M", "pseudonymise": "P", "withhold": "—"}


@web.get("/privacy/convenant")
def convenant_matrix() -> Response:
    """Which rule decides each cell, for one track and purpose: fields × party/role."""
    _require_officer()
    c = runtime().convenant
    track = request.args.get("track", "")
    purpose = request.args.get("purpose", "")
    track = track if track in c.tracks else next(t for t in c.tracks if t != c.initial_track)
    purpose = purpose if purpose in c.purposes else "casusoverleg"
    if purpose not in c.purposes:
        purpose = next(iter(c.purposes))
    columns = [
        d
        for d in (
            policies.decide(c, party, role, purpose, track)
            for party in c.parties
            for role in c.roles
        )
        if d.is_allowed
    ]
    rules_used = sorted(
        {fd.rule_id for d in columns for fd in d.fields.values() if not fd.is_default_deny}
    )
    return page(
        "web/convenant_matrix.html",
        track=track,
        purpose=purpose,
        columns=columns,
        letters=LETTERS,
        rules=[r for r in (c.rule(rule_id) for rule_id in rules_used) if r is not None],
    )


@web.get("/privacy/convenant/matrix.csv")
def convenant_matrix_csv() -> Response:
    """The whole coverage matrix as CSV, one row per cell."""
    _require_officer()
    c = runtime().convenant
    response = current_app.response_class(coverage_csv(c), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="convenant-{re.sub(r"[^0-9A-Za-z.]", "_", c.version)}-matrix.csv"'
    )
    return response


def _folder() -> Path:
    return Path(current_app.instance_path) / CONVENANTS_FOLDER


def convenant_sources() -> list[str]:
    """The convenant files to compare: `*.yaml` in the instance folder's `convenants/` (names
    only; nothing outside that folder can be chosen)."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.is_file() and _SOURCE.match(p.name) is not None
    )


CURRENT = "(in force)"


def _load_source(name: str) -> tuple[policies.Convenant | None, list[str]]:
    """The convenant in force, or one of the folder's files by its listed name."""
    if name == CURRENT:
        return runtime().convenant, []
    if name not in convenant_sources():
        return None, [gettext("Kies een bestand uit de lijst.")]
    path = (_folder() / name).resolve()
    if path.parent != _folder().resolve() or path.stat().st_size > MAX_CONVENANT_BYTES:
        return None, [gettext("Dit bestand kan niet worden gelezen.")]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, [gettext("Dit bestand kan niet worden gelezen.")]
    return _compiled(text, name)


def _has_aliases(text: str) -> bool:
    """Whether a YAML text uses aliases (`*name`): a few lines of them can expand to more
    nodes than fit in memory, and a convenant needs none."""
    try:
        return any(isinstance(t, yaml.AliasToken) for t in yaml.scan(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return False  # the loader reports the syntax problem with its line


def _compiled(text: str, source: str) -> tuple[policies.Convenant | None, list[str]]:
    """The convenant in a YAML text, or the problems that keep it from loading."""
    if _has_aliases(text):
        return None, [gettext("YAML-aliassen (*naam) worden hier niet gelezen.")]
    try:
        return policies.loads(text, source), []
    except policies.ConvenantError as exc:
        return None, [str(p) for p in exc.problems]


@web.get("/privacy/convenant/diff")
def convenant_diff() -> Response:
    """Choose two versions of the convenant to compare."""
    _require_officer()
    return page(
        "web/convenant_diff.html",
        sources=convenant_sources(),
        current=CURRENT,
        chosen={"old": CURRENT, "new": CURRENT},
        problems={},
        changes=None,
        folder=f"{Path(current_app.instance_path).name}/{CONVENANTS_FOLDER}",
    )


@web.post("/privacy/convenant/diff")
def convenant_diff_show() -> Response:
    """What becomes visible, hidden or differently shown from the old to the new version."""
    _require_officer()
    chosen = {k: request.form.get(k, CURRENT) for k in ("old", "new")}
    problems: dict[str, list[str]] = {}
    loaded: dict[str, policies.Convenant | None] = {}
    upload = request.files.get("upload")
    for side in ("old", "new"):
        if side == "new" and upload is not None and upload.filename:
            data = upload.read(MAX_CONVENANT_BYTES + 1)
            try:
                text = data.decode("utf-8") if len(data) <= MAX_CONVENANT_BYTES else None
            except UnicodeDecodeError:
                text = None
            if text is None:
                loaded[side], problems[side] = (
                    None,
                    [gettext("Dit bestand kan niet worden gelezen.")],
                )
            else:
                loaded[side], problems[side] = _compiled(text, "upload")
            chosen[side] = "upload"
        else:
            loaded[side], problems[side] = _load_source(chosen[side])
    old, new = loaded["old"], loaded["new"]
    changes: list[Change] | None = diff(old, new) if old is not None and new is not None else None
    status = 200 if changes is not None else 422
    return page(
        "web/convenant_diff.html",
        status,
        sources=convenant_sources(),
        current=CURRENT,
        chosen=chosen,
        problems={k: v for k, v in problems.items() if v},
        changes=changes,
        old=old,
        new=new,
        folder=f"{Path(current_app.instance_path).name}/{CONVENANTS_FOLDER}",
    )
