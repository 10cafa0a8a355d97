"""Commands for the periodic analysis and the ledger: ``report PERIOD`` and ``ledger --out FILE.xlsx``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hazardloop.cli_app import app, err, handled, out, print_json, ready
from hazardloop.models.core.errors import InvalidInput, Problem
from hazardloop.services.identity import cli_principal
from hazardloop.terminal import styled


def _pct(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "—"


def _change(comparison: dict[str, Any] | None, key: str) -> str:
    if comparison is None or comparison["change"][key] is None:
        return "—"
    value = comparison["change"][key]
    if key.endswith("_rate"):
        return f"{value * 100:+.1f} pt"
    return f"{value:+d}"


_ROWS = (
    ("new", "新发现 new"),
    ("cleared", "销号 cleared"),
    ("invalidated", "作废 invalidated"),
    ("open", "期末在办 open at end"),
    ("overdue", "期末逾期 overdue at end"),
    ("overdue_major", "  重大逾期 major overdue"),
    ("clearance_rate", "销号率 clearance rate"),
    ("on_time_rate", "按期销号率 on-time rate"),
    ("rework_rate", "返工率 rework rate"),
)


def _print_summary(figures: dict[str, Any]) -> None:
    t, period, scope = figures["totals"], figures["period"], figures["scope"]
    prev, last = figures["comparisons"]["previous"], figures["comparisons"]["last_year"]
    out.print(
        styled(
            (f"{scope['name']} {period['title']} 风险隐患{period['kind_cn']}研判", "bold"),
            f" ({period['start']} – {period['end']}, {period['kind']} {period['label']})",
        )
    )
    table = Table(header_style="bold")
    for col in ("figure", "this period", "previous", "change", "last year", "change"):
        table.add_column(col, justify="right" if col != "figure" else "left")
    for key, label in _ROWS:
        rate = key.endswith("_rate")
        show = _pct if rate else str
        table.add_row(
            label,
            show(t[key]),
            show(prev["totals"][key]) if prev else "—",
            _change(prev, key),
            show(last["totals"][key]) if last else "—",
            _change(last, key),
        )
    out.print(table)
    esc = t["escalations"]
    out.print(
        f"reminders {t['reminders']}, supervisions {t['supervisions']}, escalations {esc['total']} "
        f"(township {esc['township']}, county {esc['county']}, city {esc['city']}; manual {esc['manual']}); "
        f"extensions asked {t['extensions_requested']}, granted {t['extensions_granted']}, "
        f"refused {t['extensions_refused']}; townships listed {t['townships_listed']}, "
        f"delisted {t['townships_delisted']}, under listing at end {t['townships_under_listing']}",
        highlight=False,
    )
    ranks = figures["rankings"]
    if ranks["clearance_worst"]:
        worst = "、".join(f"{r['name']} {_pct(r['clearance_rate'])}" for r in ranks["clearance_worst"])
        out.print(f"lowest clearance rates: {worst}", highlight=False)
    if ranks["overdue_most"]:
        most = "、".join(f"{r['name']} {r['overdue']}" for r in ranks["overdue_most"])
        out.print(f"most overdue: {most}", highlight=False)


@app.command("report")
@handled
def report_cmd(
    ctx: typer.Context,
    period_kind: Annotated[str, typer.Argument(metavar="PERIOD", help="daily, weekly, monthly or quarterly")],
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="which period: 2025-09-14, 2025-W38, 2025-09 or 2025-Q3 "
            "(default: the last complete one before --now, in the policy's time zone)",
        ),
    ] = None,
    scope: Annotated[
        str | None, typer.Option("--scope", help="city (default), a county or a township, by code or name")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="write report.html, report.txt, figures.json and the charts here")
    ] = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="mail the report (to the city and every county, or only --scope), once per period: a report "
            "queued or sent before for the period is not sent again",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Build the periodic analysis (日、周、月、季研判) as of --now; --send mails it."""
    from hazardloop.services.reports import build_report

    application = ready(ctx)
    done = build_report(
        application, cli_principal(application), period_kind, period=period, scope=scope, out_dir=out_dir, send=send
    )
    figures, notices = done.figures, done.notices
    if as_json:
        print_json({**figures, "notices": notices} if notices is not None else figures)
    else:
        _print_summary(figures)
        if done.written is not None:
            out.print(f"wrote {', '.join(str(p) for p in done.written)}", highlight=False)
        if notices is not None:
            for n in notices["queued"]:
                out.print(f"queued {n['number']} for {n['scope']} → {', '.join(n['to'])}", highlight=False)
            for n in notices["already_queued"]:
                out.print(f"already queued earlier: {n['number']} for {n['scope']}", highlight=False)
            sent = notices["dispatch"]
            out.print(f"mailed {sent['sent']}, {sent['retrying']} to retry, {sent['failed']} failed", highlight=False)
            for line in (done.mail_errors or [])[:20]:
                err.print(f"  {line}", markup=False, highlight=False)


@app.command("ledger")
@handled
def ledger_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="the .xlsx file to write")],
    township: Annotated[str | None, typer.Option("--township", help="only this township (name or code)")] = None,
    county: Annotated[str | None, typer.Option("--county", help="only this county (name or code)")] = None,
    state: Annotated[str | None, typer.Option("--state", help="only these state(s), comma-separated")] = None,
) -> None:
    """Write the hazard ledger (隐患台账) as an Excel file: one sheet per county for the whole city."""
    from hazardloop.services.reports import ledger_workbook

    if out_file.suffix.lower() != ".xlsx":
        raise InvalidInput([Problem("the ledger is written as an Excel file; name it *.xlsx", field="--out")])
    application = ready(ctx)
    summary = ledger_workbook(
        application, cli_principal(application), township=township, county=county, state=state, target=out_file
    )
    sheets = ", ".join(f"{name} {count}" for name, count in summary.sheets.items())
    out.print(
        f"wrote {out_file}: {summary.rows} hazard(s) on {len(summary.sheets)} sheet(s) ({sheets})", highlight=False
    )
