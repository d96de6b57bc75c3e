"""Starting a run from a JSON request, with the checks and errors of the pages and the CLI:
the permission policy (webapp/permissions.py), the session's form (``validate_data``),
the CLI's object selection (``select_objects``) and ``start_run``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessions import REGISTRY, Session, UnknownSession
from sessions.secrets import session_secret_fields

from ..engine.dispatch import (
    DispatchError,
    EnqueueError,
    MissingSecrets,
    PermissionDenied,
    start_run,
    validate_data,
)
from ..inputs import MAX_CONCURRENCY, id_list, parse_int
from ..models import Run, User
from ..permissions import run_refusal
from ..references import NoSuchObjects, SelectionError, select_objects
from .errors import ApiError

RUN_KEYS = frozenset({"session", "objects", "data", "secrets", "concurrency", "skip_busy"})
"""What a ``POST /runs`` body may hold (openapi.yaml's RunRequest)."""


def start_api_run(state: Any, user: User, body: Any) -> Run:
    """Start the run a ``POST /runs`` body asks for. Commits (see ``start_run``).

    Body: ``{"session": NAME, "objects": {...}, "data": {...}, "secrets": {...},
    "concurrency": N, "skip_busy": false}``; objects as ``{"model": M, "ids": [...]}``,
    ``{"model": M, "where": {FIELD: VALUE}}``, ``{"hosts": [NAMES]}`` or
    ``{"groups": [NAMES]}``; secrets as ``{"sudo_password": "..."}`` for what the
    session or a targeted host's group asks for (secret form fields may come here
    or in ``data``). Secrets are never stored, never in an answer.

    :raises ApiError: 400 for a bad request, unknown session or objects, invalid
        data (with each field's errors) or a missing secret (named in ``fields``);
        403 when ``user`` may not run the session, or not on objects of a model they
        may not list (``minke.view_hosts``: asked before the objects are looked up);
        503 when the jobs could not be queued. Nothing is queued except in the last case.
    """
    if not isinstance(body, Mapping):
        raise ApiError(400, "expected a JSON object: {\"session\": ..., \"objects\": ...}")
    unknown = sorted(set(body) - RUN_KEYS)
    if unknown:  # a misspelt option must not be dropped silently
        raise ApiError(400, f"unknown key {', '.join(unknown)}",
                       dict.fromkeys(unknown, ["unknown key"]))
    session_cls = _session(user, body.get("session"))
    data = body.get("data") or {}
    if not isinstance(data, Mapping):
        raise ApiError(400, "data: expected an object of form fields")
    given = body.get("secrets") or {}
    if not isinstance(given, Mapping) or not all(isinstance(v, str) for v in given.values()):
        raise ApiError(400, "secrets: expected an object of secret names to text values")
    field_names = session_secret_fields(session_cls)
    data = {**data, **{k: v for k, v in given.items() if k in field_names}}
    given = {k: v for k, v in given.items() if k not in field_names}
    concurrency = body.get("concurrency")
    if concurrency is not None:
        concurrency = parse_int(concurrency, "concurrency", minimum=1,
                                maximum=MAX_CONCURRENCY, text=False)
    skip_busy = body.get("skip_busy", False)
    if not isinstance(skip_busy, bool):
        raise ApiError(400, "skip_busy: expected true or false",
                       {"skip_busy": ["expected true or false"]})
    try:
        cleaned = validate_data(session_cls, {key: _text(value) for key, value in data.items()})
    except DispatchError as exc:
        raise ApiError(400, str(exc), exc.fields or None) from None
    objects = _objects(user, session_cls, body.get("objects"))
    try:
        return start_run(state, session_cls, objects, user=user, data=cleaned, origin="api",
                         concurrency=concurrency, secrets=given, skip_busy=skip_busy)
    except PermissionDenied as exc:
        raise ApiError(403, str(exc)) from None
    except MissingSecrets as exc:
        raise ApiError(400, str(exc), exc.fields) from None
    except EnqueueError as exc:
        raise ApiError(503, str(exc)) from None
    except DispatchError as exc:
        raise ApiError(400, str(exc)) from None


def _session(user: User, name: Any) -> type[Session]:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "session: name the session to run (GET /sessions lists them)")
    try:
        session_cls = REGISTRY.get(name)
    except UnknownSession:
        raise ApiError(400, f"session: unknown session {name!r}") from None
    reason = run_refusal(user, session_cls, ())
    if reason is not None:
        raise ApiError(403, reason)
    return session_cls


def _text(value: Any) -> Any:
    """A JSON value as form data: lists stay lists (multiple values), the rest text."""
    if isinstance(value, list):
        return [_text(item) for item in value]
    if isinstance(value, bool):
        return "y" if value else ""
    return "" if value is None else str(value)


def _names(spec: Mapping[str, Any], key: str) -> list[str]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(400, f"objects.{key}: expected a list of names")
    return value


def _objects(user: User, session_cls: type[Session], spec: Any) -> list[Any]:
    if not isinstance(spec, Mapping) or not spec:
        raise ApiError(400, 'objects: expected {"model": ..., "ids": [...]} or '
                            '{"model": ..., "where": {...}}')
    unknown = sorted(set(spec) - {"model", "ids", "where", "hosts", "groups"})
    if unknown:
        raise ApiError(400, f"objects: unknown key {', '.join(unknown)}")
    model, ids, where = spec.get("model"), spec.get("ids"), spec.get("where")
    if (ids is not None or where is not None) and not isinstance(model, str):
        raise ApiError(400, "objects.model: name the model of the ids or conditions")
    if ids is not None:
        ids = id_list(ids, "objects.ids")
        if not ids:
            raise ApiError(400, "objects.ids: name at least one id")
    if where is not None and not isinstance(where, Mapping):
        raise ApiError(400, "objects.where: expected an object of FIELD: VALUE")
    if ids is not None and where is not None:
        raise ApiError(400, "objects: give ids or where, not both")
    hosts, groups = _names(spec, "hosts"), _names(spec, "groups")
    if model is not None and (hosts or groups or "hosts" in spec or "groups" in spec):
        raise ApiError(400, "objects: give a model with ids or where, or hosts and groups")
    if model is not None and ids is None and where is None:
        raise ApiError(400, 'objects: with a model give "ids" or "where" ({} for all of them)')
    # before looking anything up: the answer must not tell what exists to whom may not list it
    reason = run_refusal(user, session_cls, [*(["Host"] if hosts or groups else []),
                                             *([model] if model is not None else [])])
    if reason is not None:
        raise ApiError(403, reason)
    try:
        return select_objects(
            hosts=hosts, groups=groups,
            refs=[f"{model}:{i}" for i in ids or ()],
            model=model if where is not None else None,
            where=[f"{field}={_condition(value)}" for field, value in (where or {}).items()],
            work_on=session_cls.work_on_names())
    except NoSuchObjects as exc:
        raise ApiError(404, f"objects: {exc}") from None
    except SelectionError as exc:
        raise ApiError(400, f"objects: {exc}") from None


def _condition(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, Mapping | list):
        raise ApiError(400, "objects.where: values are text, numbers or true/false")
    return str(value)
