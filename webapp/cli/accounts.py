"""``minke user|role|create-permissions|sessions``: accounts and what they may run."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from sessions import REGISTRY
from sessions.registry import group_name
from webapp import accounts
from webapp.auth.logins import end_all_logins
from webapp.extensions import db

from .common import echo_table, usage_errors


@click.command("create-permissions")
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Only print every known permission with its description.",
)
def create_permissions(list_only: bool) -> None:
    """Create the missing permission rows: the built-in ones and every session's.

    Safe to run again (after adding session modules, say): existing rows are kept.
    """
    if list_only:
        echo_table(["PERMISSION", "DESCRIPTION"], sorted(accounts.known_permissions().items()))
        return
    created = accounts.create_permissions()
    db.session.commit()
    for name in created:
        click.echo(f"Created {name}")
    existing = len(accounts.list_permissions()) - len(created)
    click.echo(f"{len(created)} created, {existing} existing")


@click.group("user", cls=AppGroup)
def user_cli() -> None:
    """Create and list users; change their passwords and roles."""


def _prompt_password(label: str = "Password") -> str:
    return click.prompt(label, hide_input=True, confirmation_prompt=True)


@user_cli.command("create")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Give the user this existing role; repeat for more roles.",
)
@click.option(
    "--password",
    help="The password (others may see it in the process list); asked for when left out.",
)
def create_user(name: str, roles: tuple[str, ...], password: str | None) -> None:
    """Create the user NAME, who can log in to the dashboard.

    Example: minke user create alice --role operators
    """
    with usage_errors():
        role_rows = accounts.get_roles(roles)  # before the prompt: fail fast on a typo
        if password is None:
            password = _prompt_password()
        accounts.create_user(name, password, role_rows)
        db.session.commit()
    click.echo(f"Created user {name}" + (f" with roles {', '.join(roles)}" if roles else ""))


@user_cli.command("list")
def list_users() -> None:
    """List users with their roles."""
    users = accounts.list_users()
    if not users:
        click.echo("No users.")
        return
    echo_table(
        ["NAME", "ROLES", "ACTIVE", "CREATED"],
        [
            [
                u.name,
                ",".join(r.name for r in u.roles),
                "yes" if u.active else "no",
                f"{u.created_at:%Y-%m-%d %H:%M}",
            ]
            for u in users
        ],
    )


@user_cli.command("passwd")
@click.argument("name")
@click.option(
    "--password",
    help="The new password (others may see it in the process list); asked for when left out.",
)
def change_password(name: str, password: str | None) -> None:
    """Set a new password for the user NAME, and log them out everywhere."""
    with usage_errors():
        user = accounts.get_user(name)
        accounts.set_password(
            user, password if password is not None else _prompt_password("New password")
        )
        db.session.commit()
    click.echo(f"Changed the password of {name}; every login of theirs ended")


@user_cli.command("logout")
@click.argument("name")
def logout_user(name: str) -> None:
    """Log the user NAME out everywhere: every browser's session and remember-me cookie
    is refused from now on, and their open live pages stop. API tokens keep working."""
    with usage_errors():
        user = accounts.get_user(name)
        count = end_all_logins(user, "revoked")
        db.session.commit()
    click.echo(f"Logged {name} out everywhere ({count} login{'' if count == 1 else 's'} ended)")


@user_cli.command("add-role")
@click.argument("name")
@click.argument("role")
def add_role(name: str, role: str) -> None:
    """Give the user NAME the existing role ROLE."""
    with usage_errors():
        added = accounts.add_role(accounts.get_user(name), role)
        db.session.commit()
    click.echo(f"Gave {name} the role {role}" if added else f"{name} already has the role {role}")


def _set_active(name: str, active: bool) -> None:
    with usage_errors():
        accounts.set_active(accounts.get_user(name), active)
        db.session.commit()
    click.echo(f"{'Enabled' if active else 'Disabled'} user {name}")


@user_cli.command("disable")
@click.argument("name")
def disable_user(name: str) -> None:
    """Disable the user NAME: logged out everywhere, they can no longer log in or use
    their API tokens.

    Refused for the last active user holding minke.admin.
    """
    _set_active(name, False)


@user_cli.command("enable")
@click.argument("name")
def enable_user(name: str) -> None:
    """Let the disabled user NAME log in again."""
    _set_active(name, True)


@click.group("role", cls=AppGroup)
def role_cli() -> None:
    """Create and list roles: named sets of permissions."""


@role_cli.command("create")
@click.argument("name")
@click.option(
    "--perm",
    "permissions",
    multiple=True,
    required=True,
    metavar="PERMISSION",
    help="A permission the role grants; repeat for more. "
    "See `minke create-permissions --list`.",
)
@click.option("--description", default="", help="What the role is for.")
def create_role(name: str, permissions: tuple[str, ...], description: str) -> None:
    """Create the role NAME granting the given permissions.

    Example: minke role create ops --perm minke.view_hosts --perm minke.run_uptimesession
    """
    with usage_errors():
        accounts.create_role(name, permissions, description)
        db.session.commit()
    click.echo(f"Created role {name} ({', '.join(permissions)})")


@role_cli.command("list")
def list_roles() -> None:
    """List roles with their permissions."""
    roles = accounts.list_roles()
    if not roles:
        click.echo("No roles.")
        return
    echo_table(
        ["NAME", "PERMISSIONS", "DESCRIPTION"],
        [[role.name, ",".join(role.permissions), role.description] for role in roles],
    )


@click.command("sessions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with each session's doc.")
def list_sessions(as_json: bool) -> None:
    """List the registered sessions and the permissions a user needs to run them."""
    sessions = [
        {
            "name": cls.__name__,
            "verbose_name": cls.verbose_name,
            "group": group_name(cls),
            "work_on": list(cls.work_on_names()),
            "permissions": list(cls.permissions),
            "doc": (cls.__doc__ or "").strip(),
        }
        for cls in REGISTRY
    ]
    if as_json:
        click.echo(json.dumps(sessions, indent=2))
    elif not sessions:
        click.echo("No sessions registered: name your modules in MINKE_SESSION_MODULES.")
    else:
        keys = ["name", "verbose_name", "group", "work_on", "permissions"]
        echo_table(
            ["NAME", "VERBOSE NAME", "GROUP", "WORK ON", "PERMISSIONS"],
            [[_cell(session[key]) for key in keys] for session in sessions],
        )


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ",".join(value)
    return "" if value is None else str(value)
