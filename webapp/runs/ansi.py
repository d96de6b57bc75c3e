"""Remote output as safe HTML: text escaped, ANSI colours (SGR) as spans, other escapes dropped.

static/js/ansi.js does the same for live output in the browser, with the
same class names (``ansi-fg-N``, ``ansi-bg-N``, ``ansi-bold`` …) styled by
the page's CSS, so that colours follow the light or dark theme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

# CSI sequences (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), other two-byte escapes
_ESCAPE = re.compile(r"\x1b(?:\[([0-9;:?]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)")
# control characters other than tab, newline, carriage return: never shown
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass
class AnsiState:
    """The graphic rendition in force; carried from one piece of a stream to the next."""

    fg: str | None = None  # "fg-N" class or "color:rgb(…)" style
    bg: str | None = None
    flags: set[str] = field(default_factory=set)  # bold, dim, italic, underline, inverse

    def apply(self, params: str) -> None:
        """Apply the parameters of one SGR sequence (``ESC [ params m``)."""
        codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                self.fg = self.bg = None
                self.flags.clear()
            elif code in _FLAG_ON:
                self.flags.add(_FLAG_ON[code])
            elif code in _FLAG_OFF:
                self.flags.difference_update(_FLAG_OFF[code])
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.fg = f"fg-{code - 30 if code < 90 else code - 82}"
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.bg = f"bg-{code - 40 if code < 100 else code - 92}"
            elif code == 39:
                self.fg = None
            elif code == 49:
                self.bg = None
            elif code in (38, 48):
                colour, i = _extended_colour(codes, i)
                if colour is not None:
                    kind = "fg" if code == 38 else "bg"
                    prop = "color" if code == 38 else "background-color"
                    value = f"{prop}:{colour}" if colour.startswith("rgb") else f"{kind}-{colour}"
                    setattr(self, kind, value)
            i += 1

    def span_attributes(self) -> str:
        """The ``class``/``style`` attributes of a span in this state ("" when plain)."""
        classes = [f"ansi-{flag}" for flag in sorted(self.flags)]
        styles = []
        for value in (self.fg, self.bg):
            if value is None:
                continue
            if ":" in value:
                styles.append(value)
            else:
                classes.append(f"ansi-{value}")
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        return attrs + (f' style="{";".join(styles)}"' if styles else "")


_FLAG_ON = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "inverse"}
_FLAG_OFF = {22: {"bold", "dim"}, 23: {"italic"}, 24: {"underline"}, 27: {"inverse"}}


def _extended_colour(codes: list[int], i: int) -> tuple[str | None, int]:
    """``38;5;N`` (a palette index) or ``38;2;R;G;B``; returns the colour and the last index."""
    if i + 2 < len(codes) and codes[i + 1] == 5:
        n = codes[i + 2]
        return (str(n) if n < 16 else _palette_rgb(n)), i + 2
    if i + 4 < len(codes) and codes[i + 1] == 2:
        r, g, b = (min(255, c) for c in codes[i + 2:i + 5])
        return f"rgb({r},{g},{b})", i + 4
    return None, len(codes)


def _palette_rgb(n: int) -> str:
    """The xterm 256-colour palette entry ``n`` (16–255)."""
    n = min(n, 255)
    if n >= 232:
        level = 8 + (n - 232) * 10
        return f"rgb({level},{level},{level})"
    n -= 16
    steps = [0, 95, 135, 175, 215, 255]
    return f"rgb({steps[n // 36]},{steps[n // 6 % 6]},{steps[n % 6]})"


def ansi_to_html(text: str, state: AnsiState | None = None) -> Markup:
    """Escape ``text`` and turn its SGR sequences into spans; drop every other escape.

    ``state`` (changed in place) carries colours across pieces of one stream.
    """
    state = state if state is not None else AnsiState()
    parts: list[str] = []
    position = 0
    for match in _ESCAPE.finditer(text):
        _emit(parts, text[position:match.start()], state)
        if match.group(2) == "m":
            state.apply(match.group(1) or "0")
        position = match.end()
    _emit(parts, text[position:], state)
    return Markup("".join(parts))


def _emit(parts: list[str], text: str, state: AnsiState) -> None:
    text = _CONTROL.sub("", text)
    if not text:
        return
    attrs = state.span_attributes()
    safe = str(escape(text))
    parts.append(f"<span{attrs}>{safe}</span>" if attrs else safe)


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences or control characters (for comparing output)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))
