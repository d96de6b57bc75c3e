"""Command output beyond what a result keeps in memory: stored in chunks, read back whole or
by its tail, and streamed live in coalesced, sequence-numbered events."""

from __future__ import annotations

import itertools
import threading

import pytest
import sqlalchemy as sa

from webapp.engine import events
from webapp.extensions import db
from webapp.models import Host, OutputChunk, Run
from webapp.output import iter_output, tail

pytestmark = pytest.mark.integration

KIB = 512


def expected_stdout(kib: int = KIB) -> str:
    return "".join(f"{i:015d}\n" for i in range(kib * 1024 // 16))


@pytest.fixture
def big_run(app, execute_run, make_hosts):
    app.config.update(MINKE_OUTPUT_MEMORY_LIMIT=1000, MINKE_OUTPUT_CHUNK_SIZE=16 * 1024)
    run = execute_run("BigOutputSession", make_hosts(1), {"seconds": str(KIB)})
    [session] = run.sessions
    [command] = session.commands
    return run, session, command


def test_output_beyond_the_memory_limit_is_stored_whole_and_in_order(big_run):
    _run, session, command = big_run
    expected = expected_stdout()

    assert (session.proc_status, session.session_status) == ("completed", "warning")
    assert command.truncated is True
    assert command.stdout == expected[:1000]
    assert command.stdout_bytes == len(expected)
    assert "".join(iter_output(command.id, "stdout")) == expected
    assert "".join(iter_output(command.id, "stderr")) == "done\n"


def test_the_tail_of_an_output_is_its_last_characters(big_run):
    _run, _session, command = big_run

    assert tail(command.id, "stdout", 100) == expected_stdout()[-100:]
    assert tail(command.id, "stderr", 3) == "ne\n"


def test_minke_output_prints_all_of_a_commands_output_or_its_tail(big_run, runner, tmp_path):
    _run, session, _command = big_run

    printed = runner.invoke(args=["minke", "output", str(session.id)])
    saved = tmp_path / "out.txt"
    runner.invoke(args=["minke", "output", str(session.id), "-o", str(saved)])
    tail_only = runner.invoke(args=["minke", "output", str(session.id), "--tail", "32"])
    missing = runner.invoke(args=["minke", "output", str(session.id), "--command", "2"])

    assert printed.exit_code == 0 and printed.output == expected_stdout()
    assert saved.read_text() == expected_stdout()
    assert tail_only.output == expected_stdout()[-32:]
    assert missing.exit_code == 2 and "has no command 2" in missing.output


def test_live_output_events_are_coalesced_and_carry_every_character(big_run, app):
    run, session, command = big_run
    state = app.extensions["minke"]
    _last, published = events.read_events(state.redis, state.keys, run.id, block_ms=None)
    output = [e for e in published
              if e["event"] == events.SESSION_OUTPUT and e["session"] == session.id]
    chunks = db.session.scalar(sa.select(sa.func.count()).select_from(OutputChunk)
                               .where(OutputChunk.command_id == command.id))

    assert 0 < len(output) < chunks
    seqs = [(e["first_seq"], e["seq"]) for e in output]
    assert all(a <= b for a, b in seqs)
    assert all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(seqs))
    by_stream: dict[str, int] = {"stdout": 0, "stderr": 0}
    for event in output:
        for piece in event["pieces"]:
            by_stream[piece["stream"]] += len(piece["data"]) + piece["omitted"]
    assert by_stream == {"stdout": len(expected_stdout()), "stderr": len("done\n")}


def test_a_flood_of_reports_from_many_hosts_never_stalls_the_writer(app, execute_run,
                                                                      make_hosts):
    # the writer's queue is bounded; the interval flush of buffered output once put on it
    # from the writer's own thread, which deadlocked as soon as the queue was full
    app.config.update(MINKE_OUTPUT_FLUSH_INTERVAL=0.01)
    host_ids = [host.id for host in make_hosts(20)]
    db.session.rollback()  # this thread holds no transaction (and no SQLite lock) meanwhile
    done: list[int] = []

    def run_in_thread() -> None:
        with app.app_context():
            hosts = db.session.scalars(sa.select(Host).where(Host.id.in_(host_ids))).all()
            done.append(execute_run("ChattySession", hosts).id)

    thread = threading.Thread(target=run_in_thread, daemon=True)
    thread.start()
    thread.join(timeout=120)

    assert done, "the run did not end within 120 s: the result writer stalled"
    db.session.expire_all()
    for session in db.session.get(Run, done[0]).sessions:
        assert (session.proc_status, session.session_status) == ("completed", "success")
        assert len(session.messages) == 900
        assert [c.stdout for c in session.commands] == ["no newline yet done"] * 3
