"""Sessions written against django-minke's API run here unchanged: command formatting,
results, stops, SessionError, connection state and secrets — on the real sshd and worker."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import redis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq.job import Job

from sessions import MemoryRecord, Session
from tests.test_engine_stop import dispatch, sessions_of, wait_for
from webapp.engine.progress import REAPER_SEQ
from webapp.extensions import db
from webapp.models import Host, MinkeSession, Run

pytestmark = pytest.mark.integration


def only(run: Run) -> MinkeSession:
    [session] = run.sessions
    return session


# -- 1. formatting ----------------------------------------------------------------------


def test_shell_braces_run_as_written_beside_a_filled_placeholder(execute_run, make_hosts):
    host = make_hosts(1)[0]

    session = only(execute_run("ShellBracesSession", [host]))

    assert (session.proc_status, session.session_status) == ("completed", "success")
    assert session.commands[0].stdout == (
        f"b\nhas-home\nfound /etc/hostname\n{{a,b}}\n{host.hostname}\n")  # sh: no brace expansion


def test_a_misspelt_field_runs_as_written_and_warns(execute_run, make_hosts):
    session = only(execute_run("MisspeltFieldSession", make_hosts(1)))

    assert session.commands[0].stdout == "{hostnme}\n"
    warning = next(m for m in session.messages if m.level == "warning")
    assert "did you mean {hostname}?" in warning.text


def test_raw_options_are_shell_words_and_other_values_stay_one_word(execute_run, make_hosts):
    session = only(execute_run("RawOptionsSession", make_hosts(1),
                               {"opts": "-a -v", "path": "my dir; id"}))

    assert session.commands[0].stdout == "<-a><-v><my dir; id>"


@pytest.mark.parametrize("template", ["printf '%s' {v}", "printf '%s' '{v}'",
                                      'printf \'%s\' "{v}"', "printf '%s' x{v}y",
                                      "printf '%s' \"$(printf '%s' {v})\""],
                         ids=["bare", "single", "double", "in-a-word", "command-substitution"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text(st.characters(exclude_characters="\0", codec="utf-8")))
def test_any_value_reaches_a_real_shell_unchanged_in_every_quoting_context(template, value):
    command = Session.format_cmd(_Formatting(value), template)
    expected = ("x" + value + "y") if "x{v}y" in template else value
    if "$(" in template:  # command substitution drops trailing newlines, as the shell does
        expected = value.rstrip("\n")

    for shell in ("sh", "bash"):
        printed = subprocess.run([shutil.which(shell), "-c", command], capture_output=True,
                                 check=True).stdout

        assert printed.decode("utf-8", "surrogateescape") == expected, (shell, command)


class _Formatting(Session):
    """format_cmd with one form value and no object (only the formatting is under test)."""

    abstract = True
    work_on = ("Host",)

    def __init__(self, value: str) -> None:
        super().__init__(None, MemoryRecord(session_data={"v": value}))


def test_a_typed_command_is_formatted_with_the_objects_fields_and_crlf_becomes_lf(
        execute_run, make_hosts):
    host = make_hosts(1, comment="it's; id")[0]

    session = only(execute_run("RunCommandSession", [host],
                               {"cmd": "echo {name} {comment}\r\necho {hostname} '{name}'"}))

    [command] = session.commands
    assert "\r" not in command.command
    assert command.stdout == f"{host.name} it's; id\n{host.hostname} {host.name}\n"


def test_a_form_built_by_get_form_validates_the_input_and_fills_the_command(
        runner, make_hosts, worker):
    make_hosts(1)

    refused = runner.invoke(args=["minke", "run", "DynamicFormSession", "--host", "h00",
                                  "--data", "count=9"])
    assert refused.exit_code == 2 and "count" in refused.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0  # nothing queued
    db.session.rollback()

    ran = runner.invoke(args=["minke", "run", "DynamicFormSession", "--host", "h00", "--json",
                              "--data", "count=2", "--data", "greeting=hello there"])
    [report] = json.loads(ran.output)
    assert report["commands"][0]["stdout"] == "2 hello there\n"


def test_environment_values_reach_the_command_unchanged(execute_run, make_hosts):
    session = only(execute_run("EnvValuesSession", make_hosts(1)))

    assert session.commands[0].stdout == "<two words><$(id); it's>"


# -- 2. results -------------------------------------------------------------------------


def test_results_are_true_exactly_when_the_command_succeeded(execute_run, make_hosts):
    session = only(execute_run("ResultTruthSession", make_hosts(1)))

    texts = [m.text for m in session.messages]
    assert "a failed command was true" not in texts
    assert "no such dir" in texts
    assert "CommandResult warning True True" in texts  # self.c.run: the same type
    assert [c.command for c in session.commands][-1] == "echo via c; echo oops >&2"


# -- 3. stops ---------------------------------------------------------------------------


def test_a_soft_stopped_single_command_session_ends_stopped_not_success(runner, make_hosts,
                                                                         worker):
    make_hosts(1)
    run_id = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=2")
    wait_for(lambda: sessions_of(run_id)[0].commands)
    runner.invoke(args=["minke", "stop", str(run_id)])

    session = wait_for(lambda: _final(run_id))
    assert (session.proc_status, session.session_status) == ("stopped", "error")
    assert session.commands[0].stdout == "slept\n"  # the running command finished
    assert any("stopped on request" in m.text for m in session.messages)


def test_except_exception_does_not_swallow_a_stop(runner, make_hosts, worker):
    make_hosts(1)
    run_id = dispatch(runner, "SwallowingSession", "--host", "h00")
    wait_for(lambda: sessions_of(run_id)[0].commands)
    runner.invoke(args=["minke", "stop", str(run_id)])

    session = wait_for(lambda: _final(run_id))
    assert (session.proc_status, session.session_status) == ("stopped", "error")
    assert len(session.commands) <= 2  # the loop went no further (5 without the stop)


def test_a_second_stop_ends_a_session_looping_in_python_within_two_seconds(runner, make_hosts,
                                                                           worker):
    make_hosts(1)
    run_id = dispatch(runner, "PythonLoopSession", "--host", "h00")
    wait_for(lambda: sessions_of(run_id)[0].commands)
    runner.invoke(args=["minke", "stop", str(run_id)])
    time.sleep(1.5)
    assert sessions_of(run_id)[0].proc_status == "stopping"  # soft: no command to end at

    runner.invoke(args=["minke", "stop", str(run_id)])
    killed_at = time.monotonic()
    session = wait_for(lambda: _final(run_id), timeout=5, interval=0.05)

    assert time.monotonic() - killed_at < 2.0
    assert (session.proc_status, session.session_status) == ("stopped", "error")
    assert any("its Python code was interrupted" in m.text for m in session.messages)
    # the worker goes on: the next run on the host succeeds
    next_run = dispatch(runner, "UptimeSession", "--host", "h00")
    assert wait_for(lambda: _final(next_run)).session_status == "success"


def test_a_stopped_sessions_changes_to_its_object_are_not_stored(runner, make_hosts, worker):
    host = make_hosts(1, comment="original")[0]
    run_id = dispatch(runner, "ChangeThenSleepSession", "--host", "h00")
    wait_for(lambda: sessions_of(run_id)[0].commands)
    runner.invoke(args=["minke", "stop", str(run_id)])

    session = wait_for(lambda: _final(run_id))
    assert session.proc_status == "stopped"
    assert [c.command for c in session.commands] == ["sleep 5"]
    db.session.rollback()
    assert db.session.get(Host, host.id).comment == "original"


def _final(run_id: int) -> MinkeSession | None:
    session = sessions_of(run_id)[0]
    return session if session.is_final else None


# -- 4. SessionError, connection state, secrets ---------------------------------------


def test_session_error_adds_one_message_per_argument(execute_run, make_hosts):
    session = only(execute_run("SessionErrorArgsSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("completed", "error")
    text, execution = session.messages
    assert (text.level, text.kind, text.text) == ("error", "pre", "the backup failed")
    assert (execution.level, execution.kind) == ("error", "execution")
    assert execution.payload["command"] == "echo partial; exit 2"
    assert execution.payload["exit_code"] == 2


def test_a_pooled_connection_carries_no_state_into_the_next_session(execute_run, make_hosts,
                                                                     app):
    host = make_hosts(1)[0]
    setter = only(execute_run("ConnectionStateSetterSession", [host]))
    assert setter.commands[0].stdout == "leaked leaked /tmp\n"

    checker = only(execute_run("ConnectionStateCheckerSession", [host]))

    pool = app.extensions["minke"].runtime.pool
    assert pool.stats.reused >= 1  # the same connection served both
    stdout = checker.commands[0].stdout
    assert stdout.startswith("[] [] ") and not stdout.rstrip().endswith("/tmp")
    assert [m.text for m in checker.messages] == ["sudo password: None"]


def test_a_password_field_is_used_but_never_stored(runner, make_hosts, worker, redis_url, app):
    secret = "s3cret-token-value"
    make_hosts(1)
    result = runner.invoke(args=["minke", "run", "SecretTokenSession", "--host", "h00", "--json",
                                 "--data", f"token={secret}", "--data", "label=nightly"])

    [report] = json.loads(result.output)
    assert report["status"] == "success", result.output
    assert report["commands"][0]["stdout"] == "token accepted\n"
    run_id = db.session.scalar(sa.select(Run.id))
    db.session.rollback()
    assert secret not in _database_text()
    assert db.session.get(Run, run_id).data == {"label": "nightly"}
    client = redis.Redis.from_url(redis_url)
    assert secret.encode() not in _redis_bytes(client)
    job = Job.fetch(app.extensions["minke"].keys.job_id(run_id, 0), connection=client)
    assert job.args[3] is None  # the sealed value was scrubbed once the worker took the job


def _database_text() -> str:
    tables = ["run", "minke_session", "message", "command_result", "output_chunk"]
    rows = [db.session.execute(sa.text(f"SELECT * FROM {table}")).all() for table in tables]
    db.session.rollback()
    return repr(rows)


def _redis_bytes(client: redis.Redis) -> bytes:
    found = b""
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            found += client.get(key) or b""
        elif kind == b"hash":
            found += repr(client.hgetall(key)).encode()
        elif kind == b"stream":
            found += repr(client.xrange(key)).encode()
        elif kind == b"list":
            found += repr(client.lrange(key, 0, -1)).encode()
    return found


# -- 7. engine hygiene ------------------------------------------------------------------


def test_a_failing_result_writer_fails_the_unfinished_sessions_with_the_reason(
        execute_run, make_hosts, app):
    """Fault injection: the database refuses every message row of the run."""
    hosts = make_hosts(2)

    def refuse_messages(conn, cursor, statement, parameters, context, executemany):
        values = _flat(parameters)
        # the session's own messages fail; the engine's last word (REAPER_SEQ) is let through
        if statement.startswith("INSERT INTO message") and REAPER_SEQ not in values:
            raise sa.exc.OperationalError(statement, parameters, Exception("disk full"))

    sa.event.listen(db.engine, "before_cursor_execute", refuse_messages)
    try:
        with pytest.raises(RuntimeError, match="storing results failed"):
            execute_run("MessageKindsSession", hosts)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", refuse_messages)

    db.session.rollback()
    sessions = db.session.scalars(sa.select(MinkeSession)).all()
    assert {s.proc_status for s in sessions} == {"failed"}
    for session in sessions:
        assert "storing the session's results failed" in session.messages[-1].text
    assert db.session.scalar(sa.select(Run.finished_at)) is not None


def _flat(parameters) -> list:
    if isinstance(parameters, dict):
        parameters = list(parameters.values())
    if isinstance(parameters, list | tuple):
        return [value for item in parameters for value in _flat(item)]
    return [parameters]
