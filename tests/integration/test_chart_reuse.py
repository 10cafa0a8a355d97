"""A chart drawn a moment ago from the same figures is not drawn again (the demo writes its closing reports to
their folders and then mails them); other figures, or figures changed in what a chart reads, are drawn."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hazardloop.notifications import charts


def _figures(scope: str) -> dict[str, Any]:
    return {
        "scope": {"name": scope},
        "period": {"title": "2025年9月"},
        "trend": {"labels": ["2025-09"], "new": [3], "cleared": [2], "open": [1]},
        "by_township": [{"code": "SX-YC-FS", "name": "府山街道", "overdue": 2, "overdue_major": 1}],
        "rankings": {"min_base": 1},
        "charts": ["trend", "overdue_by_township"],
    }


def test_the_same_figures_are_drawn_once_and_others_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    real = charts.render_chart
    monkeypatch.setattr(charts, "render_chart", lambda name, figures: (drawn.append(name), real(name, figures))[1])
    monkeypatch.setattr(charts, "_RECENT", {})

    city = _figures("绍兴市")
    first = charts.render_charts(city)
    assert drawn == ["trend", "overdue_by_township"]
    # the same figures in another document (a folder's file names instead of the mail's cid: references)
    again = charts.render_charts({**city, "image_prefix": "", "image_suffix": ".png", "number": "绍平安〔2025〕7号"})
    assert again == first and drawn == ["trend", "overdue_by_township"]

    county = _figures("越城区")
    assert charts.render_charts(county)["trend"] != first["trend"]  # another heading
    changed = copy.deepcopy(city)
    changed["by_township"][0]["overdue"] = 5
    charts.render_charts(changed)
    assert drawn == ["trend", "overdue_by_township"] * 3
    assert charts.render_charts(changed)["overdue_by_township"] != first["overdue_by_township"]
    assert len(drawn) == 6


def test_only_the_most_recent_charts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "_RECENT", {})
    monkeypatch.setattr(charts, "_RECENT_CHARTS", 2)
    for scope in ("甲", "乙", "丙"):
        charts.render_charts({**_figures(scope), "charts": ["trend"]})
    assert [inputs for (_name, inputs) in charts._RECENT] == [
        charts._chart_inputs(_figures("乙")),
        charts._chart_inputs(_figures("丙")),
    ]


def test_charts_drawn_ahead_are_taken_instead_of_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo draws its reports' charts ahead in worker processes and hands them over with keep_drawn."""
    drawn: list[str] = []
    real = charts.render_chart
    monkeypatch.setattr(charts, "render_chart", lambda name, figures: (drawn.append(name), real(name, figures))[1])
    monkeypatch.setattr(charts, "_RECENT", {})
    monkeypatch.setattr(charts, "_AHEAD", {})
    monkeypatch.setattr(charts, "_RECENT_CHARTS", 2)  # fewer than a report's charts: the kept ones are apart

    city = _figures("绍兴市")
    elsewhere = {"trend": real("trend", city), "overdue_by_township": real("overdue_by_township", city)}
    charts.keep_drawn(city, elsewhere)
    charts.keep_drawn(_figures("越城区"), {"trend": b"not these"})
    assert charts.render_charts(city) == elsewhere and drawn == []
    assert not any(key[1] == charts._chart_inputs(city) for key in charts._AHEAD)  # taken, not kept twice
