"""Input that would break a run later is refused when it is given: connection configs of the
wrong shape, JSON that YAML would have forgiven, host names with blanks, and output options."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp import inventory
from webapp.engine.ssh.config import ConfigError, check_config, key_path
from webapp.engine.ssh.connections import nested
from webapp.extensions import db
from webapp.inventory import InventoryError
from webapp.models import Host, HostGroup

BAD_CONFIGS = [
    ('{"run": 5, "run.pty": true}', "config key 'run' must be a mapping"),
    ('{"run.pty": true, "run": 5}', "config key 'run' must be a mapping"),
    ('{"run": {"pty": true}, "run.pty": false}', "conflicts with 'run.pty': both set run.pty"),
    ('{"run_pty": true, "run.pty": false}', "config key 'run.pty' conflicts with 'run_pty'"),
    ('{"run": {"pty": "yes"}}', "config key 'run.pty' must be true or false, not \"yes\""),
    ('{"run": {"ptyy": true}}', "run has no key 'ptyy'"),
    ('{"run": {"hide": "loud"}}', "config key 'run.hide' must be"),
    ('{"run.env": {"LANG": 1}}', "config key 'run.env' must be a mapping of names to strings"),
    ('{"sudo": "secret"}', "config key 'sudo' must be a mapping"),
    ('{"sudo": {"password": 1234}}', "config key 'sudo.password' must be a string or null"),
    ('{"timeouts": {"command": -1}}', "config key 'timeouts.command' must be a number"),
    ('{"timeouts": {"command": "10"}}', "config key 'timeouts.command' must be a number"),
    ('{"timeouts": 30}', "config key 'timeouts' must be a mapping"),
    ('{"connect_kwargs": ["key"]}', "config key 'connect_kwargs' must be a mapping"),
    ('{"connect_kwargs": {"port": 2222}}', "set the host's port field"),
    ('{"connect_kwargs": {"timeout": 5}}', 'use "connect_timeout" instead'),
    ('{"connect_kwargs": {"key_filename": 5}}', "'connect_kwargs.key_filename' must be a path"),
    ('{"connect_kwargs_look_for_keys": "no"}', "'connect_kwargs_look_for_keys' must be true"),
    ('{"runners": {"remote": "x"}}', "runners cannot be set"),
    ('{"port": "22"}', "config key 'port' must be a port number"),
    ('{"port": true}', "config key 'port' must be a port number"),
    ('{"user": 5}', "config key 'user' must be a string"),
    ('{"connect_timeout": 0}', "config key 'connect_timeout' must be a number"),
    ('{"a..b": 1}', "config key 'a..b' is not a name"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_host_add_refuses_a_config_fabric_cannot_use(runner, text, message):
    result = runner.invoke(args=["minke", "host", "add", "web1", "--hostname", "10.0.0.5",
                                 "--config", text])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert db.session.scalars(sa.select(Host)).all() == []


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS[:6])
def test_group_add_refuses_it_too(runner, text, message):
    result = runner.invoke(args=["minke", "group", "add", "web", "--config", text])
    assert result.exit_code == 2 and message in result.output
    assert db.session.scalars(sa.select(HostGroup)).all() == []


def test_host_import_names_each_line_with_a_bad_config(runner, tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text(
        "- {name: ok1, hostname: 10.0.0.1, config: {run: {pty: true}}}\n"
        "- {name: bad1, hostname: 10.0.0.2, config: {run: 5, run.pty: true}}\n"
        "- {name: bad2, hostname: 10.0.0.3, config: {timeouts: {command: soon}}}\n")
    result = runner.invoke(args=["minke", "host", "import", str(path)])
    assert result.exit_code == 2
    assert "line 2: config key 'run' must be a mapping" in result.output
    assert "line 3: config key 'timeouts.command' must be a number" in result.output
    assert db.session.scalars(sa.select(Host)).all() == []  # nothing imported
    csv = tmp_path / "hosts.csv"
    csv.write_text('name,hostname,config\nweb1,10.0.0.1,"{""run"": 5, ""run.pty"": true}"\n')
    result = runner.invoke(args=["minke", "host", "import", str(csv)])
    assert result.exit_code == 2 and "line 2: config key 'run' must be a mapping" in result.output


def test_inventory_functions_refuse_bad_configs_before_changing_anything(app):
    with pytest.raises(InventoryError, match="'run' must be a mapping"):
        inventory.add_host("web1", "10.0.0.5", config={"run": 5})
    with pytest.raises(InventoryError, match="'sudo.user' must be a string"):
        inventory.add_group("web", config={"sudo": {"user": ["root"]}})
    host = inventory.add_host("web1", "10.0.0.5", config={"run.pty": True})
    db.session.commit()
    with pytest.raises(InventoryError, match="conflicts with 'run.pty'"):
        inventory.update_host(host, config={"run.pty": True, "run": {"pty": False}})
    with pytest.raises(InventoryError, match="'timeouts' must be a mapping"):
        inventory.import_hosts([{"name": "web2", "hostname": "h", "config": {"timeouts": 1}}])
    db.session.rollback()
    assert db.session.get(Host, host.id).config == {"run.pty": True}


def test_a_trailing_comma_is_a_json_error_not_yaml(runner):
    result = runner.invoke(args=["minke", "host", "add", "web1", "--hostname", "10.0.0.5",
                                 "--config", '{"user": "x",}'])
    assert result.exit_code == 2
    assert "config is not valid JSON: Expecting property name enclosed in double quotes" \
        in result.output
    result = runner.invoke(args=["minke", "host", "add", "web1", "--hostname", "10.0.0.5",
                                 "--config", '  [{"user": "x"}]'])
    assert result.exit_code == 2 and "must be a JSON object" in result.output
    # YAML that does not look like JSON is still read as YAML
    assert inventory.parse_config("user: x\nrun: {pty: true}") == {"user": "x",
                                                                   "run": {"pty": True}}


@pytest.mark.parametrize("hostname", ["10.0.0.5\nevil", "web 1", "web\t1", "web\x001",
                                      "web\u200b1", "web\x1b[31m"])
def test_host_names_with_blanks_or_control_characters_are_refused(runner, tmp_path, hostname):
    result = runner.invoke(args=["minke", "host", "add", "web1", "--hostname", hostname])
    assert result.exit_code == 2
    assert "must not contain whitespace or control characters" in result.output
    with pytest.raises(InventoryError, match="whitespace or control"):
        inventory.import_hosts([{"name": "web1", "hostname": hostname}])
    assert db.session.scalars(sa.select(Host)).all() == []


def test_a_username_with_a_newline_is_refused(app):
    with pytest.raises(InventoryError, match="username 'deploy\\\\nroot' must not contain"):
        inventory.add_host("web1", "10.0.0.5", username="deploy\nroot")


def test_surrounding_blanks_are_trimmed_not_refused(app):
    host = inventory.add_host("web1", " 10.0.0.5\n")
    assert host.hostname == "10.0.0.5"


@pytest.mark.parametrize("config", [
    {"run": {"pty": True, "warn": False, "env": {"LANG": "C"}, "hide": "both"}},
    {"run.pty": True, "run_warn": True, "sudo.password": "pw", "timeouts_command": 30},
    {"connect_kwargs": {"key_filename": ["/k"], "look_for_keys": False, "allow_agent": False,
                        "banner_timeout": 5, "disabled_algorithms": {"pubkeys": ["ssh-rsa"]}}},
    {"user": "deploy", "port": 2222, "forward_agent": False, "connect_timeout": 3,
     "my_setting": {"anything": [1, "two"]}, "gateway": None},
    {"run": {"pty": True}, "run.warn": True},  # one section from two spellings: merged
])
def test_valid_configs_pass_unchanged_and_read_as_the_engine_reads_them(config):
    assert check_config(config) == config
    nested_paths = set()

    def leaves(mapping, prefix=()):
        for key, value in mapping.items():
            path = (*prefix, *key_path(key))
            if isinstance(value, dict) and path not in (("run", "env"),
                                                        ("connect_kwargs", "disabled_algorithms")):
                leaves(value, path)
            else:
                nested_paths.add(path)

    leaves(config)
    engine_paths = set()

    def walk(mapping, prefix=()):
        for key, value in mapping.items():
            path = (*prefix, key)
            if isinstance(value, dict) and path not in (("run", "env"),
                                                        ("connect_kwargs", "disabled_algorithms")):
                walk(value, path)
            else:
                engine_paths.add(path)

    walk(nested(config))
    assert nested_paths == engine_paths


def test_check_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        check_config({"run": 1})
    assert issubclass(ConfigError, ValueError)


@pytest.mark.integration
def test_a_host_with_a_rich_checked_config_runs_sessions(app, sshd, execute_run):
    """What the check accepts, fabric really uses (real SSH)."""
    config = inventory.parse_config({
        **sshd.host_config(), "run.pty": True, "timeouts": {"command": 30},
        "run": {"env": {"MINKE_TEST": "yes"}}, "connect_kwargs_banner_timeout": 10,
    })
    host = inventory.add_host("web1", sshd.addresses[0], port=sshd.port,
                              username=sshd.user, config=config)
    db.session.commit()
    run = execute_run("EchoSession", [host], data={"message": "hello"})
    session = run.sessions[0]
    assert (session.proc_status, session.session_status) == ("completed", "success")
    assert session.commands[0].stdout.strip() == "hello"


# -- minke output ---------------------------------------------------------------------------


@pytest.fixture
def chain_session(app, make_hosts, execute_run):
    """A session with three commands: echo one, false, and (never run) echo never."""
    run = execute_run("ChainStopsOnErrorSession", make_hosts(1))
    return run.sessions[0]


@pytest.mark.integration
def test_output_counts_commands_from_one_or_from_the_end(runner, chain_session):
    sid = str(chain_session.id)
    assert len(chain_session.commands) == 2  # "echo never" never ran
    first = runner.invoke(args=["minke", "output", sid, "--command", "1"])
    assert first.exit_code == 0 and first.output == "one\n"
    last = runner.invoke(args=["minke", "output", sid, "--command", "-1"])
    assert last.exit_code == 0 and last.output == ""  # `false` printed nothing
    second_last = runner.invoke(args=["minke", "output", sid, "--command", "-2"])
    assert second_last.output == "one\n"
    for index in ("3", "-3"):
        result = runner.invoke(args=["minke", "output", sid, "--command", index])
        assert result.exit_code == 2 and f"has no command {index}" in result.output


@pytest.mark.integration
@pytest.mark.parametrize(("args", "message"), [
    (["--command", "0"], "commands count from 1 (the first) or from -1 (the last)"),
    (["--tail", "-3"], "-3 is not in the range x>=1"),
    (["--tail", "0"], "0 is not in the range x>=1"),
])
def test_output_refuses_zero_commands_and_negative_tails(runner, chain_session, args, message):
    result = runner.invoke(args=["minke", "output", str(chain_session.id), *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.integration
def test_output_tail_gives_the_last_characters(runner, chain_session):
    result = runner.invoke(args=["minke", "output", str(chain_session.id), "--tail", "3"])
    assert result.exit_code == 0 and result.output == "ne\n"
