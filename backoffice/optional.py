"""Domains are optional to the core: import one if it is installed."""

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """Import name, or return None when that very module does not exist (other errors raise)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
