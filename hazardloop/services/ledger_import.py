"""Importing a hazard ledger (台账, ``.csv`` or ``.xlsx``) as detection events: the rows are read into contract
events (``hazardloop/importer.py``) and applied as ``apply`` applies a file, all-or-nothing unless ``partial``,
with every problem told in the ledger's own terms (its column headers, its way of writing values)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hazardloop.config.bootstrap import App
from hazardloop.models.core.authz import Principal
from hazardloop.models.core.errors import InvalidInput, Problem, Rejections
from hazardloop.models.store.intake import ApplyReport
from hazardloop.services.hazards import apply_events


@dataclass
class Ledger:
    path: Path
    lines: list[tuple[int, str]]  # numbered contract events, one per row
    columns: dict[str, str]  # event field -> the ledger's column header

    def in_its_terms(self, problem: Problem) -> Problem:
        """A problem of an imported row, told with the ledger's column header and its way of writing values."""
        message = problem.message
        for field, wording, ledger_wording in _LEDGER_WORDING:
            if problem.field == field:
                message = wording.sub(ledger_wording, message)
        field = self.columns.get(problem.field or "", problem.field)
        return Problem(message, problem.source, problem.line, field, problem.refused)


# The validation words a few values in the event's terms; a ledger writes them its own way.
_LEDGER_WORDING = (
    ("hazard.severity", re.compile(r"expected 'general' or 'major'$"), "use 一般 or 重大 (or general / major)"),
    ("at", re.compile(r"\(use ISO 8601 like [^)]*\)$"), "(e.g. 2025-10-13 09:30, or 2025-10-13T09:30:00+08:00)"),
)


def open_ledger(app: App, path: Path) -> Ledger:
    """The ledger's rows as events; a file that cannot be read as a ledger is invalid input naming it."""
    from hazardloop.importer import read_ledger

    if not path.is_file():
        raise InvalidInput([Problem("file not found" if not path.exists() else "not a file", source=str(path))])
    try:
        ledger = read_ledger(path, app.policy.tz, app.policy.fields)
    except InvalidInput:
        raise  # the ledger's own problems (no header, a missing column, not .csv/.xlsx) are already worded
    except UnicodeDecodeError:
        raise InvalidInput(
            [
                Problem(
                    "the CSV file is not UTF-8 text; in Excel use “Save As → CSV UTF-8”, or "
                    "import the .xlsx file directly",
                    source=str(path),
                )
            ]
        ) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidInput([Problem(f"cannot be read as a ledger ({exc})", source=str(path))]) from None
    except Exception as exc:  # openpyxl's InvalidFileException and friends: a damaged or foreign spreadsheet
        raise InvalidInput(
            [Problem(f"cannot be read as a spreadsheet ({type(exc).__name__}: {exc})", source=str(path))]
        ) from None
    return Ledger(path, ledger.lines, ledger.columns)


def import_ledger(
    app: App,
    principal: Principal,
    ledger: Ledger,
    *,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ApplyReport:
    """Apply the ledger's rows (see `open_ledger`) as the principal; problems in the ledger's terms."""
    try:
        report = apply_events(app, principal, ledger.lines, source=str(ledger.path), partial=partial, progress=progress)
    except Rejections as exc:
        raise Rejections([ledger.in_its_terms(p) for p in exc.problems]) from None
    report.rejected = [ledger.in_its_terms(p) for p in report.rejected]
    return report
