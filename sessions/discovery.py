"""Importing the modules that define sessions."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from .errors import MinkeError

BUILTIN_MODULES = ("sessions.builtin",)


class SessionModuleError(MinkeError):
    """A module named in ``MINKE_SESSION_MODULES`` could not be imported."""


def parse_module_list(value: str | Iterable[str] | None) -> list[str]:
    """``"a.b, c"`` or ``["a.b", "c"]`` → ``["a.b", "c"]``."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item and item.strip()]


def load_sessions(modules: str | Iterable[str] | None = None) -> list[str]:
    """Import the built-in session modules and ``modules``; return what was imported.

    Importing a module registers the sessions it defines.

    :raises SessionModuleError: naming the module that failed and why.
    """
    names = [*BUILTIN_MODULES, *parse_module_list(modules)]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SessionModuleError(f"cannot import session module {name!r}: {exc}") from exc
    return names
