"""The inventory's domain functions: validation, adding, updating and importing hosts."""

from __future__ import annotations

import textwrap

import pytest
import sqlalchemy as sa

from webapp import inventory
from webapp.extensions import db
from webapp.inventory import InventoryError
from webapp.models import Host, HostGroup


def stored_host_names() -> list[str]:
    """Host names as committed (the rollback drops whatever was not committed)."""
    db.session.rollback()
    return list(db.session.scalars(sa.select(Host.name).order_by(Host.name)))


def write(tmp_path, filename: str, text: str):
    path = tmp_path / filename
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["web1", "a", "Web-1.example_2", "1host", "x" * 80])
def test_valid_names_are_accepted(name):
    assert inventory.validate_name(name) == name


@pytest.mark.parametrize("name", ["", " ", "-web", ".web", "web 1", "web/1", "wéb", "x" * 81, None])
def test_invalid_names_are_rejected_with_the_rule(name):
    with pytest.raises(InventoryError, match="letters, digits"):
        inventory.validate_name(name)


@pytest.mark.parametrize(
    "port, expected", [(None, None), ("", None), ("22", 22), (2222, 2222), (1, 1), (65535, 65535)]
)
def test_ports_from_1_to_65535_or_none_are_accepted(port, expected):
    assert inventory.validate_port(port) == expected


@pytest.mark.parametrize("port", [0, 65536, -1, "ssh", "22.5", 22.0, True])
def test_other_ports_are_rejected(port):
    with pytest.raises(InventoryError, match="1 to 65535"):
        inventory.validate_port(port)


@pytest.mark.parametrize("hostname", ["", "   ", None])
def test_empty_hostname_is_rejected(hostname):
    with pytest.raises(InventoryError, match="hostname must not be empty"):
        inventory.validate_hostname(hostname)


@pytest.mark.parametrize(
    "config, expected",
    [
        (None, {}),
        ("", {}),
        ({"user": "deploy"}, {"user": "deploy"}),
        ('{"connect_kwargs": {"key_filename": "/k"}}', {"connect_kwargs": {"key_filename": "/k"}}),
        ("user: deploy\nport: 2222", {"user": "deploy", "port": 2222}),
        ('{\t"user": "tab-indented JSON"}', {"user": "tab-indented JSON"}),
    ],
)
def test_config_is_a_dict_given_as_mapping_json_or_yaml(config, expected):
    assert inventory.parse_config(config) == expected


@pytest.mark.parametrize(
    "config, message",
    [
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("42", "must be a JSON object"),
        ('{"user": ', "not valid JSON"),
        ("when: 2024-01-01", "cannot be stored as JSON"),
    ],
)
def test_config_that_is_no_object_is_rejected(config, message):
    with pytest.raises(InventoryError, match=message):
        inventory.parse_config(config)


def test_added_host_and_group_keep_their_config_as_dicts(app):
    inventory.add_group("web", config={"user": "deploy", "connect_kwargs": {"banner_timeout": 5}})
    inventory.add_host(
        "web1",
        "10.0.0.5",
        port="2222",
        username="root",
        groups=["web"],
        config='{"forward_agent": true}',
        comment="front",
        verbose_name="Web 1",
    )
    db.session.commit()
    db.session.expire_all()

    host = db.session.scalar(sa.select(Host).where(Host.name == "web1"))
    assert (host.hostname, host.port, host.username) == ("10.0.0.5", 2222, "root")
    assert (host.comment, host.verbose_name, host.disabled) == ("front", "Web 1", False)
    assert host.config == {"forward_agent": True}
    assert host.groups[0].config == {"user": "deploy", "connect_kwargs": {"banner_timeout": 5}}


def test_adding_a_host_creates_its_missing_groups(app):
    inventory.add_group("web")
    assert inventory.missing_groups(["web", "prod"]) == ["prod"]
    host = inventory.add_host("web1", "h", groups="web;prod  eu")
    db.session.commit()
    assert [group.name for group in host.groups] == ["eu", "prod", "web"]
    assert db.session.scalars(sa.select(HostGroup.name)).all().count("web") == 1


def test_a_second_host_with_the_same_name_is_rejected(app):
    inventory.add_host("web1", "first")
    db.session.commit()
    with pytest.raises(InventoryError, match="'web1' already exists"):
        inventory.add_host("web1", "second")
    assert inventory.get_host("web1").hostname == "first"


def test_renaming_a_host_to_a_taken_name_is_rejected(app):
    inventory.add_host("web1", "a")
    web2 = inventory.add_host("web2", "b")
    db.session.commit()
    with pytest.raises(InventoryError, match="'web1' already exists"):
        inventory.update_host(web2, name="web1", hostname="changed")
    assert web2.hostname == "b"


def test_invalid_update_changes_nothing(app):
    host = inventory.add_host("web1", "a", port=22)
    db.session.commit()
    with pytest.raises(InventoryError):
        inventory.update_host(host, hostname="b", port=99999)
    assert (host.hostname, host.port) == ("a", 22)


def test_list_hosts_of_an_unknown_group_is_an_error(app):
    with pytest.raises(InventoryError, match="no host group named 'nope'"):
        inventory.list_hosts("nope")


def test_import_adds_new_hosts_and_updates_existing_ones_by_name(app):
    inventory.add_host("web1", "old", comment="keep me", groups=["old"])
    db.session.commit()

    result = inventory.import_hosts(
        [
            {"name": "web1", "hostname": "new", "groups": ["web"]},
            {"name": "db1", "hostname": "10.0.0.9", "port": 5432, "config": {"user": "pg"}},
        ]
    )
    db.session.commit()

    assert (result.added, result.updated) == (["db1"], ["web1"])
    web1 = inventory.get_host("web1")
    assert (web1.hostname, web1.comment) == ("new", "keep me")
    assert [group.name for group in web1.groups] == ["web"]
    assert inventory.get_host("db1").config == {"user": "pg"}


def test_import_with_one_bad_row_writes_nothing_and_names_the_line(app, tmp_path):
    path = write(
        tmp_path,
        "hosts.csv",
        """
        name,hostname,port
        web1,10.0.0.1,22
        web2,10.0.0.2,http
        web3,10.0.0.3,
    """,
    )
    with pytest.raises(InventoryError) as error:
        inventory.import_hosts(inventory.load_host_file(path))
    assert "line 3: invalid port 'http'" in str(error.value)
    assert "line 2" not in str(error.value) and "line 4" not in str(error.value)
    db.session.commit()  # even a caller that commits anyway stores nothing
    assert stored_host_names() == []


def test_import_lists_every_bad_row(app):
    rows = [
        {"name": "ok", "hostname": "h"},
        {"name": "bad name", "hostname": "h"},
        {"name": "nohost"},
        {"name": "ok", "hostname": "again"},
        {"name": "x", "hostname": "h", "colour": "red"},
        ["not", "a", "mapping"],
    ]
    with pytest.raises(InventoryError) as error:
        inventory.import_hosts(rows)
    message = str(error.value)
    assert "row 2: invalid host name 'bad name'" in message
    assert "row 3: hostname missing" in message
    assert "row 4: host 'ok' is already on row 1" in message
    assert "row 5: unknown field colour" in message
    assert "row 6: expected a mapping" in message
    assert "row 1:" not in message
    assert db.session.scalars(sa.select(Host)).all() == []


def test_csv_file_gives_groups_split_by_semicolons_or_spaces_and_json_config(app, tmp_path):
    path = write(
        tmp_path,
        "hosts.csv",
        """
        name,hostname,port,username,groups,comment,verbose_name,config
        web1,10.0.0.1,2222,deploy,web;prod,"front, left",Web one,"{""forward_agent"": true}"
        db1,10.0.0.9,,,db prod,,,
    """,
    )
    result = inventory.import_hosts(inventory.load_host_file(path))
    db.session.commit()

    assert result.added == ["web1", "db1"]
    web1, db1 = inventory.get_host("web1"), inventory.get_host("db1")
    assert (web1.port, web1.username, web1.comment, web1.verbose_name) == (
        2222,
        "deploy",
        "front, left",
        "Web one",
    )
    assert web1.config == {"forward_agent": True}
    assert [g.name for g in web1.groups] == ["prod", "web"]
    assert (db1.port, db1.username, db1.config) == (None, None, {})
    assert [g.name for g in db1.groups] == ["db", "prod"]


def test_yaml_file_gives_group_lists_and_config_mappings(app, tmp_path):
    path = write(
        tmp_path,
        "hosts.yml",
        """
        - name: web1
          hostname: 10.0.0.1
          port: 2222
          groups: [web, prod]
          config:
            connect_kwargs: {key_filename: /keys/web}
        - name: db1
          hostname: 10.0.0.9
    """,
    )
    result = inventory.import_hosts(inventory.load_host_file(path))
    db.session.commit()

    assert result.added == ["web1", "db1"]
    web1 = inventory.get_host("web1")
    assert web1.config == {"connect_kwargs": {"key_filename": "/keys/web"}}
    assert [g.name for g in web1.groups] == ["prod", "web"]


def test_yaml_errors_name_the_line_the_host_starts_on(app, tmp_path):
    path = write(
        tmp_path,
        "hosts.yaml",
        """
        - name: web1
          hostname: 10.0.0.1

        - name: web2
          hostname: ""
        - name: web3
          hostname: h
          port: 0
    """,
    )
    with pytest.raises(InventoryError) as error:
        inventory.import_hosts(inventory.load_host_file(path))
    assert "line 4: hostname must not be empty" in str(error.value)
    assert "line 6: invalid port 0" in str(error.value)


@pytest.mark.parametrize(
    "filename, text, message",
    [
        ("hosts.txt", "web1 h", "not a .csv, .yaml or .yml file"),
        ("hosts.csv", "", "the first line must name the columns"),
        ("hosts.csv", "name,address\nweb1,h\n", "the first line must name the columns"),
        ("hosts.csv", "name,hostname,name\nweb1,h,x\n", "the first line must name the columns"),
        ("hosts.yaml", "name: web1\nhostname: h\n", "expected a list of hosts"),
        ("hosts.yaml", "- name: [web1\n", "invalid YAML"),
    ],
)
def test_unreadable_host_files_are_rejected(tmp_path, app, filename, text, message):
    with pytest.raises(InventoryError, match=message):
        inventory.load_host_file(write(tmp_path, filename, text))


def test_csv_line_with_the_wrong_number_of_values_is_a_bad_row(app, tmp_path):
    path = write(tmp_path, "hosts.csv", "name,hostname\nweb1,h,extra\n")
    with pytest.raises(InventoryError, match="line 2: 3 values for 2 columns"):
        inventory.import_hosts(inventory.load_host_file(path))


def test_missing_host_file_is_reported(app, tmp_path):
    with pytest.raises(InventoryError, match="cannot read"):
        inventory.load_host_file(tmp_path / "missing.csv")
