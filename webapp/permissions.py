"""Who may list, see and run what: the one policy every path asks.

The object lists and start pages, the API, ``minke run --user``, re-runs, the
run pages and the Socket.IO join all call these functions, so that a rule changes
in one place. ``user`` is a :class:`~webapp.models.User` (or Flask-Login's current
user, anonymous included); ``None`` stands for the command line without ``--user``,
which may do everything.

- Listing objects: every object list (hosts, host groups, a user's minke models)
  and what the API answers about objects need :data:`VIEW_HOSTS`.
- Running a session: the session's permissions (:attr:`Session.permissions`) *and*
  listing the model of its objects. A run on objects the user may not list is
  refused before anything is stored.
- Runs: a user sees their own runs, all of them with :data:`VIEW_ALL_RUNS`, and stops
  their own, all with :data:`STOP_ALL_RUNS`. A user limited to their own runs sees
  nothing of the others': the statuses object lists show are of their own sessions
  (:func:`statuses_of`), and what names another run (a lock holder) is hidden from them
  (:func:`can_view_run`, :func:`viewable_run_ids`).
- Schedules: :data:`SCHEDULE` makes them; a user sees and changes their own, admins
  everyone's (:func:`can_manage_schedule`). A firing runs with its owner's rights at
  that moment (:func:`schedule_refusal`).
- Admin pages: :data:`ADMIN` opens all of them; :data:`EDIT_HOSTS` opens the host and
  host group pages only (:func:`admin_sections`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sessions import REGISTRY

from .extensions import db
from .models import Run
from .models.auth import (
    ADMIN_PERMISSION,
    EDIT_HOSTS,
    SCHEDULE,
    STOP_ALL_RUNS,
    VIEW_ALL_RUNS,
    VIEW_HOSTS,
)

if TYPE_CHECKING:
    from sessions import Session

    from .models import User

ADMIN = ADMIN_PERMISSION
"""Every permission: all admin pages, every list, every run. The built-in permissions
(their strings and descriptions) are defined in webapp/models/auth.py."""

ADMIN_SECTIONS: dict[str, str] = {
    "users": ADMIN,
    "roles": ADMIN,
    "hosts": EDIT_HOSTS,
    "groups": EDIT_HOSTS,
    "commands": ADMIN,
    "audit": ADMIN,
}
"""Each admin section (in the admin index's order) and the permission that opens it."""


def _holds(user: User | Any, permission: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.has_permissions([permission])


def _model_name(model: Any) -> str:
    return model if isinstance(model, str) else model.__name__


def can_list(user: User | Any, model: Any) -> bool:
    """True when ``user`` may list the objects of ``model`` (a class or its name):
    the object list's pages, the API's objects, and starting runs on them."""
    return _holds(user, VIEW_HOSTS)


def can_run(user: User | Any, session_cls: type[Session], model: Any = None) -> bool:
    """True when ``user`` holds the session's permissions and may list ``model``
    (``None``: some model the session works on)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if not user.has_permissions(session_cls.permissions):
        return False
    models = [model] if model is not None else session_cls.work_on_names()
    return any(can_list(user, name) for name in models)


def runnable_sessions(user: User | Any, model: Any = None) -> list[type[Session]]:
    """The sessions ``user`` may run (on ``model`` when given), by class name."""
    candidates = REGISTRY.for_model(model) if model is not None else list(REGISTRY)
    return [cls for cls in candidates if can_run(user, cls, model)]


def missing_permissions(user: User | Any, session_cls: type[Session],
                        models: Iterable[Any] = ()) -> list[str]:
    """The permissions ``user`` lacks to run ``session_cls`` on objects of ``models``."""
    held = user.permission_names if getattr(user, "is_authenticated", False) else set()
    if ADMIN in held:
        return []
    missing = [name for name in session_cls.permissions if name not in held]
    if any(not can_list(user, m) for m in models) and VIEW_HOSTS not in missing:
        missing.append(VIEW_HOSTS)
    return missing


def run_refusal(user: User | None, session_cls: type[Session],
                models: Iterable[Any]) -> str | None:
    """Why ``user`` may not run ``session_cls`` on objects of ``models``, or ``None`` when
    they may (always for ``None``, the command line without ``--user``)."""
    if user is None:
        return None
    if not user.has_permissions(session_cls.permissions):
        return f"{user.name} may not run {session_cls.__name__}"
    hidden = sorted({_model_name(m) for m in models if not can_list(user, m)})
    if hidden:
        return (f"{user.name} may not list {', '.join(hidden)} ({VIEW_HOSTS}), "
                f"so may not run sessions on them")
    return None


def sees_all_runs(user: User | None) -> bool:
    """True when ``user`` sees every user's runs (``None``: the command line, which does)."""
    return user is None or _holds(user, VIEW_ALL_RUNS)


def can_view_run(user: User | Any, run: Run) -> bool:
    """True when ``user`` started ``run`` or holds ``minke.view_all_runs``: the run's
    pages, events, exports, its Socket.IO room, and its id, user and session where
    another page would name it (a lock's holder)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return run.user_id == user.id or user.has_permissions([VIEW_ALL_RUNS])


def viewable_run_ids(user: User | Any, run_ids: Iterable[int]) -> set[int]:
    """The ids among ``run_ids`` of runs ``user`` may see (:func:`can_view_run`), in one
    query: for pages naming many runs (lock holders in a run's messages)."""
    wanted = {run_id for run_id in run_ids if isinstance(run_id, int)}
    if not wanted or not getattr(user, "is_authenticated", False):
        return set()
    if user.has_permissions([VIEW_ALL_RUNS]):
        return set(db.session.scalars(sa.select(Run.id).where(Run.id.in_(wanted))))
    return set(db.session.scalars(sa.select(Run.id).where(Run.id.in_(wanted),
                                                          Run.user_id == user.id)))


def can_stop_run(user: User | Any, run: Run) -> bool:
    """True when ``user`` started ``run`` or holds ``minke.stop_all_runs``."""
    if not getattr(user, "is_authenticated", False):
        return False
    return run.user_id == user.id or user.has_permissions([STOP_ALL_RUNS])


def statuses_of(user: User | None) -> int | None:
    """Whose sessions the statuses in object lists (badges, the status filter and its
    counts, the API's ``last_run``) are: ``None`` for every user's (each object's latest
    session), else ``user``'s id, for a user limited to their own runs (each object's
    latest session of theirs; an object only others ran shows "never run")."""
    if sees_all_runs(user):
        return None
    assert user is not None  # sees_all_runs() is true for None
    return user.id if getattr(user, "is_authenticated", False) else 0


def admin_sections(user: User | Any) -> list[str]:
    """The admin sections ``user`` may open, in :data:`ADMIN_SECTIONS`'s order (none:
    no admin page at all)."""
    return [name for name, permission in ADMIN_SECTIONS.items() if _holds(user, permission)]


def can_open_admin(user: User | Any, permission: str = ADMIN) -> bool:
    """True when ``user`` may open an admin page that ``permission`` guards (``minke.admin``
    unless the page says otherwise; admins hold every permission)."""
    return _holds(user, permission)


def can_schedule(user: User | Any) -> bool:
    """True when ``user`` may make schedules (:data:`SCHEDULE`) and open the Schedules page."""
    return _holds(user, SCHEDULE)


def can_manage_schedule(user: User | Any, owner_id: int | None) -> bool:
    """True when ``user`` may see, change, pause or delete a schedule of ``owner_id``:
    their own with :data:`SCHEDULE`, everyone's as an admin."""
    if _holds(user, ADMIN):
        return True
    return can_schedule(user) and owner_id == user.id


def schedule_refusal(owner: User | None, session_cls: type[Session],
                     models: Iterable[Any]) -> str | None:
    """Why a schedule of ``owner`` may not fire ``session_cls`` on objects of ``models``
    now, or ``None``: the owner is gone or disabled, lost :data:`SCHEDULE`, or may not
    run the session on them (:func:`run_refusal`)."""
    if owner is None:
        return "its owner was deleted"
    if not owner.active:
        return f"its owner {owner.name} is disabled"
    if not owner.has_permissions([SCHEDULE]):
        return f"its owner {owner.name} lost the permission {SCHEDULE}"
    return run_refusal(owner, session_cls, models)
