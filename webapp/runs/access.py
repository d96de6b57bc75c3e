"""Who may see and stop a run: its owner, or a role granting it for every run."""

from __future__ import annotations

from ..models import Run, User

VIEW_ALL_RUNS = "minke.view_all_runs"
STOP_ALL_RUNS = "minke.stop_all_runs"


def can_view_run(user: User, run: Run) -> bool:
    """True when ``user`` started ``run`` or holds ``minke.view_all_runs``."""
    if not getattr(user, "is_authenticated", False):
        return False
    return run.user_id == user.id or user.has_permissions([VIEW_ALL_RUNS])


def can_stop_run(user: User, run: Run) -> bool:
    """True when ``user`` started ``run`` or holds ``minke.stop_all_runs``."""
    if not getattr(user, "is_authenticated", False):
        return False
    return run.user_id == user.id or user.has_permissions([STOP_ALL_RUNS])
