"""The per-worker SSH connection pool, against the real sshd."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from webapp.engine import stops
from webapp.engine.ssh.connections import address_of, build_connection, config_key, effective_config
from webapp.engine.ssh.pool import ConnectionPool
from webapp.extensions import db
from webapp.models import Run

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def host(app, make_hosts):
    return make_hosts(1)[0]


def connect(app, host, session_name="UptimeSession"):
    from sessions import REGISTRY

    config = effective_config(app.config, host, REGISTRY.get(session_name))
    key = config_key(host.id, address_of(host, config), config)
    return key, (lambda: build_connection(host, config))


def test_an_idle_connection_is_reused_for_the_same_host_and_config(app, host):
    pool = ConnectionPool(idle_ttl=60, capacity=10)
    key, factory = connect(app, host)
    first = pool.acquire(host.id, key, factory)
    assert first.run("echo one").stdout == "one\n"
    pool.release(host.id, key, first, reuse=True)
    again = pool.acquire(host.id, key, factory)
    assert again is first
    assert again.run("echo two").stdout == "two\n"
    assert (pool.stats.created, pool.stats.reused) == (1, 1)
    pool.release(host.id, key, again, reuse=True)
    pool.close()
    assert not first.is_connected


def test_no_two_sessions_share_a_connection(app, host):
    pool = ConnectionPool(idle_ttl=60, capacity=10)
    key, factory = connect(app, host)
    one = pool.acquire(host.id, key, factory)
    one.run("true")
    two = pool.acquire(host.id, key, factory)
    assert two is not one
    two.run("true")
    pool.release(host.id, key, one, reuse=True)
    pool.release(host.id, key, two, reuse=True)
    assert pool.idle_count(key) == 2
    pool.close()


def test_an_idle_connection_expires_after_the_ttl(app, host):
    clock = Clock()
    pool = ConnectionPool(idle_ttl=60, capacity=10, clock=clock)
    key, factory = connect(app, host)
    old = pool.acquire(host.id, key, factory)
    old.run("true")
    pool.release(host.id, key, old, reuse=True)
    clock.now += 61
    new = pool.acquire(host.id, key, factory)
    assert new is not old and not old.is_connected
    assert pool.stats.expired == 1
    new.run("true")
    pool.release(host.id, key, new, reuse=True)
    clock.now += 61
    assert pool.sweep() == 1 and not new.is_connected


def test_a_zero_ttl_disables_the_pool(app, host):
    pool = ConnectionPool(idle_ttl=0, capacity=10)
    key, factory = connect(app, host)
    conn = pool.acquire(host.id, key, factory)
    conn.run("true")
    pool.release(host.id, key, conn, reuse=True)
    assert pool.idle_count() == 0 and not conn.is_connected


def test_changing_the_hosts_config_closes_its_idle_connections(app, host):
    pool = ConnectionPool(idle_ttl=60, capacity=10)
    key, factory = connect(app, host)
    old = pool.acquire(host.id, key, factory)
    old.run("true")
    pool.release(host.id, key, old, reuse=True)
    host.config = {**host.config, "run": {"env": {"FOO": "bar"}}}
    db.session.commit()
    new_key, new_factory = connect(app, host)
    assert new_key != key
    new = pool.acquire(host.id, new_key, new_factory)
    assert new is not old and not old.is_connected
    assert pool.stats.invalidated == 1
    pool.release(host.id, new_key, new, reuse=False)


def test_a_full_pool_keeps_its_connections_and_closes_the_newcomer(app, make_hosts):
    """A fleet re-run in the same order finds the connections the pool kept: a full pool
    turns away the connection given back rather than evicting the ones the next run
    needs first; expiry makes room again."""
    clock = Clock()
    pool = ConnectionPool(idle_ttl=60, capacity=2, clock=clock)
    hosts = make_hosts(3)
    held = []
    for host in hosts:
        key, factory = connect(app, host)
        conn = pool.acquire(host.id, key, factory)
        conn.run("true")
        held.append((host, key, conn))
    for host, key, conn in held:
        clock.now += 1
        pool.release(host.id, key, conn, reuse=True)

    assert pool.idle_count() == 2 and pool.stats.turned_away == 1
    assert [conn.is_connected for _host, _key, conn in held] == [True, True, False]
    # the same run again: the first two hosts are warm, and a served connection always
    # has its place when it comes back
    for host, key, conn in held[:2]:
        again = pool.acquire(host.id, key, connect(app, host)[1])
        assert again is conn
        pool.release(host.id, key, again, reuse=True)
    assert pool.idle_count() == 2 and pool.stats.reused == 2
    # once the kept ones expire, the newcomer gets in
    clock.now += 61
    assert pool.sweep() == 2
    host, key, _conn = held[2]
    conn = pool.acquire(host.id, key, connect(app, host)[1])
    conn.run("true")
    pool.release(host.id, key, conn, reuse=True)
    assert pool.idle_count() == 1
    pool.close()


def test_capacity_follows_the_memory_budget_and_the_descriptor_limit():
    import resource

    from webapp.engine.ssh.pool import FD_RESERVE, IDLE_CONNECTION_KIB, capacity_for

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert capacity_for(IDLE_CONNECTION_KIB * 10 / 1024) == 10
    assert capacity_for(0) == 0
    assert capacity_for(10**9) == resource.getrlimit(resource.RLIMIT_NOFILE)[0] - FD_RESERVE
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= soft  # raised, never lowered


def test_pooled_connections_send_keepalives(app, host):
    pool = ConnectionPool(idle_ttl=60, capacity=10, keepalive=7)
    key, factory = connect(app, host)
    conn = pool.acquire(host.id, key, factory)
    conn.run("true")
    pool.release(host.id, key, conn, reuse=True)
    assert conn.transport.packetizer._Packetizer__keepalive_interval == 7
    pool.close()


def wakeups(connection) -> int:
    """How often the connection's transport thread has gone to sleep and woken since it
    started (the kernel's count of its voluntary context switches)."""
    status = Path(f"/proc/self/task/{connection.transport.native_id}/status").read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))


def test_an_idle_pooled_connection_lets_the_worker_sleep(app, host):
    """paramiko's thread wakes on a quiet socket to look at its connection; thousands of
    idle pooled connections waking once a second kept a worker's two cores busy
    (bench/fleet.py at 5,000 hosts)."""
    pool = ConnectionPool(idle_ttl=60, capacity=10, keepalive=30)
    key, factory = connect(app, host)
    conn = pool.acquire(host.id, key, factory)
    conn.run("true")
    pool.release(host.id, key, conn, reuse=True)
    time.sleep(1.1)  # the wait begun before it was pooled (1 s at most) ends
    before = wakeups(conn)
    time.sleep(3.0)
    assert wakeups(conn) - before <= 1  # once a second while in use (MinkeTransport)

    again = pool.acquire(host.id, key, factory)  # in use: once a second again
    assert again is conn and again.run("echo still").stdout == "still\n"
    assert again.transport.sock.gettimeout() == type(again.transport)._active_check_timeout
    pool.close()


def test_a_dead_connection_is_not_handed_out(app, host):
    pool = ConnectionPool(idle_ttl=60, capacity=10)
    key, factory = connect(app, host)
    conn = pool.acquire(host.id, key, factory)
    conn.run("true")
    pool.release(host.id, key, conn, reuse=True)
    conn.transport.close()  # the server went away behind the pool's back
    fresh = pool.acquire(host.id, key, factory)
    assert fresh is not conn and fresh.run("echo ok").stdout == "ok\n"
    assert pool.stats.dead == 1
    pool.release(host.id, key, fresh, reuse=False)


def test_runs_reuse_the_workers_connections_across_runs(app, make_hosts, execute_run):
    hosts = make_hosts(3)
    first = execute_run("UptimeSession", hosts)
    second = execute_run("HostnameSession", hosts)
    assert {s.session_status for s in first.sessions + second.sessions} == {"success"}
    pool = app.extensions["minke"].runtime.pool
    assert (pool.stats.created, pool.stats.reused) == (3, 3)


def test_a_killed_sessions_connection_is_discarded(app, make_hosts, execute_run):
    hosts = make_hosts(1)
    host_ids = [h.id for h in hosts]
    redis = app.extensions["minke"].redis
    pool = app.extensions["minke"].runtime.pool
    states: list[str] = []

    def run_in_thread() -> None:
        with app.app_context():
            objects = [db.session.get(type(hosts[0]), i) for i in host_ids]
            run = execute_run("PtySleepSession", objects, data={"seconds": "33"})
            states.extend(s.proc_status for s in run.sessions)

    db.session.rollback()
    thread = threading.Thread(target=run_in_thread)
    thread.start()
    deadline = time.monotonic() + 10
    while pool.stats.in_use == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    run_id = db.session.scalar(db.select(Run.id).order_by(Run.id.desc()))
    db.session.rollback()
    stops.request_stop(redis, app.extensions["minke"].keys, run_id, kill=True)
    thread.join(10)
    assert not thread.is_alive()
    assert states == ["stopped"]
    assert pool.stats.discarded == 1 and pool.idle_count() == 0
