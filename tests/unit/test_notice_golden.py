"""Golden files: the plain-text part and the subject of every notice kind, rendered from a fixed context with
the real templates, must equal the reviewed text in ``tests/golden/``. A template change shows up here as a
diff to read; after reviewing it, regenerate with
``HAZARDLOOP_UPDATE_GOLDEN=1 pytest tests/unit/test_notice_golden.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hazardloop.notifications.rendering import NOTICE_KINDS, NoticeRenderer
from tests.support.notices import sample_context

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_the_text_of_each_notice_kind_is_the_reviewed_one(kind: str) -> None:
    rendered = NoticeRenderer().render(kind, sample_context(kind))
    actual = f"Subject: {rendered.subject}\n\n{rendered.text}"
    path = GOLDEN / f"{kind}.txt"
    if os.environ.get("HAZARDLOOP_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file for {kind}; review the text and run with HAZARDLOOP_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")
