"""Filling a command's ``{placeholders}``: what counts as one, and quoting it for its place.

The rules (README, "Porting from django-minke"):

- ``{name}``, ``{name.attr}``, ``{name[key]}``, optionally with a conversion
  (``!r``, ``!s``, ``!a``, ``!raw``) and a format spec (``{size:>8}``), is a
  placeholder when ``name`` is a form field or a field of the object. Its
  value is shell-quoted for the place it stands in: bare, inside ``'…'`` or
  inside ``"…"``. ``!raw`` (or a name listed in ``raw_placeholders``)
  inserts the value as it is, for trusted values that are shell code.
- Every other brace stays as written, as in django-minke: ``awk '{print $5}'``,
  ``find . -exec rm {} \\;``, ``{a,b}``, and everything inside ``${…}``. A
  ``{name}`` whose name matches nothing stays too; when it looks like a
  misspelt field (``{roots}`` where ``root`` exists) the session gets a
  warning. One that names nothing but has a conversion or format spec, or a
  path whose first part exists (``{server.nmae}``), was obviously meant as a
  placeholder: an error.
- ``{{`` and ``}}`` are literal braces, as in :meth:`str.format`.
- A placeholder where no quoting can make a value safe — inside backticks, a
  here-document, a comment, ``$'…'``, or right after a backslash — is refused
  with a message saying how to write it instead.
"""

from __future__ import annotations

import difflib
import functools
import re
import shlex
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import CommandFormatError

PLACEHOLDER = re.compile(
    r"\{(?P<field>(?P<first>[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*|\[[^\[\]{}]*\])*)"
    r"(?:!(?P<conversion>raw|r|s|a))?(?::(?P<spec>[^{}]*))?\}"
)

BARE, SINGLE, DOUBLE = "bare", "single quotes", "double quotes"
UNSAFE = {
    "backticks": "use $(…) instead of backticks",
    "a here-document": "pass the value as an argument or through printf, outside the "
                       "here-document",
    "a comment": "remove it from the comment",
    "$'…'": "use '…' or \"…\" instead of $'…'",
    "escape": "remove the backslash before it",
}


@dataclass(frozen=True)
class Placeholder:
    """A ``{…}`` in a command template and the shell context it stands in."""

    text: str  # as written
    field: str  # "name.attr[key]"
    first: str  # "name"
    conversion: str | None
    spec: str
    context: str  # BARE, SINGLE, DOUBLE or a key of UNSAFE

    def refusal(self, cmd: str) -> str:
        where = "right after a backslash" if self.context == "escape" else f"in {self.context}"
        return (f"command {cmd!r}: placeholder {self.text} stands {where}, where no quoting "
                f"can make its value safe: {UNSAFE[self.context]}")


@functools.lru_cache(maxsize=1024)
def parse_template(cmd: str) -> tuple[str | Placeholder, ...]:
    """Split ``cmd`` into literal text and placeholders, each with its shell context."""
    parts: list[str | Placeholder] = []
    shell = _ShellState()
    literal: list[str] = []
    i, n = 0, len(cmd)

    def flush() -> None:
        if literal:
            text = "".join(literal)
            shell.feed(text)
            parts.append(text)
            literal.clear()

    while i < n:
        char = cmd[i]
        if cmd.startswith("{{", i) or cmd.startswith("}}", i):
            literal.append(char)
            i += 2
        elif cmd.startswith("${", i):
            end = _closing_brace(cmd, i + 1)
            literal.append(cmd[i:end])
            i = end
        elif char == "{" and (match := PLACEHOLDER.match(cmd, i)):
            flush()
            parts.append(Placeholder(match.group(0), match["field"], match["first"],
                                     match["conversion"], match["spec"] or "", shell.context()))
            shell.placeholder()
            i = match.end()
        else:
            literal.append(char)
            i += 1
    flush()
    return tuple(parts)


def _closing_brace(cmd: str, start: int) -> int:
    """Index after the ``}`` that closes the ``{`` at ``start`` (or the end of ``cmd``)."""
    depth = 0
    for index in range(start, len(cmd)):
        if cmd[index] == "{":
            depth += 1
        elif cmd[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(cmd)


class _ShellState:
    """Follows the quoting of POSIX shell (and bash's ``$'…'``) through literal text."""

    _OPERATORS = set(";&|()<>\n \t")

    def __init__(self) -> None:
        # frames: [kind, data]; "bare" data = [paren depth, is $( … )]
        self.stack: list[list[Any]] = [["bare", [0, False]]]
        self.escaped = False
        self.previous = "\n"  # the character before, for "#" at the start of a word
        self.heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)
        self.line = ""  # the current line of a here-document

    def context(self) -> str:
        if self.escaped:
            return "escape"
        kinds = [frame[0] for frame in self.stack]
        for unsafe in ("backticks", "a here-document", "$'…'", "a comment"):
            if unsafe in kinds:
                return unsafe
        return {"bare": BARE, "single": SINGLE, "double": DOUBLE}[kinds[-1]]

    def placeholder(self) -> None:
        self.previous = "x"
        self.escaped = False
        if self.stack[-1][0] == "a here-document":
            self.line += "\0"  # a line holding a value never ends the here-document

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            i = self._step(text, i)

    def _step(self, text: str, i: int) -> int:
        char = text[i]
        kind, data = self.stack[-1]
        if self.escaped:
            self.escaped = False
            self.previous = "x"
            return i + 1
        if kind == "single":
            if char == "'":
                self.stack.pop()
        elif kind == "$'…'":
            if char == "\\":
                self.escaped = True
            elif char == "'":
                self.stack.pop()
        elif kind == "a comment":
            if char == "\n":
                self.stack.pop()
                return self._newline(i)
        elif kind == "a here-document":
            if char == "\n":
                delimiter, strip = data
                if (self.line.lstrip("\t") if strip else self.line) == delimiter:
                    self.stack.pop()
                    if self.heredocs:
                        self.stack.append(["a here-document", self.heredocs.pop(0)])
                self.line = ""
            else:
                self.line += char
        elif kind in ("double", "backticks"):
            if char == "\\":
                self.escaped = True
            elif char == ("\"" if kind == "double" else "`"):
                self.stack.pop()
            elif char == "`":
                self.stack.append(["backticks", None])
            elif text.startswith("$(", i):
                self.stack.append(["bare", [0, True]])
                return i + 2
        else:
            return self._bare(text, i, data)
        self.previous = char
        return i + 1

    def _bare(self, text: str, i: int, data: list[Any]) -> int:
        char = text[i]
        step = 1
        if char == "\\":
            self.escaped = True
        elif char == "'":
            self.stack.append(["single", None])
        elif char == "\"":
            self.stack.append(["double", None])
        elif char == "`":
            self.stack.append(["backticks", None])
        elif text.startswith("$'", i):
            self.stack.append(["$'…'", None])
            step = 2
        elif text.startswith("$(", i):
            self.stack.append(["bare", [0, True]])
            step = 2
        elif char == "(":
            data[0] += 1
        elif char == ")":
            if data[0]:
                data[0] -= 1
            elif data[1]:
                self.stack.pop()
        elif char == "#" and self.previous in self._OPERATORS:
            self.stack.append(["a comment", None])
        elif text.startswith("<<", i) and not text.startswith("<<<", i):
            return self._heredoc_operator(text, i)
        elif char == "\n":
            return self._newline(i)
        self.previous = text[i + step - 1]
        return i + step

    def _heredoc_operator(self, text: str, i: int) -> int:
        j = i + 2
        strip = text.startswith("-", j)
        j += strip
        while j < len(text) and text[j] in " \t":
            j += 1
        word = re.match(r"""'[^']*'|"[^"]*"|[^\s;&|<>()]+""", text[j:])
        if word:
            self.heredocs.append((word.group(0).strip("'\""), strip))
            j += word.end()
        self.previous = "x"
        return j

    def _newline(self, i: int) -> int:
        self.previous = "\n"
        if self.heredocs and self.stack[-1][0] == "bare":
            self.stack.append(["a here-document", self.heredocs.pop(0)])
            self.line = ""
        return i + 1


def quote_for(context: str, text: str) -> str:
    """``text`` quoted so that the shell reads it back unchanged in ``context``."""
    if "\0" in text:
        raise CommandFormatError("a value holds a NUL character, which no shell can pass on")
    if context == SINGLE:
        return text.replace("'", "'\\''")
    if context == DOUBLE:
        return re.sub(r'([\\$`"])', r"\\\1", text)
    return shlex.quote(text)


class _Lookup(Mapping[str, Any]):
    """Form data first, then the public, non-callable attributes of the object."""

    def __init__(self, data: Mapping[str, Any], get_obj: Callable[[], Any]) -> None:
        self._data = data
        self._get_obj = get_obj

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        obj = self._get_obj()
        if obj is not None and not key.startswith("_"):
            value = getattr(obj, key, _MISSING)
            if value is not _MISSING and not callable(value):
                return value
        raise KeyError(key)

    def names(self) -> list[str]:
        obj = self._get_obj()
        if obj is None:
            return list(self._data)
        # looked up on the class (and the instance's own dict) so that no lazy
        # relationship of a database object is loaded for a mere suggestion
        own = getattr(obj, "__dict__", {})
        attrs = [name for name in dir(obj) if not name.startswith("_")
                 and not callable(getattr(type(obj), name, None))
                 and not callable(own.get(name))]
        return [*self._data, *attrs]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_MISSING = object()
_FORMATTER = string.Formatter()


@dataclass
class FormattedCommand:
    """A command with its placeholders filled, and notes on ``{names}`` left as written."""

    command: str
    notes: list[str]


def format_command(
    cmd: str, data: Mapping[str, Any], get_obj: Callable[[], Any], *, raw: Iterable[str] = ()
) -> FormattedCommand:
    """Fill the placeholders of ``cmd`` from ``data``, then from the object ``get_obj()``
    returns (called only for a name not in ``data``); see the module's rules.

    :raises CommandFormatError: for a placeholder that was obviously meant but names
        nothing, or one that stands where it cannot be quoted.
    """
    lookup = _Lookup(data, get_obj)
    raw = frozenset(raw)
    parts: list[str] = []
    notes: list[str] = []
    for part in parse_template(cmd):
        if isinstance(part, str):
            parts.append(part)
            continue
        try:
            value, _first = _FORMATTER.get_field(part.field, (), lookup)
        except KeyError as exc:
            if part.conversion or part.spec or exc.args != (part.first,):
                raise CommandFormatError(
                    f"command {cmd!r}: placeholder {part.text} is neither a form field "
                    f"nor a field of the object ({exc!r})") from None
            parts.append(part.text)
            close = difflib.get_close_matches(part.first, lookup.names(), n=1, cutoff=0.8)
            if close:
                notes.append(f"{part.text} in {cmd!r} names no form field nor field of the "
                             f"object and was left as written: did you mean {{{close[0]}}}?")
            continue
        except (AttributeError, IndexError, TypeError) as exc:
            raise CommandFormatError(
                f"command {cmd!r}: placeholder {part.text}: {exc}") from None
        if part.context in UNSAFE:
            raise CommandFormatError(part.refusal(cmd))
        conversion = None if part.conversion == "raw" else part.conversion
        text = _FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), part.spec)
        trusted = part.conversion == "raw" or part.first in raw
        parts.append(text if trusted else quote_for(part.context, text))
    return FormattedCommand("".join(parts), notes)


def check_template(cmd: str, names: Iterable[str]) -> None:
    """Refuse a template whose placeholders (those naming one of ``names``, or with a
    conversion or format spec) stand where no quoting can make them safe.

    :raises CommandFormatError: saying how to write it instead.
    """
    names = set(names)
    for part in parse_template(cmd):
        if (isinstance(part, Placeholder) and part.context in UNSAFE
                and (part.first in names or part.conversion or part.spec)):
            raise CommandFormatError(part.refusal(cmd))
