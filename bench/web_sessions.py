"""Sessions only bench/web.py uses (``MINKE_SESSION_MODULES=…,bench.web_sessions``)."""

from __future__ import annotations

import time

from wtforms import Form, IntegerField
from wtforms.validators import InputRequired, NumberRange

from sessions import Session


class StormForm(Form):
    rate = IntegerField("messages per second", validators=[InputRequired(), NumberRange(min=1)])
    seconds = IntegerField("seconds", validators=[InputRequired(), NumberRange(min=1)])
    delay = IntegerField("ms before the first", validators=[InputRequired(), NumberRange(min=0)])


class EventStormSession(Session):
    """Adds ``rate`` messages a second for ``seconds`` seconds, each ``tick I T`` with its
    number and the Unix time it was added (the browser measures its latency from T)."""

    work_on = ("Host",)
    form = StormForm

    def process(self) -> None:
        rate, seconds = self.data["rate"], self.data["seconds"]
        time.sleep(self.data["delay"] / 1000)
        start = time.monotonic()
        for i in range(rate * seconds):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.add_msg(f"tick {i} {time.time():.6f}")
