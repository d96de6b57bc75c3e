"""Users, roles and the permission rows roles are built from.

The CLI and the dashboard's admin pages call these functions. They change
``db.session`` and never commit: the caller commits once. They validate before
they change anything, so after an :class:`AccountError` nothing was added.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from sessions import REGISTRY
from sessions.registry import group_name

from .audit import log_action
from .auth.logins import end_all_logins, recheck_sockets
from .extensions import db
from .models import ADMIN_PERMISSION, BUILTIN_PERMISSIONS, Permission, Role, User

BUILTIN_GROUP = "Built-in"
"""The heading of the built-in permissions in :func:`permission_groups`."""

UNGROUPED = "Sessions without a group"
OTHER_GROUP = "Other"


class AccountError(ValueError):
    """A user or role that cannot be stored; the message says why."""


def session_permissions() -> dict[str, str]:
    """Every permission the registered sessions require, with a description.

    A session's own ``minke.run_<name>`` is described as ``Run <verbose name>``;
    other strings in its ``permissions`` as ``Needed to run <verbose names>``.
    """
    own = {cls.permission_name(): f"Run {cls.verbose_name}" for cls in REGISTRY}
    needed_by: dict[str, list[str]] = {}
    for cls in REGISTRY:
        for name in cls.permissions:
            if name not in own:
                needed_by.setdefault(name, []).append(str(cls.verbose_name))
    return own | {name: "Needed to run " + ", ".join(users) for name, users in needed_by.items()}


def known_permissions() -> dict[str, str]:
    """Every permission a role may grant, with its description.

    The built-in ones, the registered sessions' ones and the rows of the
    ``permission`` table (a row's description wins).
    """
    rows = {row.name: row.description for row in db.session.scalars(sa.select(Permission))}
    return {**BUILTIN_PERMISSIONS, **session_permissions(), **rows}


def describe_permissions(names: Iterable[str]) -> list[tuple[str, str]]:
    """Each permission of ``names`` with its description (for a page that names them)."""
    known = known_permissions()
    return [(name, known.get(name, "")) for name in names]


def admin_names(limit: int = 5) -> list[str]:
    """The names of active users who may grant permissions (hold ``minke.admin``)."""
    users = db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return [user.name for user in users if ADMIN_PERMISSION in user.permission_names][:limit]


def permission_groups() -> list[tuple[str, dict[str, str]]]:
    """The permissions of :func:`known_permissions` under headings, for choosing them.

    First the built-in ones, then each session group's run permissions (by group
    name; the sessions without a group after them), then the ``permission`` rows
    no registered session requires any more (:data:`OTHER_GROUP`). Sessions
    registered while the app runs appear as soon as they are in the registry.
    """
    known = known_permissions()
    groups: dict[str, dict[str, str]] = {}
    for cls in REGISTRY:
        heading = group_name(cls) or UNGROUPED
        for name in (cls.permission_name(), *cls.permissions):
            if name not in BUILTIN_PERMISSIONS:
                groups.setdefault(heading, {})[name] = known[name]
    placed = {name for names in groups.values() for name in names}
    other = {name: text for name, text in known.items()
             if name not in placed and name not in BUILTIN_PERMISSIONS}
    ordered = sorted(groups.items(), key=lambda item: (item[0] == UNGROUPED, item[0].lower()))
    return [(BUILTIN_GROUP, dict(BUILTIN_PERMISSIONS)),
            *((heading, dict(sorted(names.items()))) for heading, names in ordered),
            *([(OTHER_GROUP, dict(sorted(other.items())))] if other else [])]


def permission_names() -> list[str]:
    """The names of :func:`known_permissions`, sorted."""
    return sorted(known_permissions())


def create_permissions() -> list[str]:
    """Add the missing ``permission`` rows for the built-in and session permissions.

    Idempotent: rows that exist are left as they are.

    :returns: the names of the rows created, sorted.
    """
    existing = set(db.session.scalars(sa.select(Permission.name)))
    wanted = {**BUILTIN_PERMISSIONS, **session_permissions()}
    created = sorted(name for name in wanted if name not in existing)
    db.session.add_all(Permission(name=name, description=wanted[name]) for name in created)
    if created:
        log_action("permission.create", f"{len(created)} permissions", {"names": created})
    return created


def list_permissions() -> list[Permission]:
    """The rows of the ``permission`` table, by name."""
    return list(db.session.scalars(sa.select(Permission).order_by(Permission.name)))


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.name)))


def list_roles() -> list[Role]:
    return list(db.session.scalars(sa.select(Role).order_by(Role.name)))


def get_user(name: str) -> User:
    """The user named ``name``; :raises AccountError: when there is none."""
    user = db.session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


def get_roles(names: Iterable[str]) -> list[Role]:
    """The roles named ``names``; :raises AccountError: naming every unknown one."""
    names = list(dict.fromkeys(names))
    found = {
        role.name: role for role in db.session.scalars(sa.select(Role).where(Role.name.in_(names)))
    }
    unknown = [name for name in names if name not in found]
    if unknown:
        known = ", ".join(role.name for role in list_roles()) or "none yet"
        raise AccountError(f"no role named {', '.join(unknown)} (roles: {known})")
    return [found[name] for name in names]


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 80 or any(char.isspace() for char in name):
        raise AccountError(f"invalid {what} name {name!r}: use 1-80 characters without spaces")
    return name


def _check_password(password: str) -> str:
    if not password:
        raise AccountError("the password must not be empty")
    return password


def create_user(name: str, password: str, roles: Iterable[str | Role] = ()) -> User:
    """Add a user with a hashed ``password`` and the given roles (names or rows).

    :raises AccountError: for an invalid or taken name, an empty password or an
        unknown role.
    """
    name = _check_name(name, "user")
    _check_password(password)
    if db.session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise AccountError(f"a user named {name!r} already exists")
    roles = list(roles)
    rows = get_roles(role for role in roles if isinstance(role, str))
    user = User(name=name, roles=[*rows, *(role for role in roles if isinstance(role, Role))])
    user.set_password(password)
    db.session.add(user)
    log_action("user.create", f"user {name}", {"roles": [role.name for role in user.roles]})
    return user


def set_password(user: User, password: str) -> None:
    """Replace the password of ``user`` and end every login of theirs (each browser logs
    in again with the new one); :raises AccountError: when it is empty."""
    user.set_password(_check_password(password))
    log_action("user.password", f"user {user.name}")
    end_all_logins(user, "password")


def add_role(user: User, role_name: str) -> bool:
    """Give ``user`` the role named ``role_name``.

    :returns: False when the user had it already.
    :raises AccountError: when there is no such role.
    """
    (role,) = get_roles([role_name])
    if role in user.roles:
        return False
    user.roles.append(role)
    log_action("user.add_role", f"user {user.name}", {"role": role.name})
    return True


def create_role(name: str, permissions: Iterable[str], description: str = "") -> Role:
    """Add a role granting ``permissions``, each of which must be known.

    Known are the built-in permissions, the registered sessions' permissions
    and the rows of the ``permission`` table (see :func:`known_permissions`).

    :raises AccountError: for an invalid or taken name, or naming the unknown permissions.
    """
    name = _check_name(name, "role")
    permissions = _check_permissions(permissions)
    _check_description(description)
    if db.session.scalar(sa.select(Role.id).where(Role.name == name)) is not None:
        raise AccountError(f"a role named {name!r} already exists")
    role = Role(name=name, permissions=permissions, description=description)
    db.session.add(role)
    log_action("role.create", f"role {name}",
               {"permissions": permissions, "description": description})
    return role


def _check_permissions(permissions: Iterable[str], *, keep: Iterable[str] = ()) -> list[str]:
    """``permissions`` stripped and without repeats; each must be known, or one of ``keep``
    (what a role held already: a session module taken away leaves its permission there).

    :raises AccountError: naming the unknown permissions.
    """
    permissions = list(dict.fromkeys(permission.strip() for permission in permissions))
    allowed = set(known_permissions()) | set(keep)
    unknown = [permission for permission in permissions if permission not in allowed]
    if unknown:
        raise AccountError(
            f"unknown permission {', '.join(unknown)}: `minke create-permissions --list`"
            " shows the known ones (a session's come with its module in MINKE_SESSION_MODULES)"
        )
    return permissions


def _check_description(description: str) -> str:
    if len(description) > 300:
        raise AccountError("the description is longer than 300 characters")
    return description


def _admin_remains(*, user: User | None = None, active: bool = True,
                   roles: Iterable[Role] | None = None, role: Role | None = None,
                   permissions: Iterable[str] | None = None) -> bool:
    """Whether an active user would hold ``minke.admin`` after the change described:
    ``user`` disabled (``active=False``) or given ``roles``, ``role`` granting
    ``permissions``. Enabling a user never takes the role away: it is not a change here."""
    roles = None if roles is None else list(roles)
    permissions = None if permissions is None else list(permissions)
    for candidate in _active_users():
        if candidate is user and not active:
            continue
        held = roles if candidate is user and roles is not None else candidate.roles
        if any(ADMIN_PERMISSION in (permissions if each is role and permissions is not None
                                    else each.permissions) for each in held):
            return True
    return False


def _active_users() -> list[User]:
    """The active users with their roles as committed now, locked until the caller's
    transaction ends: two admins disabling each other at once are checked one after the
    other. (SQLite's ``BEGIN IMMEDIATE`` serialises writing transactions already; on
    PostgreSQL ``FOR UPDATE`` makes the second wait and read the first one's change.)"""
    query = sa.select(User).where(User.active).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=User)
    return list(db.session.scalars(query))


def _refuse_last_admin_lockout(what: str, **change: Any) -> None:
    """:raises AccountError: when an active admin exists now and would not after ``change``
    (the keywords of :func:`_admin_remains`)."""
    if _admin_remains() and not _admin_remains(**change):
        raise AccountError(
            f"{what} would leave no active user with {ADMIN_PERMISSION}: nobody could "
            "administer users and roles any more; give another active user an admin role first"
        )


def set_roles(user: User, role_names: Iterable[str]) -> None:
    """Give ``user`` exactly the roles named ``role_names``.

    :raises AccountError: for an unknown role, or when it would take ``minke.admin``
        from the last active user holding it.
    """
    roles = get_roles(role_names)
    _refuse_last_admin_lockout(f"taking the admin role from {user.name}", user=user, roles=roles)
    before = [role.name for role in user.roles]
    user.roles = roles
    log_action("user.roles", f"user {user.name}",
           {"before": before, "after": [role.name for role in roles]})
    recheck_sockets(user.id)  # the runs their open pages watch may be hidden now


def set_active(user: User, active: bool) -> None:
    """Let ``user`` log in again, or no longer (``active=False``: every login of theirs
    ends, and their API tokens stop working too, see webapp/api/auth.py).

    :raises AccountError: when it would disable the last active user holding ``minke.admin``.
    """
    if not active:
        _refuse_last_admin_lockout(f"disabling {user.name}", user=user, active=False)
    if user.active != active:
        user.active = active
        log_action("user.enable" if active else "user.disable", f"user {user.name}")
        if not active:
            end_all_logins(user, "disabled")


def update_role(role: Role, *, name: str | None = None, permissions: Iterable[str] | None = None,
                description: str | None = None) -> Role:
    """Change the fields given of ``role`` (``None`` leaves a field as it is).

    Permissions must be known (see :func:`create_role`), or held by the role already.

    :raises AccountError: for an invalid or taken name, an unknown permission, or
        when it would take ``minke.admin`` from the last active user holding it.
    """
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = _check_name(name, "role")
        taken = db.session.scalar(sa.select(Role.id).where(Role.name == values["name"]))
        if taken is not None and taken != role.id:
            raise AccountError(f"a role named {values['name']!r} already exists")
    if permissions is not None:
        values["permissions"] = _check_permissions(permissions, keep=role.permissions)
        _refuse_last_admin_lockout(f"changing the role {role.name}", role=role,
                                   permissions=values["permissions"])
    if description is not None:
        values["description"] = _check_description(description)
    log_action("role.update", f"role {role.name}", values)
    for key, value in values.items():
        setattr(role, key, value)
    if "permissions" in values:
        recheck_sockets(None)
    return role


def delete_role(role: Role) -> None:
    """Delete ``role``; its users keep their other roles.

    :raises AccountError: when it would take ``minke.admin`` from the last active user
        holding it.
    """
    _refuse_last_admin_lockout(f"deleting the role {role.name}", role=role, permissions=[])
    users = [user.name for user in db.session.scalars(
        sa.select(User).where(User.roles.contains(role)).order_by(User.name))]
    db.session.delete(role)
    log_action("role.delete", f"role {role.name}",
               {"permissions": role.permissions, "users": users})
    recheck_sockets(None)
