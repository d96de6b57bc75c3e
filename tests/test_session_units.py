"""The pure logic of a session, on a MemoryRecord and without SSH.

Messages, statuses, command formatting and stop requests need no remote host:
what these tests check never reaches the connection (a stand-in that refuses
to run anything makes sure of it).
"""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import invoke
import pytest

from sessions import (
    BaseMessage,
    CommandFormatError,
    CommandResult,
    ExecutionMessage,
    InvalidMinkeSetup,
    MemoryRecord,
    PreMessage,
    Session,
    SessionError,
    SessionStopped,
    TableMessage,
    TextMessage,
)


class NoConnection:
    """Stands in for the fabric connection; running anything on it is a test failure."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def run(self, cmd, **kwargs):
        self.commands.append(cmd)
        raise AssertionError(f"the session ran {cmd!r} although it must not")


class Plain(Session):
    abstract = True
    work_on = ("Host",)


class RawCmd(Session):
    abstract = True
    work_on = ("Host",)
    raw_placeholders = ("cmd",)


def make_session(cls=Plain, *, data=None, obj=None) -> Session:
    return cls(NoConnection(), MemoryRecord(minkeobj=obj, session_data=data))


# -- add_msg ----------------------------------------------------------------------------


@pytest.mark.parametrize(("msg", "cls", "payload"), [
    ("some output", PreMessage, {"text": "some output"}),
    ([("a", 1), ("b", 2)], TableMessage, {"rows": [["a", "1"], ["b", "2"]]}),
    ((["a", "b"],), TableMessage, {"rows": [["a", "b"]]}),
    (CommandResult("ls", stdout="x\n", exited=0), ExecutionMessage,
     {"command": "ls", "exit_code": 0, "stdout": "x\n", "stderr": ""}),
    (invoke.Result(command="ls", stdout="x\n", exited=2), ExecutionMessage,
     {"command": "ls", "exit_code": 2, "stdout": "x\n", "stderr": ""}),
], ids=["str", "list", "tuple", "command-result", "fabric-result"])
def test_add_msg_turns_plain_values_into_messages(msg, cls, payload):
    session = make_session()

    session.add_msg(msg)

    [message] = session._db.messages
    assert type(message) is cls
    assert message.payload == payload


def test_add_msg_takes_a_message_instance_as_it_is():
    session = make_session()
    message = TextMessage("hello", "warning")

    session.add_msg(message)

    assert session._db.messages == [message]
    assert session._db.messages[0] is message
    assert message.level == "warning"


def test_add_msg_level_overrides_a_message_instances_level():
    session = make_session()

    session.add_msg(TextMessage("hello", "warning"), "error")

    assert session._db.messages[0].level == "error"


@pytest.mark.parametrize(("level", "stored"), [
    (None, "info"),
    ("info", "info"),
    ("warning", "warning"),
    ("error", "error"),
    ("WARNING", "warning"),
    (True, "info"),
    (False, "error"),
])
def test_add_msg_level_accepts_names_and_bools(level, stored):
    session = make_session()

    session.add_msg("text", level)

    assert session._db.messages[0].level == stored


@pytest.mark.parametrize(("result", "level"), [
    (CommandResult("true", exited=0), "info"),
    (CommandResult("warn", stderr="careful\n", exited=0), "warning"),
    (CommandResult("false", exited=1), "error"),
    (CommandResult("killed", exited=None), "error"),
])
def test_execution_message_level_follows_the_commands_status(result, level):
    session = make_session()

    session.add_msg(result)

    assert session._db.messages[0].level == level


@pytest.mark.parametrize("level", ["fatal", "debug", "", 3])
def test_add_msg_rejects_an_unknown_level(level):
    session = make_session()

    with pytest.raises(ValueError, match="level"):
        session.add_msg("text", level)
    assert session._db.messages == []


@pytest.mark.parametrize("msg", [None, 42, 4.2, {"text": "a dict"}, object()])
def test_add_msg_rejects_other_types(msg):
    session = make_session()

    with pytest.raises(TypeError):
        session.add_msg(msg)
    assert session._db.messages == []


# -- set_status -------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "final"), [
    (["success"], "success"),
    (["warning", "success"], "warning"),
    (["error", "warning", "success"], "error"),
    (["success", "warning", "error"], "error"),
    (["success", "warning"], "warning"),
    ([True], "success"),
    ([False], "error"),
    (["warning", True], "warning"),
    (["success", False], "error"),
    (["Warning"], "warning"),
])
def test_set_status_only_raises_success_warning_error(steps, final):
    session = make_session()
    assert session.status is None

    for status in steps:
        session.set_status(status)

    assert session.status == final
    assert session._db.session_status == final


@pytest.mark.parametrize("lower", ["success", "warning", True])
def test_set_status_without_update_may_lower_it(lower):
    session = make_session()
    session.set_status("error")

    session.set_status(lower, update=False)

    assert session.status == ("success" if lower is True else lower)


@pytest.mark.parametrize("status", ["fatal", "", None, 1, "stopped"])
def test_set_status_rejects_an_invalid_status(status):
    session = make_session()
    session.set_status("warning")

    with pytest.raises(InvalidMinkeSetup):
        session.set_status(status)
    assert session.status == "warning"


# -- format_cmd -------------------------------------------------------------------------


def test_format_cmd_takes_form_data_before_object_fields():
    host = SimpleNamespace(name="web1", hostname="10.0.0.1")
    session = make_session(data={"name": "from-form"}, obj=host)

    assert session.format_cmd("echo {name} {hostname}") == "echo from-form 10.0.0.1"


@pytest.mark.parametrize("value", [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "it's",
    'say "hi"',
    "a'b\"c",
    "line one\nline two",
    "  spaced  out  ",
    "",
    "*",
    "$HOME",
    "a && b || c | d > e < f & g",
    "\\",
    "{name}",
], ids=repr)
def test_format_cmd_quotes_every_value_into_one_word(value):
    session = make_session(data={"message": value}, obj=SimpleNamespace(comment=value))

    cmd = session.format_cmd("echo {message} {comment}")

    assert shlex.split(cmd) == ["echo", value, value]


def test_format_cmd_does_not_format_a_value_a_second_time():
    session = make_session(data={"message": "{name}"}, obj=SimpleNamespace(name="web1"))

    assert session.format_cmd("echo {message}") == "echo '{name}'"


def test_format_cmd_inserts_raw_placeholders_unquoted_and_quotes_the_rest():
    session = make_session(RawCmd, data={"cmd": "echo a; echo b", "dir": "my dir"})

    assert session.format_cmd("cd {dir} && {cmd}") == "cd 'my dir' && echo a; echo b"


def test_format_cmd_quotes_non_string_values():
    session = make_session(data={"seconds": 5}, obj=SimpleNamespace(port=2222))

    assert session.format_cmd("sleep {seconds}; echo {port}") == "sleep 5; echo 2222"


@pytest.mark.parametrize(("cmd", "words"), [
    ("echo {{literal}}", ["echo", "{literal}"]),
    ("awk '{{print $1}}' {path}", ["awk", "{print $1}", "/var/log/x"]),
    ("printf {size:>6}", ["printf", "    42"]),
    ("printf {size:04d}", ["printf", "0042"]),
    ("echo {path!r}", ["echo", "'/var/log/x'"]),
    ("echo {server.name}", ["echo", "db1"]),
], ids=["literal-braces", "awk", "align", "zero-pad", "conversion", "attribute"])
def test_format_cmd_supports_str_format_syntax(cmd, words):
    session = make_session(
        data={"size": 42, "path": "/var/log/x"},
        obj=SimpleNamespace(server=SimpleNamespace(name="db1")),
    )

    assert shlex.split(session.format_cmd(cmd)) == words


@pytest.mark.parametrize("cmd", [
    "df -h | awk '{print $5}'",
    'echo "${HOME}" ${PATH:-/bin}',
    "find /tmp -name x -exec rm {} \\;",
    "echo {a,b}.txt",
    "echo {no_such_field}",
    "echo {_private}",
    "echo {save}",  # a method of the object is no field
    "echo {}",
    "echo {0}",
    "echo {unclosed",
    "if true; then echo x; fi; f() { echo y; }",
], ids=repr)
def test_braces_that_name_nothing_stay_as_written(cmd):
    session = make_session(data={"message": "x"},
                           obj=SimpleNamespace(_private="secret", save=lambda: None))

    assert session.format_cmd(cmd) == cmd
    assert session._db.messages == []


@pytest.mark.parametrize("cmd", [
    "echo {server.nope}",  # the path starts at a field: it was meant
    "echo {nothing!r}",  # a conversion
    "echo {nothing!raw}",
    "echo {nothing:>5}",  # a format spec
], ids=repr)
def test_an_obviously_meant_placeholder_that_names_nothing_is_an_error(cmd):
    session = make_session(obj=SimpleNamespace(server=SimpleNamespace()))

    with pytest.raises(CommandFormatError) as raised:
        session.format_cmd(cmd)

    assert isinstance(raised.value, SessionError)  # so it ends the session as error
    assert repr(cmd) in str(raised.value)


def test_a_misspelt_field_stays_as_written_with_a_warning_naming_the_field():
    session = make_session(obj=SimpleNamespace(root="/srv/site"))

    assert session.format_cmd("du -sh {roots}") == "du -sh {roots}"

    [warning] = session._db.messages
    assert warning.level == "warning"
    assert "{roots}" in warning.text() and "did you mean {root}?" in warning.text()


@pytest.mark.parametrize(("cmd", "advice"), [
    ("echo `cat {path}`", "use $(…) instead of backticks"),
    ("cat <<EOF\n{path}\nEOF", "outside the here-document"),
    ("echo hi # see {path}", "remove it from the comment"),
    ("echo \\{path}", "remove the backslash"),
    ("echo $'{path}'", "instead of $'…'"),
], ids=["backticks", "here-document", "comment", "backslash", "ansi-c"])
def test_a_placeholder_where_no_quoting_is_safe_is_refused_saying_how_to_write_it(cmd, advice):
    session = make_session(data={"path": "/tmp/x"})

    with pytest.raises(CommandFormatError, match=r"\{path\}") as raised:
        session.format_cmd(cmd)

    assert advice in str(raised.value)


def test_frun_runs_nothing_when_a_placeholder_is_refused():
    session = make_session(data={"path": "/tmp/x"})

    with pytest.raises(CommandFormatError):
        session.frun("echo `ls {path}`")
    assert session.c.commands == []
    assert session._db.results == []


def test_name_raw_inserts_a_trusted_value_unquoted():
    session = make_session(data={"opts": "-a -v", "src": "my dir/"})

    assert session.format_cmd("rsync {opts!raw} {src} dst") == "rsync -a -v 'my dir/' dst"


@pytest.mark.parametrize(("cmd", "expected"), [
    ("echo '{a}'", "echo '; id #'\\''x'"),
    ('echo "{a}"', 'echo "; id #\'x"'),
    ("echo {a}", "echo '; id #'\"'\"'x'"),
], ids=["single", "double", "bare"])
def test_values_are_quoted_for_the_quotes_they_stand_in(cmd, expected):
    session = make_session(data={"a": "; id #'x"})

    assert session.format_cmd(cmd) == expected


# -- message html ------------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    TextMessage("<script>alert(1)</script>"),
    PreMessage("<script>alert(1)</script>"),
    TableMessage([("<script>alert(1)</script>", "ok")]),
    ExecutionMessage(CommandResult("echo '<script>alert(1)</script>'",
                                   stdout="<script>alert(1)</script>\n", exited=0)),
], ids=["text", "pre", "table", "execution"])
def test_message_html_escapes_remote_text(message):
    html = message.html()

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(("kind", "payload"), [
    ("text", {"text": "<script>x</script>"}),
    ("pre", {"text": "<script>x</script>"}),
    ("table", {"rows": [["<script>x</script>"]]}),
    ("execution", {"command": "<script>x</script>", "stdout": "", "stderr": "",
                   "exit_code": 0}),
])
def test_stored_messages_render_as_escaped_html(kind, payload):
    html = BaseMessage.render(kind, payload, as_html=True)

    assert "<script>" not in html and "&lt;script&gt;" in html


# -- stop and run -----------------------------------------------------------------------


def test_stop_twice_raises_the_stop_level_to_one_then_two():
    session = make_session()
    assert session._db.stop_level == 0

    session.stop()
    assert session._db.stop_level == 1
    session.stop()
    assert session._db.stop_level == 2
    session.stop()
    assert session._db.stop_level == 2


@pytest.mark.parametrize("method", ["run", "frun", "xrun"])
def test_run_raises_session_stopped_when_a_stop_was_requested_before(method):
    session = make_session(obj=SimpleNamespace(name="web1"))
    session.stop()

    with pytest.raises(SessionStopped):
        getattr(session, method)("echo {name}")

    assert session.c.commands == []
    assert session._db.results == []
    assert not isinstance(SessionStopped("x"), SessionError)  # `except SessionError` won't eat it


@pytest.mark.parametrize(("result", "status"), [
    (CommandResult("a", exited=0), "success"),
    (CommandResult("a", stderr="w", exited=0), "warning"),
    (CommandResult("a", stdout="x", exited=1), "error"),
    (CommandResult("a", exited=None), "error"),
])
def test_command_result_status(result, status):
    assert result.status == status


# -- ported django-minke code (issue 20) --------------------------------------------------


def test_text_and_html_are_attributes_as_in_django_minke_and_still_callable():
    message = PreMessage("grüße <b>")

    assert message.text == "grüße <b>" and message.text() == "grüße <b>"
    assert message.html == "<pre>grüße &lt;b&gt;</pre>" == message.html()
    assert "grüße" in message.text and message.text.upper() == "GRÜSSE <B>"


def test_execution_message_text_is_laid_out_as_django_minkes():
    result = CommandResult('echo "hi"', stdout="hi\nthere\n", stderr="warn\n", exited=0)

    assert ExecutionMessage(result).text == (
        'code[0]   echo "hi"\n'
        "stdout:   hi\n"
        "          there\n"
        "stderr:   warn")
    long = ExecutionMessage(CommandResult("true", stdout="x" * 250, exited=1)).text
    assert long.splitlines()[1:] == ["stdout:   " + "x" * 110, " " * 10 + "x" * 110,
                                     " " * 10 + "x" * 30]


def test_exception_message_shows_the_exception_or_its_traceback():
    from sessions import ExceptionMessage, Message

    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        short = ExceptionMessage()
        long = ExceptionMessage(print_tb=True)
        warning = ExceptionMessage("warning")

    assert short.text == "RuntimeError: disk full" and short.level.value == "error"
    assert long.text.startswith("Traceback (most recent call last):")
    assert "test_exception_message_shows" in long.text and long.text.endswith("disk full")
    assert warning.level.value == "warning"
    assert short.kind == "pre" and short.html == "<pre>RuntimeError: disk full</pre>"
    assert Message("plain").text == "plain"  # django-minke's name for a text message
