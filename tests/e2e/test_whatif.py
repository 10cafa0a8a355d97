"""What-if replay, on SQLite and PostgreSQL as the real database: the recorded period replayed under the policy
it ran under reproduces what happened exactly; replayed under a stricter policy it gives the counts worked out by
hand below; refused events are counted and their differences told apart; the real database is left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.factories import detected, event
from tests.support.fixtures import CONFIG_DIR, Cli, initialised_cli, seeded_cli, write_events

UNIT, VERIFIER = "SX-YC-XF", "SX-YC-FS"  # 越城区消防救援大队 answers for fire in 府山街道; the township verifies
NOW = "2025-11-25T12:00:00+08:00"
PERIOD = ("--from", "2025-11-10", "--to", "2025-11-21")  # Mon 10 November to Fri 21 November 2025


def _at(day: int, hour: int) -> str:
    return f"2025-11-{day:02d}T{hour:02d}:00:00+08:00"


# Four fire hazards in 府山街道, detected and acknowledged on Monday 10 November:
#   A is never rectified; B is cleared on the 13th; C on the 17th;
#   D asks for a 10-working-day extension on the 10th, approved on the 11th.
DAYS = {
    10: [
        *(
            e
            for ref in "ABCD"
            for e in (detected(ref, _at(10, 9)), event("hazard.acknowledged", ref, _at(10, 10), UNIT))
        ),
        event("extension.requested", "D", _at(10, 11), UNIT, days=10, reason="需要更换设备"),
    ],
    11: [event("extension.decided", "D", _at(11, 9), VERIFIER, approved=True, reason="同意")],
    13: [
        event("rectification.submitted", "B", _at(13, 10), UNIT, note="已整改", evidence=[]),
        event("verification.passed", "B", _at(13, 15), VERIFIER, note="合格"),
    ],
    17: [
        event("rectification.submitted", "C", _at(17, 10), UNIT, note="已整改", evidence=[]),
        event("verification.passed", "C", _at(17, 15), VERIFIER, note="合格"),
    ],
}


def _policy(folder: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (CONFIG_DIR / "policy.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# The office's policy: the default, listing a township as soon as it has one overdue hazard.
LISTING = ("  max_overdue: 10", "  max_overdue: 0")


@pytest.fixture
def recorded(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The period as it really ran: the sweep every morning at 08:00, each day's events applied that evening."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copy(CONFIG_DIR / "org.yaml", folder / "org.yaml")
    _policy(folder, "policy.yaml", LISTING)
    cli = initialised_cli(db_url, tmp_path, monkeypatch)
    cli.config = folder

    def run_the_period() -> None:
        for day in range(10, 25):
            cli.ok("sweep", now=_at(day, 8))
            if day in DAYS:
                cli.ok(
                    "apply",
                    str(write_events(tmp_path / f"{day}.jsonl", DAYS[day])),
                    now=f"2025-11-{day:02d}T23:59:59+08:00",
                )

    # run by the first test on each backend; the others get a copy of the database it left
    return seeded_cli(cli, "whatif recorded", run_the_period)


def _what_if(cli: Cli, policy: Path, *more: str) -> dict:
    return json.loads(cli.ok("what-if", "--policy", str(policy), *PERIOD, "--json", *more, now=NOW).stdout)


def _totals(result: dict) -> dict[str, tuple[int, int]]:
    return {m["metric"]: (m["real"], m["what_if"]) for m in result["metrics"]}


def test_a_replay_under_the_recorded_policy_reproduces_what_happened(recorded: Cli) -> None:
    before = recorded.export(now=NOW)
    result = _what_if(recorded, recorded.config / "policy.yaml")
    totals = _totals(result)
    # what really happened, by hand: A (due Wed 19th, 7 working days) reminded on the 18th, supervised on the
    # 20th, which lists 府山街道 (one overdue hazard is over the threshold 0); its county elevation (3 working days
    # overdue) falls on the 25th, after the period; C was cleared before its reminder; D's deadline moved on;
    # D's extension request (2 working days to decide, due Wed 12th) reminded 府山街道 on the 11th before it decided
    assert totals == {
        "deadlines_missed": (1, 1),
        "reminders": (2, 2),
        "supervisions": (1, 1),
        "elevations": (0, 0),
        "townships_listed": (1, 1),
    }
    assert result["listed"] == {"real": ["府山街道"], "what_if": ["府山街道"]}
    assert all(n["real"] == n["what_if"] for n in result["notices"])
    assert {n["kind"]: n["real"] for n in result["notices"]}["listing"] == 1
    assert result["by_county"] == [
        {"county": "越城区", **{m: {"real": r, "what_if": w} for m, (r, w) in totals.items()}}
    ]
    assert result["refused"] == {"count": 0, "by_type": {}, "events": []}
    assert recorded.export(now=NOW) == before  # the real database was only read


def test_a_stricter_policy_gives_the_counts_worked_out_by_hand(recorded: Cli, tmp_path: Path) -> None:
    # 3 working days for a general hazard (due Thu 13th), extensions of at most 5 working days
    strict = _policy(
        tmp_path, "strict.yaml", LISTING, ("  general: 7", "  general: 3"), ("  max_days: 30", "  max_days: 5")
    )
    result = _what_if(recorded, strict, "--out", str(tmp_path / "page"))
    # By hand, under the strict policy (sweeps at 08:00):
    #   reminders (one working day before the 13th, on the 12th): A, B, C and D (its extension is refused) = 4
    #   supervisions (the 14th): A, C (submitted only on the 17th) and D = 3; B was cleared on the 13th
    #   elevations to county (3 working days overdue, the 19th): A and D = 2; C was cleared on the 17th
    #   listing: 府山街道 once (on the 14th instead of the 20th)
    # D's refused extension request and decision make D's +1 of each "from invalid events"; for reminders D's
    # real reminder (its extension request's, on the 11th) is replaced by its deadline's, so none of the
    # difference comes from the invalid events.
    assert _totals(result) == {
        "deadlines_missed": (1, 3),
        "reminders": (2, 4),
        "supervisions": (1, 3),
        "elevations": (0, 2),
        "townships_listed": (1, 1),
    }
    split = {m["metric"]: (m["from_policy"], m["from_invalid_events"]) for m in result["metrics"]}
    assert split == {
        "deadlines_missed": (1, 1),
        "reminders": (2, 0),
        "supervisions": (1, 1),
        "elevations": (1, 1),
        "townships_listed": (0, 0),
    }
    assert result["refused"]["by_type"] == {"extension.decided": 1, "extension.requested": 1}
    assert {r["hazard"] for r in result["refused"]["events"]} == {"D"}
    notices = {n["kind"]: (n["real"], n["what_if"]) for n in result["notices"]}
    assert notices["reminder"] == (2, 4) and notices["supervision"] == (1, 3) and notices["elevation"] == (0, 2)
    assert notices["extension_decision"] == (1, 0) and notices["listing"] == (1, 1)
    page = (tmp_path / "page" / "what-if.html").read_text(encoding="utf-8")
    assert "政策推演" in page and "extension.requested" in page
    assert (tmp_path / "page" / "metrics.png").read_bytes().startswith(b"\x89PNG")


def test_what_if_refuses_a_bad_policy_or_period(recorded: Cli, tmp_path: Path) -> None:
    bad = _policy(tmp_path, "bad.yaml", ("  general: 7", "  general: -1"))
    result = recorded("what-if", "--policy", str(bad), *PERIOD, now=NOW)
    assert result.exit_code == 4 and "bad.yaml" in result.stderr and "deadlines.general" in result.stderr
    result = recorded("what-if", "--policy", str(bad.with_name("none.yaml")), *PERIOD, now=NOW)
    assert result.exit_code == 4 and "none.yaml" in result.stderr
    good = recorded.config / "policy.yaml"
    result = recorded("what-if", "--policy", str(good), "--from", "2025-11-21", "--to", "2025-11-10", now=NOW)
    assert result.exit_code == 2 and "--to" in result.stderr
    result = recorded("what-if", "--policy", str(good), "--from", "10/11/2025", "--to", "2025-11-21", now=NOW)
    assert result.exit_code == 2 and "--from" in result.stderr and "is not a date" in result.stderr
