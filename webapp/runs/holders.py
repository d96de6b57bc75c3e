"""The run a message names (a busy host's holder), for the viewer who may see it."""

from __future__ import annotations

from flask_login import current_user

from ..extensions import db
from ..models import Run
from ..permissions import can_view_run


def visible_run(run_id: int | None) -> Run | None:
    """Run ``run_id`` when the current user may see it (:func:`can_view_run`), else None:
    a user limited to their own runs is never shown another user's run, name or session."""
    if run_id is None:
        return None
    run = db.session.get(Run, run_id)
    return run if run is not None and can_view_run(current_user, run) else None
