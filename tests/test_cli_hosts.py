"""``flask minke host …`` and ``flask minke group …``."""

from __future__ import annotations

import json
import textwrap

import pytest
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Host, HostGroup


def minke(runner, *args: str, **kwargs):
    return runner.invoke(args=["minke", *args], **kwargs)


def stored(column) -> list:
    """Committed values of ``column`` (the rollback drops whatever was not committed)."""
    db.session.rollback()
    return list(db.session.scalars(sa.select(column).order_by(column)))


def host(name: str) -> Host:
    db.session.expire_all()
    return db.session.scalar(sa.select(Host).where(Host.name == name))


@pytest.mark.parametrize(
    "command",
    [
        ("host", "add"),
        ("host", "list"),
        ("host", "import"),
        ("host", "remove"),
        ("host", "disable"),
        ("host", "enable"),
        ("group", "add"),
        ("group", "list"),
    ],
)
def test_every_command_explains_itself(runner, command):
    result = minke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 4


def test_host_add_stores_the_host_and_creates_its_groups(runner):
    result = minke(
        runner,
        "host",
        "add",
        "web1",
        "--hostname",
        "10.0.0.5",
        "--port",
        "2222",
        "--username",
        "deploy",
        "--group",
        "web",
        "--group",
        "prod",
        "--config",
        '{"forward_agent": true}',
        "--comment",
        "front",
        "--verbose-name",
        "Web one",
    )

    assert result.exit_code == 0, result.output
    assert "Created group web" in result.output and "Created group prod" in result.output
    assert "Added host web1 (deploy@10.0.0.5:2222)" in result.output
    web1 = host("web1")
    assert (web1.hostname, web1.port, web1.username) == ("10.0.0.5", 2222, "deploy")
    assert (web1.comment, web1.verbose_name) == ("front", "Web one")
    assert web1.config == {"forward_agent": True}
    assert [group.name for group in web1.groups] == ["prod", "web"]


def test_host_add_puts_the_host_in_an_existing_group_without_creating_it(runner):
    assert minke(runner, "group", "add", "web").exit_code == 0
    result = minke(runner, "host", "add", "web1", "--hostname", "h", "--group", "web")
    assert result.exit_code == 0
    assert "Created group" not in result.output
    assert stored(HostGroup.name) == ["web"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["bad name", "--hostname", "h"], "invalid host name 'bad name'"),
        (["-web", "--hostname", "h"], "No such option"),
        (["web1", "--hostname", " "], "hostname must not be empty"),
        (["web1", "--hostname", "h", "--port", "0"], "invalid port '0'"),
        (["web1", "--hostname", "h", "--port", "ssh"], "invalid port 'ssh'"),
        (["web1", "--hostname", "h", "--config", "[1]"], "config must be a JSON object"),
        (["web1", "--hostname", "h", "--config", "{oops"], "config is not valid JSON"),
        (["web1", "--hostname", "h", "--group", "bad/group"], "invalid group name 'bad/group'"),
        (["web1"], "Missing option '--hostname'"),
    ],
)
def test_host_add_with_bad_input_exits_2_and_writes_nothing(runner, args, message):
    result = minke(runner, "host", "add", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert stored(Host.name) == [] and stored(HostGroup.name) == []


def test_host_add_with_a_taken_name_keeps_the_first_host(runner):
    minke(runner, "host", "add", "web1", "--hostname", "first")
    result = minke(runner, "host", "add", "web1", "--hostname", "second", "--group", "new")
    assert result.exit_code == 2
    assert "a host named 'web1' already exists" in result.output
    assert host("web1").hostname == "first"
    assert stored(HostGroup.name) == []


def test_host_list_shows_address_groups_and_disabled(runner):
    minke(
        runner,
        "host",
        "add",
        "web1",
        "--hostname",
        "10.0.0.5",
        "--port",
        "2222",
        "--username",
        "deploy",
        "--group",
        "web",
        "--group",
        "prod",
    )
    minke(runner, "host", "add", "db1", "--hostname", "db.example.org")
    minke(runner, "host", "disable", "db1")

    lines = minke(runner, "host", "list").output.splitlines()

    assert lines[0].split() == ["NAME", "ADDRESS", "GROUPS", "DISABLED"]
    assert lines[1].split() == ["db1", "db.example.org", "yes"]
    assert lines[2].split() == ["web1", "deploy@10.0.0.5:2222", "prod,web"]


def test_host_list_filters_by_group_and_rejects_unknown_groups(runner):
    minke(runner, "host", "add", "web1", "--hostname", "a", "--group", "web")
    minke(runner, "host", "add", "db1", "--hostname", "b", "--group", "db")

    result = minke(runner, "host", "list", "--group", "web")
    assert "web1" in result.output and "db1" not in result.output

    result = minke(runner, "host", "list", "--group", "nope")
    assert result.exit_code == 2
    assert "no host group named 'nope'" in result.output


def test_host_list_json_has_every_field(runner):
    minke(
        runner,
        "host",
        "add",
        "web1",
        "--hostname",
        "a",
        "--group",
        "web",
        "--config",
        "user: deploy",
    )
    result = minke(runner, "host", "list", "--json")
    assert json.loads(result.output) == [
        {
            "name": "web1",
            "verbose_name": "",
            "hostname": "a",
            "port": None,
            "username": None,
            "groups": ["web"],
            "comment": "",
            "config": {"user": "deploy"},
            "disabled": False,
            "disabled_reason": "",
        }
    ]


def test_host_list_without_hosts_says_so(runner):
    assert minke(runner, "host", "list").output == "No hosts.\n"


def test_host_import_csv_then_again_updates(runner, tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_text(
        textwrap.dedent("""\
        name,hostname,port,username,groups,comment,verbose_name,config
        web1,10.0.0.1,2222,deploy,web;prod,,,"{""user"": ""deploy""}"
        db1,10.0.0.9,,,db,,,
    """)
    )

    result = minke(runner, "host", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 added, 0 updated"
    assert stored(Host.name) == ["db1", "web1"]
    assert stored(HostGroup.name) == ["db", "prod", "web"]
    assert host("web1").config == {"user": "deploy"}

    result = minke(runner, "host", "import", str(path))
    assert result.output.strip() == "0 added, 2 updated"


def test_host_import_yaml(runner, tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text("- {name: web1, hostname: 10.0.0.1, groups: [web], config: {user: x}}\n")
    minke(runner, "host", "add", "web1", "--hostname", "old")

    result = minke(runner, "host", "import", str(path))

    assert result.output.strip() == "0 added, 1 updated"
    assert host("web1").hostname == "10.0.0.1"
    assert host("web1").config == {"user": "x"}


def test_host_import_with_bad_rows_exits_2_lists_the_lines_and_writes_nothing(runner, tmp_path):
    path = tmp_path / "hosts.csv"
    path.write_text("name,hostname,port,groups\nweb1,h,22,new\nweb2,,22,\nweb3,h,99999,\n")

    result = minke(runner, "host", "import", str(path))

    assert result.exit_code == 2
    assert "line 3: hostname must not be empty" in result.output
    assert "line 4: invalid port '99999'" in result.output
    assert stored(Host.name) == [] and stored(HostGroup.name) == []


@pytest.mark.parametrize("filename, text", [("hosts.json", "[]"), ("hosts.yml", "web1: h")])
def test_host_import_of_an_unusable_file_exits_2(runner, tmp_path, filename, text):
    path = tmp_path / filename
    path.write_text(text)
    result = minke(runner, "host", "import", str(path))
    assert result.exit_code == 2
    assert filename in result.output


def test_host_disable_and_enable(runner):
    minke(runner, "host", "add", "web1", "--hostname", "h")

    assert minke(runner, "host", "disable", "web1").output == "Disabled host web1\n"
    assert host("web1").disabled is True
    assert minke(runner, "host", "enable", "web1").output == "Enabled host web1\n"
    assert host("web1").disabled is False


def test_host_disable_keeps_the_reason_until_enabled(runner):
    minke(runner, "host", "add", "web1", "--hostname", "h")
    assert minke(runner, "host", "disable", "web1", "--reason", "RAM swap").exit_code == 0
    assert (host("web1").disabled, host("web1").disabled_reason) == (True, "RAM swap")
    assert "yes: RAM swap" in minke(runner, "host", "list").output
    assert minke(runner, "host", "disable", "web1", "--reason", "x" * 301).exit_code == 2
    assert host("web1").disabled_reason == "RAM swap"
    minke(runner, "host", "enable", "web1")
    assert (host("web1").disabled, host("web1").disabled_reason) == (False, "")


def test_host_remove_deletes_the_host_but_keeps_its_groups(runner):
    minke(runner, "host", "add", "web1", "--hostname", "h", "--group", "web")
    result = minke(runner, "host", "remove", "web1")
    assert result.exit_code == 0
    assert stored(Host.name) == []
    assert stored(HostGroup.name) == ["web"]


@pytest.mark.parametrize("command", ["remove", "disable", "enable"])
def test_commands_on_an_unknown_host_exit_2(runner, command):
    result = minke(runner, "host", command, "nope")
    assert result.exit_code == 2
    assert "no host named 'nope'" in result.output


def test_group_add_stores_the_config_its_hosts_inherit_as_a_dict(runner):
    result = minke(
        runner,
        "group",
        "add",
        "web",
        "--config",
        '{"user": "deploy", "connect_kwargs": {"allow_agent": false}}',
        "--comment",
        "Web",
    )
    assert result.exit_code == 0
    db.session.expire_all()
    group = db.session.scalar(sa.select(HostGroup))
    assert (group.name, group.comment) == ("web", "Web")
    assert group.config == {"user": "deploy", "connect_kwargs": {"allow_agent": False}}


@pytest.mark.parametrize(
    "args, message",
    [
        (["web", "--config", '"x"'], "config must be a JSON object"),
        (["bad name"], "invalid group name"),
    ],
)
def test_group_add_with_bad_input_exits_2(runner, args, message):
    result = minke(runner, "group", "add", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert stored(HostGroup.name) == []


def test_group_add_with_a_taken_name_exits_2(runner):
    minke(runner, "group", "add", "web", "--comment", "first")
    result = minke(runner, "group", "add", "web")
    assert result.exit_code == 2
    assert "a host group named 'web' already exists" in result.output


def test_group_list_shows_host_counts_and_config(runner):
    minke(runner, "group", "add", "web", "--config", '{"user": "deploy"}')
    minke(runner, "host", "add", "web1", "--hostname", "h", "--group", "web")
    lines = minke(runner, "group", "list").output.splitlines()
    assert lines[0].split() == ["NAME", "HOSTS", "CONFIG", "SECRETS", "COMMENT"]
    assert lines[1].split() == ["web", "1", '{"user":', '"deploy"}']
