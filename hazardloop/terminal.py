"""Printing on the terminal: data is shown as text, never read as markup, and no character of it can act on the
terminal.

A hazard's title, a unit's name or a reason comes from whoever filed it, so it may hold Rich markup (``[/]``
would stop a table command with an error; ``[link=…]`` would make a link) or control characters (an escape
sequence can retitle the window, move the cursor or hide what follows). Every console of the command line is a
`SafeConsole`: markup and emoji codes are off, and each string it renders passes through `models.text.visible`,
which shows such characters as escapes (``\\x1b``). Styles come only from the program, through `styled`.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.text import Text

from hazardloop.models.core.text import visible


class SafeConsole(Console):
    """A Rich console that prints every string as plain, neutralised text (see the module's docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Every string a console prints or puts in a table comes through here; markup stays off whatever a
        # caller asks for.
        kwargs.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **kwargs)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of text with styles chosen by the program: each part is a string or ``(string, style)``; the strings
    are neutralised like everything else printed."""
    line = Text()
    for part in parts:
        text, style = (part, "") if isinstance(part, str) else part
        line.append(visible(text), style=style)
    return line


class SafeFormatter(logging.Formatter):
    """Log lines on the terminal (``hazardloop run``) neutralised like everything else printed: a record may
    quote a title, an address or a mail server's answer."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))
