"""``flask minke create-permissions|user|role|sessions`` and the accounts domain functions."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa

from sessions import REGISTRY, SingleCommandSession
from webapp import accounts
from webapp.accounts import AccountError
from webapp.extensions import db
from webapp.models import BUILTIN_PERMISSIONS, Permission, Role, User


def minke(runner, *args: str, **kwargs):
    return runner.invoke(args=["minke", *args], **kwargs)


def stored(column) -> list:
    """Committed values of ``column`` (the rollback drops whatever was not committed)."""
    db.session.rollback()
    return list(db.session.scalars(sa.select(column).order_by(column)))


def user(name: str) -> User:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.name == name))


@pytest.fixture
def report_session():
    """A session needing a shared permission besides its own ``minke.run_reportsession``."""

    class ReportSession(SingleCommandSession):
        """Prints the report."""

        verbose_name = "daily report"
        work_on = ("Host",)
        command = "cat /var/report"
        permissions = ("minke.reports",)

    yield ReportSession
    REGISTRY.remove("ReportSession")


@pytest.mark.parametrize(
    "command",
    [
        ("create-permissions",),
        ("sessions",),
        ("user", "create"),
        ("user", "list"),
        ("user", "passwd"),
        ("user", "add-role"),
        ("user", "disable"),
        ("user", "enable"),
        ("role", "create"),
        ("role", "list"),
    ],
)
def test_every_command_explains_itself(runner, command):
    result = minke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 4


def test_create_permissions_creates_builtin_and_session_rows_once(runner, report_session):
    first = minke(runner, "create-permissions")

    assert first.exit_code == 0, first.output
    names = stored(Permission.name)
    assert set(BUILTIN_PERMISSIONS) <= set(names)
    assert {"minke.run_uptimesession", "minke.run_reportsession", "minke.reports"} <= set(names)
    assert f"{len(names)} created, 0 existing" in first.output
    assert "Created minke.run_reportsession" in first.output

    second = minke(runner, "create-permissions")
    assert second.output == f"0 created, {len(names)} existing\n"
    assert stored(Permission.name) == names


def test_created_permissions_describe_what_they_allow(app, report_session):
    accounts.create_permissions()
    db.session.commit()
    descriptions = {row.name: row.description for row in accounts.list_permissions()}
    assert descriptions["minke.run_reportsession"] == "Run daily report"
    assert descriptions["minke.reports"] == "Needed to run daily report"
    assert descriptions["minke.view_hosts"] == BUILTIN_PERMISSIONS["minke.view_hosts"]


def test_create_permissions_list_prints_names_and_descriptions_without_writing(runner):
    result = minke(runner, "create-permissions", "--list")
    assert result.exit_code == 0
    assert "minke.view_hosts" in result.output and "See hosts, host groups" in result.output
    assert "minke.run_uptimesession" in result.output and "Run uptime" in result.output
    assert stored(Permission.name) == []


def test_user_create_stores_a_hashed_password_and_the_roles(runner):
    minke(runner, "role", "create", "ops", "--perm", "minke.view_hosts")
    result = minke(runner, "user", "create", "alice", "--role", "ops", "--password", "s3cret")

    assert result.exit_code == 0, result.output
    assert "Created user alice with roles ops" in result.output
    alice = user("alice")
    assert alice.password_hash != "s3cret" and "s3cret" not in alice.password_hash
    assert alice.check_password("s3cret") and not alice.check_password("wrong")
    assert [role.name for role in alice.roles] == ["ops"]


def test_user_create_prompts_for_the_password_twice_without_echoing_it(runner):
    result = minke(runner, "user", "create", "bob", input="one\ntwo\nhidden-pw\nhidden-pw\n")

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert "hidden-pw" not in result.output
    assert user("bob").check_password("hidden-pw")


@pytest.mark.parametrize(
    "args, message",
    [
        (["carol", "--role", "nope", "--password", "pw"], "no role named nope"),
        (["carol", "--password", ""], "the password must not be empty"),
        (["with space", "--password", "pw"], "invalid user name 'with space'"),
    ],
)
def test_user_create_with_bad_input_exits_2_and_stores_no_user(runner, args, message):
    result = minke(runner, "user", "create", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert stored(User.name) == []


def test_user_create_with_a_taken_name_exits_2(runner, make_user):
    make_user("alice", password="old")
    result = minke(runner, "user", "create", "alice", "--password", "new")
    assert result.exit_code == 2
    assert "a user named 'alice' already exists" in result.output
    assert user("alice").check_password("old")


def test_user_list_shows_users_with_roles(runner, make_user):
    make_user("alice")
    lines = minke(runner, "user", "list").output.splitlines()
    assert lines[0].split()[:3] == ["NAME", "ROLES", "ACTIVE"]
    assert lines[1].split()[:3] == ["alice", "alice-role", "yes"]


def test_user_passwd_replaces_the_password(runner, make_user):
    make_user("alice", password="old")
    result = minke(runner, "user", "passwd", "alice", input="new-pw\nnew-pw\n")
    assert result.exit_code == 0, result.output
    assert user("alice").check_password("new-pw") and not user("alice").check_password("old")


def test_user_passwd_of_an_unknown_user_exits_2(runner):
    result = minke(runner, "user", "passwd", "nobody", "--password", "pw")
    assert result.exit_code == 2
    assert "no user named 'nobody'" in result.output


def test_user_add_role_grants_the_role_once(runner, make_user):
    make_user("alice")
    minke(runner, "role", "create", "ops", "--perm", "minke.view_hosts")

    assert minke(runner, "user", "add-role", "alice", "ops").output == "Gave alice the role ops\n"
    again = minke(runner, "user", "add-role", "alice", "ops")
    assert again.exit_code == 0 and "already has the role ops" in again.output
    assert sorted(role.name for role in user("alice").roles) == ["alice-role", "ops"]
    assert user("alice").has_permissions(["minke.view_hosts"])


@pytest.mark.parametrize(
    "args, message", [(["nobody", "ops"], "no user named 'nobody'"), (["alice", "nope"], "no role")]
)
def test_user_add_role_with_unknown_names_exits_2(runner, make_user, args, message):
    make_user("alice")
    minke(runner, "role", "create", "ops", "--perm", "minke.view_hosts")
    result = minke(runner, "user", "add-role", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_role_create_accepts_builtin_session_and_stored_permissions(runner, report_session):
    db.session.add(Permission(name="custom.deploy", description="Deploy things"))
    db.session.commit()
    result = minke(
        runner,
        "role",
        "create",
        "ops",
        "--description",
        "Operators",
        "--perm",
        "minke.view_hosts",
        "--perm",
        "minke.run_reportsession",
        "--perm",
        "minke.reports",
        "--perm",
        "custom.deploy",
    )

    assert result.exit_code == 0, result.output
    role = db.session.scalar(sa.select(Role).where(Role.name == "ops"))
    assert role.description == "Operators"
    assert role.permissions == [
        "minke.view_hosts",
        "minke.run_reportsession",
        "minke.reports",
        "custom.deploy",
    ]


def test_role_with_unknown_permission_is_rejected_naming_it(runner):
    result = minke(
        runner,
        "role",
        "create",
        "ops",
        "--perm",
        "minke.view_hosts",
        "--perm",
        "minke.fly",
        "--perm",
        "minke.swim",
    )
    assert result.exit_code == 2
    assert "unknown permission minke.fly, minke.swim" in result.output
    assert "`minke create-permissions --list`" in result.output
    assert stored(Role.name) == []


def test_role_create_needs_a_permission_and_a_free_name(runner):
    assert minke(runner, "role", "create", "ops").exit_code == 2
    minke(runner, "role", "create", "ops", "--perm", "minke.view_hosts")
    result = minke(runner, "role", "create", "ops", "--perm", "minke.admin")
    assert result.exit_code == 2
    assert "a role named 'ops' already exists" in result.output


def test_role_list_shows_permissions(runner):
    minke(runner, "role", "create", "ops", "--perm", "minke.view_hosts", "--perm", "minke.admin")
    lines = minke(runner, "role", "list").output.splitlines()
    assert lines[1].split() == ["ops", "minke.view_hosts,minke.admin"]


def test_sessions_table_lists_registered_sessions(runner, report_session):
    lines = minke(runner, "sessions").output.splitlines()
    assert lines[0].split() == ["NAME", "VERBOSE", "NAME", "GROUP", "WORK", "ON", "PERMISSIONS"]
    row = next(line for line in lines if line.startswith("ReportSession "))
    assert row.split() == [
        "ReportSession",
        "daily",
        "report",
        "Host",
        "minke.reports,minke.run_reportsession",
    ]
    assert any(line.startswith("UptimeSession ") for line in lines)


def test_sessions_json_has_the_fields_and_doc(runner, report_session):
    sessions = {
        entry["name"]: entry for entry in json.loads(minke(runner, "sessions", "--json").output)
    }
    assert sessions["ReportSession"] == {
        "name": "ReportSession",
        "verbose_name": "daily report",
        "group": None,
        "work_on": ["Host"],
        "permissions": ["minke.reports", "minke.run_reportsession"],
        "doc": "Prints the report.",
    }
    assert sessions["UptimeSession"]["group"] == "System information"


def test_permission_names_are_known_before_any_row_exists(app):
    names = accounts.permission_names()
    assert names == sorted(names)
    assert {"minke.admin", "minke.run_uptimesession"} <= set(names)


def test_create_user_rejects_unknown_roles_without_adding_anything(app):
    with pytest.raises(AccountError, match="no role named ghost"):
        accounts.create_user("dave", "pw", ["ghost"])
    assert db.session.scalars(sa.select(User)).all() == []


def test_user_disable_and_enable(runner, make_user):
    make_user("root", "minke.admin")
    make_user("bob")
    assert minke(runner, "user", "disable", "bob").output == "Disabled user bob\n"
    assert user("bob").active is False
    assert minke(runner, "user", "enable", "bob").output == "Enabled user bob\n"
    assert user("bob").active is True


def test_user_disable_refuses_the_last_active_admin(runner, make_user):
    make_user("root", "minke.admin")
    result = minke(runner, "user", "disable", "root")
    assert result.exit_code == 2
    assert "would leave no active user with minke.admin" in result.output
    assert user("root").active is True


def test_no_change_may_take_minke_admin_from_the_last_active_admin(app, make_user):
    root = make_user("root", "minke.admin")
    make_user("bob", "minke.view_hosts")
    admins = db.session.scalar(sa.select(Role).where(Role.name == "root-role"))
    for change in (lambda: accounts.set_active(root, False),
                   lambda: accounts.set_roles(root, ["bob-role"]),
                   lambda: accounts.update_role(admins, permissions=["minke.view_hosts"]),
                   lambda: accounts.delete_role(admins)):
        with pytest.raises(AccountError, match="would leave no active user with minke.admin"):
            change()
    db.session.rollback()
    assert user("root").is_admin and user("root").active


def test_the_admin_role_may_go_once_another_active_user_holds_it(app, make_user):
    root = make_user("root", "minke.admin")
    make_user("second", "minke.admin", "minke.view_hosts")
    accounts.set_roles(root, [])
    accounts.delete_role(db.session.scalar(sa.select(Role).where(Role.name == "root-role")))
    db.session.commit()
    assert not user("root").is_admin and user("second").is_admin


def test_without_any_admin_the_rule_blocks_nothing(app, make_user):
    bob = make_user("bob", "minke.view_hosts")
    accounts.set_active(bob, False)
    db.session.commit()
    assert user("bob").active is False


def test_permission_groups_put_builtin_first_and_ungrouped_sessions_last(app, report_session):
    groups = accounts.permission_groups()
    headings = [heading for heading, _names in groups]
    assert headings[0] == accounts.BUILTIN_GROUP and headings[-1] == accounts.UNGROUPED
    assert dict(groups)[accounts.BUILTIN_GROUP] == BUILTIN_PERMISSIONS
    ungrouped = dict(groups)[accounts.UNGROUPED]
    assert ungrouped["minke.run_reportsession"] == "Run daily report"
    assert ungrouped["minke.reports"] == "Needed to run daily report"
    assert "minke.run_echosession" in dict(groups)["Testing"]


def test_two_admins_disabling_each_other_at_once_leave_one_admin(app, make_user):
    make_user("root1", "minke.admin")
    make_user("root2", "minke.admin")
    db.session.rollback()
    first_checked = threading.Event()
    outcome: dict[str, str] = {}

    def disable(name: str, first: bool) -> None:
        with app.app_context():
            try:
                accounts.set_active(accounts.get_user(name), False)
                if first:  # the other admin's request arrives while this one is not committed
                    first_checked.set()
                    time.sleep(0.5)
                db.session.commit()
                outcome[name] = "disabled"
            except AccountError as exc:
                db.session.rollback()
                outcome[name] = str(exc)
            finally:
                db.session.remove()

    first = threading.Thread(target=disable, args=("root1", True))
    first.start()
    assert first_checked.wait(10)
    second = threading.Thread(target=disable, args=("root2", False))
    second.start()
    first.join(20)
    second.join(20)
    assert outcome["root1"] == "disabled"
    assert "would leave no active user with minke.admin" in outcome["root2"]
    assert user("root2").active is True
