"""The append-only, hash-chained audit: every single edit, deletion, insertion or reordering of audit rows or
archived notices, made behind the engine's back (the triggers dropped, as a database administrator could), is
found and named by ``verify-audit``; on SQLite and PostgreSQL alike. Databases are built from generated event
sequences, each example on a fresh copy of one prepared database."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from hazardloop.config.bootstrap import App, bootstrap
from hazardloop.models.core.audit_chain import Finding, day_root
from hazardloop.models.store.audit import drop_append_only_triggers
from hazardloop.models.store.db import downgrade, unit_of_work, upgrade
from hazardloop.models.store.intake import apply_lines
from hazardloop.models.store.org_sync import sync_units
from hazardloop.models.store.outbox import SqlOutbox
from hazardloop.models.store.sweep import sweep
from hazardloop.notifications.dispatch import dispatch
from hazardloop.notifications.mailers import MemoryBackend
from hazardloop.services.audit import verify_audit
from tests.support import templates
from tests.support.factories import COUNTY_CODE, TOWNSHIP, full_loop
from tests.support.fixtures import CONFIG_DIR, pg_database

APPLIED_AT = datetime.fromisoformat("2025-03-10T12:00:00+08:00")
SWEPT_AT = datetime.fromisoformat("2025-04-15T09:00:00+08:00")
EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- building databases ------------------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few hazards, each carried some way along its loop (detect, acknowledge, submit, fail and resubmit,
    pass), sometimes a township listed: reminders, supervision and notices follow from the sweep."""
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 3))):
        loop = full_loop(f"AUD-{uuid.uuid4().hex[:6]}-{n}", day=f"2025-03-0{3 + n}", fail_once=draw(st.booleans()))
        events += loop[: draw(st.integers(1, len(loop)))]
    if draw(st.booleans()):
        events.append(
            {
                "type": "township.listed",
                "event_id": f"list-{uuid.uuid4().hex[:8]}",
                "at": "2025-03-07T10:00:00+08:00",
                "actor": COUNTY_CODE,
                "township": TOWNSHIP,
                "reason": "隐患整改滞后",
            }
        )
    return events


def build(app: App, events: list[dict[str, Any]]) -> None:
    import json

    lines = [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events, start=1)]
    apply_lines(app.engine, app.rules, lines, source="generated", now=APPLIED_AT, partial=True)
    sweep(app.engine, app.rules, SWEPT_AT)
    dispatch(
        SqlOutbox(app.engine),
        app.rules,
        MemoryBackend(),
        app.renderer,
        SWEPT_AT,
        delivery=app.delivery,
        clock=app.clock,
    )


class Databases:
    """Fresh copies of one prepared (migrated, organisation loaded) database."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind, self.workdir = kind, workdir
        self._made: list[str] = []
        if kind == "sqlite":
            self.template = workdir / "template.db"
            self._prepare(f"sqlite:///{self.template}")
        else:
            self._pg = pg_database()
            self.template_url = self._pg.__enter__()
            self._prepare(self.template_url)

    def _prepare(self, url: str) -> None:
        app = bootstrap(db=url, config_dir=CONFIG_DIR)
        upgrade(app.engine)
        sync_units(app.engine, app.org)
        app.close()

    @contextmanager
    def fresh(self) -> Iterator[App]:
        name = f"hz_audit_{uuid.uuid4().hex[:10]}"
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copy(self.template, path)
            url = f"sqlite:///{path}"
        else:
            import psycopg

            template = self.template_url.rsplit("/", 1)[1]
            with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            url = self.template_url.rsplit("/", 1)[0] + f"/{name}"
        app = bootstrap(db=url, config_dir=CONFIG_DIR)
        try:
            yield app
        finally:
            app.close()
            if self.kind == "sqlite":
                path.unlink()
            else:
                templates.drop_later(name)

    def close(self) -> None:
        if self.kind != "sqlite":
            self._pg.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    made = Databases(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()


# --- tampering as a database administrator would -----------------------------------------------------------


@dataclass
class Tamper:
    """What was done, and what a finding must name: the row, or the chain and position that went missing."""

    what: str
    row_ids: tuple[int, ...] = ()
    chain: str | None = None
    seq: int | None = None

    def named_by(self, findings: list[Finding]) -> bool:
        if self.row_ids:
            return all(any(f.row_id == r for f in findings) for r in self.row_ids)
        return any(f.chain == self.chain and f.seq == self.seq and f.what == "removed" for f in findings)


_TRANSITION_EDITS = {
    "reason": "'改过的理由'",
    "actor": "'SX/冒名者'",
    "action": "'forged.action'",
    "to_state": "'forged'",
    "level": "'forged'",
    "event_id": "'forged-event'",
    "at": "'2025-01-01 00:00:00.000000'",
    "recorded_at": "'2025-01-02 00:00:00.000000'",
    "principal_client": "'10.0.0.66'",
}
_ARCHIVE_EDITS = {
    "text": "'改写的正文'",
    "html": "'<p>改写的正文</p>'",
    "subject": "'改写的标题'",
    "message_id": "'<forged@hazardloop>'",
    "archived_at": "'2025-01-01 00:00:00.000000'",
}


def _chain_of(row: Any) -> str:
    from hazardloop.models.core.audit_chain import transition_chain

    return transition_chain(row.hazard_id, row.township_code)


def tamper(conn: Any, draw: Any) -> Tamper:
    """One change behind the engine's back, chosen by ``draw`` (hypothesis' data)."""
    is_pg = conn.dialect.name == "postgresql"
    drop_append_only_triggers(conn)
    target = draw(st.sampled_from(["transitions", "notice_archive"]))
    if target == "notice_archive" and not conn.execute(text("SELECT count(*) FROM notice_archive")).scalar():
        target = "transitions"
    op = draw(st.sampled_from(["edit", "delete", "insert", "reorder"]))
    if target == "transitions":
        rows = list(conn.execute(text("SELECT * FROM transitions ORDER BY id")))
        row = draw(st.sampled_from(rows))
        if op == "edit":
            column = draw(st.sampled_from(sorted(_TRANSITION_EDITS)))
            value = _TRANSITION_EDITS[column]
            if column in ("at", "recorded_at") and is_pg:
                value = f"TIMESTAMP {value}"
            conn.execute(text(f"UPDATE transitions SET {column} = {value} WHERE id = :id"), {"id": row.id})
            return Tamper("edit", (row.id,))
        if op == "delete":
            conn.execute(text("DELETE FROM transitions WHERE id = :id"), {"id": row.id})
            return Tamper("delete", chain=_chain_of(row), seq=row.chain_seq)
        if op == "insert":
            columns = [c for c in row._fields if c != "id"]
            keep_place = draw(st.booleans())  # a copy claiming the row's place, or a row with no place at all
            new_id = conn.execute(
                text(
                    f"INSERT INTO transitions ({', '.join(columns)}) SELECT "
                    + ", ".join(
                        "'插入的理由'"
                        if c == "reason"
                        else "NULL"
                        if c == "cause_key" or (c in ("chain_seq", "row_hash") and not keep_place)
                        else c
                        for c in columns
                    )
                    + " FROM transitions WHERE id = :id RETURNING id"
                ),
                {"id": row.id},
            ).scalar()
            return Tamper("insert", (new_id,))
        chain_rows = [r for r in rows if _chain_of(r) == _chain_of(row)]
        if len(chain_rows) < 2:
            conn.execute(text("DELETE FROM transitions WHERE id = :id"), {"id": row.id})
            return Tamper("delete", chain=_chain_of(row), seq=row.chain_seq)
        i = draw(st.integers(0, len(chain_rows) - 2))
        a, b = chain_rows[i], chain_rows[i + 1]
        if draw(st.booleans()):  # their places in the chain swapped
            conn.execute(text("UPDATE transitions SET chain_seq = :s WHERE id = :id"), {"s": b.chain_seq, "id": a.id})
            conn.execute(text("UPDATE transitions SET chain_seq = :s WHERE id = :id"), {"s": a.chain_seq, "id": b.id})
        else:  # their places in the table swapped
            conn.execute(text("UPDATE transitions SET id = -1 WHERE id = :id"), {"id": a.id})
            conn.execute(text("UPDATE transitions SET id = :a WHERE id = :b"), {"a": a.id, "b": b.id})
            conn.execute(text("UPDATE transitions SET id = :b WHERE id = -1"), {"b": b.id})
        return Tamper("reorder", (a.id, b.id))
    rows = list(conn.execute(text("SELECT * FROM notice_archive ORDER BY notice_id")))
    row = draw(st.sampled_from(rows))
    if op == "edit":
        column = draw(st.sampled_from([*sorted(_ARCHIVE_EDITS), "message"]))
        if column == "message":
            conn.execute(
                text("UPDATE notice_archive SET message = :m WHERE notice_id = :id"),
                {"m": bytes(row.message).replace(b"Subject", b"Subjekt"), "id": row.notice_id},
            )
        else:
            value = _ARCHIVE_EDITS[column]
            if column == "archived_at" and is_pg:
                value = f"TIMESTAMP {value}"
            conn.execute(
                text(f"UPDATE notice_archive SET {column} = {value} WHERE notice_id = :id"), {"id": row.notice_id}
            )
        return Tamper("edit", (row.notice_id,))
    if op == "delete":
        conn.execute(text("DELETE FROM notice_archive WHERE notice_id = :id"), {"id": row.notice_id})
        return Tamper("delete", chain=row.chain, seq=row.chain_seq)
    if op == "insert":
        # an archived copy for a notice that never went out (or one more for a notice that did, renumbered)
        unsent = conn.execute(
            text("SELECT id FROM notices WHERE id NOT IN (SELECT notice_id FROM notice_archive) ORDER BY id")
        ).scalar()
        if unsent is None:
            unsent = _copied_notice(conn, row.notice_id)
        columns = [c for c in row._fields if c != "notice_id"]
        conn.execute(
            text(
                f"INSERT INTO notice_archive (notice_id, {', '.join(columns)}) SELECT :new, {', '.join(columns)} "
                "FROM notice_archive WHERE notice_id = :id"
            ),
            {"new": unsent, "id": row.notice_id},
        )
        return Tamper("insert", (unsent,))
    chain_rows = [r for r in rows if r.chain == row.chain]
    if len(chain_rows) < 2:
        conn.execute(text("DELETE FROM notice_archive WHERE notice_id = :id"), {"id": row.notice_id})
        return Tamper("delete", chain=row.chain, seq=row.chain_seq)
    chain_rows.sort(key=lambda r: r.chain_seq)
    i = draw(st.integers(0, len(chain_rows) - 2))
    a, b = chain_rows[i], chain_rows[i + 1]
    for r, seq in ((a, b.chain_seq), (b, a.chain_seq)):
        conn.execute(
            text("UPDATE notice_archive SET chain_seq = :s WHERE notice_id = :id"), {"s": seq, "id": r.notice_id}
        )
    return Tamper("reorder", (a.notice_id, b.notice_id))


def _copied_notice(conn: Any, notice_id: int) -> int:
    row = conn.execute(text("SELECT * FROM notices WHERE id = :id"), {"id": notice_id}).first()
    columns = [c for c in row._fields if c not in ("id", "key", "number")]
    return conn.execute(
        text(
            f"INSERT INTO notices (key, number, {', '.join(columns)}) SELECT key || '-copy', number || '-copy', "
            f"{', '.join(columns)} FROM notices WHERE id = :id RETURNING id"
        ),
        {"id": notice_id},
    ).scalar()


# --- the properties ----------------------------------------------------------------------------------------


@EXAMPLES
@given(events=histories(), data=st.data())
def test_any_single_tampering_is_found_and_named(databases: Databases, events: list[dict[str, Any]], data: Any) -> None:
    with databases.fresh() as app:
        build(app, events)
        before = verify_audit(app)
        assert before.intact, [f.sentence() for f in before.findings]
        assert before.transitions > 0
        with unit_of_work(app.engine) as conn:
            done = tamper(conn, data.draw)
        after = verify_audit(app)
        assert not after.intact, f"{done} went unnoticed"
        assert done.named_by(after.findings), (done, [f.as_dict() for f in after.findings])
        assert all(f.detail for f in after.findings)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_database_refuses_to_change_or_remove_audit_rows(db: str, tmp_path: Path) -> None:
    from sqlalchemy.exc import DBAPIError

    made = Databases(db, tmp_path)
    try:
        with made.fresh() as app:
            build(app, full_loop("AUD-TRIG"))
            for sql in (
                "UPDATE transitions SET reason = 'x'",
                "DELETE FROM transitions",
                "UPDATE notice_archive SET text = 'x'",
                "DELETE FROM notice_archive",
                "INSERT INTO audit_roots (day, root, transitions, notices, sealed_at) "
                f"VALUES ('2025-01-01', '{day_root([])}', 0, 0, '2025-01-02 00:00:00')",
                "UPDATE audit_roots SET root = 'y'",
                "DELETE FROM audit_roots",
            ):
                if sql.startswith("INSERT"):
                    with unit_of_work(app.engine) as conn:
                        conn.execute(text(sql))  # inserting is what the engine does: allowed
                    continue
                with pytest.raises(DBAPIError, match="append-only"), unit_of_work(app.engine) as conn:
                    conn.execute(text(sql))
            if db == "postgres":
                with pytest.raises(DBAPIError, match="append-only"), unit_of_work(app.engine) as conn:
                    conn.execute(text("TRUNCATE transitions"))
            with unit_of_work(app.engine, write=False) as conn:
                assert conn.execute(text("SELECT count(*) FROM transitions")).scalar() > 0
                assert conn.execute(text("SELECT count(*) FROM notice_archive")).scalar() > 0
            assert verify_audit(app).intact
    finally:
        made.close()


# --- anchors, the migration, the command and the weekly check ----------------------------------------------

REPORTED_AT = datetime.fromisoformat("2025-04-16T08:00:00+08:00")


def _rewrite_history_perfectly(conn: Any, tz: Any, now: datetime) -> None:
    """What a database administrator who knows the algorithm can do: change a row of a sealed day, then recompute
    every chain, every head and every sealed root so that the database agrees with itself again."""
    from hazardloop.models.core.audit_chain import TRANSITION, TRANSITION_FIELDS, stamp
    from hazardloop.models.store.audit import seal_days
    from hazardloop.models.store.tables import TransitionRow

    drop_append_only_triggers(conn)
    first = conn.execute(text("SELECT min(id) FROM transitions")).scalar()
    conn.execute(text("UPDATE transitions SET reason = '改写过的历史' WHERE id = :id"), {"id": first})
    t = TransitionRow.__table__
    from sqlalchemy import bindparam, select

    rows = [
        dict(r._mapping) for r in conn.execute(select(t.c.id, *(t.c[n] for n in TRANSITION_FIELDS)).order_by(t.c.id))
    ]
    heads: dict[str, tuple[int, str]] = {}
    stamp(TRANSITION, rows, _row_chain, heads, TRANSITION_FIELDS)
    conn.execute(
        t.update().where(t.c.id == bindparam("b_id")),
        [{"b_id": r["id"], "chain_seq": r["chain_seq"], "row_hash": r["row_hash"]} for r in rows],
    )
    for chain, (seq, row_hash) in heads.items():
        conn.execute(
            text("UPDATE audit_heads SET seq = :s, row_hash = :h WHERE chain = :c"),
            {"s": seq, "h": row_hash, "c": chain},
        )
    conn.execute(text("DELETE FROM audit_roots"))
    seal_days(conn, tz, now)


def _row_chain(row: dict[str, Any]) -> str:
    from hazardloop.models.core.audit_chain import transition_chain

    return transition_chain(row["hazard_id"], row["township_code"])


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_days_anchor_kept_elsewhere_finds_a_later_rewrite_of_that_day(db: str, tmp_path: Path) -> None:
    from hazardloop.services.audit import anchor_path, seal_and_anchor

    made = Databases(db, tmp_path)
    try:
        with made.fresh() as app:
            app.settings = app.settings.model_copy(update={"audit_anchor_file": tmp_path / "anchors.jsonl"})
            build(app, full_loop("AUD-ANCHOR", fail_once=True))
            sealed = seal_and_anchor(app, REPORTED_AT)
            assert {d.day for d in sealed} >= {"2025-03-10", "2025-04-15"}
            city_copy = tmp_path / "city-office-copy.jsonl"
            shutil.copy(anchor_path(app), city_copy)
            assert verify_audit(app, anchor=city_copy).intact
            with unit_of_work(app.engine) as conn:
                _rewrite_history_perfectly(conn, app.policy.tz, REPORTED_AT)
            assert verify_audit(app).intact  # the database agrees with itself: only the copy outside can tell
            report = verify_audit(app, anchor=city_copy)
            assert not report.intact
            days = {f.chain for f in report.findings if f.what == "root"}
            assert "day:2025-03-10" in days
            assert any("rewritten" in f.detail for f in report.findings)
    finally:
        made.close()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_migration_chains_rows_written_before_it_as_the_engine_would(db: str, tmp_path: Path) -> None:

    made = Databases(db, tmp_path)
    try:
        with made.fresh() as app:
            build(app, full_loop("AUD-MIG-1") + full_loop("AUD-MIG-2", fail_once=True))
            with unit_of_work(app.engine, write=False) as conn:
                written = list(conn.execute(text("SELECT id, chain_seq, row_hash FROM transitions ORDER BY id")))
            downgrade(app.engine, "0011")
            with unit_of_work(app.engine, write=False) as conn:
                columns = list(conn.execute(text("SELECT * FROM transitions")).keys())
                assert "row_hash" not in columns
            upgrade(app.engine)  # an existing database gets its chains built
            with unit_of_work(app.engine, write=False) as conn:
                rebuilt = list(conn.execute(text("SELECT id, chain_seq, row_hash FROM transitions ORDER BY id")))
                archived = conn.execute(text("SELECT count(*) FROM notice_archive WHERE row_hash IS NULL")).scalar()
            assert rebuilt == written
            assert archived == 0
            assert verify_audit(app).intact
            with pytest.raises(Exception, match="append-only"), unit_of_work(app.engine) as conn:
                conn.execute(text("DELETE FROM transitions"))
    finally:
        made.close()


def test_verify_audit_command_says_intact_or_names_what_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from tests.support.fixtures import initialised_cli, write_events

    cli = initialised_cli(f"sqlite:///{tmp_path / 'cmd.db'}", tmp_path, monkeypatch)
    cli.ok("apply", str(write_events(tmp_path / "ev.jsonl", full_loop("AUD-CLI"))), now="2025-03-10T12:00:00+08:00")
    result = cli.ok("verify-audit")
    assert "intact" in result.stdout
    app = bootstrap(db=cli.db, config_dir=CONFIG_DIR)
    with unit_of_work(app.engine) as conn:
        drop_append_only_triggers(conn)
        target = conn.execute(text("SELECT id, hazard_id FROM transitions ORDER BY id LIMIT 1 OFFSET 1")).first()
        conn.execute(text("UPDATE transitions SET actor = 'SX/冒名者' WHERE id = :id"), {"id": target.id})
    app.close()
    result = cli("verify-audit")
    assert result.exit_code == 5
    assert f"hazard {target.hazard_id}: audit row {target.id} (position 2)" in result.stdout
    assert "changed" in result.stdout
    data = json.loads(cli("verify-audit", "--json").stdout)
    assert data["intact"] is False and data["findings"][0]["row"] == target.id
    assert cli("verify-audit", "--since", "2025-03-11").exit_code == 0  # nothing recorded since then
    bad = tmp_path / "bad-anchor.jsonl"
    bad.write_text('{"day": "2025-03-10"}\n', encoding="utf-8")
    refused = cli("verify-audit", "--anchor", str(bad))
    assert refused.exit_code == 2 and "line 1" in refused.stderr
    assert cli("verify-audit", "--since", "March").exit_code == 2


def test_a_daily_report_sent_by_hand_anchors_its_day_as_the_scheduled_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.fixtures import initialised_cli, write_events

    cli = initialised_cli(f"sqlite:///{tmp_path / 'sent.db'}", tmp_path, monkeypatch)
    cli.ok("apply", str(write_events(tmp_path / "ev.jsonl", full_loop("AUD-SENT"))), now="2025-03-10T12:00:00+08:00")
    anchors = tmp_path / "audit-anchors.jsonl"  # beside the mail folder (tmp_path/outbox)
    assert not anchors.exists()
    cli.ok("report", "daily", "--send", now="2025-03-11T08:00:00+08:00")
    days = [line["day"] for line in map(json.loads, anchors.read_text(encoding="utf-8").splitlines())]
    assert days == ["2025-03-10"]
    mailed = [p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "outbox").glob("*.eml")]
    assert mailed and all("2025-03-10" in text for text in mailed)
    checked = cli.ok("verify-audit", "--anchor", str(anchors))
    assert "1 anchored day(s)" in checked.stdout
    cli.ok("report", "daily", "--send", now="2025-03-11T09:00:00+08:00")  # sent again: the day is anchored once
    assert anchors.read_text(encoding="utf-8").count("\n") == 1


def test_the_weekly_check_runs_from_the_policy_and_alerts_the_operator(tmp_path: Path) -> None:
    from hazardloop.flows.scheduler import build_jobs

    with ready_copy(tmp_path) as app:
        operator = app.policy.notices.model_copy(update={"operator": "ops@sx.example.org"})
        app.policy = app.policy.model_copy(update={"notices": operator})
        build(app, full_loop("AUD-WEEKLY"))
        jobs = {job.name: job for job in build_jobs(app, use_prefect=False)}
        assert jobs["verify_audit"].cron == "0 3 * * 0"
        clean = jobs["verify_audit"].run(REPORTED_AT)
        assert clean["intact"] is True and "operator_alerted" not in clean
        assert (tmp_path / "anchors.jsonl").read_text(encoding="utf-8").count("\n") == len({"2025-03-10", "2025-04-15"})
        with unit_of_work(app.engine) as conn:
            drop_append_only_triggers(conn)
            conn.execute(text("DELETE FROM transitions WHERE id = (SELECT max(id) FROM transitions)"))
        summary = jobs["verify_audit"].run(REPORTED_AT)
        assert summary["intact"] is False and summary["operator_alerted"] is True
        alerts = list((tmp_path / "mail").glob("*.eml"))
        assert len(alerts) == 1
        import email
        import email.policy

        mail = email.message_from_bytes(alerts[0].read_bytes(), policy=email.policy.default)
        assert mail["To"] == "ops@sx.example.org" and "审计记录核验未通过" in mail["Subject"]
        body = mail.get_body(("plain",)).get_content()
        assert "removed" in body and "hazardloop verify-audit --anchor" in body


@contextmanager
def ready_copy(tmp_path: Path) -> Iterator[App]:
    from hazardloop.config.settings import Settings

    url = f"sqlite:///{tmp_path / 'weekly.db'}"
    settings = Settings(database_url=url, mail_dir=tmp_path / "mail", audit_anchor_file=tmp_path / "anchors.jsonl")
    app = bootstrap(config_dir=CONFIG_DIR, settings=settings)
    upgrade(app.engine)
    sync_units(app.engine, app.org)
    try:
        yield app
    finally:
        app.close()


def test_the_daily_report_carries_the_days_root(tmp_path: Path) -> None:
    from hazardloop.flows.reports import run_report
    from hazardloop.models.store.audit import sealed_roots

    with ready_copy(tmp_path) as app:
        build(app, full_loop("AUD-DAILY"))
        run = run_report(app.engine, app.rules, "daily", datetime.fromisoformat("2025-03-11T08:00:00+08:00"))
        with unit_of_work(app.engine, write=False) as conn:
            (day,) = sealed_roots(conn, ["2025-03-10"])
            contexts = [r.context for r in conn.execute(text("SELECT context FROM notices WHERE kind = 'report'"))]
        assert run.queued and len(contexts) == len(run.queued)
        import json

        assert all(json.loads(c)["audit_root"]["root"] == day.root for c in contexts)
        rendered = app.renderer.render("report", _document(app, json.loads(contexts[0])))
        assert f"当日审计根哈希：{day.root}" in rendered.text
        assert day.root in rendered.html


def _document(app: App, context: dict[str, Any]) -> dict[str, Any]:
    from hazardloop.notifications.dispatch import document_context

    return document_context(context, app.rules)


def test_the_archive_keeps_the_exact_bytes_handed_to_the_mail_server(tmp_path: Path) -> None:
    import hashlib

    with ready_copy(tmp_path) as app:
        backend = MemoryBackend()
        import json

        lines = [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(full_loop("AUD-BYTES"), start=1)]
        apply_lines(app.engine, app.rules, lines, source="t", now=APPLIED_AT)
        dispatch(
            SqlOutbox(app.engine), app.rules, backend, app.renderer, APPLIED_AT, delivery=app.delivery, clock=app.clock
        )
        from hazardloop.notifications.messages import smtp_bytes

        sent = {hashlib.sha256(smtp_bytes(m)).hexdigest() for m in backend.outbox}
        with unit_of_work(app.engine, write=False) as conn:
            archived = list(conn.execute(text("SELECT message, message_sha256 FROM notice_archive")))
        assert len(archived) == len(backend.outbox) > 0
        assert {hashlib.sha256(m).hexdigest() for m, _ in archived} == sent
        assert all(hashlib.sha256(m).hexdigest() == digest for m, digest in archived)
