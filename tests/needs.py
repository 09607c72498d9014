"""What a test needs from the machine: when it is missing, the test skips saying why — except
with CI=true, where nothing may skip and the test fails instead."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["in_ci", "module", "unavailable"]


def in_ci() -> bool:
    """Whether this run is CI's (CI=true), where every test must run."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail with it under CI=true."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


def module(name: str, reason: str) -> ModuleType:
    """The module `name`, imported; unavailable(reason) when it cannot be."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"{name} is not importable; {reason}")
