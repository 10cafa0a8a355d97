"""The what-if comparison as a page a person can open: ``what-if.html`` with two charts (the measures, real
beside what-if; the same per county), and ``what-if.json``. Jinja with autoescape on: policy paths, township
and county names and refusal reasons are shown as text, never as markup."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape

from hazardloop.notifications.charts import cjk_font

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>政策推演（what-if）{{ r.period.from }}至{{ r.period.to }}</title>
<style>body{font-family:"Noto Sans CJK SC",sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #999;padding:3px 8px;text-align:center}th{background:#f3f3f3}
.neg{color:#3a9a5b}.pos{color:#d9534f}</style></head><body>
<h1>政策推演：{{ r.period.from }}至{{ r.period.to }}</h1>
<p>以 <code>{{ r.policy }}</code> 重放本期已记录的事件（自{{ r.replay.warmup_from }}起预热，共{{ r.replay.events }}条事件、
{{ r.replay.sweeps }}次巡查，每日{{ r.replay.sweep_at | join("、") }}），与实际情况对照。实际数据库只读未改。</p>
<h2>一、主要指标</h2>
<table><tr><th>指标</th><th>实际</th><th>推演</th><th>差异</th><th>其中政策所致</th><th>其中失效事件所致</th></tr>
{% for m in r.metrics %}<tr><td>{{ m.name }}</td><td>{{ m.real }}</td><td>{{ m.what_if }}</td>
<td class="{{ 'pos' if m.difference > 0 else ('neg' if m.difference < 0 else '') }}">{{ "%+d" | format(m.difference) }}</td>
<td>{{ "%+d" | format(m.from_policy) }}</td><td>{{ "%+d" | format(m.from_invalid_events) }}</td></tr>
{% endfor %}</table>
<p><img src="metrics.png" alt="主要指标对照" width="720"></p>
<h2>二、分县（市、区）</h2>
<table><tr><th>县（市、区）</th>{% for m in names %}<th>{{ m }}（实际→推演）</th>{% endfor %}</tr>
{% for c in r.by_county %}<tr><td>{{ c.county }}</td>{% for key in keys %}<td>{{ c[key].real }} → {{ c[key].what_if }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p><img src="by_county.png" alt="分县对照" width="720"></p>
<h2>三、通知文书</h2>
<table><tr><th>类别</th><th>实际</th><th>推演</th></tr>
{% for n in r.notices %}<tr><td>{{ n.kind }}</td><td>{{ n.real }}</td><td>{{ n.what_if }}</td></tr>{% endfor %}</table>
<h2>四、挂牌督办乡镇（街道）</h2>
<p>实际：{{ r.listed.real | join("、") or "无" }}</p><p>推演：{{ r.listed.what_if | join("、") or "无" }}</p>
<h2>五、在新政策下不再有效的事件</h2>
{% if r.refused.count %}<p>共{{ r.refused.count }}条：{% for k, n in r.refused.by_type.items() %}{{ k }} {{ n }}条{% if not loop.last %}；{% endif %}{% endfor %}。
这些事件所涉隐患上的差异计入“失效事件所致”。</p>
<table><tr><th>时间</th><th>事件</th><th>隐患</th><th>原因</th></tr>
{% for e in r.refused.events[:50] %}<tr><td>{{ e.at }}</td><td>{{ e.type }}</td><td>{{ e.hazard or "" }}</td><td style="text-align:left">{{ e.reason }}</td></tr>{% endfor %}</table>
{% else %}<p>所有已记录事件在新政策下均有效，差异全部来自政策本身。</p>{% endif %}
</body></html>
"""  # noqa: E501  (a page's lines are as long as its sentences)
_KEYS = ("deadlines_missed", "reminders", "elevations", "townships_listed")


def write_page(result: Mapping[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {m["metric"]: m["name"] for m in result["metrics"]}
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), undefined=StrictUndefined)
    html = env.from_string(_PAGE).render(r=result, keys=_KEYS, names=[names[k] for k in _KEYS])
    written = []
    for name, draw in (("metrics.png", _metrics), ("by_county.png", _by_county)):
        path = out_dir / name
        path.write_bytes(_png(draw, result))
        written.append(path)
    for name, text in (
        ("what-if.html", html),
        ("what-if.json", json.dumps(result, ensure_ascii=False, indent=1)),
    ):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _png(draw: Any, result: Mapping[str, Any]) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure

    family = cjk_font()
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"],
                                "axes.unicode_minus": False}):  # fmt: skip
        fig = Figure(figsize=(8.4, 4.6), dpi=110, layout="constrained")
        draw(fig, result)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def _bars(ax: Any, labels: list[str], real: list[int], what_if: list[int]) -> None:
    ys = list(range(len(labels)))
    ax.barh([y + 0.2 for y in ys], real, 0.4, color="#888888", label="实际")
    ax.barh([y - 0.2 for y in ys], what_if, 0.4, color="#2f6db5", label="推演")
    ax.set_yticks(ys, labels)
    ax.legend(loc="lower right", frameon=False)


def _metrics(fig: Any, result: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title("主要指标：实际与推演")
    rows = list(reversed(result["metrics"]))
    _bars(ax, [r["name"] for r in rows], [r["real"] for r in rows], [r["what_if"] for r in rows])


def _by_county(fig: Any, result: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title("分县逾期未整改：实际与推演")
    rows = list(reversed(result["by_county"]))
    _bars(
        ax,
        [r["county"] for r in rows],
        [r["deadlines_missed"]["real"] for r in rows],
        [r["deadlines_missed"]["what_if"] for r in rows],
    )
