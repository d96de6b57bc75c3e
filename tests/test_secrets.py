"""Secrets asked before a run, never stored (issue 13 section 3): an encrypted key's
passphrase, a sudo password, a host group's secrets and secret form fields, through the
CLI, the prepare page and the API, on the real sshd, worker, Redis and database.

sudo: the test machine's sshd user has no sudo rights, so a stand-in ``sudo`` script (put
first on PATH by the session) reads the password from stdin as ``sudo -S`` does and
compares its SHA-256 with the expected one: what is checked is that fabric's
``sudo.password`` answers the prompt, not sudo itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from rq.job import Job

from scripts.loopback import LoopbackSSHD
from sessions import Session, SessionRegistrationError
from tests.test_engine_stop import sessions_of, wait_for
from tests.web_client import isolated_client, login, post
from webapp.api.tokens import create_token
from webapp.engine.secrets import unseal
from webapp.extensions import db
from webapp.models import Host, HostGroup, MinkeSession, Run

pytestmark = pytest.mark.integration

API = "/api/v1"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_sshd(tmp_path_factory):
    """Two SSH hosts whose only accepted client key is encrypted (``ssh-keygen -N``):
    ``(server, passphrase)``."""
    workdir = tmp_path_factory.mktemp("key-sshd")
    passphrase = f'pp-{secrets.token_hex(10)}-"q"'
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "encrypted",
                    "-f", str(workdir / "client_ed25519")], check=True, capture_output=True)
    with LoopbackSSHD(2, workdir, first_address=230) as server:
        yield server, passphrase


@pytest.fixture
def key_hosts(app, key_sshd):
    """``key_hosts(group=None)``: hosts k00 and k01 on :func:`key_sshd`."""
    server, _passphrase = key_sshd

    def make(group: HostGroup | None = None) -> list[Host]:
        hosts = [Host(name=f"k{i:02d}", hostname=address, port=server.port,
                      username=server.user, config=server.host_config(),
                      groups=[group] if group else [])
                 for i, address in enumerate(server.addresses)]
        db.session.add_all(hosts)
        db.session.commit()
        return hosts

    return make


@pytest.fixture
def sudo_stub():
    """``sudo_stub(password) -> directory`` holding a ``sudo`` that runs its command only
    when standard input's first line is ``password`` (it keeps only its SHA-256)."""
    made = []

    def make(password: str) -> str:
        directory = Path(tempfile.mkdtemp(prefix="minke-sudo-", dir="/tmp"))
        directory.chmod(0o755)
        digest = hashlib.sha256(password.encode()).hexdigest()
        script = directory / "sudo"
        script.write_text(SUDO_STUB.replace("EXPECTED", digest))
        script.chmod(0o755)
        made.append(directory)
        return str(directory)

    yield make
    for directory in made:
        (directory / "sudo").unlink()
        directory.rmdir()


SUDO_STUB = """#!/bin/sh
# stand-in for `sudo -S -p PROMPT [--preserve-env=…] [-H -u USER] COMMAND…`
prompt=
while [ $# -gt 0 ]; do
  case "$1" in
    -S|-H) shift;;
    -p) prompt=$2; shift 2;;
    -u) shift 2;;
    --preserve-env=*) shift;;
    *) break;;
  esac
done
printf '%s' "$prompt" >&2
IFS= read -r password
if [ "$(printf %s "$password" | sha256sum | cut -d' ' -f1)" = "EXPECTED" ]; then
  exec "$@"
fi
echo "Sorry, try again." >&2
exit 1
"""


@pytest.fixture
def ops(make_user):
    return make_user("ops", "minke.view_hosts", "minke.view_all_runs",
                     *(f"minke.run_{name}" for name in (
                         "passphrasesession", "sudosession", "reportsudosession",
                         "secretfieldsession", "everysecretsession")))


@pytest.fixture
def api(app, ops):
    """``(client, headers)`` for the API as ``ops``."""
    _row, token = create_token(ops, "test")
    db.session.commit()
    return isolated_client(app), {"Authorization": f"Bearer {token}"}


def run_count() -> int:
    db.session.rollback()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Run))
    db.session.rollback()
    return count


def wait_finished(run_id: int, timeout: float = 30.0) -> list[MinkeSession]:
    def done():
        rows = sessions_of(run_id)
        return rows if rows and all(row.is_final for row in rows) else None

    return wait_for(done, timeout)


def job_args(app, run_id: int, index: int = 0) -> tuple:
    state = app.extensions["minke"]
    return tuple(Job.fetch(state.keys.job_id(run_id, index), connection=state.redis).args)


def group(name: str, *asks: str) -> HostGroup:
    row = HostGroup(name=name, config={}, ask_secrets=list(asks))
    db.session.add(row)
    db.session.commit()
    return row


# -- declaring secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(("attrs", "error"), [
    ({"ask_secrets": ("sudo_pasword",)}, "ask_secrets names unknown secrets sudo_pasword"),
    ({"ask_secrets": "sudo_password"}, "tuples of names, not a string"),
    ({"secret_fields": ("tokn",)}, "secret_fields names tokn, not fields of"),
])
def test_a_session_declaring_unknown_secrets_is_refused_at_registration(attrs, error):
    from tests.secret_sessions import ApiKeyForm

    with pytest.raises(SessionRegistrationError, match=error):
        type("BadSecrets", (Session,), {"work_on": ("Host",), "form": ApiKeyForm,
                                        "__module__": __name__, **attrs})


def test_a_host_group_asks_for_secrets_set_from_the_cli(runner):
    assert runner.invoke(args=["minke", "group", "add", "db", "--ask-secret",
                               "sudo_password"]).exit_code == 0
    result = runner.invoke(args=["minke", "group", "edit", "db", "--ask-secret", "ssh_password",
                                 "--ask-secret", "sudo_password"])
    assert result.exit_code == 0, result.output
    assert "asks for ssh_password, sudo_password" in result.output
    assert db.session.scalar(sa.select(HostGroup.ask_secrets)) == ["ssh_password",
                                                                   "sudo_password"]
    assert "ssh_password,sudo_password" in runner.invoke(args=["minke", "group", "list"]).output

    wrong = runner.invoke(args=["minke", "group", "edit", "db", "--ask-secret", "pin"])
    assert wrong.exit_code == 2 and "unknown secret pin" in wrong.output
    assert runner.invoke(args=["minke", "group", "edit", "db", "--no-secrets"]).exit_code == 0
    assert db.session.scalar(sa.select(HostGroup.ask_secrets)) == []


def test_an_admin_sets_the_secrets_a_group_asks_for_on_its_page(app, make_user):
    make_user("ada", "minke.admin")
    web = isolated_client(app)
    login(web, "ada")
    added = post(web, "/admin/groups/new", {"name": "db", "config": "",
                                            "ask_secrets": ["ssh_password", "sudo_password"]})
    assert added.status_code == 302, added.get_data(as_text=True)
    db_group = db.session.scalar(sa.select(HostGroup))
    assert db_group.ask_secrets == ["ssh_password", "sudo_password"]
    page = web.get(f"/admin/groups/{db_group.id}").get_data(as_text=True)
    ticked = re.findall(r'<input[^>]*name="ask_secrets"[^>]*>', page)
    assert [tag for tag in ticked if "checked" in tag] == ticked[1:], ticked

    post(web, f"/admin/groups/{db_group.id}", {"name": "db", "config": ""})  # none ticked
    db.session.rollback()
    assert db.session.scalar(sa.select(HostGroup.ask_secrets)) == []


# -- an encrypted key's passphrase (CLI) ------------------------------------------------------


def test_the_key_passphrase_typed_for_the_run_unlocks_the_key_and_a_wrong_one_fails_the_host(
        runner, key_hosts, key_sshd, worker, app):
    _server, passphrase = key_sshd
    key_hosts()

    ran = runner.invoke(args=["minke", "run", "PassphraseSession", "--host", "k00", "--json",
                              "--secret", "ssh_key_passphrase"], input=passphrase + "\n")
    [report] = json.loads(ran.output)
    assert report["status"] == "success", ran.output
    assert report["commands"][0]["stdout"] == "logged in\n"

    wrong = runner.invoke(args=["minke", "run", "PassphraseSession", "--host", "k00", "--json",
                                "--secret", "ssh_key_passphrase"], input="not-it\n")
    assert wrong.exit_code == 1
    [report] = json.loads(wrong.output)
    assert report["proc_status"] == "failed"
    assert [m["text"] for m in report["messages"]] == [
        "the SSH key could not be unlocked: wrong passphrase "
        "(or a damaged key file; paramiko says: Invalid key)"]


def test_the_cli_takes_a_secret_from_the_environment_never_from_its_arguments(
        runner, key_hosts, key_sshd, worker, monkeypatch):
    _server, passphrase = key_sshd
    key_hosts()
    monkeypatch.setenv("KEY_PASSPHRASE", passphrase)

    ran = runner.invoke(args=["minke", "run", "PassphraseSession", "--host", "k01", "--json",
                              "--secret-env", "ssh_key_passphrase=KEY_PASSPHRASE"])
    assert ran.exit_code == 0, (ran.output, ran.exception)
    assert json.loads(ran.output)[0]["status"] == "success", ran.output

    unknown = runner.invoke(args=["minke", "run", "PassphraseSession", "--host", "k01",
                                  "--secret", "pin"], input="1234\n")
    assert unknown.exit_code == 2 and "--secret pin: neither a secret" in unknown.output


def test_a_missing_secret_queues_nothing_from_the_cli_the_api_or_the_page(
        runner, key_hosts, api, app, ops):
    key_hosts()
    result = runner.invoke(args=["minke", "run", "PassphraseSession", "--host", "k00"])
    assert result.exit_code == 2
    assert ("missing secret: ssh_key_passphrase (asked by the session); give it with "
            "--secret NAME") in result.output

    client, headers = api
    answer = client.post(f"{API}/runs", headers=headers, json={
        "session": "PassphraseSession", "objects": {"hosts": ["k00"]}})
    assert answer.status_code == 400
    assert answer.get_json()["fields"] == {"ssh_key_passphrase": ["required"]}
    assert "missing secret: ssh_key_passphrase" in answer.get_json()["error"]

    web = isolated_client(app)
    login(web, "ops")
    host_id = db.session.scalar(sa.select(Host.id).where(Host.name == "k00"))
    page = post(web, "/objects/host/run", {"session": "PassphraseSession", "ids": host_id,
                                           "step": "run", "secret-ssh_key_passphrase": ""})
    assert page.status_code == 400
    assert "Type the SSH key passphrase." in page.get_data(as_text=True)

    assert run_count() == 0 and app.extensions["minke"].queue.count == 0


@pytest.fixture(scope="module")
def password_sshd(tmp_path_factory):
    """One SSH host that takes the login user's password (set for the module, then put back):
    ``(server, password)``. Needs root, to set the password."""
    import os

    from scripts import loopback

    if os.geteuid() != 0:
        pytest.skip("setting the sshd user's password needs root")
    password = f"pw-{secrets.token_hex(10)}"
    user = loopback.login_user()
    before = loopback._password_field(user)
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, text=True,
                            capture_output=True, check=True).stdout.strip()
    subprocess.run(["usermod", "-p", hashed, user], check=True)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loopback, "SSHD_CONFIG", loopback.SSHD_CONFIG.replace(
                "PasswordAuthentication no", "PasswordAuthentication yes"))
            server = LoopbackSSHD(1, tmp_path_factory.mktemp("password-sshd"),
                                  first_address=240).start()
        yield server, password
        server.stop()
    finally:
        subprocess.run(["usermod", "-p", before, user], check=True)


def test_the_ssh_password_typed_for_the_run_logs_in(api, app, password_sshd, worker):
    server, password = password_sshd
    host = Host(name="p00", hostname=server.addresses[0], port=server.port,
                username=server.user, groups=[group("passwords", "ssh_password")],
                config={"connect_kwargs": {"look_for_keys": False, "allow_agent": False}})
    db.session.add(host)
    db.session.commit()
    client, headers = api

    def run(value: str) -> MinkeSession:
        answer = client.post(f"{API}/runs", headers=headers, json={
            "session": "SecretFieldSession", "objects": {"hosts": ["p00"]},
            "data": {"api_key": "k"}, "secrets": {"ssh_password": value}})
        assert answer.status_code == 201, answer.get_json()
        [session] = wait_finished(answer.get_json()["id"])
        return session

    assert run(password).session_status == "success"
    wrong = run("not-the-password")
    assert wrong.proc_status == "failed"
    assert wrong.messages[0].text == "SSH authentication failed: Authentication failed."


# -- a host group's secret (prepare page) -----------------------------------------------------


def test_a_host_groups_secret_is_asked_on_the_prepare_page_and_goes_to_its_hosts_jobs_only(
        app, make_hosts, ops, sudo_stub, start_worker):
    password = f"sudo-{secrets.token_hex(8)}"
    db_group = group("db", "sudo_password")
    in_group, outside = make_hosts(2)
    in_group.groups.append(db_group)
    db.session.commit()
    ids = [in_group.id, outside.id]
    bin_dir = sudo_stub(password)
    web = isolated_client(app)
    login(web, "ops")

    page = post(web, "/objects/host/run", {"session": "ReportSudoSession", "ids": ids})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    [tag] = re.findall(r'<input[^>]*name="secret-sudo_password"[^>]*>', html)
    assert all(attr in tag for attr in ('type="password"', 'autocomplete="off"', "required",
                                        'value=""'))
    assert "Asked by host group db." in html and "Type the sudo password." not in html

    app.config.update(MINKE_WORKER_THREADS=1, MINKE_CONCURRENCY=2)  # one job per host
    started = post(web, "/objects/host/run", {
        "session": "ReportSudoSession", "ids": ids, "step": "run", "s-bin": bin_dir,
        "secret-sudo_password": password, "keep": ids, "shown": ids})
    assert started.status_code == 302, started.get_data(as_text=True)
    run = db.session.scalar(sa.select(Run))
    assert run.data == {"bin": bin_dir} and run.job_count == 2
    run_id = run.id
    carried = {}
    for index in range(2):
        _run_id, units, _threads, sealed = job_args(app, run_id, index)
        [[session_id]] = units
        carried[db.session.get(MinkeSession, session_id).host_id] = unseal("test-secret", sealed)
    assert carried == {in_group.id: {"secrets": {"sudo_password": password},
                                     "hosts": {str(in_group.id): ["sudo_password"]}},
                       outside.id: {}}
    db.session.rollback()

    start_worker()
    by_host = {row.host_id: row for row in wait_finished(run_id)}
    assert [m.text for m in by_host[outside.id].messages] == ["sudo password set: False"]
    got_it = by_host[in_group.id]
    assert got_it.messages[0].text == "sudo password set: True"
    assert got_it.messages[1].payload["stdout"] == f"{in_group.username}\n"  # sudo ran it
    assert [job_args(app, run_id, i)[3] for i in range(2)] == [None, None]  # scrubbed


def test_a_page_shown_again_never_echoes_a_secret_field(app, make_hosts, ops):
    db_group = group("db", "sudo_password")
    host = make_hosts(1)[0]
    host.groups.append(db_group)
    db.session.commit()
    web = isolated_client(app)
    login(web, "ops")

    page = post(web, "/objects/host/run", {"session": "SecretFieldSession", "ids": host.id,
                                           "step": "run", "s-api_key": "typed-key-123",
                                           "s-label": "kept"})

    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Type the sudo password." in html
    [tag] = re.findall(r'<input[^>]*name="s-api_key"[^>]*>', html)
    assert 'type="password"' in tag and 'autocomplete="off"' in tag and 'value=""' in tag
    assert "typed-key-123" not in html and 'value="kept"' in html
    assert run_count() == 0


def test_a_rerun_asks_for_the_secrets_again(app, make_hosts, ops, execute_run):
    db_group = group("db", "sudo_password")
    host = make_hosts(1)[0]
    host.groups.append(db_group)
    db.session.commit()
    past = execute_run("ReportSudoSession", [host], {"bin": "/nowhere"})
    web = isolated_client(app)
    login(web, "ops")

    page = post(web, f"/history/runs/{past.id}/rerun", {})

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="secret-sudo_password"' in html
    assert 'value="/nowhere"' in html  # the stored inputs are filled in, secrets are not
    assert run_count() == 1


def test_a_connection_opened_with_a_secret_never_enters_the_pool(app, make_hosts):
    """In-process (the test reads the worker's pool): a run whose host needs a secret
    opens a connection of its own and closes it; the next run without the secret gets a
    connection without it, while plain runs share a pooled one."""
    from sessions import REGISTRY
    from webapp.engine import secrets as sealing
    from webapp.engine.dispatch import check_secrets, prepare_run
    from webapp.engine.worker.execute import execute_job

    host = make_hosts(1)[0]
    session_cls = REGISTRY.get("ReportSudoSession")
    pool = app.extensions["minke"].runtime.pool

    def execute(given: dict | None = None) -> list[str]:
        needed = check_secrets(session_cls, [host], given)
        run, [job] = prepare_run(session_cls, [host], user=None, data={"bin": ""},
                                 concurrency=1, threads=1, origin="cli")
        run_id = run.id
        db.session.commit()
        execute_job(app, run_id, job.units, job.threads, sealing.seal(
            "test-secret", sealing.job_payload({}, given or {}, needed, job.hosts)))
        return [m.text for m in sessions_of(run_id)[0].messages]

    assert execute() == ["sudo password set: False"]
    assert pool.idle_count() == 1  # a plain connection, pooled
    db_group = group("db", "sudo_password")
    db.session.add(host)
    host.groups.append(db_group)
    db.session.commit()
    created, reused = pool.stats.created, pool.stats.reused

    assert execute({"sudo_password": "pw-of-one-run"})[0] == "sudo password set: True"
    assert (pool.stats.created, pool.stats.reused, pool.idle_count()) == (created, reused, 1)

    db.session.add(host)
    host.groups.clear()
    db.session.commit()
    assert execute() == ["sudo password set: False"]
    assert pool.stats.reused == reused + 1  # the plain one again, never the one with it


# -- sudo password and secret fields (API) ----------------------------------------------------


def test_the_sudo_password_answers_fabrics_sudo_prompt_and_a_wrong_one_fails_clearly(
        api, make_hosts, sudo_stub, worker):
    password = f"sudo-{secrets.token_hex(8)}"
    bin_dir = sudo_stub(password)
    make_hosts(1)
    client, headers = api

    def run(value: str) -> MinkeSession:
        answer = client.post(f"{API}/runs", headers=headers, json={
            "session": "SudoSession", "objects": {"hosts": ["h00"]}, "data": {"bin": bin_dir},
            "secrets": {"sudo_password": value}})
        assert answer.status_code == 201, answer.get_json()
        [session] = wait_finished(answer.get_json()["id"])
        return session

    right = run(password)
    assert (right.proc_status, right.session_status) == ("completed", "success")
    assert right.commands[0].stdout == f"{right.host.username}\n"
    sudo = "sudo -S -p '[sudo] password: ' --preserve-env='PATH' id -un"
    assert right.commands[0].command == sudo  # the password went to stdin, not in here

    wrong = run("not-the-password")
    assert wrong.proc_status == "failed"
    assert wrong.messages[0].text == (
        f"sudo rejected the password (a wrong sudo password, or none was given): {sudo}")


def test_a_field_marked_secret_reaches_the_command_but_no_stored_row(api, make_hosts, worker):
    value = f"key-{secrets.token_hex(8)}"
    make_hosts(1)
    client, headers = api
    fields = {s["name"]: s for s in client.get(f"{API}/sessions", headers=headers)
              .get_json()["sessions"]}
    assert [f["secret"] for f in fields["SecretFieldSession"]["fields"]] == [True, False]
    assert fields["SudoSession"]["secrets"] == ["sudo_password"]

    for how in ({"data": {"api_key": value, "label": "x"}},
                {"data": {"label": "x"}, "secrets": {"api_key": value}}):
        answer = client.post(f"{API}/runs", headers=headers, json={
            "session": "SecretFieldSession", "objects": {"hosts": ["h00"]}, **how})
        assert answer.status_code == 201, answer.get_json()
        [session] = wait_finished(answer.get_json()["id"])

        assert session.commands[0].stdout == hashlib.sha256(value.encode()).hexdigest() + "  -\n"
        assert db.session.get(Run, session.run_id).data == {"label": "x"}
        assert value not in client.get(f"{API}/runs/{session.run_id}", headers=headers).text


# -- stopped before a worker took the job -----------------------------------------------------


def test_a_run_stopped_before_a_worker_took_its_job_leaves_no_sealed_secret(
        api, key_hosts, app, redis_url):
    key_hosts()
    client, headers = api
    answer = client.post(f"{API}/runs", headers=headers, json={
        "session": "PassphraseSession", "objects": {"hosts": ["k00", "k01"]},
        "secrets": {"ssh_key_passphrase": "stopped-before"}})
    run_id = answer.get_json()["id"]
    assert job_args(app, run_id)[3] is not None  # sealed, waiting for a worker

    assert client.post(f"{API}/runs/{run_id}/stop", headers=headers, json={}).status_code == 200

    assert job_args(app, run_id)[3] is None
    assert {row.proc_status for row in sessions_of(run_id)} == {"canceled"}
    assert not found_in_redis(redis.Redis.from_url(redis_url), forms("stopped-before"))


# -- the proof: nothing stored anywhere ------------------------------------------------------


def test_no_secret_is_stored_in_the_database_redis_logs_events_exports_or_api_reads(
        app, key_hosts, key_sshd, make_user, sudo_stub, live_server, start_worker, redis_url,
        database_url):
    """Every kind of secret in one run through the live web server (API) and a worker
    process; then each value is looked for, as text, JSON-escaped and base64, in every
    table (and the SQLite files' bytes), every Redis key of every type (rq's job hashes
    after the run ended included), every message published on Redis (Socket.IO events,
    stop channel) while the run ran, the worker's and the web server's logs, the exports,
    the audit log and the API's run and event reads."""
    import urllib.request

    _server, passphrase = key_sshd
    sudo_password = f'sudo-{secrets.token_hex(8)}-é"'
    token_value = f"tok-{secrets.token_hex(8)}"
    api_key = f"api-{secrets.token_hex(8)}"
    bin_dir = sudo_stub(sudo_password)
    key_hosts()
    user = make_user("ops", "minke.view_hosts", "minke.run_everysecretsession")
    _row, bearer = create_token(user, "proof")
    db.session.commit()
    worker = start_worker()
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.psubscribe("*")
    published: list[bytes] = []

    def call(path: str, body: dict | None = None) -> bytes:
        request = urllib.request.Request(
            live_server.url + API + path, method="POST" if body is not None else "GET",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    started = json.loads(call("/runs", {
        "session": "EverySecretSession", "objects": {"hosts": ["k00", "k01"]},
        "data": {"token": token_value, "api_key": api_key, "bin": bin_dir},
        "secrets": {"ssh_key_passphrase": passphrase, "sudo_password": sudo_password}}))
    deadline = time.monotonic() + 40
    while not json.loads(call(f"/runs/{started['id']}"))["finished"]:
        while (message := listener.get_message(timeout=0.2)) is not None:
            published.append(repr(message).encode())
        assert time.monotonic() < deadline, "the run did not finish"
    rows = wait_finished(started["id"])
    for row in rows:  # it did use every secret
        assert row.session_status == "success", [m.text for m in row.messages]
        assert row.commands[0].stdout == hashlib.sha256(
            (token_value + api_key).encode()).hexdigest() + "  -\n"
        assert row.commands[1].stdout == f"{row.host.username}\n"
    client = redis.Redis.from_url(redis_url)
    wait_for(lambda: all(job_args(app, started["id"], i)[3] is None
                         for i in range(db.session.get(Run, started["id"]).job_count)))
    time.sleep(0.5)  # the worker's last log lines
    while (message := listener.get_message(timeout=0.1)) is not None:
        published.append(repr(message).encode())
    listener.close()
    assert published, "nothing was published: the listener saw no event"

    places = {
        "database": database_text(database_url),
        "redis": redis_dump(client),
        "published": b"\n".join(published),
        "worker log": worker.log_path.read_bytes(),
        "web server log": live_server.log_path.read_bytes(),
        "api run": call(f"/runs/{started['id']}"),
        "api events": call(f"/runs/{started['id']}/events"),
        "export json": call(f"/runs/{started['id']}/export.json"),
        "export csv": call(f"/runs/{started['id']}/export.csv"),
    }
    assert b"run.start" in places["database"] and b"EverySecretSession" in places["redis"]
    for name, value in {"passphrase": passphrase, "sudo password": sudo_password,
                        "password field": token_value, "secret field": api_key}.items():
        for where, blob in places.items():
            leaks = [form for form in forms(value) if form in blob]
            assert not leaks, f"the {name} was found in the {where}: {leaks}"


# -- helpers of the proof -------------------------------------------------------------------


def forms(value: str) -> list[bytes]:
    """``value`` as it could be written: UTF-8, JSON- and repr-escaped, and base64
    (standard and URL-safe, at each of the three alignments a longer text could give it)."""
    raw = value.encode()
    found = {raw, json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode(),
             repr(value).encode(), repr(raw).encode()[2:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            text = encode(b"\0" * shift + raw)
            found.add(text[4 if shift else 0:-4])  # the part only the value decides
    return sorted(form for form in found if len(form) >= 8)


def found_in_redis(client: redis.Redis, needles: list[bytes]) -> list[bytes]:
    blob = redis_dump(client)
    return [needle for needle in needles if needle in blob]


def redis_dump(client: redis.Redis) -> bytes:
    """Every key and value of the database, every type, as bytes; rq's job data is
    zlib-compressed pickles: decompressed too."""
    import zlib

    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [item for pair in client.hgetall(key).items() for item in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [member for member, _score in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [repr(client.xrange(key)).encode()]
        else:
            raise AssertionError(f"Redis key {key!r} has a type the proof does not read: {kind}")
        for value in values:
            parts.append(value)
            try:
                parts.append(zlib.decompress(value))
            except zlib.error:
                pass
        parts.append(key)
    return b"\n".join(parts)


def database_text(database_url: str) -> bytes:
    """Every row of every table, as text; for SQLite also the database files' bytes."""
    db.session.rollback()
    inspector = sa.inspect(db.engine)
    rows = []
    for table in inspector.get_table_names():
        rows.append(repr(db.session.execute(sa.text(f'SELECT * FROM "{table}"')).all()))
    db.session.rollback()
    blob = "\n".join(rows).encode()
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            file = path.with_name(path.name + suffix)
            if file.exists():
                blob += file.read_bytes()
    return blob


@pytest.mark.parametrize("written", [
    lambda v: v.encode(), lambda v: json.dumps({"k": v}).encode(),
    lambda v: base64.b64encode(b"x" + v.encode() + b"y"),
    lambda v: base64.urlsafe_b64encode(b"ab" + v.encode()),
    lambda v: repr({"k": v.encode()}).encode(),
], ids=["plain", "json", "base64", "base64-urlsafe", "repr"])
def test_the_proof_finds_a_secret_however_it_was_written(written):
    value = f'x-{secrets.token_hex(8)}-é"'
    blob = b"before " + written(value) + b" after"
    assert [form for form in forms(value) if form in blob]
