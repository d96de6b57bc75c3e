"""The base class of all sessions and the metaclass that registers them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from wtforms import Form

from .errors import (
    CommandFormatError,
    InvalidMinkeSetup,
    SessionRegistrationError,
    SessionStopped,
)
from .formatting import check_template, format_command
from .messages import coerce_message
from .record import SessionRecord
from .registry import REGISTRY, model_name
from .results import CommandResult
from .secrets import declared_problem
from .status import SessionStatus, raised_status

if TYPE_CHECKING:
    from .variants import SessionChain

PERMISSION_PREFIX = "minke.run_"


def camel_case_to_spaces(name: str) -> str:
    """``"MyDrupalSession"`` → ``"my drupal session"``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name).lower().strip()


class SessionRegistration(type):
    """Metaclass of :class:`Session`: registers every non-abstract subclass.

    ``abstract`` is never inherited: a subclass is concrete unless it says
    ``abstract = True`` itself.

    Every instance is a :class:`Session` class: the methods read its attributes
    through ``session_cls``, the same object as ``type[Session]`` for the type checker.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...],
                attrs: dict[str, Any]) -> SessionRegistration:
        attrs["abstract"] = attrs.get("abstract", False)
        return super().__new__(mcs, name, bases, attrs)

    def __init__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> None:
        super().__init__(name, bases, attrs)
        session_cls = cast("type[Session]", cls)
        if not session_cls.abstract:
            session_cls.register()
            if session_cls.auto_permission:
                session_cls.add_permission()

    def register(cls) -> None:
        """Check the class and add it to :data:`sessions.REGISTRY`.

        Called for every non-abstract session class; call it yourself to
        register an abstract one.

        :raises SessionRegistrationError: for a duplicate name, an empty
            ``work_on``, an entry of ``work_on`` that is no minke model, an
            unknown name in ``ask_secrets``, a name in ``secret_fields`` that is
            no field of ``form``, a
            :class:`SingleCommandSession` without ``command``, a
            :class:`CommandChainSession` without ``commands`` or a
            :class:`SessionChain` without ``sessions``.
        """
        session_cls = cast("type[Session]", cls)
        session_cls.check()
        if not session_cls.verbose_name:
            session_cls.verbose_name = camel_case_to_spaces(cls.__name__)
        try:
            REGISTRY.add(session_cls)
        except ValueError as exc:
            raise SessionRegistrationError(cls, str(exc)) from None

    def check(cls) -> None:
        """Validate the declarative attributes; see :meth:`register`."""
        session_cls = cast("type[Session]", cls)
        if not session_cls.work_on:
            raise SessionRegistrationError(cls, "work_on is empty: name at least one minke model")
        for model in session_cls.work_on:
            if not (isinstance(model, str) or hasattr(model, "HOST_LOOKUP")):
                raise SessionRegistrationError(
                    cls, f"{model!r} in work_on is no minke model (a model with HOST_LOOKUP)"
                )
        required = session_cls._requires
        if required and not getattr(cls, required):
            base = next(b for b in cls.__mro__ if b.__dict__.get("_requires") == required)
            raise SessionRegistrationError(cls, f"a {base.__name__} must define {required}")
        cls.check_commands()
        cls.check_secrets()
        if required == "sessions":
            for entry in cast("type[SessionChain]", cls).sessions:
                if not isinstance(entry, SessionRegistration):
                    raise SessionRegistrationError(
                        cls, f"{entry!r} in sessions is no session class")

    def check_commands(cls) -> None:
        """Refuse a ``command``/``commands`` template with a placeholder where no quoting
        can make a value safe (see :func:`sessions.formatting.check_template`)."""
        templates = [getattr(cls, "command", None), *getattr(cls, "commands", ())]
        session_cls = cast("type[Session]", cls)
        names = set(session_cls.form()._fields) if session_cls.form is not None else set()
        for model in session_cls.work_on:
            if not isinstance(model, str):
                names |= {name for name in dir(model) if not name.startswith("_")}
        for template in templates:
            if isinstance(template, str):
                try:
                    check_template(template, names)
                except CommandFormatError as exc:
                    raise SessionRegistrationError(cls, str(exc)) from None

    def check_secrets(cls) -> None:
        """Refuse an ``ask_secrets`` entry that names no secret kind and a ``secret_fields``
        entry that names no field of ``form`` (see :func:`sessions.secrets.declared_problem`)."""
        session_cls = cast("type[Session]", cls)
        problem = declared_problem(session_cls.ask_secrets, session_cls.secret_fields,
                                   session_cls.form)
        if problem:
            raise SessionRegistrationError(cls, problem)

    def permission_name(cls) -> str:
        """The run permission of this session: ``minke.run_<classname lowercase>``."""
        return f"{PERMISSION_PREFIX}{cls.__name__.lower()}"

    def add_permission(cls) -> None:
        """Add this session's own run permission to :attr:`Session.permissions`."""
        session_cls = cast("type[Session]", cls)
        name = session_cls.permission_name()
        if name not in session_cls.permissions:
            session_cls.permissions = (*session_cls.permissions, name)

    def work_on_names(cls) -> tuple[str, ...]:
        """The names of the models in ``work_on``."""
        return tuple(model_name(model) for model in cast("type[Session]", cls).work_on)


class Session(metaclass=SessionRegistration):
    """Base class of all sessions.

    A session runs shell commands on the host of one object (its
    :attr:`minkeobj`) through a fabric connection (:attr:`c`) and reports
    what it found through :meth:`add_msg` and :meth:`set_status`. Subclassing
    registers the class and gives it a run permission; set :attr:`abstract`
    to prevent that. At least define :meth:`process` and :attr:`work_on`::

        class DiskSpace(Session):
            work_on = ("Host",)

            def process(self):
                result = self.xrun("df -h /")
                if "100%" in result.stdout:
                    self.set_status("warning")

    :param con: the :class:`fabric.Connection` to the object's host.
    :param db: the record of this session (the stored ``MinkeSession``).
    :param minkeobj: the object to work on, when it differs from the record's
        (a session started from inside another one).
    """

    abstract: ClassVar[bool] = True
    """An abstract class is not registered; use it as a base for other sessions.

    Register one anyway with ``MySession.register()``, and give it its run
    permission with ``MySession.add_permission()``.
    """

    verbose_name: ClassVar[str | None] = None
    """Display name; defaults to the class name in words (``MySession`` → ``my session``)."""

    group: ClassVar[Any] = None
    """The :class:`SessionGroup` (or a plain name) the session is listed under as an
    ``<optgroup>``; set it with the group as a class decorator."""

    work_on: ClassVar[tuple[Any, ...]] = ()
    """Models (classes, or their names as strings) the session can work on."""

    permissions: ClassVar[tuple[str, ...]] = ()
    """Permission strings a user must all hold to run the session (``"minke.run_x"``)."""

    auto_permission: ClassVar[bool] = True
    """Add the session's own ``minke.run_<name>`` permission to :attr:`permissions`.

    The permission rows are created by ``flask minke create-permissions``, not at import.
    """

    form: ClassVar[type[Form] | None] = None
    """A WTForms form rendered before the session runs; its data is :attr:`data`."""

    confirm: ClassVar[bool] = False
    """Ask the user to confirm (listing the chosen objects) before the session runs."""

    invoke_config: ClassVar[dict[str, Any]] = {}
    """fabric/invoke configuration for this session's connection.

    Nested (``{"run": {"pty": True}}``), dotted (``{"run.pty": True}``) or
    snake-case keys (``{"run_pty": True}``); applied over the host's config.
    """

    ask_secrets: ClassVar[tuple[str, ...]] = ()
    """Secrets asked for before every run and applied to the connection (never stored).

    Names from :data:`sessions.secrets.SECRET_KINDS`: ``"ssh_key_passphrase"``
    (fabric's ``connect_kwargs.passphrase``, unlocking an encrypted
    ``key_filename``), ``"ssh_password"`` (``connect_kwargs.password``) and
    ``"sudo_password"`` (``sudo.password``, so that ``self.c.sudo()`` answers
    sudo's prompt). The prepare page, ``flask minke run`` and the API ask for
    each one; a missing one refuses the run. A host group can ask for them too
    (its ``ask_secrets`` setting), for its hosts only::

        class Upgrade(Session):
            work_on = ("Host",)
            ask_secrets = ("sudo_password",)

            def process(self):
                self.c.sudo("apt-get -y upgrade")

    Not part of django-minke's API (its ``MINKE_FABRIC_FORM`` asked every
    session for one passphrase).
    """

    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Fields of :attr:`form` whose values are secrets, besides its password fields.

    Their values reach :attr:`data` (and so :meth:`format_cmd`) in the worker
    but are never stored: not in the run's data, the audit log, events or
    exports; a re-run asks for them again. The prepare page shows them as
    password inputs. Pass such a value in ``env={...}`` rather than in the
    command line, which is stored::

        class Deploy(Session):
            form = DeployForm            # has a StringField "token"
            secret_fields = ("token",)

            def process(self):
                self.run("deploy.sh", env={"TOKEN": self.data["token"]})
    """

    parrallel_per_host: ClassVar[bool] = False
    """Allow several objects of one host to be worked on at the same time.

    By default the objects of one host run one after another and the host is
    locked against other runs of sessions that also keep this ``False``.
    """

    raw_placeholders: ClassVar[tuple[str, ...]] = ()
    """Placeholders :meth:`format_cmd` inserts without shell-quoting.

    Every value is quoted by default so that form input can never inject
    shell syntax; list a name here only when its value *is* shell code (as
    :class:`CommandFormSession` does for ``{cmd}``).
    """

    _requires: ClassVar[str | None] = None  # attribute a variant cannot work without

    def __init__(self, con: Any, db: SessionRecord, minkeobj: Any = None) -> None:
        self._c = con
        self._db = db
        self._minkeobj = minkeobj

    @classmethod
    def get_form(cls) -> type[Form] | None:
        """Return :attr:`form`; override it to build the form class dynamically."""
        return cls.form

    @property
    def c(self) -> Any:
        """The :class:`fabric.Connection` the session was initialised with."""
        return self._c

    @property
    def minkeobj(self) -> Any:
        """The object the session works on (the record's ``minkeobj``)."""
        return self._minkeobj if self._minkeobj is not None else self._db.minkeobj

    @property
    def status(self) -> str | None:
        """The session status so far: ``success``, ``warning``, ``error`` or ``None``."""
        return self._db.session_status

    @property
    def data(self) -> Mapping[str, Any]:
        """The data the user entered in :attr:`form` (empty without a form)."""
        return self._db.session_data

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Interrupt the session.

        The first call is soft: the running command finishes, no further
        command starts and the session ends ``stopped``. A second call kills
        the running remote command at once: with ``run.pty`` the remote
        process gets an interrupt (Ctrl-C); without a pty the engine closes
        the channel and kills the remote process group over a second channel.
        """
        self._db.request_stop()

    def process(self) -> None:
        """The session's work; override it."""
        raise NotImplementedError(f"{type(self).__name__} must define process()")

    def add_msg(self, msg: Any, level: str | bool | None = None) -> None:
        """Add a message to the session's report.

        :param msg: a message instance, or what a message is made of: a string
            (:class:`PreMessage`), a list or tuple of rows
            (:class:`TableMessage`) or a command result
            (:class:`ExecutionMessage`).
        :param level: ``'info'``, ``'warning'``, ``'error'``, or a bool
            (``True`` info, ``False`` error); the message's default when omitted.
        :raises TypeError: for a ``msg`` of another type.
        """
        self._db.add_message(coerce_message(msg, level))

    def set_status(self, status: str | bool, update: bool = True) -> None:
        """Set the session status.

        :param status: ``'success'``, ``'warning'``, ``'error'``, or a bool
            (``True`` success, ``False`` error).
        :param update: only raise the status (success < warning < error);
            a lower value is ignored. ``False`` sets it as given.
        :raises InvalidMinkeSetup: for an unknown status.
        """
        try:
            new = SessionStatus.coerce(status)
        except ValueError as exc:
            raise InvalidMinkeSetup(str(exc)) from None
        value = raised_status(self.status, new) if update else new
        self._db.session_status = value.value

    def format_cmd(self, cmd: str) -> str:
        """Fill ``cmd``'s ``{placeholders}`` from :attr:`data`, then from :attr:`minkeobj`.

        Every value is shell-quoted for where it stands (bare, in ``'…'`` or
        in ``"…"``); ``{name!raw}`` and the names in :attr:`raw_placeholders`
        are inserted as they are. Braces that name nothing stay as written
        (``awk '{print $5}'``, ``${HOME}``, ``find -exec {} \\;``); one that
        looks like a misspelt field adds a warning message. The rules are in
        :mod:`sessions.formatting`::

            self.format_cmd("ls {path}")   # data {"path": "a b; rm -rf /"}
            # -> "ls 'a b; rm -rf /'"

        :raises CommandFormatError: for a placeholder that was obviously meant
            but names nothing, or stands where no quoting makes it safe; it
            ends the session as ``error``.
        """
        formatted = format_command(cmd, self.data, lambda: self.minkeobj,
                                   raw=self.raw_placeholders)
        for note in formatted.notes:
            self.add_msg(note, "warning")
        return formatted.command

    def run(self, cmd: str, **invoke_params: Any) -> CommandResult:
        """Run ``cmd`` on the remote host and store its result.

        Calls :meth:`fabric.Connection.run` with ``invoke_params`` (e.g.
        ``pty=True``, ``timeout=10``, ``env={...}``). A non-zero exit does not
        raise: the result is false (``if self.run("test -d /srv"):``), or use
        :meth:`xrun`.

        :raises SessionStopped: when a stop was requested before the command
            started, or once it returned after a stop (soft or kill).
        """
        if self._db.stop_level:
            raise SessionStopped("stopped before the command started")
        result = self._db.add_result(self.c.run(cmd, **invoke_params))
        if self._db.stop_level:
            raise SessionStopped("killed" if self._db.stop_level > 1
                                 else "stopped after the command returned")
        return result

    def frun(self, cmd: str, **invoke_params: Any) -> CommandResult:
        """Like :meth:`run`, with ``cmd`` prepared by :meth:`format_cmd`."""
        return self.run(self.format_cmd(cmd), **invoke_params)

    def xrun(self, cmd: str, **invoke_params: Any) -> CommandResult:
        """Like :meth:`frun`; also add an :class:`ExecutionMessage` and raise the status."""
        result = self.frun(cmd, **invoke_params)
        self.add_msg(result)
        self.set_status(result.status)
        return result

    def update_field(
        self, field: str, cmd: str, regex: str | None = None, **invoke_params: Any
    ) -> bool:
        """Run ``cmd`` and store its output in ``field`` of :attr:`minkeobj`.

        The value is stdout without its trailing newline or, when ``regex``
        has a group, the first group of ``regex`` matched at the start of
        stdout (:func:`re.match`). When the command failed, printed nothing,
        or ``regex`` did not match, the field is set to ``None``, an error
        message with the command is added and the status raised to
        ``warning``. The change is stored when the session ends (call
        ``self.minkeobj.save()`` as in django-minke: it works and changes
        nothing more); a stopped session's changes are not stored.

        :returns: ``False`` if the field was set to ``None``, else ``True``.
        :raises AttributeError: if ``minkeobj`` has no attribute ``field``.
        """
        if not hasattr(self.minkeobj, field):
            raise AttributeError(f"{type(self.minkeobj).__name__} has no field {field!r}")
        result = self.frun(cmd, **invoke_params)
        value: str | None = None
        if regex:
            if result.validate(regex):
                assert result.match is not None  # validate() kept the match it returned True for
                groups = result.match.groups()
                value = groups[0] if groups else result.stdout.rstrip("\n")
        elif result.ok and result.stdout:
            value = result.stdout.rstrip("\n")
        if value is None:
            self.add_msg(result, "error")
            self.set_status("warning")
        setattr(self.minkeobj, field, value)
        return value is not None
