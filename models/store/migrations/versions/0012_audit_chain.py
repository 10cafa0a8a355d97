"""append-only, hash-chained audit: chain columns, chain heads, sealed days, triggers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 11:00:00.000000

Every audit row (``transitions``) and every archived notice (``notice_archive``) carries its place in its chain
(``chain_seq``) and its hash (``row_hash``), linked to the previous row of the same chain (one chain per hazard,
per township for a township's own rows, per recipient unit for archived notices; ``models.core.audit_chain``).
``audit_heads`` holds each chain's last position and hash, where writers link their next row. ``audit_roots``
holds one root per sealed day. The archive keeps the exact bytes handed to the mail server (``message``) and
their SHA-256 from now on; notices archived before this revision have only their text.

``recorded_at`` and ``archived_at`` get an index: sealing a day reads that day's rows only.

Rows already stored get their chains here, in the order they were written (by id). Then triggers make
``transitions``, ``notice_archive`` and ``audit_roots`` append-only: UPDATE and DELETE (and TRUNCATE on
PostgreSQL) are refused by the database itself. The engine never needs either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CHAIN = (("chain_seq", sa.Integer()), ("row_hash", sa.String(length=64)))


def upgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        for name, kind in _CHAIN:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("notice_archive") as batch:
        batch.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("message_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("chain", sa.String(length=100), nullable=True))
        for name, kind in _CHAIN:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"),
    )
    op.create_table(
        "audit_roots",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_transitions_recorded_at", "transitions", ["recorded_at"])
    op.create_index("ix_notice_archive_archived_at", "notice_archive", ["archived_at"])
    conn = op.get_bind()
    _chain_existing_rows(conn)
    from hazardloop.models.store.audit import create_append_only_triggers

    create_append_only_triggers(conn)


def _chain_existing_rows(conn: sa.Connection) -> None:
    """Stamp the rows written before this revision, in the order they were written, and record the heads."""
    from hazardloop.models.core.audit_chain import (
        NOTICE,
        NOTICE_FIELDS,
        TRANSITION,
        TRANSITION_FIELDS,
        notice_chain,
        stamp,
        transition_chain,
    )
    from hazardloop.models.store.tables import NoticeArchiveRow, NoticeRow, TransitionRow

    heads: dict[str, tuple[int, str]] = {}
    t = TransitionRow.__table__
    batch: list[dict] = []
    for row in conn.execute(sa.select(t.c.id, *(t.c[name] for name in TRANSITION_FIELDS)).order_by(t.c.id)):
        batch.append(dict(row._mapping))
        if len(batch) >= 5000:
            _stamp_transitions(conn, t, batch, heads, stamp, TRANSITION, TRANSITION_FIELDS, transition_chain)
            batch = []
    _stamp_transitions(conn, t, batch, heads, stamp, TRANSITION, TRANSITION_FIELDS, transition_chain)
    a, n = NoticeArchiveRow.__table__, NoticeRow.__table__
    archived = [
        dict(row._mapping) | {"chain": notice_chain(row.recipient_code)}
        for row in conn.execute(
            sa.select(*(a.c[name] for name in NOTICE_FIELDS if name != "message_sha256"), n.c.recipient_code)
            .join(n, n.c.id == a.c.notice_id)
            .order_by(a.c.archived_at, a.c.notice_id)
        )
    ]
    stamp(NOTICE, archived, lambda row: row["chain"], heads, NOTICE_FIELDS)
    if archived:
        conn.execute(
            a.update().where(a.c.notice_id == sa.bindparam("b_id")),
            [
                {"b_id": r["notice_id"], "chain": r["chain"], "chain_seq": r["chain_seq"], "row_hash": r["row_hash"]}
                for r in archived
            ],
        )
    if heads:
        h = sa.table("audit_heads", sa.column("chain"), sa.column("seq"), sa.column("row_hash"))
        conn.execute(h.insert(), [{"chain": c, "seq": s, "row_hash": x} for c, (s, x) in sorted(heads.items())])


def _stamp_transitions(conn, t, batch, heads, stamp, kind, fields, transition_chain) -> None:  # type: ignore[no-untyped-def]
    if not batch:
        return
    stamp(kind, batch, lambda row: transition_chain(row["hazard_id"], row["township_code"]), heads, fields)
    conn.execute(
        t.update().where(t.c.id == sa.bindparam("b_id")),
        [{"b_id": r["id"], "chain_seq": r["chain_seq"], "row_hash": r["row_hash"]} for r in batch],
    )


def downgrade() -> None:
    from hazardloop.models.store.audit import drop_append_only_triggers

    conn = op.get_bind()
    drop_append_only_triggers(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS hazardloop_append_only()")
    op.drop_table("audit_roots")
    op.drop_table("audit_heads")
    op.drop_index("ix_notice_archive_archived_at", table_name="notice_archive")
    op.drop_index("ix_transitions_recorded_at", table_name="transitions")
    with op.batch_alter_table("notice_archive") as batch:
        for name, _kind in reversed(_CHAIN):
            batch.drop_column(name)
        batch.drop_column("chain")
        batch.drop_column("message_sha256")
        batch.drop_column("message")
    with op.batch_alter_table("transitions") as batch:
        for name, _kind in reversed(_CHAIN):
            batch.drop_column(name)
