"""Host keys on real sshd servers: learned on first use, a changed key fails the session with
both fingerprints, accept-key and forget-key, the strict and off policies, the worker storing
what it learned."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.loopback import LoopbackSSHD
from sessions import REGISTRY
from tests.test_web_objects import wait_finished
from webapp.engine.dispatch import start_run
from webapp.engine.ssh import hostkeys
from webapp.extensions import db
from webapp.models import Host

pytestmark = pytest.mark.integration

CHANGED = re.compile(r"host key of (\S+) changed: expected (SHA256:\S+), got (SHA256:\S+); "
                     r"if the change is expected: minke host accept-key (\S+)")


def pub_key(path: Path) -> str:
    """The stored form of an OpenSSH public key file."""
    return " ".join(path.read_text().split()[:2])


def ssh_keygen_fingerprint(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def messages(session) -> str:
    return "\n".join(message.text for message in session.messages)


def outcome(run) -> tuple[str, str | None]:
    session = run.sessions[0]
    return session.proc_status, session.session_status


@pytest.fixture
def host(app, make_hosts):
    return make_hosts(1)[0]


@pytest.fixture
def movable(tmp_path, app):
    """One sshd at 127.0.0.250 that can be restarted with a new host key on the same port;
    ``movable.host`` is its Host row."""

    class Movable:
        def __init__(self) -> None:
            self.generation = 0
            self.server = LoopbackSSHD(1, tmp_path / "sshd0", first_address=250).start()
            self.host = Host(name="moving", hostname=self.server.addresses[0],
                             port=self.server.port, username=self.server.user,
                             config={"connect_kwargs": {"key_filename": [self.client_key],
                                                        "look_for_keys": False,
                                                        "allow_agent": False}})
            db.session.add(self.host)
            db.session.commit()

        @property
        def client_key(self) -> str:
            return str(tmp_path / "client_ed25519")

        @property
        def host_key_file(self) -> Path:
            return Path(self.server.workdir) / "host_ed25519.pub"

        def start_with_new_host_key(self) -> None:
            port = self.server.port
            self.server.stop()
            self.generation += 1
            workdir = tmp_path / f"sshd{self.generation}"
            workdir.mkdir()
            for name in ("client_ed25519", "client_ed25519.pub"):  # same client, new host key
                shutil.copy(Path(self.server.workdir) / name, workdir / name)
            self.server = LoopbackSSHD(1, workdir, first_address=250, port=port).start()

    movable = Movable()
    shutil.copy(Path(movable.server.key_filename), movable.client_key)
    yield movable
    movable.server.stop()


def test_the_first_connection_remembers_the_host_key(app, sshd, host, execute_run):
    assert host.host_key is None
    run = execute_run("EchoSession", [host], data={"message": "hi"})
    assert outcome(run) == ("completed", "success")
    db.session.expire_all()
    stored = db.session.get(Host, host.id).host_key
    assert stored == pub_key(Path(sshd.workdir) / "host_ed25519.pub")
    # the fingerprint is the one OpenSSH shows
    assert hostkeys.fingerprint(stored) == ssh_keygen_fingerprint(
        Path(sshd.workdir) / "host_ed25519.pub")
    again = execute_run("EchoSession", [host], data={"message": "hi"})
    assert outcome(again) == ("completed", "success")


def test_a_changed_key_fails_the_session_until_it_is_accepted(app, runner, movable,
                                                              execute_run):
    app.config["MINKE_POOL_IDLE_TTL"] = 0  # every run opens a new connection
    first = execute_run("EchoSession", [movable.host], data={"message": "one"})
    assert outcome(first) == ("completed", "success")
    old_key = pub_key(movable.host_key_file)
    movable.start_with_new_host_key()
    new_key = pub_key(movable.host_key_file)
    assert new_key != old_key

    refused = execute_run("EchoSession", [movable.host], data={"message": "two"})
    assert outcome(refused) == ("failed", "error")
    text = messages(refused.sessions[0])
    found = CHANGED.search(text)
    assert found, text
    assert found.groups() == ("moving", hostkeys.fingerprint(old_key),
                              hostkeys.fingerprint(new_key), "moving")
    assert refused.sessions[0].commands == []  # nothing ran on the impostor
    db.session.expire_all()
    assert db.session.get(Host, movable.host.id).host_key == old_key  # not overwritten

    wrong = runner.invoke(args=["minke", "host", "accept-key", "moving",
                                "--fingerprint", hostkeys.fingerprint(old_key)])
    assert wrong.exit_code == 2 and "nothing changed" in wrong.output
    accepted = runner.invoke(args=["minke", "host", "accept-key", "moving",
                                   "--fingerprint", found.group(3)])
    assert accepted.exit_code == 0, accepted.output
    assert (f"moving: accepted host key {hostkeys.fingerprint(new_key)} "
            f"(was {hostkeys.fingerprint(old_key)})") in accepted.output
    db.session.expire_all()
    assert db.session.get(Host, movable.host.id).host_key == new_key
    works = execute_run("EchoSession", [movable.host], data={"message": "three"})
    assert outcome(works) == ("completed", "success")


def test_a_wrong_stored_key_is_refused_and_off_ignores_it(app, sshd, host, execute_run,
                                                          tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True)
    host.host_key = pub_key(tmp_path / "other.pub")
    db.session.commit()
    refused = execute_run("EchoSession", [host], data={"message": "x"})
    assert outcome(refused) == ("failed", "error")
    assert "host key of h00 changed" in messages(refused.sessions[0])
    app.config["MINKE_HOST_KEY_POLICY"] = "off"
    allowed = execute_run("EchoSession", [host], data={"message": "x"})
    assert outcome(allowed) == ("completed", "success")
    db.session.expire_all()
    assert db.session.get(Host, host.id).host_key == pub_key(tmp_path / "other.pub")


def test_off_stores_nothing(app, host, execute_run):
    app.config["MINKE_HOST_KEY_POLICY"] = "off"
    assert outcome(execute_run("EchoSession", [host], data={"message": "x"}))[0] == "completed"
    db.session.expire_all()
    assert db.session.get(Host, host.id).host_key is None


def test_strict_refuses_an_unknown_host_until_its_key_is_accepted(app, runner, sshd, host,
                                                                  execute_run):
    app.config["MINKE_HOST_KEY_POLICY"] = "strict"
    refused = execute_run("EchoSession", [host], data={"message": "x"})
    assert outcome(refused) == ("failed", "error")
    fp = ssh_keygen_fingerprint(Path(sshd.workdir) / "host_ed25519.pub")
    assert (f"host key of h00 is not known and MINKE_HOST_KEY_POLICY is strict: it presented "
            f"{fp}; to trust it: minke host accept-key h00") in messages(refused.sessions[0])
    db.session.expire_all()
    assert db.session.get(Host, host.id).host_key is None
    result = runner.invoke(args=["minke", "host", "accept-key", "h00"])
    assert result.exit_code == 0 and f"accepted host key {fp} (was none)" in result.output
    assert outcome(execute_run("EchoSession", [host], data={"message": "x"})) == (
        "completed", "success")


def test_accept_key_takes_a_key_given_as_text_and_forget_key_forgets(app, runner, sshd, host,
                                                                     execute_run):
    line = f"[{host.hostname}]:{host.port} " + (Path(sshd.workdir) / "host_ed25519.pub"
                                                 ).read_text()  # as ssh-keyscan prints it
    result = runner.invoke(args=["minke", "host", "accept-key", "h00", "--key", line])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Host, host.id).host_key == pub_key(
        Path(sshd.workdir) / "host_ed25519.pub")
    again = runner.invoke(args=["minke", "host", "accept-key", "h00"])
    assert "was already accepted" in again.output
    bad = runner.invoke(args=["minke", "host", "accept-key", "h00", "--key", "ssh-ed25519 nope"])
    assert bad.exit_code == 2 and "not an SSH public key" in bad.output
    forgot = runner.invoke(args=["minke", "host", "forget-key", "h00"])
    assert forgot.exit_code == 0 and "forgot host key SHA256:" in forgot.output
    db.session.expire_all()
    assert db.session.get(Host, host.id).host_key is None
    assert runner.invoke(args=["minke", "host", "forget-key", "h00"]).output.strip() == (
        "h00: no host key was stored")
    assert runner.invoke(args=["minke", "host", "accept-key", "nope"]).exit_code == 2


def test_accept_key_of_an_unreachable_host_says_why(app, runner):
    db.session.add(Host(name="gone", hostname="127.0.0.1", port=1, config={}))
    db.session.commit()
    result = runner.invoke(args=["minke", "host", "accept-key", "gone"])
    assert result.exit_code == 2 and "gone: " in result.output and "refused" in result.output


def test_an_unknown_policy_fails_sessions_with_the_choices(app, host, execute_run):
    app.config["MINKE_HOST_KEY_POLICY"] = "yes please"
    run = execute_run("EchoSession", [host], data={"message": "x"})
    assert outcome(run) == ("failed", "error")
    assert ("MINKE_HOST_KEY_POLICY is 'yes please': use one of strict, accept-new, off"
            in messages(run.sessions[0]))


def test_the_first_stored_key_wins_when_two_connections_learn_at_once(app, host):
    host_id = host.id
    db.session.rollback()  # as in a worker: the test's own transaction holds no lock
    assert hostkeys.remember_key(host_id, "ssh-ed25519 AAAAfirst") == "ssh-ed25519 AAAAfirst"
    assert hostkeys.remember_key(host_id, "ssh-ed25519 AAAAsecond") == "ssh-ed25519 AAAAfirst"
    assert hostkeys.remember_key(10**6, "ssh-ed25519 AAAAx") is None  # no such host


def test_the_worker_stores_the_key_it_learns(app, worker, make_hosts, make_user, sshd):
    hosts = make_hosts(3)
    user = make_user("ada", "minke.admin")
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), hosts, user=user,
                    data={"message": "x"})
    finished = wait_finished(run.id, worker=worker)
    assert {s.proc_status for s in finished.sessions} == {"completed"}
    db.session.expire_all()
    expected = pub_key(Path(sshd.workdir) / "host_ed25519.pub")
    assert [db.session.get(Host, h.id).host_key for h in hosts] == [expected] * 3
