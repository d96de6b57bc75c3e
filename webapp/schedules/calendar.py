"""A schedule's times: a cron expression in a time zone (croniter, zoneinfo) or an interval.

Times in and out are naive UTC, as the database stores them; a cron expression is
evaluated on the wall clock of its time zone, so ``0 3 * * *`` in Europe/Berlin
stays at 03:00 there across daylight saving time.

Example::

    timing = Timing.parse(cron="0 3 * * 1-5", interval=None, timezone="Europe/Berlin")
    timing.following(utcnow(), 5)   # the next five firings, UTC
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

MAX_INTERVAL = 366 * 24 * 3600
"""The longest interval, in seconds (a year)."""
MAX_COUNT = 1000
"""How many past due times :meth:`Timing.due_between` counts at most."""


class TimingError(ValueError):
    """A cron expression, interval or time zone that cannot be used; the message says why,
    ``field`` which of the three (``cron``, ``interval``, ``timezone``) it is about."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (``Europe/Berlin``, ``UTC``).

    :raises TimingError: for an unknown name.
    """
    if not name or name not in available_timezones() and name != "UTC":
        raise TimingError(f"unknown time zone {name!r}: use a name such as UTC or "
                          "Europe/Berlin", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimingError(f"unknown time zone {name!r}", "timezone") from exc


@dataclass(frozen=True)
class Timing:
    """When a schedule fires: ``cron`` in ``timezone``, or every ``interval`` seconds."""

    cron: str | None
    interval: int | None
    timezone: str

    @classmethod
    def parse(cls, *, cron: str | None, interval: int | str | None,
              timezone: str | None) -> Timing:
        """Check and build a timing: exactly one of ``cron`` and ``interval``.

        :raises TimingError: naming what is wrong.
        """
        cron = (cron or "").strip() or None
        tz = (timezone or "").strip() or "UTC"
        zone(tz)
        if interval in ("", None):
            interval = None
        if (cron is None) == (interval is None):
            raise TimingError("give either a cron expression or an interval in seconds",
                              "cron" if cron is not None else "interval")
        if cron is not None:
            if len(cron) > 120 or not croniter.is_valid(cron):
                raise TimingError(f"{cron!r} is no cron expression: five fields (minute hour "
                                  "day month weekday, e.g. */15 * * * *), a sixth for seconds, "
                                  "or @hourly, @daily, @weekly…", "cron")
            return cls(cron, None, tz)
        try:
            seconds = int(interval)  # type: ignore[arg-type]  # checked: str or int
        except (TypeError, ValueError):
            raise TimingError(f"interval {interval!r}: a whole number of seconds",
                              "interval") from None
        if not 1 <= seconds <= MAX_INTERVAL:
            raise TimingError(f"interval {seconds}: between 1 and {MAX_INTERVAL} seconds",
                              "interval")
        return cls(None, seconds, tz)

    def following(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        """The ``count`` firing times strictly after ``after`` (naive UTC, both)."""
        if self.interval is not None:
            step = dt.timedelta(seconds=self.interval)
            start = after.replace(microsecond=0)  # whole seconds, still after ``after``
            return [start + step * (n + 1) for n in range(count)]
        assert self.cron is not None  # parse() gives one of them
        local = after.replace(tzinfo=dt.UTC).astimezone(zone(self.timezone))
        try:
            times = croniter(self.cron, local)
            return [times.get_next(dt.datetime).astimezone(dt.UTC).replace(tzinfo=None)
                    for _ in range(count)]
        except (CroniterBadCronError, CroniterBadDateError) as exc:  # e.g. 30 February
            raise TimingError(f"{self.cron!r} never fires: {exc}", "cron") from exc

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """The first firing time strictly after ``after``."""
        return self.following(after)[0]

    def due_between(self, first: dt.datetime, now: dt.datetime) -> tuple[int, dt.datetime]:
        """How many firing times from ``first`` (a due time) up to ``now`` have come (at
        most :data:`MAX_COUNT`), and the first time after ``now``."""
        if self.interval is not None:
            passed = int((now - first).total_seconds() // self.interval) + 1
            return (min(passed, MAX_COUNT),
                    first + dt.timedelta(seconds=self.interval) * passed)
        count, current = 1, first
        while True:
            current = self.next_after(current)
            if current > now:
                return min(count, MAX_COUNT), current
            if count >= MAX_COUNT:
                return count, self.next_after(now)
            count += 1
