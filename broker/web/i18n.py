"""The pages' language: Dutch, with English available.

Texts are written in Dutch in the templates and the code (`_("Mijn casussen")`); `gettext`
looks up the English when the person chose English, and falls back to the Dutch. The names in
the convenant (parties, tracks, purposes, fields) stay as the convenant writes them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import has_request_context, session

from broker.core.problems import Problem

__all__ = [
    "BADGE_LABELS",
    "CHANGE_KINDS",
    "EFFECT_LABELS",
    "EN",
    "LANGUAGES",
    "OUTCOME_LABELS",
    "ROLE_LABELS",
    "field_problem",
    "gettext",
    "language",
    "problem_message",
    "texts",
]

LANGUAGES = {"nl": "Nederlands", "en": "English"}
LANG_KEY = "lang"

EFFECT_LABELS = {
    "show": "getoond",
    "generalise": "gegeneraliseerd",
    "mask": "gemaskeerd",
    "pseudonymise": "gepseudonimiseerd",
    "withhold": "achtergehouden",
}
BADGE_LABELS = {
    **EFFECT_LABELS,
    "own": "eigen gegevens",
    "withhold": "niet zichtbaar voor u",
    "empty": "geen gegevens",
}
CHANGE_KINDS = {
    "visible": "wordt zichtbaar",
    "hidden": "wordt verborgen",
    "transformed": "anders getoond",
}
ROLE_LABELS = {
    "case_worker": "professional",
    "coordinator": "coördinator",
    "privacy_officer": "functionaris gegevensbescherming",
    "system": "systeem",
}
OUTCOME_LABELS = {
    "success": "gelukt",
    "denied": "geweigerd",
    "not_found": "niet gevonden",
    "unauthorized": "niet ingelogd of niet toegestaan",
    "invalid": "ongeldig",
    "conflict": "conflict",
    "error": "fout",
}


def language() -> str:
    """The language of the request: the person's choice, else Dutch."""
    if has_request_context():
        chosen = session.get(LANG_KEY)
        if chosen in LANGUAGES:
            return str(chosen)
    return "nl"


def gettext(text: str, **values: Any) -> str:
    """The text in the request's language, with `{name}` placeholders filled in."""
    if language() == "en":
        text = EN.get(text, text)
    return text.format(**values) if values else text


# What a refused request means for the person, per problem code (the API's detail is English).
_PROBLEMS = {
    "case_not_found": "Er is geen casus met dit kenmerk die u mag zien.",
    "purpose_unknown": "Dit doel staat niet in het convenant.",
    "purpose_missing": "Kies eerst het doel waarvoor u de gegevens inziet.",
    "purpose_not_for_role": "Uw rol mag dit doel niet gebruiken (doelbinding).",
    "role_not_held": "U heeft die rol niet.",
    "role_required": "Deze pagina is niet voor uw rol.",
    "no_case_content": "Met dit doel krijgt u geen casusinhoud te zien.",
    "rate_limited": "U heeft in korte tijd veel casussen geopend. Wacht even en probeer opnieuw.",
    "audit_unavailable": (
        "Het auditlog kon niet worden geschreven. Daarom is er niets gedaan en zijn er geen "
        "gegevens getoond. Probeer het later opnieuw."
    ),
    "csrf_invalid": (
        "Het formulier was verlopen of kwam niet van deze pagina. Ga terug, laad de pagina "
        "opnieuw en probeer het nog eens."
    ),
    "not_on_case_team": "Uw partij zit niet in het casusteam van dit traject.",
    "coordinator_only": "Dit doet alleen de coördinator.",
    "purpose_not_for_endpoint": "De monitoringcijfers zijn er alleen voor het doel uitvoering.",
    "case_closed": "Deze casus is afgesloten; er verandert niets meer aan.",
    "plan_writer_only": (
        "Alleen de coördinator of de casusregisseur schrijft het plan van aanpak, zolang de "
        "casus loopt."
    ),
    "plan_not_found": "Deze casus heeft (nog) geen plan van aanpak met deze versie.",
    "purpose_not_for_plan": (
        "Het plan van aanpak leest en schrijft u voor casusoverleg of uitvoering, "
        "niet voor dit doel."
    ),
    "purpose_not_for_triage": "De triagelijst is alleen voor het doel triage.",
    "notification_not_found": "Er is geen melding met dit nummer voor u.",
    "plan_version_conflict": (
        "Op hetzelfde moment is een andere versie van het plan opgeslagen; er is niets "
        "veranderd. Open het plan opnieuw."
    ),
    "bad_parameter": (
        "Het adres van deze pagina klopt niet (een onderdeel heeft een verkeerde waarde)."
    ),
}


def problem_message(problem: Problem) -> str:
    """What to tell the person about a refused request, in their language."""
    text = _PROBLEMS.get(problem.code)
    if text is None and problem.status == 429:
        text = _PROBLEMS["rate_limited"]
    return gettext(text) if text is not None else problem.detail


# Validation problems (broker.validation names the field and the rule, never the value) in
# Dutch; what is not listed is shown as the validator wrote it.
_FIELD_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^is not a valid BSN", "is geen geldig BSN (negen cijfers die de elfproef doorstaan)"),
        (r"^is not a Dutch postcode", "is geen Nederlandse postcode zoals 8924 AB"),
        (r"^is not a date in the form", "is geen datum (dd-mm-jjjj)"),
        (r"^must be of integer type$", "moet een heel getal zijn"),
        (r"^must be of boolean type$", "kies ja of nee"),
        (r"^must be of string type$", "moet tekst zijn"),
        (r"^min value is (\d+)$", "moet minstens {0} zijn"),
        (r"^max value is (\d+)$", "mag hoogstens {0} zijn"),
        (r"^max length is (\d+)$", "mag hoogstens {0} tekens lang zijn"),
        (r"^empty values not allowed$", "mag niet leeg zijn"),
        (r"^required field$", "is verplicht"),
        (r"^holds control characters", "bevat ongeldige tekens"),
        (r"^has the wrong format$", "heeft de verkeerde vorm"),
        (r"^is not one of the allowed values$", "is geen van de toegestane waarden"),
        (r"^lies in the future$", "ligt in de toekomst"),
        (
            r"^the young person is outside the MultiTeam's target group \((\d+)–(\d+) years\)$",
            "de jongere valt buiten de doelgroep van het MultiTeam ({0}–{1} jaar)",
        ),
        (r"^differs from subject\.", "wijkt af van het BSN of de identiteit hierboven"),
        (r"^unknown field", "is geen gegeven uit het convenant"),
        (r"^your party \((\w+)\) may not supply", "mag uw partij ({0}) niet aanleveren"),
        (r"^must be clean text of at most (\d+) characters$", "mag hoogstens {0} tekens zijn"),
        (r"^empty$", "vul minstens één gegeven of een toelichting in"),
        (r"^must be one of (.+)$", "moet een van deze zijn: {0}"),
        (r"^min length is (\d+)$", "vul er minstens {0} in"),
        (r"^lies in the past$", "ligt in het verleden"),
        (r"^must not be blank$", "mag niet leeg zijn"),
        (r"^a case cannot go back to (\w+)$", "een casus kan niet terug naar {0}"),
        (r"^unknown person$", "is geen bekende, actieve persoon"),
        (
            r"^this person has no role that works on cases$",
            "deze persoon heeft geen rol die aan casussen werkt",
        ),
        (
            r"^party (\w+) is not on the case team of (\w+)$",
            "partij {0} zit niet in het casusteam van {1}",
        ),
        (
            r"^must be a party on the case team of track (\w+) \((.*)\)$",
            "moet een partij uit het casusteam van traject {0} zijn ({1})",
        ),
        (r"^is already the case's track$", "de casus zit al in dit traject"),
        (r"^is already the case director$", "is al de casusregisseur"),
        (
            r"^give a bsn, or all of",
            "vul een BSN in, of achternaam, voornamen, geboortedatum, postcode en huisnummer",
        ),
    )
)


def texts() -> list[str]:
    """The Dutch texts this module holds (labels and messages), to check their translation."""
    out: list[str] = []
    for labels in (EFFECT_LABELS, BADGE_LABELS, CHANGE_KINDS, ROLE_LABELS, OUTCOME_LABELS):
        out += labels.values()
    out += _PROBLEMS.values()
    out += [text for _, text in _FIELD_PROBLEMS]
    return out


def field_problem(problem: str) -> str:
    """A validation problem in the person's language."""
    for pattern, text in _FIELD_PROBLEMS:
        match = pattern.match(problem)
        if match:
            return gettext(text).format(*match.groups())
    return problem


# Dutch → English, one entry per text of the pages (a test checks that none is missing).
EN: dict[str, str] = json.loads((Path(__file__).parent / "en.json").read_text(encoding="utf-8"))
