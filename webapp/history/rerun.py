"""Running a past run again: on the same objects with the same inputs, or on the failed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessions import REGISTRY, Session
from sessions.registry import UnknownSession
from sessions.secrets import session_secret_fields

from ..audit import log_action
from ..engine.dispatch import PermissionDenied, start_run
from ..engine.secrets import secrets_needed
from ..models import Run, User
from ..objects.selection import Selection, resolve, target_model
from ..objects.specs import ListSpec, list_specs
from ..permissions import missing_permissions, run_refusal
from .queries import unsuccessful


class RerunError(ValueError):
    """The run cannot be run again (its session or objects are gone)."""


@dataclass(frozen=True)
class Rerun:
    """What running ``run`` again means."""

    run: Run
    session_cls: type[Session]
    spec: ListSpec
    selection: Selection

    @property
    def needs_form(self) -> bool:
        """Whether the user has to see the form again: secrets (secret fields, secrets the
        session or a host group asks for) were not stored and are asked again, or the
        session asks for confirmation."""
        return (bool(session_secret_fields(self.session_cls)) or self.session_cls.confirm
                or bool(secrets_needed(self.session_cls, resolve(self.spec, self.selection))))


def plan_rerun(run: Run, *, user: User, only_unsuccessful: bool = False) -> Rerun:
    """Work out the session and objects of a re-run of ``run`` by ``user``.

    :raises PermissionDenied: when ``user`` may not run the session, or not on the run's
        objects (they may not list their model): nothing is stored or queued.
    :raises RerunError: when the session is no longer registered, the model has
        no list, or no object is left to run on.
    """
    try:
        session_cls = REGISTRY.get(run.session_name)
    except UnknownSession as exc:
        raise RerunError(str(exc)) from None
    spec = list_specs().get(run.object_type.lower())
    if spec is None:
        raise RerunError(f"objects of type {run.object_type} can no longer be listed")
    reason = run_refusal(user, session_cls, [target_model(spec)])
    if reason is not None:
        raise PermissionDenied(reason, missing_permissions(user, session_cls,
                                                           [target_model(spec)]))
    sessions = run.sessions
    if only_unsuccessful:
        sessions = [s for s in sessions if unsuccessful(s)]
    ids = tuple(dict.fromkeys(s.object_id for s in sessions))
    if not ids:
        raise RerunError("no session of this run failed" if only_unsuccessful
                         else "the run has no objects")
    return Rerun(run, session_cls, spec, Selection(ids=ids))


def start_rerun(state: Any, rerun: Rerun, *, user: User) -> Run:
    """Start the re-run with the run's stored inputs. Commits (see ``start_run``).

    :raises RerunError: when none of the objects exists any more.
    :raises PermissionDenied, DispatchError: as ``start_run``.
    """
    objects = resolve(rerun.spec, rerun.selection)
    if not objects:
        raise RerunError("none of the run's objects exists any more")
    log_action("run.rerun", f"run #{rerun.run.id}", {"objects": len(objects)}, user=user)
    return start_run(state, rerun.session_cls, objects, user=user, data=rerun.run.data,
                     skip_busy=rerun.run.skip_busy)
