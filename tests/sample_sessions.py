"""Sessions the tests run (importable by worker subprocesses, as rq keeps job functions)."""

from __future__ import annotations

import json
import time

import fabric
from wtforms import Form, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, NumberRange

from sessions import (
    CommandChainSession,
    CommandFormSession,
    Session,
    SessionChain,
    SessionError,
    SessionGroup,
    SingleCommandSession,
    TextMessage,
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
    command = "echo {no_such_field!r}"  # a conversion: obviously meant as a placeholder


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


# --- for tests/test_session_api.py: one session per element of the session API ------------


class UpdateUsernameForm(Form):
    cmd = StringField("Command", validators=[DataRequired()])
    regex = StringField("Regex")


class ConnectionSession(Session):
    """Reports what ``self.c`` is and uses it directly as a fabric connection, then run()s."""

    work_on = ("Host",)

    def process(self):
        result = self.c.run("echo through fabric")
        self.add_msg(json.dumps({
            "is_fabric_connection": isinstance(self.c, fabric.Connection),
            "host": self.c.host, "port": self.c.port, "user": self.c.user,
            "stdout": result.stdout, "exited": result.exited,
        }))
        self.run("echo through run")


class InspectSession(Session):
    """Reports its minkeobj, data and status (before and after set_status) as JSON."""

    work_on = ("Host",)
    form = MessageForm

    def process(self):
        seen = {"object": [type(self.minkeobj).__name__, self.minkeobj.id, self.minkeobj.name],
                "data": dict(self.data), "status_before": self.status}
        self.set_status("warning")
        seen["status_after"] = self.status
        self.add_msg(json.dumps(seen))


class RunFailingCommandSession(Session):
    """run() of a failing command: stored, returned, no exception, no status change."""

    work_on = ("Host",)

    def process(self):
        result = self.run("echo out; echo err >&2; exit 4")
        self.add_msg(json.dumps({"type": type(result).__name__, "exit_code": result.exit_code,
                                 "ok": result.ok, "stdout": result.stdout,
                                 "stderr": result.stderr}))


class RunInvokeParamsSession(Session):
    """run() passes its keyword arguments on to fabric's run()."""

    work_on = ("Host",)

    def process(self):
        self.run("test -t 1 && echo tty || echo no-tty", pty=True)
        self.run("test -t 1 && echo tty || echo no-tty")


class FrunSession(Session):
    """frun(): the form's message and the host's fields filled in, nothing else."""

    work_on = ("Host",)
    form = MessageForm

    def process(self):
        self.frun("echo {message} on {name} at {hostname}")


class UpdateFieldRegexSession(Session):
    """A regex is matched at the start of stdout; without a group it stores stdout."""

    work_on = ("Host",)

    def process(self):
        self.update_field("comment", "echo release 10.2 beta", regex=r"release")
        self.update_field("username", "echo release 10.2 beta", regex=r"\d+\.\d+")
        self.minkeobj.save()


class UpdateUsernameSession(Session):
    """update_field on a nullable column, with the command and regex from the form."""

    work_on = ("Host",)
    form = UpdateUsernameForm

    def process(self):
        ok = self.update_field("username", self.data["cmd"], regex=self.data["regex"] or None)
        self.add_msg(f"update_field returned {ok}")


class TypedCommandSession(CommandFormSession):
    work_on = ("Host",)


class ChainBreaksOnWarningSession(CommandChainSession):
    work_on = ("Host",)
    commands = ("echo one", "echo two >&2", "echo three")
    break_states = ("warning", "error")


class ChainWithoutBreakStatesSession(CommandChainSession):
    work_on = ("Host",)
    commands = ("echo one; exit 1", "echo two")
    break_states = ()


class AbstractGreeting(SingleCommandSession):
    abstract = True
    command = "echo hello {name}"


class PtyEchoSession(SingleCommandSession):
    work_on = ("Host",)
    invoke_config = {"run": {"pty": True}}
    command = "test -t 1 && echo tty || echo no-tty"


class PtyDottedSession(PtyEchoSession):
    invoke_config = {"run.pty": True}


class PtySnakeSession(PtyEchoSession):
    invoke_config = {"run_pty": True}


class FormChain(SessionChain):
    """Chained sessions use the chain's data and invoke_config; abstract ones may be chained."""

    work_on = ("Host",)
    form = MessageForm
    invoke_config = {"run": {"pty": True}}
    sessions = (AbstractGreeting, EchoSession)


class ChainOfPtySession(SessionChain):
    """The invoke_config of a chained session is ignored."""

    work_on = ("Host",)
    sessions = (PtyEchoSession,)


class MessageKindsSession(Session):
    """Message instances and command results as messages (MessagesSession has the rest)."""

    work_on = ("Host",)

    def process(self):
        self.add_msg(TextMessage("a <text> message", "warning"))
        self.add_msg(self.run("echo listed"))
        self.add_msg(self.run("echo listed again"), "error")


class ChattySession(Session):
    """Output that waits for the writer's tick, while other hosts flood it with messages."""

    work_on = ("Host",)

    def process(self):
        for _ in range(3):
            self.run("printf 'no newline yet'; sleep 0.05; printf ' done'")
            for i in range(300):
                self.add_msg(f"message {i}")


# -- written in the spec's style, as a user porting from django-minke writes them ---------


class ShellBracesSession(SingleCommandSession):
    """Braces that are shell syntax run as written; a field placeholder is still filled."""

    work_on = ("Host",)
    command = ("echo 'a b c' | awk '{print $2}'; echo \"${HOME:+has-home}\"; "
               "find /etc/hostname -exec echo found {} \\;; echo {a,b}; echo {hostname}")


class MisspeltFieldSession(SingleCommandSession):
    work_on = ("Host",)
    command = "echo {hostnme}"


class OptionsForm(Form):
    opts = StringField("Options")
    path = StringField("Path")


class RawOptionsSession(SingleCommandSession):
    """``{opts!raw}`` inserts trusted options as shell words; ``{path}`` stays one word."""

    work_on = ("Host",)
    form = OptionsForm
    command = "printf '<%s>' {opts!raw} {path}"


class ResultTruthSession(Session):
    """Results are false when the command failed, from self.run and self.c.run alike."""

    work_on = ("Host",)

    def process(self):
        if self.run("false"):
            self.add_msg("a failed command was true", "error")
        if not self.run("test -d /no/such/dir"):
            self.add_msg("no such dir")
        result = self.c.run("echo via c; echo oops >&2")
        self.add_msg(f"{type(result).__name__} {result.status} {bool(result)} {result.ok}")


class SwallowingSession(Session):
    """Wraps every command in ``except Exception: pass`` — a stop must still end it."""

    work_on = ("Host",)

    def process(self):
        for _ in range(5):
            try:
                self.run("sleep 3; echo tick")
            except Exception:
                pass


class PythonLoopSession(Session):
    """Loops in Python without remote commands, swallowing exceptions."""

    work_on = ("Host",)

    def process(self):
        self.run("echo started")
        while True:
            try:
                time.sleep(1)
            except Exception:
                pass


class ChangeThenSleepSession(Session):
    """Changes its object, then sleeps: a stopped session's changes are not stored."""

    work_on = ("Host",)

    def process(self):
        self.minkeobj.comment = "changed by a stopped session"
        self.run("sleep 5")
        self.run("echo never")


class SessionErrorArgsSession(Session):
    work_on = ("Host",)

    def process(self):
        result = self.run("echo partial; exit 2")
        raise SessionError("the backup failed", result)


class ConnectionStateSetterSession(Session):
    """Leaves state on its connection: sudo password, env, cd and prefix."""

    work_on = ("Host",)
    parrallel_per_host = True

    def process(self):
        self.c.config.sudo.password = "leaked-password"
        self.c.config.run.env = {"LEAKED_ENV": "leaked"}
        self.c.command_cwds.append("/tmp")
        self.c.command_prefixes.append("export LEAKED_PREFIX=leaked")
        self.run('echo "$LEAKED_ENV $LEAKED_PREFIX $(pwd)"')


class ConnectionStateCheckerSession(Session):
    work_on = ("Host",)
    parrallel_per_host = True

    def process(self):
        self.run('echo "[$LEAKED_ENV] [$LEAKED_PREFIX] $(pwd)"')
        self.add_msg(f"sudo password: {self.c.config.sudo.password}")


class TokenForm(Form):
    token = PasswordField("Token", validators=[DataRequired()])
    label = StringField("Label")


class SecretTokenSession(Session):
    """Uses a password field through the environment, never in a command line."""

    work_on = ("Host",)
    form = TokenForm

    def process(self):
        # checks the value without spelling it out: the command line is stored
        self.xrun('test "${#TOKEN}" -eq 18 && case "$TOKEN" in *-value) echo token accepted;; '
                  'esac', env={"TOKEN": self.data["token"]})


class DynamicFormSession(SingleCommandSession):
    """Builds its form in get_form(), as the spec allows instead of a form attribute."""

    work_on = ("Host",)
    command = "echo {count} {greeting}"

    @classmethod
    def get_form(cls):
        return type("CountForm", (Form,), {
            "count": IntegerField("Count", validators=[NumberRange(min=1, max=3)]),
            "greeting": StringField("Greeting", default="hi"),
        })


class CommandTimeoutSession(Session):
    """A command with its own timeout."""

    work_on = ("Host",)

    def process(self):
        self.run("sleep 41; echo never", timeout=1)


class ConfigTimeoutSession(SingleCommandSession):
    """Every command of the session times out after 1 s (fabric's timeouts.command)."""

    work_on = ("Host",)
    invoke_config = {"timeouts": {"command": 1}}
    command = "sleep 42; echo never"


class ConnectionDropSession(Session):
    """Kills the sshd process serving its own connection in the middle of a command."""

    work_on = ("Host",)

    def process(self):
        self.run("echo before; sleep 1; kill -9 $PPID; sleep 5; echo after")


class EnvValuesSession(Session):
    """Environment values with blanks and shell syntax arrive as they are."""

    work_on = ("Host",)

    def process(self):
        self.run('printf "<%s>" "$A" "$B"', env={"A": "two words", "B": "$(id); it's"})
