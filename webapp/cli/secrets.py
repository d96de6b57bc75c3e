"""Secrets for ``minke run``: from standard input, the environment or a prompt.

Never from the command line itself, where every process of the machine can
read them (``ps``): ``--secret NAME`` reads one line of standard input,
``--secret-env NAME=VAR`` the environment variable ``VAR``; on a terminal a
missing one is asked for without echo.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from sessions import Session
from sessions.secrets import SECRET_KINDS, session_secret_fields

from ..engine.secrets import missing_secrets, secrets_needed
from .common import fail_usage


def read_secrets(names: Sequence[str], envs: Sequence[str]) -> dict[str, str]:
    """The values ``--secret`` (one line of standard input each, in order) and
    ``--secret-env NAME=VAR`` give, by name; a usage error for a missing variable or line."""
    values: dict[str, str] = {}
    for pair in envs:
        name, sep, variable = pair.partition("=")
        if not sep or not name or not variable:
            fail_usage(f"--secret-env expects NAME=VARIABLE, not {pair!r}")
        if variable not in os.environ:
            fail_usage(f"--secret-env {name}: the environment has no variable {variable}")
        values[name] = os.environ[variable]
    for name in names:
        line = sys.stdin.readline()
        if not line:
            fail_usage(f"--secret {name}: standard input ended before its line")
        values[name] = line.rstrip("\r\n")
    return values


def ask_secrets(session_cls: type[Session], objects: Sequence[Any], data: Mapping[str, Any],
                given: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``given`` split into secret form values and asked secrets, with what is missing
    asked for on a terminal. Without a terminal, a missing asked secret is left to
    ``start_run`` to refuse (naming who asks for it) and a missing field to the form.

    :returns: (secret form values, asked secrets by name).
    """
    fields_named = session_secret_fields(session_cls)
    unknown = sorted(set(given) - set(fields_named) - set(SECRET_KINDS))
    if unknown:
        fail_usage(f"--secret {', '.join(unknown)}: neither a secret the run can ask for "
                   f"({', '.join(SECRET_KINDS)}) nor a secret field of {session_cls.__name__}"
                   + (f" ({', '.join(sorted(fields_named))})" if fields_named else ""))
    fields = {name: value for name, value in given.items() if name in fields_named}
    asked = {name: value for name, value in given.items() if name in SECRET_KINDS}
    if not sys.stdin.isatty():
        return fields, asked
    for name in sorted(fields_named - set(fields) - set(data)):
        fields[name] = click.prompt(f"{name} (secret field, not echoed)", hide_input=True,
                                    default="", show_default=False)
    needed = secrets_needed(session_cls, objects)
    for name in missing_secrets(needed, asked):
        asked[name] = click.prompt(f"{SECRET_KINDS[name].label} ({needed.describe(name)})",
                                   hide_input=True)
    return fields, asked
