"""Sessions only the benchmarks use.

Load them with ``MINKE_SESSION_MODULES=bench.bench_sessions``.
"""

from __future__ import annotations

from wtforms import Form, IntegerField
from wtforms.validators import InputRequired, NumberRange

from sessions import CommandFormSession, SingleCommandSession

FANOUT_COMMAND = "hostname; uptime"

# Big output: line i of stdout is "%09d " + FILLER + "\n" (100 bytes), line i of stderr
# "E%08d " + FILLER + "\n" (100 bytes); bench/bigoutput.py generates the same bytes locally.
FILLER = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
          "-_abcdefghijklmnopqrstuvwxyz")[:89]
LINE_BYTES = 100
assert 10 + len(FILLER) + 1 == LINE_BYTES


def _awk(fmt: str, count: str) -> str:
    # doubled braces: format_cmd fills {placeholders} and turns {{ }} into literal braces
    return ("awk 'BEGIN {{ s = \"" + FILLER + "\"; for (i = 1; i <= " + count + "; i++) "
            "printf \"" + fmt + " %s\\n\", i, s }}'")


class FanoutSession(SingleCommandSession):
    """The fan-out benchmark's command, as a plain SingleCommandSession."""

    work_on = ("Host",)
    command = FANOUT_COMMAND


class BigOutputForm(Form):
    out_lines = IntegerField("stdout lines", validators=[InputRequired(), NumberRange(min=0)])
    err_lines = IntegerField("stderr lines", validators=[InputRequired(), NumberRange(min=0)])


class BigOutputSession(SingleCommandSession):
    """Prints ``out_lines`` × 100 bytes to stdout and ``err_lines`` × 100 bytes to stderr,
    both at the same time."""

    work_on = ("Host",)
    form = BigOutputForm
    command = f"{_awk('E%08d', '{err_lines}')} >&2 & {_awk('%09d', '{out_lines}')}; wait"


class BenchCommandSession(CommandFormSession):
    """Any command (``cmd``), without a pty."""

    work_on = ("Host",)


class BenchPtyCommandSession(CommandFormSession):
    """Any command (``cmd``), with ``run.pty`` on."""

    work_on = ("Host",)
    invoke_config = {"run": {"pty": True}}
