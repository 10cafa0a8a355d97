"""The notice kinds (公文种类), declared once: each kind's title, its document-number 代字, its templates, whether
it can go in a digest and the context its templates read.

Adding a notice kind is one entry in ``NOTICE_KINDS`` below plus its three templates in
``notifications/templates/`` (``<name>.subject.txt``, ``<name>.txt``, ``<name>.html``). The policy's
``notices.prefixes``, the outbox's ``--kind`` filters, the subjects, the digest and the console all read this
registry. The rule that decides to issue the new kind then puts a ``NoticeIntent(kind=<name>, …)`` in its
effects with the ``context`` keys declared here in ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

__all__ = ["COMMON_CONTEXT", "NOTICE_KINDS", "NoticeKind", "NoticeKindRegistry"]

About = Literal["hazard", "township", "period", "reading"]

# A kind names template files, so it is a plain identifier (no paths, no leading "_" of the shared templates).
_NAME = re.compile(r"[a-z][a-z0-9_]*")

#: What every notice's document context holds, whatever its kind (see ``notice_docs.draft_notice``).
COMMON_CONTEXT: tuple[str, ...] = (
    "kind",
    "number",
    "issuer",
    "recipient",
    "cc_units",
    "date",
    "feedback_days",
    "hazard",
)


@dataclass(frozen=True)
class NoticeKind:
    """One kind of notice.

    ``name`` is the code stored in the outbox and the stem of the template files; ``title`` heads the document and
    its subject (【催办通知】); ``prefix`` is the 代字 in its document number (越城平安催〔2025〕12号), which
    ``notices.prefixes`` in policy.yaml may override; ``about`` says what the document is about: a hazard, a
    township, a reporting period or an indicator reading (only hazard and township notices are decisions of the
    rules, replayed by a what-if); ``digestible`` lets a unit's notices of this kind on one day go out as one
    digest mail (``notices.digest``); ``rung`` lets a rung of the escalation ladder send it (``escalation.ladder``
    in policy.yaml); ``context`` names the keys its templates read beyond ``COMMON_CONTEXT``.
    """

    name: str
    title: str
    prefix: str
    about: About = "hazard"
    digestible: bool = False
    context: tuple[str, ...] = ()
    rung: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"a notice kind's name is a lower-case identifier, not {self.name!r}")
        if not self.title.strip() or not self.prefix.strip():
            raise ValueError(f"notice kind {self.name!r} needs a title and a document-number prefix (代字)")

    @property
    def templates(self) -> tuple[str, str, str]:
        """Its template files: the subject line, the plain text and the HTML."""
        return (f"{self.name}.subject.txt", f"{self.name}.txt", f"{self.name}.html")

    @property
    def decided_by_rules(self) -> bool:
        """Issued by the rules over hazards and townships (not by a schedule or a reading)."""
        return self.about in ("hazard", "township")


class _Column(Mapping[str, str]):
    """A live read-only view of one text attribute of every kind: ``NOTICE_KINDS.titles["reminder"]``."""

    def __init__(self, registry: NoticeKindRegistry, attribute: str) -> None:
        self._registry, self._attribute = registry, attribute

    def __getitem__(self, name: str) -> str:
        return str(getattr(self._registry[name], self._attribute))

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)


class NoticeKindRegistry(Mapping[str, NoticeKind]):
    """The notice kinds by name, in the order declared. A mapping: ``"reminder" in NOTICE_KINDS``, ``list(…)`` gives
    the names, ``NOTICE_KINDS["reminder"].prefix``. An unknown name raises ``KeyError`` naming the known ones."""

    def __init__(self, kinds: tuple[NoticeKind, ...] = ()) -> None:
        self._kinds: dict[str, NoticeKind] = {}
        for kind in kinds:
            self.register(kind)

    def __getitem__(self, name: str) -> NoticeKind:
        try:
            return self._kinds[name]
        except (KeyError, TypeError):
            raise KeyError(f"unknown notice kind {name!r} (known kinds: {', '.join(self._kinds)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def register(self, kind: NoticeKind) -> NoticeKind:
        """Add a kind; refuses a second kind of the same name or with the same 代字 (two kinds would then share
        document numbers' look)."""
        if kind.name in self._kinds:
            raise ValueError(f"notice kind {kind.name!r} is declared twice")
        same = [k.name for k in self._kinds.values() if k.prefix == kind.prefix]
        if same:
            raise ValueError(f"notice kind {kind.name!r} has the document-number prefix {kind.prefix!r} of {same[0]!r}")
        self._kinds[kind.name] = kind
        return kind

    @contextmanager
    def registered(self, kind: NoticeKind) -> Iterator[NoticeKind]:
        """``kind`` is known inside the ``with`` block only (for tests of a kind that does not ship)."""
        self.register(kind)
        try:
            yield kind
        finally:
            del self._kinds[kind.name]

    @property
    def titles(self) -> Mapping[str, str]:
        return _Column(self, "title")

    @property
    def prefixes(self) -> Mapping[str, str]:
        return _Column(self, "prefix")

    def digestible(self) -> tuple[str, ...]:
        return tuple(name for name, kind in self._kinds.items() if kind.digestible)

    def sent_by_rungs(self) -> tuple[str, ...]:
        """The kinds a rung of the escalation ladder may send."""
        return tuple(name for name, kind in self._kinds.items() if kind.rung)

    def about(self, *subjects: About) -> tuple[str, ...]:
        """The names of the kinds about any of ``subjects`` (``about("hazard", "township")``)."""
        return tuple(name for name, kind in self._kinds.items() if kind.about in subjects)


NOTICE_KINDS = NoticeKindRegistry(
    (
        NoticeKind("assignment", "隐患交办单", "交", context=("reason", "reassigned_from")),
        NoticeKind(
            "reminder",
            "催办通知",
            "催",
            digestible=True,
            context=("reminder_reason", "remaining_days", "duty_due_date"),
            rung=True,
        ),
        NoticeKind(
            "supervision",
            "督办通知书",
            "督",
            digestible=True,
            context=("chased", "duty", "duty_due_date", "duty_overdue_days"),
            rung=True,
        ),
        NoticeKind(
            "elevation",
            "提级督办通知",
            "提督",
            context=("actor_name", "duty", "manual", "new_level", "reason"),
            rung=True,
        ),
        NoticeKind(
            "listing",
            "挂牌督办通知书",
            "挂督",
            about="township",
            context=("township", "deadline", "deadline_provisional", "figures", "manual", "problems", "reason"),
        ),
        NoticeKind("return", "退回整改通知", "退", context=("due_date", "reason", "rework_count")),
        NoticeKind(
            "extension_decision", "延期审批结果通知", "延", context=("approved", "days", "new_due_date", "reason")
        ),
        NoticeKind("clearance", "销号通知", "销", context=("cleared_at", "note", "verifier_name")),
        NoticeKind(
            "delisting",
            "摘牌通知",
            "摘",
            about="township",
            context=("township", "actor_name", "actor_person", "listed_on", "reason"),
        ),
        NoticeKind(
            "report",
            "研判报告",
            "研",
            about="period",
            context=(
                "scope",
                "period",
                "period_start",
                "period_end",
                "data_since",
                "totals",
                "comparisons",
                "by_county",
                "by_township",
                "by_field",
                "county_rank",
                "rankings",
                "listings",
                "notable",
                "oldest_open",
                "indicators",
                "charts",
                "chart_titles",
                "image_prefix",
                "image_suffix",
                "audit_root",  # a daily report's: the day's root over every audit row (see verify-audit)
            ),
        ),
        NoticeKind(
            "verification_request",
            "核查通知",
            "核",
            context=("evidence_count", "note", "verify_by", "verify_provisional"),
        ),
        NoticeKind(
            "extension_request",
            "延期申请",
            "延申",
            context=("days", "decide_by", "decide_provisional", "due", "reason"),
        ),
        NoticeKind(
            "indicator_warning", "指标预警通知", "预", about="reading", context=("indicator", "point", "reading")
        ),
    )
)
