"""One registry of notice kinds (``models/core/notice_kinds.py``): every kind has its templates, a title and a
document-number 代字, its templates read only the context it declares, no other module keeps a list of kinds, and a
kind added to the registry with its templates is numbered, rendered and mailed without touching anything else."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from jinja2 import meta, nodes
from pydantic import ValidationError

from hazardloop.models.core.hazard import NoticeIntent
from hazardloop.models.core.notice_kinds import COMMON_CONTEXT, NOTICE_KINDS, NoticeKind, NoticeKindRegistry
from hazardloop.models.core.policy import Notices
from hazardloop.models.store.outbox import SqlOutbox
from hazardloop.notifications.rendering import NoticeRenderer
from tests.support.fixtures import ready_app

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "notifications" / "templates"
REGISTRY_FILE = ROOT / "models" / "core" / "notice_kinds.py"
SOURCE_FOLDERS = ("models", "notifications", "flows", "config", "hazardloop", "bench")
NOW = datetime.fromisoformat("2025-10-13T09:00:00+08:00")


def test_every_kind_ships_its_three_templates_a_title_and_a_prefix() -> None:
    for name, kind in NOTICE_KINDS.items():
        assert kind.name == name
        assert kind.title and kind.prefix
        for template in kind.templates:
            assert (TEMPLATES / template).is_file(), f"{name}: no {template}"
    assert len(set(NOTICE_KINDS.titles.values())) == len(NOTICE_KINDS)
    assert len(set(NOTICE_KINDS.prefixes.values())) == len(NOTICE_KINDS)


def test_reminders_and_supervisions_are_the_kinds_a_digest_gathers() -> None:
    assert NOTICE_KINDS.digestible() == ("reminder", "supervision")


def _template_names(renderer: NoticeRenderer, name: str, seen: set[str]) -> tuple[set[str], set[str]]:
    """(names a template and those it extends or imports read, names they define themselves)."""
    if name in seen:
        return set(), set()
    seen.add(name)
    env = renderer.environment
    tree = env.parse(env.loader.get_source(env, name)[0])  # type: ignore[union-attr]
    read = set(meta.find_undeclared_variables(tree))
    defined = {n.target.name for n in tree.find_all(nodes.Assign) if isinstance(n.target, nodes.Name)}
    defined |= {n.name for n in tree.find_all(nodes.Macro)}
    for imported in tree.find_all(nodes.FromImport):
        defined |= {alias if isinstance(alias, str) else alias[-1] for alias in imported.names}
    for other in meta.find_referenced_templates(tree):
        if other:
            more_read, more_defined = _template_names(renderer, other, seen)
            read |= more_read
            defined |= more_defined
    return read, defined


@pytest.mark.parametrize("name", list(NOTICE_KINDS))
def test_the_templates_of_each_kind_read_only_the_context_it_declares(name: str) -> None:
    renderer, kind = NoticeRenderer(), NOTICE_KINDS[name]
    read: set[str] = set()
    defined: set[str] = set()
    seen: set[str] = set()
    for template in kind.templates:
        more_read, more_defined = _template_names(renderer, template, seen)
        read |= more_read
        defined |= more_defined
    given = {*COMMON_CONTEXT, *kind.context, "document_title", *renderer.environment.globals}
    assert read - defined - given == set(), f"{name}'s templates read context it does not declare"
    # and what it declares is used: a stale entry would mislead whoever writes the rule issuing it
    assert set(kind.context) - read == set(), f"{name} declares context its templates never read"


def _kind_lists(tree: ast.AST) -> list[int]:
    """Lines of literal tuples, lists, sets or dicts (their keys) of three or more notice kinds' names and nothing
    else (the escalation's rung names, "ack_reminder", "reminder", …, share some words with the kinds)."""
    known = set(NOTICE_KINDS)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        names = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
        if len(names & known) >= 3 and names <= known:
            lines.append(node.lineno)
    return lines


def test_no_other_module_declares_a_list_of_notice_kinds() -> None:
    # hidden folders are not ours: bench/peers/.venv-* hold the peer engines' installed packages
    sources = [
        p
        for folder in SOURCE_FOLDERS
        for p in sorted((ROOT / folder).rglob("*.py"))
        if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    ]
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources
        if path != REGISTRY_FILE
        for line in _kind_lists(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []
    assert _kind_lists(ast.parse('TITLES = {"reminder": "催办", "supervision": "督办", "listing": "挂牌"}')) == [1]
    assert _kind_lists(ast.parse('KINDS = ("assignment", "return", "clearance")')) == [1]


def test_a_registry_refuses_a_kind_declared_twice_or_sharing_a_prefix() -> None:
    registry = NoticeKindRegistry((NoticeKind("reminder", "催办通知", "催"),))
    with pytest.raises(ValueError, match="declared twice"):
        registry.register(NoticeKind("reminder", "催办", "另"))
    with pytest.raises(ValueError, match="prefix '催' of 'reminder'"):
        registry.register(NoticeKind("chase", "再催", "催"))
    with pytest.raises(ValueError, match="lower-case identifier"):
        NoticeKind("../reminder", "催办通知", "催")
    with pytest.raises(KeyError, match="unknown notice kind 'nope'"):
        registry["nope"]


# A kind that does not ship: a 约谈 of a township's leaders. Its templates live in a folder of the test's own.
INTERVIEW = NoticeKind("interview", "约谈通知书", "约", about="township", context=("township", "reason"))
_TEMPLATES = {
    "interview.subject.txt": "【{{ document_title }}】{{ number }} {{ township.name }}",
    "interview.txt": (
        '{% extends "_base.txt" %}\n{% block doc_title %}{{ document_title }}{% endblock %}\n'
        "{% block body %}\n　　因{{ reason | clause }}，定于近日约谈{{ township.name }}主要负责人。\n{% endblock %}\n"
    ),
    "interview.html": (
        '{% extends "_base.html" %}\n{% from "_macros.html" import para %}\n'
        "{% block doc_title %}{{ document_title }}{% endblock %}\n"
        "{% block body %}{% call para() %}因{{ reason | clause }}，定于近日约谈{{ township.name }}主要负责人。"
        "{% endcall %}{% endblock %}\n"
    ),
}


@pytest.fixture
def interview_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in _TEMPLATES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def interview() -> Iterator[NoticeKind]:
    with NOTICE_KINDS.registered(INTERVIEW) as kind:
        yield kind
    assert "interview" not in NOTICE_KINDS


def test_a_policy_may_name_a_kind_only_once_it_is_registered(interview: NoticeKind) -> None:
    assert Notices(prefixes={"interview": "谈"}).prefix("interview") == "谈"
    assert Notices().prefix("interview") == "约"
    with NOTICE_KINDS.registered(NoticeKind("warning_talk", "警示谈话通知", "警")):
        pass
    with pytest.raises(ValidationError, match="unknown notice kind"):
        Notices(prefixes={"warning_talk": "警"})


def test_a_kind_added_to_the_registry_with_its_templates_is_numbered_rendered_and_mailed(
    interview: NoticeKind, interview_templates: Path, sqlite_url: str
) -> None:
    from hazardloop.models.core.notice_docs import notice_row
    from hazardloop.models.store.db import unit_of_work
    from hazardloop.models.store.repository import insert_notices
    from hazardloop.notifications.dispatch import dispatch
    from hazardloop.notifications.mailers import MemoryBackend

    with ready_app(sqlite_url) as app:
        intent = NoticeIntent(
            kind="interview",
            key="interview-SX-YC-FS-1",
            hazard_id=None,
            township_code="SX-YC-FS",
            recipient_code="SX-YC-FS",
            cc_codes=("SX-YC",),
            issuer_code="SX-YC",
            at=NOW,
            extra={"township": {"name": "府山街道", "code": "SX-YC-FS"}, "reason": "连续两月逾期隐患居全区首位。"},
        )
        row = notice_row(app.rules, intent, None, 7, NOW)
        assert row["number"] == "越城平安约〔2025〕7号"
        assert row["subject"] == "【约谈通知书】越城平安约〔2025〕7号 府山街道"
        with unit_of_work(app.engine) as conn:
            insert_notices(conn, [row])

        backend = MemoryBackend()
        renderer = NoticeRenderer(interview_templates)
        report = dispatch(
            SqlOutbox(app.engine), app.rules, backend, renderer, NOW, delivery=app.delivery, clock=app.clock
        )

    assert (report.sent, report.failed) == (1, 0), report.errors
    [message] = backend.outbox
    assert str(message["Subject"]) == "【约谈通知书】越城平安约〔2025〕7号 府山街道"
    text = message.get_body(("plain",)).get_content()
    assert "约谈通知书" in text and "因连续两月逾期隐患居全区首位，定于近日约谈府山街道主要负责人。" in text
