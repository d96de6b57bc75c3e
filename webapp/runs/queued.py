"""What a viewer is told of a queued run: its place, and the runs ahead of it that they
may see (the others only counted)."""

from __future__ import annotations

from typing import Any

from ..engine.worker.queueing import queue_place
from ..permissions import viewable_run_ids


def queue_note(state: Any, run_id: int, viewer: Any) -> dict[str, Any] | None:
    """Run ``run_id``'s place in the queue as ``viewer`` may see it (``None``: the command
    line, which sees every run); ``None`` when the run is not queued.

    ``{"position": 2, "ahead": {"runs": [5], "others": 1}, "running": {"runs": [...],
    "others": n}, "slots": 16, "busy": 16, "text": "..."}``: ``ahead`` are the runs queued
    before it, ``running`` those holding the ``busy`` slots now.
    """
    place = queue_place(state, run_id)
    if place is None:
        return None
    ids = {*place.ahead, *place.running}
    visible = ids if viewer is None else viewable_run_ids(viewer, ids)

    def split(runs: list[int]) -> dict[str, Any]:
        shown = [run for run in runs if run in visible]
        return {"runs": shown, "others": len(runs) - len(shown)}

    note = {"position": place.position, "ahead": split(place.ahead),
            "running": split(place.running), "slots": place.slots, "busy": place.busy}
    note["text"] = queue_text(note)
    return note


def _runs(part: dict[str, Any]) -> str:
    """"run #5", "runs #3 and #4", "runs #3 and 2 others", "2 other runs"."""
    names, others = [f"#{run}" for run in part["runs"]], part["others"]
    if not names:
        return f"{others} other run{'s' if others > 1 else ''}" if others else ""
    if others:
        names.append(f"{others} other{'s' if others > 1 else ''}")
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return ("runs " if len(names) > 1 else "run ") + listed


def queue_text(note: dict[str, Any]) -> str:
    """One line for a page or a terminal: "queued: 2nd in line, behind run #5; every slot
    (16) is busy with runs #3, #4 and 14 others", or while a slot is free (a worker takes
    the run in a moment) "queued: next to start; starting: 14 of 16 slots are free"."""
    position = note["position"]
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(position % 10 if position % 100 not in (11, 12, 13)
                                           else 0, "th")
    text = "queued: next to start" if position == 1 else f"queued: {position}{suffix} in line"
    ahead = _runs(note["ahead"])
    if ahead:
        text += f", behind {ahead}"
    if not note["slots"]:
        return text + "; no worker is running"
    free = note["slots"] - note.get("busy", note["slots"])
    if free > 0:
        return text + f"; starting: {free} of {note['slots']} slots are free"
    running = _runs(note["running"])
    text += f"; every slot ({note['slots']}) is busy"
    return text + (f" with {running}" if running else "")
