"""Render notices (公文) from templates into a value object: subject, plain text and HTML.

One Jinja environment is built per `NoticeRenderer` and reused for every notice. Autoescape is on for
`.html` templates only, and `StrictUndefined` makes a missing context key fail loudly instead of printing
an empty string into an official document.

Template lookup: an optional override directory first, then the built-in templates shipped in
`notifications/templates/`; an office can replace any single file (say `supervision.html`) without
copying the rest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from markupsafe import Markup, escape

from hazardloop.models.core.notice_kinds import NOTICE_KINDS as REGISTRY
from hazardloop.models.core.vocabulary import (
    LEVEL_GRADES,
    LEVEL_NAMES,
    SEVERITY_NAMES,
    STATE_NAMES,
    SUPERVISION_LEVELS,
)

__all__ = [
    "LEVEL_NAMES",
    "NOTICE_KINDS",
    "SEVERITY_NAMES",
    "STATE_NAMES",
    "NoticeRenderer",
    "RenderedNotice",
    "clause",
    "cn_date",
    "cn_datetime",
    "level_grade",
    "level_name",
    "office_title",
    "percent",
    "place",
    "severity_name",
    "state_name",
]

#: The notice kinds about hazards and townships (the periodic report has its own context and charts).
NOTICE_KINDS: tuple[str, ...] = REGISTRY.about("hazard", "township", "reading")

# Names that already read as an office; anything else is a unit name ("府山街道") whose notices are issued
# by its safety office ("府山街道平安建设办公室").
_OFFICE_SUFFIXES = ("办公室", "平安办", "综治办", "综治中心", "中心")
_OFFICE_SUFFIX = "平安建设办公室"

# A kind names template files, so keep it to a plain identifier (no paths, no "_base").
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class RenderedNotice:
    """A notice ready to be mailed: one-line subject, plain-text body and HTML body."""

    subject: str
    text: str
    html: str


def cn_date(value: date | str) -> str:
    """`date(2025, 10, 13)` → "2025年10月13日". A datetime is taken as already local (aware or naive); an ISO date
    ("2025-10-13", as stored figures carry dates) is read as that date."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise TypeError(f"cn_date expects a date or an ISO date, got {value!r}") from None
    if not isinstance(value, date):
        raise TypeError(f"cn_date expects a date or datetime, got {type(value).__name__}: {value!r}")
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime) -> str:
    """`datetime(2025, 10, 13, 14, 30)` → "2025年10月13日 14:30" (already local); a date gives the date."""
    if not isinstance(value, datetime):
        return cn_date(value)
    return f"{cn_date(value)} {value.hour:02d}:{value.minute:02d}"


def _lookup(table: Mapping[str, str], what: str) -> Callable[[str], str]:
    def name(value: str) -> str:
        try:
            return table[value]
        except (KeyError, TypeError):
            known = ", ".join(table)
            raise ValueError(f"unknown {what} {value!r} (expected one of: {known})") from None

    name.__name__ = f"{what.replace(' ', '_')}_name"
    name.__doc__ = f"The Chinese name of a {what} code."
    return name


level_name = _lookup(LEVEL_NAMES, "supervision level")
level_grade = _lookup(LEVEL_GRADES, "supervision level")
severity_name = _lookup(SEVERITY_NAMES, "severity")
state_name = _lookup(STATE_NAMES, "hazard state")


def office_title(unit_name: str) -> str:
    """The issuing office shown in the red heading: "府山街道" → "府山街道平安建设办公室".

    A name that already names an office ("绍兴市平安办", "越城区综治中心") is kept as it is.
    """
    name = str(unit_name).strip()
    if name.endswith(_OFFICE_SUFFIXES):
        return name
    return name + _OFFICE_SUFFIX


def place(parts: list[str | None]) -> str:
    """A place named from the top down, each part once: ["越城区", "府山街道", "仓桥社区"] → "越城区府山街道仓桥社区",
    but ["滨海新区", "绍兴滨海新区产业园"] → "绍兴滨海新区产业园": a name that already contains its parent's name
    stands in for it."""
    out: list[str] = []
    for part in parts:
        text = str(part or "").strip()
        if not text:
            continue
        if out and out[-1] in text:
            out[-1] = text
        elif not out or text not in out[-1]:
            out.append(text)
    return "".join(out)


def percent(value: float) -> str:
    """A ratio in [0, 1] as a percentage with one decimal: 0.8734 → "87.3%"."""
    return f"{float(value) * 100:.1f}%"


def clause(value: str) -> str:
    """A free-text reason made fit to sit inside a sentence: trailing full stops and blanks removed."""
    return str(value).strip().rstrip("。.；;，, ")


def nl2br(value: str) -> Markup:
    """Escape a multi-line text and keep its line breaks in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _tidy_text(value: str) -> str:
    # Template whitespace is easy to get slightly wrong; a plain-text notice never needs more than one
    # blank line in a row.
    return re.sub(r"\n{3,}", "\n\n", value.strip()) + "\n"


def _one_line(value: str) -> str:
    # A subject is a single header line: folding newlines and runs of blanks also rules out header
    # injection through a hazard title.
    return " ".join(value.split())


#: How long a compiled template is used before its source is looked at again (see `NoticeRenderer`).
RELOAD_CHECK_SECONDS = 1.0


class NoticeRenderer:
    """Renders notices; build one and reuse it (the Jinja environment caches compiled templates).

    An edited template (say in the override folder, under a long-running scheduler) is picked up within
    `RELOAD_CHECK_SECONDS`. Jinja's own `auto_reload` would look at the file of every template, and of each one
    it extends or imports, on every render (seven checks per notice, a fifth of the rendering time); checking
    them all at most once a second gives the same result for a person editing a file.
    """

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders: list[BaseLoader] = []
        if override_dir is not None:
            loaders.append(FileSystemLoader(override_dir))
        loaders.append(PackageLoader("hazardloop.notifications", "templates"))
        self.environment = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # see the class docstring and `_reload_changed`
        )
        self._checked_at = time.monotonic()
        self.environment.filters.update(
            cn_date=cn_date,
            cn_datetime=cn_datetime,
            level_name=level_name,
            level_grade=level_grade,
            severity_name=severity_name,
            state_name=state_name,
            office_title=office_title,
            percent=percent,
            place=place,
            clause=clause,
            nl2br=nl2br,
        )
        self.environment.globals["supervision_levels"] = SUPERVISION_LEVELS

    def render(self, kind: str, context: Mapping[str, Any]) -> RenderedNotice:
        """Render `{kind}.subject.txt`, `{kind}.txt` and `{kind}.html` with `context`; a registered notice kind's
        templates also see its title as `document_title`.

        Raises `ValueError` for an unknown kind and `jinja2.UndefinedError` when the context lacks a
        name a template uses.
        """
        if not isinstance(kind, str) or not _KIND_PATTERN.fullmatch(kind):
            raise ValueError(f"unknown notice kind {kind!r}")
        self._reload_changed()
        names = (f"{kind}.subject.txt", f"{kind}.txt", f"{kind}.html")
        try:
            subject, text, html = (self.environment.get_template(name) for name in names)
        except TemplateNotFound as exc:
            raise ValueError(f"unknown notice kind {kind!r}: no template {exc.name!r}") from None
        kind_entry = REGISTRY.get(kind)
        if kind_entry is not None:  # the heading and the subject's 【…】 read the registry's title
            context = {"document_title": kind_entry.title, **context}
        return RenderedNotice(
            subject=_one_line(subject.render(context)),
            text=_tidy_text(text.render(context)),
            html=html.render(context).strip() + "\n",
        )

    def _reload_changed(self) -> None:
        """Forget every compiled template when any of them changed on disk (at most once a second).

        Only the staleness check reads the clock; nothing rendered depends on it. Forgetting all of them is
        simpler than tracking which template extends or imports which, and costs a few recompiles after an edit.
        """
        now = time.monotonic()
        if now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        self._checked_at = now
        cache = self.environment.cache
        if cache is not None and not all(template.is_up_to_date for template in cache.values()):
            cache.clear()
