"""The structure of a convenant document, as a Cerberus schema (meaning is checked afterwards)."""

from __future__ import annotations

from typing import Any

__all__ = ["CONVENANT_SCHEMA", "SUITE_SCHEMA"]

_ID = {"type": "string", "regex": r"^[a-z][a-z0-9_]*$"}
_RULE_ID = {"type": "string", "regex": r"^[A-Za-z][A-Za-z0-9_.-]*$"}
_TEXT = {"type": "string", "empty": False}
_ID_LIST = {"type": "list", "empty": False, "schema": _ID}
_ALL_OR_IDS = {"anyof": [{"type": "string", "allowed": ["all"]}, _ID_LIST]}

_FIELD = {
    "type": "dict",
    "schema": {
        "type": {
            "type": "string",
            "required": True,
            "allowed": ["string", "text", "integer", "boolean", "date", "bsn", "postcode"],
        },
        "description": {"type": "string"},
        "allowed": {"type": "list", "empty": False},
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "maxlength": {"type": "integer", "min": 1},
    },
}

_GENERALISER = {
    "type": "dict",
    "schema": {
        "kind": {"type": "string", "required": True, "allowed": ["year", "bands", "wijk"]},
        "explanation": {**_TEXT, "required": True},
        "keep": _ID,
        "bands": {
            "type": "list",
            "empty": False,
            "schema": {
                "type": "dict",
                "schema": {
                    "max": {"type": "integer"},
                    "label": {**_TEXT, "required": True},
                },
            },
        },
    },
}

_RULE = {
    "type": "dict",
    "schema": {
        "id": {**_RULE_ID, "required": True},
        "tracks": {**_ID_LIST, "required": True},
        "parties": {**_ID_LIST, "required": True},
        "roles": {**_ID_LIST, "required": True},
        "purposes": {**_ID_LIST, "required": True},
        "effect": {
            "type": "string",
            "required": True,
            "allowed": ["show", "generalise", "mask", "pseudonymise", "withhold"],
        },
        "targets": {**_ID_LIST, "required": True},
        "generaliser": _ID,
        "keep_last": {"type": "integer", "min": 0},
        "legal_basis": {**_TEXT, "required": True},
        "special_basis": {
            "type": "dict",
            "keysrules": {"type": "string", "allowed": ["art9", "art10"]},
            "valuesrules": _TEXT,
        },
        "explanation": {**_TEXT, "required": True},
    },
}

CONVENANT_SCHEMA: dict[str, Any] = {
    "convenant": {
        "type": "dict",
        "required": True,
        "schema": {
            "id": {**_TEXT, "required": True},
            "title": {**_TEXT, "required": True},
            "version": {**_TEXT, "required": True},
            "effective_date": {"type": "date", "required": True},
            "description": {"type": "string"},
        },
    },
    "parties": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": _ID,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "name": {**_TEXT, "required": True},
                "regime": {"type": "string", "required": True, "allowed": ["AVG", "Wpg", "Wjsg"]},
                "legal_basis": {**_TEXT, "required": True},
            },
        },
    },
    "roles": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": _ID,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "description": {**_TEXT, "required": True},
                "parties": {**_ALL_OR_IDS, "required": True},
            },
        },
    },
    "purposes": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": _ID,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "description": {**_TEXT, "required": True},
                "legal_basis": {**_TEXT, "required": True},
                "roles": {**_ID_LIST, "required": True},
                "view": {"type": "string", "required": True, "allowed": ["case", "dat", "none"]},
            },
        },
    },
    "tracks": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": _ID,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "description": {**_TEXT, "required": True},
                "case_team": {**_ID_LIST, "required": True},
                "initial": {"type": "boolean"},
            },
        },
    },
    "generalisers": {"type": "dict", "keysrules": _ID, "valuesrules": _GENERALISER},
    "categories": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": _ID,
        "valuesrules": {
            "type": "dict",
            "schema": {
                "description": {**_TEXT, "required": True},
                "special": {"type": "string", "allowed": ["art9", "art10"], "nullable": True},
                "suppliers": {**_ALL_OR_IDS, "required": True},
                "fields": {
                    "type": "dict",
                    "required": True,
                    "empty": False,
                    "keysrules": _ID,
                    "valuesrules": _FIELD,
                },
            },
        },
    },
    "own_data": {
        "type": "dict",
        "schema": {
            "id": {**_RULE_ID, "required": True},
            "legal_basis": {**_TEXT, "required": True},
            "explanation": {**_TEXT, "required": True},
        },
    },
    "retention": {
        "type": "dict",
        "required": True,
        "schema": {
            "untriaged_signal": {
                "type": "dict",
                "required": True,
                "schema": {"months": {"type": "integer", "min": 1, "required": True}},
            },
            "closed_case": {
                "type": "dict",
                "required": True,
                "schema": {"years": {"type": "integer", "min": 1, "required": True}},
            },
            "age_limit": {
                "type": "dict",
                "required": True,
                "schema": {"years": {"type": "integer", "min": 12, "required": True}},
            },
            "audit_record": {
                "type": "dict",
                "required": True,
                "schema": {"years": {"type": "integer", "min": 1, "required": True}},
            },
        },
    },
    "rules": {"type": "list", "required": True, "schema": _RULE},
}

_EFFECTS = ["show", "generalise", "mask", "pseudonymise", "withhold"]

SUITE_SCHEMA: dict[str, Any] = {
    "name": {**_TEXT, "required": True},
    "convenant": {"type": "string"},
    "tests": {
        "type": "list",
        "required": True,
        "empty": False,
        "schema": {
            "type": "dict",
            "schema": {
                "name": {**_TEXT, "required": True},
                "request": {
                    "type": "dict",
                    "required": True,
                    "schema": {
                        "parties": {"type": "list", "required": True, "empty": False},
                        "roles": {"type": "list", "required": True, "empty": False},
                        "purposes": {"type": "list", "required": True, "empty": False},
                        "tracks": {"type": "list", "required": True, "empty": False},
                    },
                },
                "expect": {
                    "type": "dict",
                    "keysrules": {"type": "string"},
                    "valuesrules": {"type": "string", "allowed": _EFFECTS},
                    "excludes": "denied",
                },
                "otherwise": {"type": "string", "allowed": _EFFECTS, "excludes": "denied"},
                "denied": {
                    "type": "string",
                    "allowed": [
                        "unknown_party",
                        "unknown_role",
                        "unknown_purpose",
                        "unknown_track",
                        "role_not_for_party",
                        "purpose_not_for_role",
                        "not_on_case_team",
                    ],
                    "excludes": ["expect", "otherwise"],
                },
            },
        },
    },
}
