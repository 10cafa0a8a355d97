"""The persistence mapping (SQLAlchemy 2.0 typed declarative). Alembic owns the schema; these classes
describe it for queries. Instants are stored as UTC and come back as aware UTC datetimes on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored naive UTC so comparisons work everywhere."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; every instant must carry its offset")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return _aware_utc(value)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """The driver's value to an aware UTC instant in one step (the generic decorator takes two calls per value;
        a sweep reads a dozen instants for each of tens of thousands of hazards)."""
        parse = self.impl_instance.result_processor(dialect, coltype)
        if parse is None:
            return _aware_utc

        def parsed_aware(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str) and len(value) >= 19:
                # SQLite's text form with its time of day, read as UTC in one C call: several times faster than
                # parsing and then attaching the zone
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass
            return parse(value).replace(tzinfo=UTC)

        return parsed_aware


def _aware_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class UnitRow(Base):
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # unique among one parent's units (org.yaml), 0013
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(64))
    short: Mapped[str | None] = mapped_column(String(32))
    emails: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class HazardRow(Base):
    __tablename__ = "hazards"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(200))  # unique within its source (uq_hazards_ref_source, 0006)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    # looked up through ix_hazards_township_state (township first): no index of its own (migration 0005)
    township_code: Mapped[str] = mapped_column(String(64), ForeignKey("units.code"))
    county_code: Mapped[str | None] = mapped_column(String(64), ForeignKey("units.code"))
    village: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(200), default="", server_default="")  # '' when none was given
    campaign: Mapped[str | None] = mapped_column(String(200))
    reporter: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(32), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(64), ForeignKey("units.code"), index=True)
    level: Mapped[str] = mapped_column(String(16), default="none")
    detected_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    deadline_set_at: Mapped[datetime | None]
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline_days: Mapped[int] = mapped_column(Integer, default=0)
    deadline_seq: Mapped[int] = mapped_column(Integer, default=0)
    reminded_seq: Mapped[int] = mapped_column(Integer, default=0)
    supervised_seq: Mapped[int] = mapped_column(Integer, default=0)
    assignment_seq: Mapped[int] = mapped_column(Integer, default=0)
    ack_reminded_seq: Mapped[int] = mapped_column(Integer, default=0)
    overdue_since: Mapped[datetime | None]
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_days_granted: Mapped[int] = mapped_column(Integer, default=0)
    pending_extension_days: Mapped[int | None] = mapped_column(Integer)
    pending_extension_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]
    verify_due_at: Mapped[datetime | None]
    verify_seq: Mapped[int] = mapped_column(Integer, default=0)
    verify_reminded_seq: Mapped[int] = mapped_column(Integer, default=0)
    verify_supervised_seq: Mapped[int] = mapped_column(Integer, default=0)
    extension_due_at: Mapped[datetime | None]
    extension_reminded_seq: Mapped[int] = mapped_column(Integer, default=0)
    extension_supervised_seq: Mapped[int] = mapped_column(Integer, default=0)
    rungs_fired: Mapped[str] = mapped_column(Text, default="", server_default="")  # migration 0011
    cleared_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_step: Mapped[str | None] = mapped_column(String(40))  # migration 0006
    last_step_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None]

    __table_args__ = (
        # a source reference names one hazard within its source; ref first, so bare references are looked up by it
        UniqueConstraint("ref", "source", name="uq_hazards_ref_source"),
        Index("ix_hazards_township_state", "township_code", "state"),
        # the sweep's batch order: hazards due on the same day share one instant (migration 0004)
        Index("ix_hazards_next_action", "next_action_at", "id"),
        # the API's and the console's pages, keyset in detection order (migration 0007)
        Index("ix_hazards_detected", "detected_at", "id"),
    )


class EventRow(Base):
    """The inbox: every applied event, by its idempotency key, with what it did."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    hazard_id: Mapped[str | None] = mapped_column(String(32), index=True)
    township_code: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)
    # the principal that caused it (migration 0007): account, token or session id, token|session|cli|flow, client
    principal_account: Mapped[int | None] = mapped_column(Integer)
    principal_credential: Mapped[str | None] = mapped_column(String(64))
    principal_via: Mapped[str | None] = mapped_column(String(16))
    principal_client: Mapped[str | None] = mapped_column(String(200))


class TransitionRow(Base):
    """The append-only audit trail."""

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hazard_id: Mapped[str | None] = mapped_column(String(32), index=True)
    township_code: Mapped[str | None] = mapped_column(String(64))  # read in whole periods, never looked up (0005)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # sealing a day reads by it (0011)
    actor: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    cause_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the principal that caused it (migration 0007): account, token or session id, token|session|cli|flow, client
    principal_account: Mapped[int | None] = mapped_column(Integer)
    principal_credential: Mapped[str | None] = mapped_column(String(64))
    principal_via: Mapped[str | None] = mapped_column(String(16))
    principal_client: Mapped[str | None] = mapped_column(String(200))
    # its place in its chain and its hash (migration 0011, ``models.core.audit_chain``)
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    row_hash: Mapped[str | None] = mapped_column(String(64))


class NoticeRow(Base):
    """The outbox: a notice is a row first (number, recipients, context) and mail second."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    hazard_id: Mapped[str | None] = mapped_column(String(32), index=True)
    township_code: Mapped[str | None] = mapped_column(String(64))
    issuer_code: Mapped[str] = mapped_column(String(64))
    recipient_code: Mapped[str] = mapped_column(String(64))
    cc_codes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    to_addrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the message as sent (see NoticeArchiveRow)
    # recipient address -> ISO instant it accepted the notice: a retry goes only to the others (migration 0006)
    delivered_to: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NoticeArchiveRow(Base):
    """The document as it went out, so the text that was sent can be proven later (its SHA-256 is on the
    notice)."""

    __tablename__ = "notice_archive"

    notice_id: Mapped[int] = mapped_column(Integer, ForeignKey("notices.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # sealing a day reads by it (0011)
    # the exact bytes handed to the mail server and their SHA-256; the row's chain, place and hash (migration 0011)
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    message_sha256: Mapped[str | None] = mapped_column(String(64))
    chain: Mapped[str | None] = mapped_column(String(100))
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The last position and hash of each audit chain (migration 0011): where a writer links its next row. One row
    per hazard (or township, or recipient of notices), so writers on different hazards never wait for each other."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditRootRow(Base):
    """A sealed day (migration 0011): the root over every audit row and archived notice recorded that day, in the
    policy's time zone. Append-only, like the rows it covers."""

    __tablename__ = "audit_roots"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    root: Mapped[str] = mapped_column(String(64))
    transitions: Mapped[int] = mapped_column(Integer)
    notices: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[datetime]


class CounterRow(Base):
    """Gapless sequences: hazard ids per year, document numbers per office and year."""

    __tablename__ = "counters"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ListingRow(Base):
    """A township under elevated listed supervision (挂牌督办), with its history."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    township_code: Mapped[str] = mapped_column(String(64), ForeignKey("units.code"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    listed_at: Mapped[datetime]
    listed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    problem_hazards: Mapped[list[Any]] = mapped_column(JSON, default=list)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deadline: Mapped[datetime | None]
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline_days: Mapped[int] = mapped_column(Integer, default=0)  # working days counted from listed_at
    delist_proposed_at: Mapped[datetime | None]
    delisted_at: Mapped[datetime | None]
    delisted_by: Mapped[str | None] = mapped_column(String(200))
    delist_reason: Mapped[str | None] = mapped_column(Text)
    active_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # township code while listed


class JobRunRow(Base):
    """What the scheduler and the one-shot batch commands did, for ``status``."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    as_of: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LeaseRow(Base):
    """Who runs the scheduler: one holder at a time, renewed while alive."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


class ListingMarkRow(Base):
    """What the sweep's last evaluation of the township figures saw (``models.listing``), so that a sweep can
    tell, with a few indexed reads, that a new evaluation would find exactly the same figures and skip it."""

    __tablename__ = "listing_marks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    evaluated_at: Mapped[datetime]  # the sweep's ``now`` when it evaluated
    transition_id: Mapped[int] = mapped_column(Integer)  # the highest transition id its figures reflect
    own_transitions: Mapped[int] = mapped_column(Integer, default=0)  # those it wrote itself, above that id
    in_flight: Mapped[list[Any]] = mapped_column(JSON, default=list)  # PostgreSQL writers it could not see yet
    fingerprint: Mapped[str] = mapped_column(String(64))  # listing policy, organisation, active listings


class AccountRow(Base):
    """A person's account (migration 0007): one unit, one or more roles (comma-separated), an Argon2 hash."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_code: Mapped[str] = mapped_column(String(64), ForeignKey("units.code"))
    roles: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class ApiTokenRow(Base):
    """An API token: its public id (``tok_…``) and the SHA-256 of its secret, never the secret itself."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("accounts.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SessionRow(Base):
    """A console session: the cookie carries ``id.secret``; the row keeps the secret's SHA-256 and the CSRF token."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("accounts.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    client: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]


# --- the indicator system: every reading received, each monitoring point's running state (the row a batch locks,
# so two writers of the same point queue), and the breach episodes with the hazard each raised (migration 0008)


class ReadingRow(Base):
    """One reading of a monitoring point; a point has at most one reading per instant (the idempotency key)."""

    __tablename__ = "readings"

    point_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))  # normal, warning or breach, as the thresholds stood
    indicator_code: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]

    # the analysis reads whole periods across points
    __table_args__ = (Index("ix_readings_at", "at"),)


class MonitoringPointRow(Base):
    """Where a point stands after its latest reading: the level, the open breach episode, the warning spell."""

    __tablename__ = "monitoring_points"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_at: Mapped[datetime | None]
    last_value: Mapped[float | None] = mapped_column(Float)
    last_level: Mapped[str | None] = mapped_column(String(8))
    episode_started_at: Mapped[datetime | None]
    warning_since: Mapped[datetime | None]


class BreachEpisodeRow(Base):
    """One spell of a point past its breach threshold, from the first reading past it to the first back within
    the warning threshold, and the hazard it raised."""

    __tablename__ = "breach_episodes"

    point_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(primary_key=True)
    indicator_code: Mapped[str] = mapped_column(String(64))
    hazard_ref: Mapped[str] = mapped_column(String(200), unique=True)
    ended_at: Mapped[datetime | None]
    readings: Mapped[int] = mapped_column(Integer, default=0)
    peak: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime]
    last_value: Mapped[float] = mapped_column(Float)
