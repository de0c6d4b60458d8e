"""SQLAlchemy 2 tables of the catalogue database (the Alembic migrations build the same schema).

Portable on purpose: no database-specific types or SQL; strings have lengths (MySQL indexes
need them), floats are double precision (keyset cursors compare exactly), times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Review states of one (garment, head) value, and of a garment as a whole.
PREDICTED, CONFIRMED, CORRECTED, REJECTED = "predicted", "confirmed", "corrected", "rejected"
STATES = (PREDICTED, CONFIRMED, CORRECTED, REJECTED)
ROLES = ("viewer", "reviewer", "admin")
PART_HEAD = "part"  # the detector's class is reviewed like any attribute head
BYTES = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")  # MySQL's BLOB stops at 64 KB
PATH_MAX = 512  # characters; a unique index on utf8mb4 (MySQL) allows at most 768


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in and out: PostgreSQL returns them aware, SQLite/MySQL naive."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class Product(Base):
    """A catalogue item that photos can show (the web app links photos to products)."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(128), unique=True)
    name: Mapped[str] = mapped_column(sa.String(256), default="")
    attributes: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # head -> accepted value (web app)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Blob(Base):
    """An uploaded photo's bytes, stored once by content hash."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    data: Mapped[bytes] = mapped_column(BYTES)


class Photo(Base):
    """A photo: a path under an image root (as ``tag`` wrote it) or an uploaded blob."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(PATH_MAX), unique=True)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)  # bytes
    width: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)  # the last tag run's reason, when it failed
    blob_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("blobs.sha256"))
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagRun(Base):
    """One ``tag`` output, identified by its run record (models by sha256 + settings)."""

    __tablename__ = "tag_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 of models + settings
    models: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # {"detector": sha256, ...}
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    record: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # the whole run record as read
    source: Mapped[str] = mapped_column(sa.String(1024))  # the JSONL ingested (last time)
    images_root: Mapped[str | None] = mapped_column(sa.String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Garment(Base):
    """One detected garment of one photo in one tag run. ``version`` is the optimistic lock;
    ``confidence`` (lowest of score and head probabilities) orders the review queue."""

    __tablename__ = "garments"
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photos.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("tag_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)  # index in the photo's line
    part: Mapped[str] = mapped_column(sa.String(32))  # accepted part (a copy of the "part" head)
    score: Mapped[float] = mapped_column(sa.Double)
    x0: Mapped[float] = mapped_column(sa.Double)
    y0: Mapped[float] = mapped_column(sa.Double)
    x1: Mapped[float] = mapped_column(sa.Double)
    y1: Mapped[float] = mapped_column(sa.Double)
    mask_height: Mapped[int] = mapped_column(sa.Integer)
    mask_width: Mapped[int] = mapped_column(sa.Integer)
    mask_counts: Mapped[str] = mapped_column(sa.Text)  # COCO RLE counts string
    confidence: Mapped[float] = mapped_column(sa.Double)
    margin: Mapped[float] = mapped_column(sa.Double, default=1.0, server_default="1")  # lowest head margin
    state: Mapped[str] = mapped_column(sa.String(16), default=PREDICTED)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        sa.UniqueConstraint("run_id", "photo_id", "position"),
        sa.Index("ix_garments_photo_id", "photo_id"),
        sa.Index("ix_garments_queue", "state", "confidence", "id"),  # review queue keyset
        sa.Index("ix_garments_queue_margin", "state", "margin", "id"),  # review queue by uncertainty
        sa.Index("ix_garments_part_id", "part", "id"),  # gallery filtered by part
        sa.Index("ix_garments_state_id", "state", "id"),  # gallery filtered by state
        sa.Index("ix_garments_run_id_id", "run_id", "id"),  # gallery filtered by run
        sa.Index("ix_garments_confidence_id", "confidence", "id"),  # gallery sorted by confidence
        sa.CheckConstraint(f"state IN {STATES}", name="state"),
    )


class Prediction(Base):
    """What a run's classifier said for one head of one garment (never changed by reviews)."""

    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(primary_key=True)
    garment_id: Mapped[int] = mapped_column(sa.ForeignKey("garments.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("tag_runs.id", ondelete="CASCADE"), index=True)
    head: Mapped[str] = mapped_column(sa.String(32))
    label: Mapped[str | None] = mapped_column(sa.String(256))  # "|"-joined for multi-label heads
    probability: Mapped[float] = mapped_column(sa.Double)
    top_k: Mapped[list[Any]] = mapped_column(sa.JSON)  # [[label, probability], ...]
    __table_args__ = (sa.UniqueConstraint("garment_id", "head"),)


class Accepted(Base):
    """The current accepted value of one head of one garment, with its review state."""

    __tablename__ = "accepted"
    id: Mapped[int] = mapped_column(primary_key=True)
    garment_id: Mapped[int] = mapped_column(sa.ForeignKey("garments.id", ondelete="CASCADE"))
    head: Mapped[str] = mapped_column(sa.String(32))
    value: Mapped[str | None] = mapped_column(sa.String(256))  # "|"-joined for multi-label heads
    probability: Mapped[float | None] = mapped_column(sa.Double)  # the prediction's
    margin: Mapped[float] = mapped_column(sa.Double, default=1.0, server_default="1")  # top-1 minus top-2 probability
    state: Mapped[str] = mapped_column(sa.String(16), default=PREDICTED)
    __table_args__ = (
        sa.UniqueConstraint("garment_id", "head"),
        sa.Index("ix_accepted_head_value_garment_id", "head", "value", "garment_id"),  # gallery label filter
        sa.Index("ix_accepted_head_state_probability", "head", "state", "probability", "garment_id"),  # queue by head
        sa.Index("ix_accepted_head_state_margin", "head", "state", "margin", "garment_id"),  # queue by head margin
        sa.CheckConstraint(f"state IN {STATES}", name="state"),
    )


class Correction(Base):
    """Append-only log: one row per head a review decision changed (or confirmed)."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    garment_id: Mapped[int] = mapped_column(sa.ForeignKey("garments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(sa.Integer)  # the garment version this change made
    head: Mapped[str] = mapped_column(sa.String(32))
    old_value: Mapped[str | None] = mapped_column(sa.String(256))
    new_value: Mapped[str | None] = mapped_column(sa.String(256))
    old_state: Mapped[str] = mapped_column(sa.String(16))
    new_state: Mapped[str] = mapped_column(sa.String(16))
    username: Mapped[str] = mapped_column(sa.String(64), index=True)  # kept when the user is removed
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    __table_args__ = (sa.Index("ix_corrections_garment_id_version", "garment_id", "version"),)


class User(Base):
    """Someone who can log in; ``password_hash`` is argon2id."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16))
    session_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")  # bumped: sessions end
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="role"),)


class LoginSession(Base):
    """One logged-in browser. The cookie carries a random token, the table only its sha256;
    ``session_version`` is the user's at login (a role or password change ends the session).
    Deleted at logout, by "log out everywhere", by an admin's revoke, with the user."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_version: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class GarmentMatch(Base):
    """One garment of run ``run_a`` matched (by mask IoU) to one of run ``run_b`` on the same photo;
    either side is null for a garment the other run did not find. ``heads``: head -> [label of a,
    label of b] where they differ (``part`` included); ``disagreements`` counts them."""

    __tablename__ = "garment_matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_a: Mapped[int] = mapped_column(sa.ForeignKey("tag_runs.id", ondelete="CASCADE"))
    run_b: Mapped[int] = mapped_column(sa.ForeignKey("tag_runs.id", ondelete="CASCADE"))
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photos.id", ondelete="CASCADE"))
    garment_a: Mapped[int | None] = mapped_column(sa.ForeignKey("garments.id", ondelete="CASCADE"), index=True)
    garment_b: Mapped[int | None] = mapped_column(sa.ForeignKey("garments.id", ondelete="CASCADE"), index=True)
    iou: Mapped[float] = mapped_column(sa.Double)
    disagreements: Mapped[int] = mapped_column(sa.Integer)
    heads: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    __table_args__ = (
        sa.Index("ix_garment_matches_pair", "run_a", "run_b", "disagreements", "garment_a"),  # disagreement queue
        sa.Index("ix_garment_matches_photo", "run_a", "run_b", "photo_id"),  # the compare page, per photo
    )
