"""A run's event as each channel shows it: email text, webhook JSON, Slack/Mattermost text.

Built from :func:`.events.facts` only: names, counts, times, the first failures'
messages and the run page's link, never a run's form data or a secret.
"""

from __future__ import annotations

from typing import Any

from ..status import BADGES, COUNTED
from .events import EVENT_TEXT


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    value = round(value)
    minutes, seconds = divmod(value, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def subject(facts: dict[str, Any]) -> str:
    """One line: ``Run #12 Uptime on 3 objects: failed``."""
    run = facts["run"]
    return (f"Run #{run['id']} {run['session']} on {facts['objects']} object"
            f"{'' if facts['objects'] == 1 else 's'}: {EVENT_TEXT[facts['event']]}")


def counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[key]} {BADGES[key]}" for key in COUNTED if counts.get(key))


def lines(facts: dict[str, Any]) -> list[str]:
    """The body, line by line, as plain text."""
    run = facts["run"]
    origin = " ".join(filter(None, [run["origin"], run.get("schedule_name")]))
    body = [f"Started by {run['user']} ({origin}) at {run['created_at']}."]
    if run["finished_at"]:
        body.append(f"Finished at {run['finished_at']}, after "
                    f"{_seconds(run['duration_seconds'])}.")
    usual = facts.get("usual_duration")
    if facts["event"] == "slow" and usual:
        body.append(f"Usually {_seconds(usual['mean'])} (± {_seconds(usual['stdev'])}, "
                    f"last {int(usual['runs'])} runs); the limit was {_seconds(usual['limit'])}.")
    if facts["counts"]:
        body.append(f"Objects: {counts_line(facts['counts'])}.")
    if facts["failures"]:
        body.append("First failures:")
        body += [f"- {item['object']} ({BADGES.get(item['status'], item['status'])})"
                 + (f": {item['message']}" if item["message"] else "")
                 for item in facts["failures"]]
    body.append(f"Run page: {run['url']}")
    return body


def email_text(facts: dict[str, Any]) -> str:
    return "\n".join(lines(facts)) + "\n"


def webhook_body(facts: dict[str, Any], delivery: str) -> dict[str, Any]:
    """The JSON a webhook receives: the facts, the event's text and the delivery's id
    (the same for every attempt: a receiver can drop repeats)."""
    return {"delivery": delivery, "summary": subject(facts), **facts}


def chat_body(facts: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message for Slack and Mattermost (both read ``text``, with
    ``<url|label>`` links in Slack's markup and Markdown in Mattermost's; the plain URL
    line reads right in both)."""
    return {"text": f"*{subject(facts)}*\n" + "\n".join(lines(facts))}
