"""Demo data: the eight demo accounts and the week of the MultiTeam from the scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from broker.casework.plan import write_plan
from broker.casework.signals import submit_signal
from broker.casework.tracks import change_track, close_case
from broker.core.context import Context
from broker.core.runtime import runtime, transaction
from broker.identity.accounts import find_client
from broker.identity.actors import Actor
from broker.storage.models import Case, Person

from .accounts import create_client

__all__ = ["DEMO_ACCOUNTS", "DEMO_CLIENTS", "ensure_accounts", "ensure_clients", "load_demo"]

# username, party, role, name
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("jansen", "politie", "case_worker", "Wijkagent Pieter Jansen"),
    ("visser", "om", "case_worker", "Officier Anke Visser"),
    ("devries", "jeugdhulp", "case_worker", "Jeugdhulpverlener Sanne de Vries"),
    ("bakker", "school", "case_worker", "Mentor Johan Bakker"),
    ("smit", "woningcorporatie", "case_worker", "Wijkconsulent Ellen Smit"),
    ("bos", "zvh", "case_worker", "Procesregisseur Mark Bos"),
    ("mulder", "gemeente", "coordinator", "Coördinator Lisa Mulder"),
    ("dekker", "gemeente", "privacy_officer", "FG Willem Dekker"),
)


# client id, name, party, grant types, redirect URIs; without client_credentials: public (PKCE)
DEMO_CLIENTS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "politie-bvh",
        "Politie: bedrijfsprocessensysteem (BVH)",
        "politie",
        ("client_credentials",),
        (),
    ),
    (
        "mt-portaal",
        "MultiTeam-portaal",
        "gemeente",
        ("authorization_code",),
        ("http://127.0.0.1:8400/callback",),
    ),
)


def _born(years: int, month: int, day: int) -> str:
    """A birth date that makes the young person `years` old today (fictitious)."""
    today = dt.date.today()
    born = dt.date(today.year - years, month, day)
    if born > today.replace(year=today.year - years):
        born = born.replace(year=born.year - 1)
    return born.isoformat()


def _identity(
    bsn: str,
    surname: str,
    given: str,
    born: str,
    street: str,
    number: str,
    postcode: str,
    wijk: str,
) -> dict[str, Any]:
    return {
        "bsn": bsn,
        "surname": surname,
        "given_names": given,
        "birth_date": born,
        "street": street,
        "house_number": number,
        "postcode": postcode,
        "city": "Leeuwarden",
        "wijk": wijk,
    }


def _scenarios() -> list[dict[str, Any]]:
    """Fictitious people and situations from shared/scenarios.md (BSNs pass the 11-check)."""
    return [
        {  # 1. Heechterp-Schieringen, boy of 15: school + police + municipality.
            "bsn": "725763863",
            "signals": [
                (
                    "jansen",
                    {
                        **_identity(
                            "725763863",
                            "Hoekstra",
                            "Daan",
                            _born(15, 3, 14),
                            "Egelantierstraat",
                            "12",
                            "8924 CK",
                            "Heechterp-Schieringen",
                        ),
                        "incident_count": 2,
                        "incidents_summary": "Twee winkeldiefstallen in winkelcentrum Skoatterwâld",
                        "suspect": True,
                    },
                    "Twee keer aangehouden voor winkeldiefstal.",
                ),
                (
                    "bakker",
                    {
                        "school_name": "Piter Jelles Montessori",
                        "attendance_problem": True,
                        "dropout_risk": True,
                    },
                    "Langdurig verzuim sinds september; risico op voortijdig schoolverlaten.",
                ),
                (
                    "mulder",
                    {"debts": True, "debt_details": "Betalingsachterstanden bij energie en huur"},
                    "Schulden in het gezin bekend bij schuldhulpverlening.",
                ),
            ],
            "track": (
                "lokaal_preventief",
                "devries",
                "Twee partijen signaleren; lichte problematiek, lokaal op te pakken.",
            ),
            "plan": (
                "devries",
                {
                    "concerns": "Langdurig verzuim en twee winkeldiefstallen; schulden in het "
                    "gezin zorgen voor spanning thuis.",
                    "goals": [
                        "Daan gaat weer volledig naar school",
                        "Geen nieuwe incidenten in het komende half jaar",
                        "Het gezin krijgt grip op de schulden",
                    ],
                    "agreements": [
                        {
                            "party": "school",
                            "agreement": "Mentor meldt verzuim dezelfde dag; wekelijks "
                            "gesprek met Daan.",
                        },
                        {
                            "party": "jeugdhulp",
                            "agreement": "Gezinscoach twee keer per week thuis; "
                            "casusregie en terugkoppeling aan het MultiTeam.",
                        },
                        {
                            "party": "politie",
                            "agreement": "Wijkagent voert een stopgesprek en houdt contact.",
                        },
                        {
                            "party": "gemeente",
                            "agreement": "Schuldhulpverlening neemt contact op met de ouders.",
                        },
                    ],
                },
            ),
        },
        {  # 2. Vlietzone, young man of 17: PGA with OM and housing corporation.
            "bsn": "162275869",
            "signals": [
                (
                    "jansen",
                    {
                        **_identity(
                            "162275869",
                            "de Jong",
                            "Kevin",
                            _born(17, 6, 2),
                            "Vlietsingel",
                            "40",
                            "8917 BP",
                            "Vlietzone",
                        ),
                        "incident_count": 7,
                        "incidents_summary": "Herhaalde overlast, vermoeden van "
                        "drugskoerierswerk voor oudere dealers",
                        "suspect": True,
                    },
                    "Signalen van ondermijning: loopjongen voor dealers.",
                ),
                (
                    "visser",
                    {"pending_case": True, "halt_outcome": "Halt-afdoening afgerond (vernieling)"},
                    "Lopende zaak en eerdere Halt-afdoening.",
                ),
                (
                    "smit",
                    {"nuisance_reports": 5, "eviction_risk": True},
                    "Vijf overlastmeldingen; dreigende huisuitzetting.",
                ),
            ],
            "track": (
                "pga",
                "jansen",
                "Ondermijning en herhaalde incidenten: persoonsgerichte aanpak.",
            ),
            "plan": (
                "mulder",
                {
                    "concerns": "Loopjongen voor oudere dealers; overlast en dreigende "
                    "huisuitzetting van het gezin.",
                    "goals": [
                        "Kevin is los van het criminele netwerk",
                        "Het gezin behoudt de woning",
                    ],
                    "agreements": [
                        {
                            "party": "politie",
                            "agreement": "Casusregisseur; persoonsgericht toezicht en "
                            "een stopgesprek met de ouders.",
                        },
                        {
                            "party": "om",
                            "agreement": "Lopende zaak wordt afgestemd op het plan.",
                        },
                        {
                            "party": "woningcorporatie",
                            "agreement": "Ontruiming aangehouden zolang de afspraken "
                            "worden nagekomen.",
                        },
                    ],
                },
            ),
        },
        {  # 3. Bilgaard, girl of 16: ZVH, care details under art. 9(2)(g).
            "bsn": "192285142",
            "signals": [
                (
                    "devries",
                    {
                        **_identity(
                            "192285142",
                            "Visser",
                            "Noor",
                            _born(16, 1, 20),
                            "Bilgaardpark",
                            "7",
                            "8918 AJ",
                            "Bilgaard",
                        ),
                        "care_involved": True,
                        "mental_health_care": True,
                        "care_details": "Verwijzing naar jeugd-GGZ; ambulante begeleiding",
                        "family_concerns": "Signalen van huiselijk geweld thuis",
                        "household": "Moeder, stiefvader, twee jongere broers",
                    },
                    "Zorgen over huiselijk geweld; GGZ-verwijzing loopt.",
                ),
                (
                    "jansen",
                    {
                        "incident_count": 1,
                        "incidents_summary": "Melding huiselijk geweld op het woonadres",
                        "suspect": False,
                    },
                    "Melding huiselijk geweld.",
                ),
            ],
            "track": ("zvh", "bos", "Complexe zorg- en veiligheidsproblematiek: ZVH-aanpak."),
        },
        {  # 4. Vrijheidswijk, boy of 14: only the school signalled; stays in signaal.
            "bsn": "691682483",
            "signals": [
                (
                    "bakker",
                    {
                        **_identity(
                            "691682483",
                            "Bouma",
                            "Milan",
                            _born(14, 9, 9),
                            "Vrijheidsweg",
                            "88",
                            "8921 GD",
                            "Vrijheidswijk",
                        ),
                        "school_name": "OSG Piter Jelles",
                        "attendance_problem": True,
                        "guardian_name": "Petra Bouma",
                    },
                    "Verzuim, verder geen signalen.",
                ),
            ],
            "track": None,
        },
        {  # 5. Oud Oost, young man of 22: on youth probation.
            "bsn": "987825707",
            "signals": [
                (
                    "visser",
                    {
                        **_identity(
                            "987825707",
                            "Meijer",
                            "Thijs",
                            _born(22, 4, 30),
                            "Oostergrachtswal",
                            "15",
                            "8921 AA",
                            "Oud Oost",
                        ),
                        "youth_probation": True,
                        "pending_case": False,
                    },
                    "Jeugdreclassering loopt.",
                ),
                ("devries", {"care_involved": True}, "Jeugdhulp betrokken."),
            ],
            "track": ("lokaal_preventief", "devries", "Begeleiding naast jeugdreclassering."),
            "close": ("verhuisd", "Verhuisd naar Groningen; de jeugdreclassering loopt daar door."),
        },
        # The triage queue: signals that wait for the coordinator, each with a match.
        {  # Bilgaard, boy of 16: the school and the police signal (a second party).
            "bsn": "130608373",
            "signals": [
                (
                    "bakker",
                    {
                        **_identity(
                            "130608373",
                            "El Idrissi",
                            "Rayan",
                            _born(16, 11, 2),
                            "Bilgaardpark",
                            "31",
                            "8918 AK",
                            "Bilgaard",
                        ),
                        "school_name": "Friesland College",
                        "attendance_problem": True,
                    },
                    "Veel ongeoorloofd verzuim sinds de herfstvakantie.",
                ),
                (
                    "jansen",
                    {"incident_count": 1, "incidents_summary": "Aangehouden bij een vechtpartij"},
                    "Betrokken bij een vechtpartij bij het station.",
                ),
            ],
            "track": None,
        },
        {  # Vlietzone, boy of 14: same address as the young man of scenario 2 (PGA).
            "bsn": "179434305",
            "signals": [
                (
                    "jansen",
                    {
                        **_identity(
                            "179434305",
                            "de Jong",
                            "Jayden",
                            _born(14, 2, 17),
                            "Vlietsingel",
                            "40",
                            "8917 BP",
                            "Vlietzone",
                        ),
                        "incident_count": 1,
                        "incidents_summary": "Hangt rond bij de dealers van zijn broer",
                    },
                    "Jongere broer lijkt ook betrokken te raken.",
                ),
            ],
            "track": None,
        },
        {  # Bilgaard, girl of 13: the same parent as the boy of scenario 4, another address.
            "bsn": "197568531",
            "signals": [
                (
                    "devries",
                    {
                        **_identity(
                            "197568531",
                            "Bouma",
                            "Lotte",
                            _born(13, 7, 23),
                            "Bilgaardpark",
                            "112",
                            "8918 AP",
                            "Bilgaard",
                        ),
                        "guardian_name": "Petra Bouma",
                        "care_involved": True,
                    },
                    "Woont bij haar vader; moeder heeft het gezag. Zorgen over somberheid.",
                ),
            ],
            "track": None,
        },
    ]


def ensure_accounts() -> int:
    """Create the demo accounts that do not exist yet; the number created."""
    created = 0
    with transaction() as session:
        for username, party, role, name in DEMO_ACCOUNTS:
            if session.scalar(select(Person).where(Person.username == username)) is None:
                session.add(Person(username=username, name=name, party=party, roles=[role]))
                created += 1
    return created


def ensure_clients() -> list[tuple[str, str, str | None]]:
    """Create the demo clients that do not exist yet: (client id, party, secret) of each new
    one; the secret (None for the public portal) is shown this once."""
    created: list[tuple[str, str, str | None]] = []
    for client_id, name, party, grants, redirect_uris in DEMO_CLIENTS:
        with transaction() as session:
            if find_client(session, client_id) is not None:
                continue
        public = "client_credentials" not in grants
        secret = create_client(
            client_id, name, party, grants, redirect_uris, public=public, by="demo"
        )
        created.append((client_id, party, secret))
    return created


def _actor(username: str) -> Actor:
    with transaction() as session:
        p = session.scalars(select(Person).where(Person.username == username)).one()
        return Actor(p.id, p.username, p.name, p.party, tuple(p.roles), "broker-demo", "demo")


def load_demo(force: bool = False) -> str:
    """Accounts, then the scenarios through the same services the API uses (so all audited)."""
    created = ensure_accounts()
    rt = runtime()
    with transaction() as session:
        existing = session.scalar(select(func.count()).select_from(Case)) or 0
    if existing and not force:
        return f"{created} account(s) created; {existing} case(s) already present, none added"
    cases = 0
    coordinator = _actor("mulder")
    for scenario in _scenarios():
        case_id = None
        for username, fields, summary in scenario["signals"]:
            actor = _actor(username)
            signal = rt.validator.validate(
                actor.party,
                {"subject": {"bsn": scenario["bsn"]}, "fields": fields, "summary": summary},
            )
            with transaction() as session:
                receipt = submit_signal(session, rt, Context(actor, None, None), signal)
            case_id = receipt.case_id
        if scenario["track"] and case_id:
            track, director, reason = scenario["track"]
            ctx = Context(coordinator, None, None, role="coordinator", purpose="triage")
            with transaction() as session:
                change_track(
                    session,
                    rt,
                    ctx,
                    case_id,
                    {"track": track, "reason": reason, "case_director": director},
                )
        if scenario.get("plan") and case_id:
            author, plan = scenario["plan"]
            writer = _actor(author)
            review = (dt.date.today() + dt.timedelta(weeks=6)).isoformat()
            ctx = Context(writer, None, None, role=writer.roles[0], purpose="casusoverleg")
            with transaction() as session:
                write_plan(session, rt, ctx, case_id, {**plan, "review_date": review})
        if scenario.get("close") and case_id:
            code, note = scenario["close"]
            ctx = Context(coordinator, None, None, role="coordinator", purpose="uitvoering")
            with transaction() as session:
                close_case(session, rt, ctx, case_id, {"reason_code": code, "note": note})
        cases += 1
    return f"{created} account(s) created; {cases} demo case(s) added"
