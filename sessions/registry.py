"""The registry of session classes and the groups they are shown in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .base import Session


class UnknownSession(KeyError):
    """No session class is registered under that name."""

    def __str__(self) -> str:
        return f"no session named {self.args[0]!r} is registered"


class PermissionHolder(Protocol):
    def has_permissions(self, permissions: Iterable[str]) -> bool: ...


def model_name(model: Any) -> str:
    """The name a ``work_on`` entry stands for: a class's name, or the string itself."""
    return model if isinstance(model, str) else model.__name__


class SessionRegistry:
    """Every registered session class, by class name.

    Example::

        from sessions import REGISTRY
        REGISTRY.get("UptimeSession")
        REGISTRY.for_model(Host)
    """

    def __init__(self) -> None:
        self._sessions: dict[str, type[Session]] = {}

    def add(self, session_cls: type[Session]) -> None:
        """Register ``session_cls`` under its class name.

        A class of the same module and name replaces it (a module imported twice,
        or reloaded, defines its classes again).

        :raises ValueError: when this very class is registered already (as django-minke
            refuses it), or another class has the name.
        """
        name = session_cls.__name__
        old = self._sessions.get(name)
        if old is session_cls:
            raise ValueError("a session with that name was already registered")
        if old is not None and _qualified(old) != _qualified(session_cls):
            raise ValueError(f"a session named {name!r} is already registered ({_qualified(old)})")
        self._sessions[name] = session_cls

    def remove(self, name: str) -> None:
        """Forget a session (for tests that define throw-away sessions)."""
        self._sessions.pop(name, None)

    def replace(self, remove: Iterable[str], add: Iterable[type[Session]]) -> None:
        """Forget the sessions named in ``remove`` and register ``add``, in one step.

        For sessions built at run time (the commands defined in the browser):
        a thread listing the registry meanwhile sees it either before or after,
        never half-way. The classes in ``add`` are expected to be checked
        (``cls.check()``) and to have their ``verbose_name``.

        :raises ValueError: when a class in ``add`` has the name of another
            session that stays registered.
        """
        sessions = dict(self._sessions)
        for name in remove:
            sessions.pop(name, None)
        for session_cls in add:
            old = sessions.get(session_cls.__name__)
            if old is not None and _qualified(old) != _qualified(session_cls):
                raise ValueError(f"a session named {session_cls.__name__!r} is already "
                                 f"registered ({_qualified(old)})")
            sessions[session_cls.__name__] = session_cls
        self._sessions = sessions

    def get(self, name: str) -> type[Session]:
        """Return the session class named ``name``.

        :raises UnknownSession: when there is none.
        """
        try:
            return self._sessions[name]
        except KeyError:
            raise UnknownSession(name) from None

    def for_model(self, model: Any) -> list[type[Session]]:
        """Sessions whose ``work_on`` names ``model`` (a class or a class name)."""
        name = model_name(model)
        return [cls for cls in self if name in cls.work_on_names()]

    def runnable_by(self, user: PermissionHolder, model: Any = None) -> list[type[Session]]:
        """Sessions ``user`` holds all permissions for (optionally only for ``model``)."""
        candidates = self.for_model(model) if model is not None else list(self)
        return [cls for cls in candidates if user.has_permissions(cls.permissions)]

    def __iter__(self) -> Iterator[type[Session]]:
        return iter(sorted(self._sessions.values(), key=lambda cls: cls.__name__))

    def __contains__(self, name: object) -> bool:
        return name in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


REGISTRY = SessionRegistry()
"""The process-wide registry every non-abstract session class is added to."""


class SessionGroup:
    """A named group of sessions, shown as an ``<optgroup>`` in the session select.

    Use it as a class decorator; the class's ``group`` becomes this instance,
    as in django-minke::

        maintenance = SessionGroup("Maintenance")

        @maintenance
        class RebootSession(SingleCommandSession):
            ...

        RebootSession.group.name  # "Maintenance"
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def __call__(self, cls: type[Session]) -> type[Session]:
        cls.group = self
        return cls

    def __str__(self) -> str:
        return self.name or ""

    def __repr__(self) -> str:
        return f"<SessionGroup {self.name!r}>"


def group_name(session_cls: type[Session]) -> str | None:
    """The ``<optgroup>`` label of a session: its group's name (a :class:`SessionGroup`
    or, as the spec also allows, a plain string), or ``None`` when it has no group."""
    group = session_cls.group
    name = group.name if isinstance(group, SessionGroup) else group
    return str(name) if name else None
