"""The session API (docs/session-api) against real SSH: what every element stores.

Each test runs a session from ``tests/sample_sessions.py`` with ``execute_run``
over SSH to the loopback sshd and asserts on the rows the run left in the
database (sessions, messages, commands) or on the host's row.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from scripts.loopback import free_port
from webapp.extensions import db
from webapp.models import Host, Run

pytestmark = pytest.mark.integration


def only_session(run: Run):
    assert len(run.sessions) == 1, run.sessions
    return run.sessions[0]


def texts(session) -> list[str]:
    return [m.text for m in session.messages]


def reported(session) -> dict:
    """The JSON a reporting sample session added as its (first) message."""
    return json.loads(session.messages[0].payload["text"])


def fresh_host(host_id: int) -> Host:
    db.session.expire_all()
    return db.session.get(Host, host_id)


# -- the properties a session sees ------------------------------------------------------


def test_c_is_the_fabric_connection_to_the_objects_host(execute_run, make_hosts, sshd):
    host = make_hosts(1)[0]

    session = only_session(execute_run("ConnectionSession", [host]))

    seen = reported(session)
    assert seen["is_fabric_connection"] is True
    assert (seen["host"], seen["port"], seen["user"]) == (host.hostname, sshd.port, sshd.user)
    assert seen["stdout"] == "through fabric\n"
    assert seen["exited"] == 0


def test_commands_run_through_c_directly_are_stored_like_run(execute_run, make_hosts):
    session = only_session(execute_run("ConnectionSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("completed", "success")
    assert [(c.command, c.stdout, c.exit_code, c.status) for c in session.commands] == [
        ("echo through fabric", "through fabric\n", 0, "success"),
        ("echo through run", "through run\n", 0, "success"),
    ]


def test_minkeobj_data_and_status_are_the_records(execute_run, make_hosts):
    host = make_hosts(1)[0]

    session = only_session(execute_run("InspectSession", [host], {"message": "hi there"}))

    seen = reported(session)
    assert seen["object"] == ["Host", host.id, "h00"]
    assert seen["data"] == {"message": "hi there"}
    assert seen["status_before"] is None
    assert seen["status_after"] == "warning"
    assert session.session_status == "warning"


@pytest.mark.parametrize(("name", "data", "stored"), [
    ("EchoSession", {"message": "hello"}, {"message": "hello"}),
    ("SleepSession", {"seconds": "0"}, {"seconds": 0}),
    ("UptimeSession", None, {}),
])
def test_validated_form_data_is_stored_in_session_data(execute_run, make_hosts, name, data,
                                                       stored):
    session = only_session(execute_run(name, make_hosts(1), data))

    assert session.session_data == stored
    assert db.session.scalar(sa.select(Run.data)) == stored


# -- run, frun, xrun --------------------------------------------------------------------


def test_run_stores_output_and_exit_code_and_does_not_raise_on_failure(execute_run, make_hosts):
    session = only_session(execute_run("RunFailingCommandSession", make_hosts(1)))

    [command] = session.commands
    assert command.command == "echo out; echo err >&2; exit 4"
    assert (command.stdout, command.stderr, command.exit_code) == ("out\n", "err\n", 4)
    assert command.status == "error"
    assert command.pty is False
    returned = reported(session)  # added after run() returned: it did not raise
    assert returned == {"type": "CommandResult", "exit_code": 4, "ok": False,
                        "stdout": "out\n", "stderr": "err\n"}
    # run() alone neither adds an execution message nor changes the status
    assert [m.kind for m in session.messages] == ["pre"]
    assert (session.proc_status, session.session_status) == ("completed", "success")


def test_run_passes_invoke_params_to_fabric(execute_run, make_hosts):
    session = only_session(execute_run("RunInvokeParamsSession", make_hosts(1)))

    with_pty, without = session.commands
    assert (with_pty.pty, with_pty.stdout.strip()) == (True, "tty")
    assert (without.pty, without.stdout.strip()) == (False, "no-tty")


def test_frun_fills_form_data_quoted_and_object_fields(execute_run, make_hosts):
    host = make_hosts(1)[0]

    session = only_session(execute_run("FrunSession", [host], {"message": "a b; echo x"}))

    [command] = session.commands
    assert command.command == f"echo 'a b; echo x' on h00 at {host.hostname}"
    assert command.stdout == f"a b; echo x on h00 at {host.hostname}\n"
    assert session.messages == []  # frun, unlike xrun, reports nothing


@pytest.mark.parametrize(("name", "status", "level"), [
    ("EchoSession", "success", "info"),
    ("StderrSession", "warning", "warning"),
    ("FailingSession", "error", "error"),
])
def test_xrun_adds_an_execution_message_and_raises_the_status(execute_run, make_hosts, name,
                                                             status, level):
    session = only_session(execute_run(name, make_hosts(1), {"message": "hi"}
                                       if name == "EchoSession" else None))

    [command] = session.commands
    [message] = session.messages
    assert (message.kind, message.level) == ("execution", level)
    assert message.payload == {"command": command.command, "exit_code": command.exit_code,
                               "stdout": command.stdout, "stderr": command.stderr}
    assert command.status == status
    assert (session.proc_status, session.session_status) == ("completed", status)


# -- update_field -----------------------------------------------------------------------


def test_update_field_stores_stdout_and_regex_group_in_the_host_row(execute_run, make_hosts):
    host = make_hosts(1)[0]

    session = only_session(execute_run("UpdateFieldSession", [host]))

    assert (session.proc_status, session.session_status) == ("completed", "success")
    stored = fresh_host(host.id)
    assert stored.comment == "remote-says-hi"  # stdout without its trailing newline
    assert stored.verbose_name == "4.2.1"  # the first group of r"version (\S+)"


def test_update_field_matches_a_regex_at_the_start_and_stores_stdout_without_a_group(
        execute_run, make_hosts):
    host = make_hosts(1)[0]

    session = only_session(execute_run("UpdateFieldRegexSession", [host]))

    stored = fresh_host(host.id)
    assert stored.comment == "release 10.2 beta"  # r"release" has no group: all of stdout
    assert stored.username is None  # r"\d+\.\d+" is found, but not at the start
    assert session.session_status == "warning"


@pytest.mark.parametrize(("cmd", "regex"), [
    ("echo user=deploy; exit 1", ""),  # failed
    ("true", ""),  # printed nothing
    ("echo nobody here", r"user=(\w+)"),  # regex does not match
], ids=["failed", "no-output", "no-match"])
def test_update_field_sets_none_with_an_error_message_and_warning(execute_run, make_hosts, cmd,
                                                                  regex):
    host = make_hosts(1)[0]
    assert host.username is not None

    session = only_session(execute_run("UpdateUsernameSession", [host],
                                       {"cmd": cmd, "regex": regex}))

    assert (session.proc_status, session.session_status) == ("completed", "warning")
    error, returned = session.messages
    assert (error.level, error.kind, error.payload["command"]) == ("error", "execution", cmd)
    assert returned.text == "update_field returned False"
    assert fresh_host(host.id).username is None


def test_an_object_change_the_database_refuses_ends_the_session_as_error_saying_so(
        execute_run, make_hosts):
    # update_field sets None as the spec says, but Host.comment is NOT NULL
    host = make_hosts(1, comment="stale")[0]

    session = only_session(execute_run("UpdateFieldFailsSession", [host]))

    assert (session.proc_status, session.session_status) == ("completed", "error")
    assert texts(session)[-2] == "update_field returned False"
    note = session.messages[-1]
    assert note.level == "error"
    assert "the changes to Host #" in note.text and "comment=None" in note.text
    assert fresh_host(host.id).comment == "stale"


def test_update_field_of_an_unknown_field_fails_the_session_naming_it(execute_run, make_hosts):
    session = only_session(execute_run("UpdateUnknownFieldSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("failed", "error")
    assert session.messages[0].level == "error"
    assert "AttributeError" in session.messages[0].text
    assert "'no_such_field'" in session.messages[0].text
    assert session.commands == []  # checked before anything runs


# -- the ready-made variants ------------------------------------------------------------


def test_single_command_session_runs_its_command_with_xrun(execute_run, make_hosts):
    session = only_session(execute_run("EchoSession", make_hosts(1), {"message": "it's me"}))

    [command] = session.commands
    assert command.command == "echo 'it'\"'\"'s me'"
    assert command.stdout == "it's me\n"
    assert [m.kind for m in session.messages] == ["execution"]
    assert session.session_status == "success"


def test_command_form_session_runs_the_typed_command_as_shell_code(execute_run, make_hosts):
    session = only_session(execute_run("TypedCommandSession", make_hosts(1),
                                       {"cmd": "echo a; echo b"}))

    [command] = session.commands
    assert command.command == "echo a; echo b"
    assert command.stdout == "a\nb\n"
    assert [m.kind for m in session.messages] == ["execution"]


def test_chain_stops_at_first_command_in_break_states(execute_run, make_hosts):
    session = only_session(execute_run("ChainStopsOnErrorSession", make_hosts(1)))

    assert [c.command for c in session.commands] == ["echo one", "false"]
    assert [c.status for c in session.commands] == ["success", "error"]
    assert [m.kind for m in session.messages] == ["execution", "execution"]
    assert (session.proc_status, session.session_status) == ("completed", "error")


def test_chain_break_states_may_include_warning(execute_run, make_hosts):
    session = only_session(execute_run("ChainBreaksOnWarningSession", make_hosts(1)))

    assert [c.command for c in session.commands] == ["echo one", "echo two >&2"]
    assert session.session_status == "warning"


def test_chain_without_break_states_runs_every_command(execute_run, make_hosts):
    session = only_session(execute_run("ChainWithoutBreakStatesSession", make_hosts(1)))

    assert [c.command for c in session.commands] == ["echo one; exit 1", "echo two"]
    assert session.session_status == "error"


def test_session_chain_runs_its_sessions_in_order_and_stops_on_break_state(execute_run,
                                                                          make_hosts):
    host = make_hosts(1)[0]

    session = only_session(execute_run("EchoChain", [host]))

    assert [c.command for c in session.commands] == [
        f"echo $(id -un)@$(hostname -I 2>/dev/null || echo ?) {host.hostname}",
        "echo about to fail; exit 3",
    ]  # StderrSession, third in the chain, never ran
    assert [(m.level, m.kind) for m in session.messages] == [
        ("info", "pre"), ("info", "execution"),
        ("info", "pre"), ("error", "execution"),
        ("error", "pre"),
    ]
    assert texts(session)[0] == "Run who am i session"
    assert texts(session)[2] == "Run failing session"
    assert "skipping the rest of the chain" in texts(session)[4]
    assert (session.proc_status, session.session_status) == ("completed", "error")


def test_session_chain_applies_its_own_form_data_and_invoke_config_to_chained_sessions(
        execute_run, make_hosts):
    session = only_session(execute_run("FormChain", make_hosts(1), {"message": "from chain"}))

    assert [c.command for c in session.commands] == ["echo hello h00", "echo 'from chain'"]
    assert [c.pty for c in session.commands] == [True, True]
    # an abstract session has no verbose name: the chain names it by its class
    assert texts(session)[0] == "Run AbstractGreeting"
    assert session.session_status == "success"


def test_session_chain_ignores_the_invoke_config_of_chained_sessions(execute_run, make_hosts):
    session = only_session(execute_run("ChainOfPtySession", make_hosts(1)))

    [command] = session.commands
    assert (command.pty, command.stdout) == (False, "no-tty\n")


# -- errors inside a session ------------------------------------------------------------


def test_session_error_completes_the_session_as_error_with_its_message(execute_run,
                                                                       make_hosts):
    session = only_session(execute_run("RefusingSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("completed", "error")
    assert [(m.level, m.text) for m in session.messages] == [
        ("error", "the backup directory is missing")]


def test_a_bug_fails_the_session_with_a_traceback(execute_run, make_hosts):
    session = only_session(execute_run("BuggySession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("failed", "error")
    [command] = session.commands  # what ran before the bug is kept
    assert (command.command, command.exit_code) == ("echo before the bug", 0)
    reason, traceback = session.messages
    assert (reason.level, reason.text) == ("error", "ZeroDivisionError: division by zero")
    assert (traceback.level, traceback.kind) == ("error", "pre")
    assert traceback.text.startswith("Traceback (most recent call last):")
    assert "return 1 / 0" in traceback.text


def test_an_obviously_meant_unknown_placeholder_ends_the_session_as_error_before_any_command(
        execute_run, make_hosts):
    session = only_session(execute_run("UnknownPlaceholderSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("completed", "error")
    assert session.commands == []
    [message] = session.messages
    assert message.level == "error"
    assert "{no_such_field!r}" in message.text


# -- messages ---------------------------------------------------------------------------


def test_messages_of_every_kind_are_stored_with_level_kind_and_payload(execute_run,
                                                                       make_hosts):
    host = make_hosts(1)[0]
    first = only_session(execute_run("MessagesSession", [host]))
    db.session.rollback()
    second = only_session(execute_run("MessageKindsSession", [host]))

    assert [(m.level, m.kind, m.payload) for m in first.messages] == [
        ("info", "pre", {"text": "plain <b>pre</b> text"}),
        ("warning", "table", {"rows": [["mount", "use"], ["/", "42%"]]}),
        ("info", "pre", {"text": "fine"}),
        ("error", "pre", {"text": "bad"}),
    ]
    assert first.session_status == "warning"  # set_status("success") after it was ignored
    execution = {"exit_code": 0, "stderr": ""}
    assert [(m.level, m.kind, m.payload) for m in second.messages] == [
        ("warning", "text", {"text": "a <text> message"}),
        ("info", "execution", {"command": "echo listed", "stdout": "listed\n", **execution}),
        ("error", "execution",
         {"command": "echo listed again", "stdout": "listed again\n", **execution}),
    ]


def test_lowering_the_status_with_update_false_is_stored(execute_run, make_hosts):
    session = only_session(execute_run("LowerStatusSession", make_hosts(1)))

    assert session.session_status == "success"


# -- connection configuration, hosts, parallelism ---------------------------------------


@pytest.mark.parametrize("name", ["PtyEchoSession", "PtyDottedSession", "PtySnakeSession"])
def test_invoke_config_in_any_key_style_applies_to_the_sessions_commands(execute_run,
                                                                         make_hosts, name):
    session = only_session(execute_run(name, make_hosts(1)))

    [command] = session.commands
    assert command.pty is True
    assert command.stdout == "tty\r\n"


def test_invoke_config_pty_is_stored_on_commands_only_where_configured(execute_run,
                                                                      make_hosts):
    hosts = make_hosts(1)
    pty = only_session(execute_run("PtySleepSession", hosts, {"seconds": "0"}))
    db.session.rollback()
    plain = only_session(execute_run("SleepSession", hosts, {"seconds": "0"}))

    assert [c.pty for c in pty.commands] == [True]
    assert [c.pty for c in plain.commands] == [False]


def test_unreachable_host_fails_alone_while_the_other_host_succeeds(execute_run, make_hosts,
                                                                   sshd):
    reachable = make_hosts(1)[0]
    unreachable = Host(name="dead", hostname="127.0.0.1", port=free_port(["127.0.0.1"]),
                       username=sshd.user, config=sshd.host_config())
    db.session.add(unreachable)
    db.session.commit()

    run = execute_run("EchoSession", [unreachable, reachable], {"message": "hi"})

    by_label = {s.object_label: s for s in run.sessions}
    dead, alive = by_label["dead"], by_label["h00"]
    assert (dead.proc_status, dead.session_status) == ("failed", "error")
    assert dead.commands == []
    assert dead.messages[0].level == "error"
    assert dead.messages[0].text.startswith("cannot connect")
    assert not any("Traceback" in text for text in texts(dead))  # SSH trouble is no bug
    assert (alive.proc_status, alive.session_status) == ("completed", "success")
    assert alive.commands[0].stdout == "hi\n"
    assert run.finished_at is not None


def _overlap(first, second) -> bool:
    return first.start_time < second.end_time and second.start_time < first.end_time


@pytest.mark.parametrize(("name", "parallel"), [
    ("SleepSession", False),
    ("ParallelSleepSession", True),
])
def test_parrallel_per_host_lets_sessions_on_one_host_overlap(execute_run, make_hosts, name,
                                                              parallel):
    # a Host is its own host: two sessions on one host are that host passed twice
    host = make_hosts(1)[0]

    run = execute_run(name, [host, host], {"seconds": "1"})

    first, second = run.sessions
    assert [s.session_status for s in run.sessions] == ["success", "success"]
    assert _overlap(first, second) is parallel


# -- dangerous input --------------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "; touch {path}",
    "$(touch {path})",
    "`touch {path}`",
    "'; touch {path}; '",
    "x\ntouch {path}",
    "&& touch {path} | touch {path}",
])
def test_form_input_is_never_executed_as_shell_code(execute_run, make_hosts, template):
    marker = Path(f"/tmp/minke-pwned-{uuid.uuid4().hex}")
    payload = template.format(path=marker)

    session = only_session(execute_run("EchoSession", make_hosts(1), {"message": payload}))

    assert session.commands[0].stdout == payload + "\n"  # it ran, echoing the text as it is
    assert not marker.exists()


def test_object_fields_are_never_executed_as_shell_code(execute_run, make_hosts):
    marker = Path(f"/tmp/minke-pwned-{uuid.uuid4().hex}")
    host = make_hosts(1, name=f"evil $(touch {marker})")[0]

    session = only_session(execute_run("FrunSession", [host], {"message": "hi"}))

    assert session.commands[0].stdout == f"hi on evil $(touch {marker}) at {host.hostname}\n"
    assert not marker.exists()


def test_a_file_created_on_the_loopback_host_is_visible_locally(execute_run, make_hosts):
    """The control for the two tests above: checking for the marker locally is meaningful."""
    marker = Path(f"/tmp/minke-control-{uuid.uuid4().hex}")
    try:
        session = only_session(execute_run("TypedCommandSession", make_hosts(1),
                                           {"cmd": f"touch {marker}"}))
        assert session.session_status == "success"
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)
