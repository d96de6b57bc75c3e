"""Messages a session adds to its report: text, preformatted output, tables, commands,
exceptions."""

from __future__ import annotations

import html
import sys
import textwrap
import traceback
from typing import Any, ClassVar

from .results import CommandResult
from .status import MessageLevel, level_for

WRAP = 120
"""Columns a message's text is wrapped at (django-minke's ``MINKE_MESSAGE_WRAP``)."""


class Rendered(str):
    """A message's text or HTML: a string, and callable for the code that calls
    ``message.text()`` (in django-minke ``text`` and ``html`` are attributes)."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


class BaseMessage:
    """A message of a session.

    Every message has a :attr:`level` (info, warning, error), a :attr:`kind`
    naming how it is stored and shown, a JSON-serialisable :attr:`payload` that
    is stored and sent to the browser, :attr:`text` for terminals and
    :attr:`html` for pages (all remote text escaped). ``text`` and ``html`` are
    attributes as in django-minke, and may be called (``message.text()``) too.
    """

    kind: ClassVar[str] = "text"
    default_level: ClassVar[MessageLevel] = MessageLevel.INFO

    def __init__(self, data: Any, level: str | bool | None = None) -> None:
        self.data = data
        self.level = MessageLevel.coerce(level, self.default_level)

    @property
    def payload(self) -> dict[str, Any]:
        return {"text": str(self.data)}

    @property
    def text(self) -> Rendered:
        return Rendered(self._text())

    @property
    def html(self) -> Rendered:
        return Rendered(self._html())

    def _text(self) -> str:
        return str(self.data)

    def _html(self) -> str:
        return html.escape(self._text())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.level.value}: {self._text()[:40]!r}>"

    @classmethod
    def render(cls, kind: str, payload: dict[str, Any], *, as_html: bool = False) -> str:
        """Render a stored message (kind + payload) as text or escaped HTML."""
        message_cls = _KINDS.get(kind, TextMessage)
        message = message_cls.from_payload(payload)
        return str(message.html if as_html else message.text)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BaseMessage:
        return cls(payload.get("text", ""))


class TextMessage(BaseMessage):
    """A short line of plain text."""

    kind = "text"


Message = TextMessage
"""django-minke's name for a plain text message."""


class PreMessage(BaseMessage):
    """Preformatted text (e.g. a command's output), shown in a monospace block."""

    kind = "pre"

    def _html(self) -> str:
        return f"<pre>{html.escape(self._text())}</pre>"


class TableMessage(BaseMessage):
    """A table from a list or tuple of rows (each row a list or tuple of cells).

    Example::

        self.add_msg([("mount", "use"), ("/", "42%")])
    """

    kind = "table"

    def __init__(self, data: Any, level: str | bool | None = None) -> None:
        rows = [[str(cell) for cell in _cells(row)] for row in data]
        super().__init__(rows, level)

    @property
    def payload(self) -> dict[str, Any]:
        return {"rows": self.data}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BaseMessage:
        return cls(payload.get("rows", []))

    def _text(self) -> str:
        if not self.data:
            return ""
        widths = [max(len(row[i]) for row in self.data if i < len(row)) for i in range(
            max(len(row) for row in self.data))]
        return "\n".join(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
            for row in self.data
        )

    def _html(self) -> str:
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self.data
        )
        return f'<table class="minke-table">{body}</table>'


class ExecutionMessage(BaseMessage):
    """A command with its exit code and output; its level follows the command's status."""

    kind = "execution"

    def __init__(self, data: CommandResult | Any, level: str | bool | None = None) -> None:
        result = data if isinstance(data, CommandResult) else CommandResult.from_fabric(data)
        default = level_for(result.status)
        super().__init__(result, level)
        if level is None:
            self.level = default

    @property
    def payload(self) -> dict[str, Any]:
        result: CommandResult = self.data
        return {
            "command": result.command,
            "exit_code": result.exited,
            "stdout": result.stdout,
            "stderr": result.stderr,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BaseMessage:
        return cls(
            CommandResult(
                command=payload.get("command", ""),
                stdout=payload.get("stdout", ""),
                stderr=payload.get("stderr", ""),
                exited=payload.get("exit_code"),
            )
        )

    def _text(self) -> str:
        """django-minke's layout: a 10-column prefix (``code[0]``, ``stdout:``,
        ``stderr:``) on the first line of each part, the rest indented, each line
        wrapped at :data:`WRAP`::

            code[0]   echo "hi"
            stdout:   hi
        """
        result: CommandResult = self.data
        code = "?" if result.exited is None else result.exited
        lines = _prefixed(f"code[{code}]", result.command)
        for name, out in (("stdout:", result.stdout), ("stderr:", result.stderr)):
            if out:
                lines += _prefixed(name, out.rstrip("\n"))
        return "\n".join(lines)

    def _html(self) -> str:
        return f"<pre>{html.escape(self._text())}</pre>"


class ExceptionMessage(PreMessage):
    """The exception being handled, as its last line or (``print_tb``) its traceback.

    Example::

        try:
            self.run("systemctl restart app")
        except Exception:
            self.add_msg(ExceptionMessage(print_tb=True))
    """

    default_level = MessageLevel.ERROR

    def __init__(self, level: str | bool | None = "error", print_tb: bool = False) -> None:
        kind, value, tb = sys.exc_info()
        if value is None:
            text = "no exception is being handled"
        elif print_tb:
            text = "".join(traceback.format_exception(kind, value, tb))
        else:
            text = "".join(traceback.format_exception_only(kind, value))
        super().__init__(text.rstrip("\n"), level)


def _prefixed(prefix: str, text: str) -> list[str]:
    """``text``'s lines wrapped at :data:`WRAP`, the first behind ``prefix`` (10 columns),
    the rest indented as far."""
    width = WRAP - 10
    lines = []
    for line in text.split("\n"):
        lines += textwrap.wrap(line, width, replace_whitespace=False, drop_whitespace=False,
                               break_on_hyphens=False) or [""]
    return [(prefix if i == 0 else "").ljust(10) + line for i, line in enumerate(lines)]


def _cells(row: Any) -> list[Any]:
    return list(row) if isinstance(row, list | tuple) else [row]


_KINDS: dict[str, type[BaseMessage]] = {
    cls.kind: cls for cls in (TextMessage, PreMessage, TableMessage, ExecutionMessage)
}


def coerce_message(msg: Any, level: str | bool | None = None) -> BaseMessage:
    """Turn what :meth:`Session.add_msg` accepts into a message.

    A message instance is taken as it is (``level`` overrides its level), a
    string becomes a :class:`PreMessage`, a list or tuple a
    :class:`TableMessage`, a command result an :class:`ExecutionMessage`.

    :raises TypeError: for anything else.
    """
    if isinstance(msg, BaseMessage):
        if level is not None:
            msg.level = MessageLevel.coerce(level, msg.level)
        return msg
    if isinstance(msg, str):
        return PreMessage(msg, level)
    if isinstance(msg, list | tuple):
        return TableMessage(msg, level)
    if isinstance(msg, CommandResult) or _is_fabric_result(msg):
        return ExecutionMessage(msg, level)
    raise TypeError(f"cannot make a message of {type(msg).__name__}: {msg!r}")


def _is_fabric_result(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("command", "stdout", "stderr", "exited"))
