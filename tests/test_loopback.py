"""The service fixtures: loopback SSH hosts, Redis, hosts in the database, workers."""

from __future__ import annotations

import pytest
import redis
import rq
from fabric import Connection

from scripts.loopback import ensure_redis, free_port, loopback_addresses, stop_process

pytestmark = pytest.mark.integration


def run_on(sshd, address: str, command: str) -> str:
    with Connection(
        host=address, port=sshd.port, user=sshd.user, connect_kwargs=sshd.connect_kwargs
    ) as connection:
        return connection.run(command, hide=True, in_stream=False).stdout


def test_loopback_addresses_skip_network_and_broadcast_octets():
    assert loopback_addresses(3) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert loopback_addresses(3, first=253) == ["127.0.0.253", "127.0.0.254", "127.0.1.1"]
    assert len(set(loopback_addresses(600))) == 600


def test_sshd_addresses_are_distinct_hosts_with_a_plain_shell(sshd):
    assert len(sshd.addresses) == 20
    seen = set()
    for address in (sshd.addresses[0], sshd.addresses[17]):  # served by two sshd processes
        shell, user, connection = run_on(
            sshd, address, "echo $0; id -un; echo $SSH_CONNECTION"
        ).splitlines()
        assert shell.rsplit("/", 1)[-1] == "sh"  # not bash: no .bashrc on every command
        assert user == sshd.user
        assert connection.split()[2] == address  # the server side of the connection
        seen.add(connection.split()[2])
    assert len(seen) == 2
    if sshd.user != "root":
        assert run_on(sshd, sshd.addresses[1], "id -u").strip() != "0"


def test_make_hosts_rows_reach_their_sshd(make_hosts, sshd):
    from webapp.extensions import db
    from webapp.models import HostGroup

    hosts = make_hosts(3, prefix="web", group="frontend", comment="made by a fixture")
    assert [h.name for h in hosts] == ["web00", "web01", "web02"]
    assert {h.comment for h in hosts} == {"made by a fixture"}
    group = db.session.scalars(db.select(HostGroup).filter_by(name="frontend")).one()
    assert [h.name for h in group.hosts] == ["web00", "web01", "web02"]
    host = hosts[2]
    with Connection(
        host=host.hostname, port=host.port, user=host.username,
        connect_kwargs=host.config["connect_kwargs"],
    ) as connection:
        result = connection.run("echo $SSH_CONNECTION", hide=True, in_stream=False)
    assert result.stdout.split()[2] == host.hostname


def test_ensure_redis_starts_a_server_where_none_answers(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/3"
    new_url, proc = ensure_redis(url, tmp_path)
    try:
        assert proc is not None
        assert new_url.endswith("/3")
        client = redis.Redis.from_url(new_url)
        assert client.ping()
        assert client.connection_pool.connection_kwargs["db"] == 3
        client.close()
    finally:
        stop_process(proc)
    assert proc.returncode is not None
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(new_url, socket_connect_timeout=1).ping()


def test_ensure_redis_keeps_a_server_that_answers(redis_url, tmp_path):
    assert ensure_redis(redis_url, tmp_path) == (redis_url, None)


def test_worker_registers_and_can_be_crashed(worker, redis_url, app):
    connection = redis.Redis.from_url(redis_url)
    workers = {w.pid: w for w in rq.Worker.all(connection=connection)}
    assert worker.pid in workers
    assert app.extensions["minke"].queue.name in workers[worker.pid].queue_names()
    assert worker.kill() == -9
    assert worker.proc.poll() is not None
