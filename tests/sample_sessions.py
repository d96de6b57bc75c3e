"""Sessions the tests run (importable by worker subprocesses, as rq keeps job functions)."""

from __future__ import annotations

from wtforms import Form, IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange

from sessions import (
    CommandChainSession,
    Session,
    SessionChain,
    SessionError,
    SessionGroup,
    SingleCommandSession,
)

testing = SessionGroup("Testing")


class MessageForm(Form):
    message = StringField("Message", validators=[DataRequired()])


class SecondsForm(Form):
    seconds = IntegerField("Seconds", validators=[NumberRange(min=0, max=3600)])


@testing
class EchoSession(SingleCommandSession):
    """Echo the form's message back (quoted by format_cmd)."""

    work_on = ("Host",)
    form = MessageForm
    command = "echo {message}"


class WhoAmISession(SingleCommandSession):
    work_on = ("Host",)
    command = "echo $(id -un)@$(hostname -I 2>/dev/null || echo ?) {hostname}"


class FailingSession(SingleCommandSession):
    work_on = ("Host",)
    command = "echo about to fail; exit 3"


class StderrSession(SingleCommandSession):
    work_on = ("Host",)
    command = "echo careful >&2"


class ChainStopsOnErrorSession(CommandChainSession):
    work_on = ("Host",)
    commands = ("echo one", "false", "echo never")


class BuggySession(Session):
    work_on = ("Host",)

    def process(self):
        self.run("echo before the bug")
        return 1 / 0


class RefusingSession(Session):
    work_on = ("Host",)

    def process(self):
        raise SessionError("the backup directory is missing")


class UnknownPlaceholderSession(SingleCommandSession):
    work_on = ("Host",)
    command = "echo {no_such_field}"


class SleepSession(SingleCommandSession):
    work_on = ("Host",)
    form = SecondsForm
    command = "sleep {seconds}; echo slept"


class PtySleepSession(SleepSession):
    invoke_config = {"run": {"pty": True}}


class TwoSleepsSession(Session):
    """Two commands: a soft stop during the first prevents the second."""

    work_on = ("Host",)
    form = SecondsForm

    def process(self):
        self.xrun("sleep {seconds}; echo first")
        self.xrun("echo second")


class ParallelSleepSession(SleepSession):
    parrallel_per_host = True


class MessagesSession(Session):
    """Every kind of message and level."""

    work_on = ("Host",)

    def process(self):
        self.add_msg("plain <b>pre</b> text")
        self.add_msg([("mount", "use"), ("/", "42%")], "warning")
        self.add_msg("fine", True)
        self.add_msg("bad", False)
        self.set_status("warning")
        self.set_status("success")  # ignored: status only rises


class LowerStatusSession(Session):
    work_on = ("Host",)

    def process(self):
        self.set_status("error")
        self.set_status("success", update=False)


class UpdateFieldSession(Session):
    """Store the remote hostname output in the host's comment; a failing one in verbose_name."""

    work_on = ("Host",)

    def process(self):
        self.update_field("comment", "echo remote-says-hi")
        self.update_field("verbose_name", "echo version 4.2.1", regex=r"version (\S+)")


class UpdateFieldFailsSession(Session):
    work_on = ("Host",)

    def process(self):
        ok = self.update_field("comment", "false")
        self.add_msg(f"update_field returned {ok}")


class UpdateUnknownFieldSession(Session):
    work_on = ("Host",)

    def process(self):
        self.update_field("no_such_field", "echo x")


class EchoChain(SessionChain):
    work_on = ("Host",)
    sessions = (WhoAmISession, FailingSession, StderrSession)


class BigOutputSession(SingleCommandSession):
    """Print ``size`` bytes of numbered lines (and a little stderr)."""

    work_on = ("Host",)
    form = SecondsForm  # reused: ``seconds`` is the number of KiB
    command = ("i=0; n=$(({seconds}*1024/16)); while [ $i -lt $n ]; do "
               "printf '%015d\\n' $i; i=$((i+1)); done; echo done >&2")
