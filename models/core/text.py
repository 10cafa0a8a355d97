"""What text the engine accepts, and how its writers make any text safe for where it goes.

The rule, decided once (the README's input rules say it in words):

- one-line text (titles, references, names of units and townships, sources, campaigns, addresses, event ids,
  actors, evidence items) holds no control character but tab: no line break of any kind (LF, CR, U+0085,
  U+2028, U+2029), no NUL, no escape (U+001B), no other C0 or C1 control character and no DEL;
- multi-line text (descriptions, notes, reasons) may also hold line breaks (LF, CR, CRLF, U+2028, U+2029), and
  nothing else of the above;
- a lone surrogate (half of a UTF-16 pair, which is no character at all) is refused everywhere.

The event models enforce it with the two patterns below (pydantic checks them in its own compiled code, so the
rule costs nothing measurable on a large file). Text that reached the database before the rule (an old
database) or comes from elsewhere is made safe again by each writer: `visible` for the terminal, `xml_safe`
for spreadsheet cells, `one_line` for mail headers.
"""

from __future__ import annotations

import re
import unicodedata

# Checked by pydantic-core's regular expressions (Rust syntax). Surrogates need no class of their own: pydantic
# refuses them before any pattern (a JSON "\ud800" is invalid JSON, a Python str with one is not valid text).
ONE_LINE_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"

_ONE_LINE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")

# Control characters have no Unicode name; these are the ones an operator may meet (and look up).
_NAMES = {
    0x00: "NUL",
    0x07: "bell",
    0x08: "backspace",
    0x09: "tab",
    0x0A: "line feed",
    0x0B: "vertical tab, a soft line break pasted from a word processor",
    0x0C: "form feed, a page break pasted from a word processor",
    0x0D: "carriage return",
    0x1B: "escape, which starts terminal control sequences",
    0x7F: "delete",
    0x85: "next line, a C1 control character: end lines with a line feed instead",
    0x9B: "control sequence introducer",
    0x2028: "line separator",
    0x2029: "paragraph separator",
}


def code_point(char: str) -> str:
    """``U+000B (vertical tab, …)``: the character as an operator can look it up."""
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        name = "a lone surrogate, which is no character: the text was not valid UTF-8 or UTF-16"
    else:
        name = _NAMES.get(point) or unicodedata.name(char, "control character")
    return f"U+{point:04X} ({name})"


def text_problem(value: str, *, multi_line: bool) -> str | None:
    """Why ``value`` is not acceptable text for a one-line (or multi-line) field, in words; None when it is."""
    found = (_MULTI_LINE_BAD if multi_line else _ONE_LINE_BAD).search(value)
    if found is None:
        return None
    char, position = found.group(), found.start() + 1
    if not multi_line and char in _LINE_BREAKS:
        return f"must be one line, but has a line break {code_point(char)} at character {position}"
    return (
        f"contains the control character {code_point(char)} at character {position}; text may hold no control "
        "characters other than tab and line breaks — remove it"
    )


def pattern_problem(pattern: str, value: object) -> str | None:
    """The words for a failed text pattern of the events (see `ONE_LINE_PATTERN`), or None for another pattern."""
    if pattern not in (ONE_LINE_PATTERN, MULTI_LINE_PATTERN) or not isinstance(value, str):
        return None
    return text_problem(value, multi_line=pattern == MULTI_LINE_PATTERN)


# --- writers --------------------------------------------------------------------------------------------------

# What a terminal could act on: C0 controls but tab and line feed, DEL, C1 controls (U+009B starts a control
# sequence on some terminals), the bidirectional overrides and isolates that reorder what is shown (a reference
# that reads differently from what it is), the Unicode line and paragraph separators, and lone surrogates (which
# cannot be written out at all).
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(found: re.Match[str]) -> str:
    point = ord(found.group())
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def visible(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` safe to print on a terminal: each character a terminal could act on is shown as an escape
    (``\\x1b``, ``\\u202e``) instead, so the operator sees that it is there and nothing acts on it."""
    text = _TERMINAL_UNSAFE.sub(_escape, text)
    return text if keep_newlines else text.replace("\n", "\\n")


def json_safe(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with every character a terminal could act on written
    as a ``\\uXXXX`` escape: the same JSON to a reader, and nothing for the terminal to act on."""
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# XML 1.0 (and so a spreadsheet cell) cannot hold these at all; openpyxl refuses them.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """``text`` fit for a spreadsheet cell: what XML cannot hold becomes U+FFFD (�), so the cell shows that
    something was there; a vertical tab (a soft line break) becomes the line break it stands for."""
    return _NOT_XML.sub(lambda m: "\n" if m.group() == "\x0b" else "\ufffd", text)


_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_BLANKS = re.compile(r" {2,}")


def one_line(text: str) -> str:
    """``text`` fit for a mail header: every run of line breaks and control characters becomes one blank, so no
    header can be smuggled in and nothing invisible reaches a mail client."""
    return _BLANKS.sub(" ", _HEADER_UNSAFE.sub(" ", text)).strip()
