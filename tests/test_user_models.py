"""A model of the user's own (the demo's ``Site``, scripts/demo_sites.py) end to end: its table
from its own migration branch, sessions on sites chosen from the CLI by id or by a filter,
one host's sites one after another, ``update_field`` + ``save()`` storing into the site."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from scripts.demo_sites import Site
from scripts.workers import REPO_ROOT
from sessions import Session
from webapp import create_app
from webapp.extensions import db
from webapp.models import MINKE_MODELS, Host, MinkeSession, Run
from webapp.references import SelectionError, select_objects

pytestmark = pytest.mark.integration

DEMO_BRANCH_HEAD = "5a1e0d3b9c21"


class SizeSavedAtOnce(Session):
    """Stores the size, then reads it back on a connection of its own, then fails."""

    work_on = (Site,)

    def process(self) -> None:
        self.update_field("size", "echo 4242")
        self.minkeobj.save()
        with db.engine.connect() as connection:
            stored = connection.scalar(sa.select(Site.size).where(Site.id == self.minkeobj.id))
        self.add_msg(f"stored while running: {stored}")
        raise RuntimeError("something after the save failed")


@pytest.fixture
def site_dirs() -> Iterator[Path]:
    """A directory the sshd's login user can read (pytest's tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="minke-sites-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_sites(app, site_dirs: Path) -> Callable[..., list[Site]]:
    """``make_sites(hosts, names)``: a committed site per host and name, each with a real
    directory holding a file whose size differs per site."""

    def make(hosts: list[Host], names: tuple[str, ...] = ("shop", "blog")) -> list[Site]:
        sites = []
        for h, host in enumerate(hosts):
            for n, name in enumerate(names):
                root = site_dirs / host.name / name
                root.mkdir(parents=True)
                root.parent.chmod(0o755)
                root.chmod(0o755)
                data = root / "data.bin"
                data.write_bytes(b"x" * (1000 * (h + 1) + 100 * n))
                data.chmod(0o644)
                sites.append(Site(host=host, name=name, root=str(root)))
        db.session.add_all(sites)
        db.session.commit()
        return sites

    return make


def cli_json(runner, *args: str) -> tuple[int, list[dict]]:
    result = runner.invoke(args=["minke", "run", *args, "--json"])
    assert "Traceback" not in result.output, result.output
    start = result.output.find("[")
    return result.exit_code, json.loads(result.output[start:]) if start >= 0 else result.output


def local_du(root: str) -> int:
    """``du -sb`` of ``root`` on this machine, which is also every loopback host."""
    return int(subprocess.run(["du", "-sb", root], capture_output=True, text=True,
                              check=True).stdout.split()[0])


# -- the model and its migrations ---------------------------------------------------------------


def test_site_is_a_minke_model_reaching_its_host_through_host_lookup(app, make_hosts, make_sites):
    host = make_hosts(1)[0]
    [site] = make_sites([host], ("shop",))

    assert MINKE_MODELS["Site"] is Site
    assert site.get_host() == host
    assert site.minke_label == "shop on h00"


def test_the_site_table_comes_from_the_demo_migration_branch(app):
    with db.engine.connect() as connection:
        versions = set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
        columns = {c["name"]: c for c in sa.inspect(connection).get_columns("site")}

    assert DEMO_BRANCH_HEAD in versions  # with ours (where not an ancestor of it): "heads"
    assert set(columns) == {"id", "name", "host_id", "root", "size"}
    assert columns["size"]["nullable"]


def test_a_users_first_revision_goes_to_their_directory_with_only_their_table(
        app_config, tmp_path):
    """What a user does for their own model: generate a revision into their directory."""
    from flask_migrate import migrate, upgrade

    mine = tmp_path / "my_migrations"
    config = {**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}",
              "MINKE_MIGRATION_DIRS": str(mine)}
    ours = REPO_ROOT / "migrations" / "versions"
    before = set(ours.glob("*.py"))
    fresh = create_app(config)
    with fresh.app_context():
        upgrade(revision="minke@head")  # our tables only: no site yet
        scripts = ScriptDirectory.from_config(fresh.extensions["migrate"].migrate.get_config())
        [our_head] = scripts.get_revisions("minke@head")
        try:  # into our directory: the user's table is none of our business
            migrate(message="ours", head="minke@head")
        finally:
            written = set(ours.glob("*.py")) - before
            for path in written:
                path.unlink()
        migrate(message="my sites", head="base", branch_label="mysites", version_path=str(mine))
        [revision] = mine.glob("*.py")
        text = revision.read_text()
        upgrade(revision="heads")
        tables = set(sa.inspect(db.engine).get_table_names())
        migrate(message="nothing changed", head="mysites@head")
        db.engine.dispose()

    assert not written
    assert "op.create_table('site'" in text
    assert "create_table('host'" not in text and "drop_table('host'" not in text
    assert f"depends_on = '{our_head.revision}'" in text  # our newest: host and all exist
    assert "branch_labels = ('mysites',)" in text
    assert {"site", "host"} <= tables
    assert len(list(mine.glob("*.py"))) == 1  # an unchanged model makes no revision


# -- save() ------------------------------------------------------------------------------------


def test_save_outside_a_session_commits_the_object(app, make_hosts, make_sites):
    host = make_hosts(1)[0]
    [site] = make_sites([host], ("shop",))
    site_id, host_id = site.id, host.id
    site.size, host.comment = 77, "saved"

    site.save()
    host.save()

    with db.engine.connect() as connection:  # another connection sees it: committed
        assert connection.scalar(sa.select(Site.size).where(Site.id == site_id)) == 77
        assert connection.scalar(sa.select(Host.comment).where(Host.id == host_id)) == "saved"


def test_save_in_a_session_stores_at_once_and_survives_a_later_failure(
        app, make_hosts, make_sites, execute_run):
    [site] = make_sites(make_hosts(1), ("shop",))

    run = execute_run("SizeSavedAtOnce", [site])

    [session] = run.sessions
    assert (session.proc_status, session.session_status) == ("failed", "error")
    assert "stored while running: 4242" in [m.text for m in session.messages]
    db.session.expire_all()
    assert db.session.get(Site, site.id).size == 4242


# -- through the CLI and a worker ----------------------------------------------------------------


def test_a_single_command_session_runs_on_a_site_chosen_by_id(runner, make_hosts, make_sites,
                                                              worker):
    sites = make_sites(make_hosts(2))
    site = sites[2]  # h01's shop

    code, [report] = cli_json(runner, "SiteDiskUsage", "--object", f"Site:{site.id}")

    assert code == 0, report
    assert (report["proc_status"], report["status"]) == ("completed", "success")
    [command] = report["commands"]
    assert command["command"] == f"du -sh {site.root}"
    assert command["stdout"].rstrip("\n").endswith(f"\t{site.root}")


def test_update_field_and_save_store_each_sites_size(runner, make_hosts, make_sites, worker):
    sites = make_sites(make_hosts(2))

    code, reports = cli_json(runner, "SiteSize", "--objects", "Site")

    assert code == 0, reports
    assert sorted((r["host"], r["object"]) for r in reports) == sorted(
        (s.host.name, f"{s.name} on {s.host.name}") for s in sites)
    db.session.expire_all()
    stored = {s.id: db.session.get(Site, s.id).size for s in sites}
    assert stored == {s.id: local_du(s.root) for s in sites}
    assert {f"{s.name}: {stored[s.id]} bytes" for s in sites} <= {
        m["text"] for r in reports for m in r["messages"]}
    assert len(set(stored.values())) == len(sites)  # each site measured on its own


def test_a_filter_typed_at_the_shell_selects_the_matching_sites(app, make_hosts, make_sites,
                                                                worker, worker_env):
    sites = make_sites(make_hosts(2), ("shop", "blog", "wiki"))
    [expected] = [(s.id, s.root) for s in sites if (s.host.name, s.name) == ("h01", "shop")]
    db.session.rollback()  # an open SQLite transaction would hold up the CLI process

    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "minke", "run", "SiteDiskUsage",
         "--objects", "Site", "--where", "host=h01", "--where", "name=shop", "--json"],
        cwd=REPO_ROOT, env=worker_env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["commands"][0]["command"] == f"du -sh {expected[1]}"
    db.session.rollback()
    [run] = db.session.scalars(sa.select(Run)).all()
    assert [s.object_id for s in run.sessions] == [expected[0]]


def test_one_hosts_sites_run_one_after_another_while_hosts_run_in_parallel(
        runner, make_hosts, make_sites, worker):
    make_sites(make_hosts(2), ("a", "b", "c"))

    code, reports = cli_json(runner, "SiteCommand", "--objects", "Site", "--data",
                             "cmd=sleep 0.4")

    assert code == 0, reports
    db.session.rollback()
    sessions = db.session.scalars(sa.select(MinkeSession)).all()
    assert len(sessions) == 6
    by_host: dict[int, list[MinkeSession]] = {}
    for session in sessions:
        by_host.setdefault(session.host_id, []).append(session)
    [first, second] = by_host.values()
    for host_sessions in (first, second):
        spans = sorted((s.start_time, s.end_time) for s in host_sessions)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
    assert any(a.start_time < b.end_time and b.start_time < a.end_time
               for a in first for b in second)


@pytest.mark.parametrize(("args", "complaint"), [
    (("SiteDiskUsage", "--where", "host=h00"), "--where needs --objects MODEL"),
    (("SiteDiskUsage", "--objects", "Nope"), "unknown model 'Nope'"),
    (("SiteDiskUsage", "--objects", "Host"), "works on Site, not on Host"),
    (("SiteDiskUsage", "--host", "h00"), "not on hosts"),
    (("SiteDiskUsage", "--objects", "Site", "--where", "colour=red"), "no field 'colour'"),
    (("SiteDiskUsage", "--objects", "Site", "--where", "id=one"), "id='one': id is an integer"),
    (("SiteDiskUsage", "--objects", "Site", "--where", "host=nowhere"),
     "no Site matches host=nowhere"),
    (("SiteDiskUsage", "--object", "Site:999999"), "no Site with id 999999"),
    (("SiteDiskUsage", "--object", "Site"), "--object expects MODEL:ID"),
], ids=["where-without-objects", "unknown-model", "wrong-model", "hosts-for-sites",
        "unknown-field", "bad-number", "no-match", "unknown-id", "not-model-id"])
def test_selection_errors_exit_2_and_store_nothing(runner, make_hosts, make_sites, args,
                                                   complaint):
    make_sites(make_hosts(1))

    result = runner.invoke(args=["minke", "run", *args])

    assert result.exit_code == 2, result.output
    assert complaint in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0


def test_selection_combines_hosts_ids_and_filters_each_object_once(app, make_hosts, make_sites):
    hosts = make_hosts(2, group="web")
    sites = make_sites(hosts)

    objects = select_objects(hosts=["h01"], groups=["web"], refs=[f"Site:{sites[0].id}"],
                             model="Site", where=["host=h00"])

    assert objects == [hosts[1], hosts[0], sites[0], sites[1]]
    with pytest.raises(SelectionError, match="is a host itself"):
        select_objects(model="Host", where=["host=h00"])
    assert select_objects(model="Host", where=["name=h00", "disabled=no"]) == [hosts[0]]
