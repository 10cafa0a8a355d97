"""Charts for the periodic analysis (研判报告), as PNG bytes for inline mail images and ``--out`` folders.

Headless: figures are built with ``matplotlib.figure.Figure`` and drawn by the Agg renderer, never through
pyplot, so no GUI backend is touched and nothing global is left behind. Chinese labels need a CJK font: the
Noto Sans CJK SC font shipped with the ``mplfonts`` package is registered with matplotlib's font manager
(or, failing that, a CJK font installed on the machine) and used for every label.

The charts are drawn from the figures stored in the report notice's context, so the dispatcher can draw
them again at sending time: ``render_charts(context)`` -> ``{cid: png}``.
"""

from __future__ import annotations

import functools
import io
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("hazardloop.charts")

CHART_TITLES: dict[str, str] = {
    "trend": "新发现与销号隐患趋势",
    "overdue_by_township": "期末逾期隐患（按乡镇街道）",
    "clearance_ranking": "隐患销号率排名（按乡镇街道）",
    "indicators": "指标超限与数据中断（按项目）",
}
_SYSTEM_CJK = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei")
_BLUE, _GREEN, _RED, _DARK_RED, _GREY = "#2f6db5", "#3a9a5b", "#d9534f", "#8b1a1a", "#888888"
_DPI = 110


@functools.cache
def cjk_font() -> str:
    """The family name of a CJK-capable font, registered with matplotlib's font manager once."""
    from matplotlib import font_manager

    try:
        import mplfonts

        path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    except ImportError:
        pass
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in _SYSTEM_CJK:
        if name in installed:
            return name
    log.warning("no CJK font found (install mplfonts or a Noto CJK font): Chinese labels will show as boxes")
    return "DejaVu Sans"


def chart_names(figures: Mapping[str, Any]) -> list[str]:
    """The charts a report shows, in order (also the image ids in the HTML); the indicator chart only when the
    report has an indicator section."""
    return [name for name in CHART_TITLES if name != "indicators" or figures.get("indicators")]


def render_charts(context: Mapping[str, Any]) -> dict[str, bytes]:
    """Chart id (the ``cid:`` of the HTML) -> PNG bytes, for the charts named in ``context['charts']``. A chart
    drawn a moment ago from the same figures is not drawn again (a report written to its folder and then mailed:
    a chart costs about a sixth of a second)."""
    names = context.get("charts") or chart_names(context)
    inputs = _chart_inputs(context)
    charts: dict[str, bytes] = {}
    for name in names:
        png = _AHEAD.pop((name, inputs), None) or _RECENT.pop((name, inputs), None) or render_chart(name, context)
        _RECENT[(name, inputs)] = png  # the most recent last
        while len(_RECENT) > _RECENT_CHARTS:
            del _RECENT[next(iter(_RECENT))]
        charts[name] = png
    return charts


def keep_drawn(context: Mapping[str, Any], charts: Mapping[str, bytes]) -> None:
    """Keep ``charts`` (chart id -> PNG, as ``render_charts(context)`` returned them, say in another process) until
    ``render_charts`` of the same figures takes them, instead of drawing them. Kept apart from the recent charts, so
    that a batch of reports drawn ahead is not pushed out by the first of them; the oldest go beyond a bound."""
    inputs = _chart_inputs(context)
    for name, png in charts.items():
        _AHEAD[(name, inputs)] = png
    while len(_AHEAD) > _AHEAD_CHARTS:
        del _AHEAD[next(iter(_AHEAD))]


_AHEAD: dict[tuple[str, str], bytes] = {}
_AHEAD_CHARTS = 512  # some tens of megabytes at most; the demo's busiest morning has forty
_RECENT: dict[tuple[str, str], bytes] = {}
_RECENT_CHARTS = 64  # a mailing batch of reports (city and counties, four charts each) between a draw and its reuse
_CHART_INPUTS = ("scope", "period", "trend", "by_township", "rankings", "indicators")  # all the drawers read


def _chart_inputs(figures: Mapping[str, Any]) -> str:
    return json.dumps({k: figures.get(k) for k in _CHART_INPUTS}, sort_keys=True, ensure_ascii=False, default=str)


def render_chart(name: str, figures: Mapping[str, Any]) -> bytes:
    try:
        draw = _DRAWERS[name]
    except KeyError:
        raise ValueError(f"unknown chart {name!r}; charts are {', '.join(_DRAWERS)}") from None
    import matplotlib

    family = cjk_font()
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "normal",
        "axes.titlesize": 13,
        "font.size": 10,
    }
    with matplotlib.rc_context(rc):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8.4, 4.6), dpi=_DPI, layout="constrained", facecolor="white")
        canvas = FigureCanvasAgg(fig)
        draw(fig, figures)
        buf = io.BytesIO()
        # Straight to the Agg canvas rather than through ``savefig``: savefig lays the figure out and draws it
        # once with drawing switched off before the real draw (which lays it out again), a fifth of a chart's
        # time; the real draw alone gives the same PNG bytes (the figure is made white and at its dpi already).
        canvas.print_png(buf)
    return buf.getvalue()


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _heading(figures: Mapping[str, Any], name: str) -> str:
    scope = figures.get("scope", {}).get("name", "")
    period = figures.get("period", {}).get("title", "")
    return f"{scope}{period} {CHART_TITLES[name]}"


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, color=_GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _trend(fig: Any, figures: Mapping[str, Any]) -> None:
    trend = figures["trend"]
    ax = fig.add_subplot()
    ax.set_title(_heading(figures, "trend"))
    labels = list(trend["labels"])
    if not labels:
        _empty(ax, "暂无数据")
        return
    xs = range(len(labels))
    width = 0.38
    ax.bar([x - width / 2 for x in xs], trend["new"], width, color=_BLUE, label="新发现")
    ax.bar([x + width / 2 for x in xs], trend["cleared"], width, color=_GREEN, label="销号")
    ax.set_ylabel("隐患数（项）")
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.set_xticks(list(xs), labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    twin = ax.twinx()
    twin.plot(list(xs), trend["open"], color=_RED, marker="o", linewidth=2, label="期末在办")
    twin.set_ylabel("期末在办（项）", color=_RED)
    twin.set_ylim(bottom=0, top=max([*trend["open"], 1]) * 1.15)
    twin.yaxis.set_major_locator(_integer_ticks())
    twin.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", frameon=False, ncols=3)
    ax.set_ylim(top=max([*trend["new"], *trend["cleared"], 1]) * 1.25)


def _overdue(fig: Any, figures: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title(_heading(figures, "overdue_by_township"))
    rows = [r for r in figures["by_township"] if r["overdue"] > 0]
    rows.sort(key=lambda r: (-r["overdue"], r["code"]))
    rows = rows[:15]
    if not rows:
        _empty(ax, "期末无逾期隐患")
        return
    rows.reverse()  # the largest on top
    names = [r["name"] for r in rows]
    general = [r["overdue"] - r["overdue_major"] for r in rows]
    major = [r["overdue_major"] for r in rows]
    height = 0.7 if len(rows) > 3 else 0.4
    ax.barh(names, general, height, color=_RED, label="一般隐患")
    ax.barh(names, major, height, left=general, color=_DARK_RED, label="重大隐患")
    ax.xaxis.set_major_locator(_integer_ticks())
    for y, r in enumerate(rows):
        ax.text(r["overdue"], y, f" {r['overdue']}", va="center", fontsize=9)
    ax.set_xlabel("逾期未整改隐患（项）")
    ax.legend(loc="lower right", frameon=False)
    ax.set_xlim(right=max(r["overdue"] for r in rows) * 1.15 + 1)


def _ranking(fig: Any, figures: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title(_heading(figures, "clearance_ranking"))
    ranked = sorted((r for r in figures["by_township"] if r.get("rank") is not None), key=lambda r: r["rank"])
    if not ranked:
        base = figures.get("rankings", {}).get("min_base", 0)
        _empty(ax, f"暂无可排名的乡镇（街道）（需{base}项以上隐患）")
        return
    if len(ranked) > 20:
        shown = ranked[:10] + ranked[-10:]
        labels = [f"{r['rank']}. {r['name']}" for r in shown]
    else:
        shown = ranked
        labels = [f"{r['rank']}. {r['name']}" for r in shown]
    shown, labels = list(reversed(shown)), list(reversed(labels))  # the best on top
    rates = [float(r["clearance_rate"] or 0) * 100 for r in shown]
    colors = [_GREEN if rate >= 80 else (_BLUE if rate >= 60 else _RED) for rate in rates]
    ax.barh(labels, rates, 0.7 if len(shown) > 3 else 0.4, color=colors)
    for y, rate in enumerate(rates):
        ax.text(rate, y, f" {rate:.1f}%", va="center", fontsize=8)
    ax.set_xlim(0, 112)
    ax.set_xlabel("销号率（%）= 本期销号 ÷（本期销号 + 期末在办）")
    ax.tick_params(axis="y", labelsize=8 if len(shown) > 12 else 10)
    if len(ranked) > 20:
        ax.axhline(9.5, color=_GREY, linestyle="--", linewidth=1)
        ax.text(100, 9.5, f"（共{len(ranked)}个，中间略）", va="bottom", ha="right", fontsize=8, color=_GREY)


def _indicators(fig: Any, figures: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title(_heading(figures, "indicators"))
    projects = (figures.get("indicators") or {}).get("by_project") or []
    if not projects:
        _empty(ax, "本期无监测点")
        return
    labels = [p["name"] for p in reversed(projects)]
    breaches = [p["breaches"] for p in reversed(projects)]
    silent = [p["silent"] for p in reversed(projects)]
    ys = list(range(len(labels)))
    ax.barh([y + 0.2 for y in ys], breaches, 0.4, color=_RED, label="本期超出报警阈值（次）")
    ax.barh([y - 0.2 for y in ys], silent, 0.4, color=_GREY, label="本期未报送数据的监测点（个）")
    ax.set_yticks(ys, labels)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlim(right=max([*breaches, *silent, 1]) * 1.15 + 0.5)
    ax.legend(loc="lower right", frameon=False)


_DRAWERS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "trend": _trend,
    "overdue_by_township": _overdue,
    "clearance_ranking": _ranking,
    "indicators": _indicators,
}
