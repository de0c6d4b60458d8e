"""The store's API: one :class:`Store` per database URL; short transactions, dataclasses out."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from garmentparse import vocab
from garmentparse.progress import ProgressCallback
from garmentparse.report import Report
from garmentparse.store import db
from garmentparse.store import runs as _runs
from garmentparse.store.ids import parse_float, parse_int
from garmentparse.store.models import (CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, REJECTED, ROLES, Accepted,
                                       Correction, Garment, GarmentMatch, LoginSession, Photo, Prediction, Product,
                                       TagRun, User, utcnow)
from garmentparse.store.records import (Comparison, CorrectionInfo, Dashboard, Decision, GalleryFilter, GarmentDetail,
                                        GarmentMatchInfo, GarmentSummary, HeadValue, MatchCounts, NotFound, Page,
                                        PhotoInfo, ProductInfo, ReviewConflict, ReviewedPhoto, RunAccuracy, RunInfo, UserInfo)

REVIEWERS = ("reviewer", "admin")
GALLERY_ORDERS = ("newest", "confidence")
QUEUE_ORDERS = ("confidence", "margin", "disagreement")
_SUMMARY = (Garment.id, Garment.photo_id, Photo.path, Garment.run_id, Garment.part, Garment.score, Garment.x0,
            Garment.y0, Garment.x1, Garment.y1, Garment.confidence, Garment.state, Garment.version,
            Garment.updated_at, Garment.margin)


def _summary(row: sa.Row) -> GarmentSummary:
    (gid, photo_id, path, run_id, part, score, x0, y0, x1, y1, conf, state, version, updated, margin) = row
    return GarmentSummary(gid, photo_id, path, run_id, part, score, (x0, y0, x1, y1), conf, state, version, updated,
                          margin)


def _correction(c: Correction) -> CorrectionInfo:
    return CorrectionInfo(c.id, c.garment_id, c.version, c.head, c.old_value, c.new_value, c.old_state,
                          c.new_state, c.username, c.comment, c.created_at)


def garment_state(head_states: dict[str, str]) -> str:
    """A garment's state from its heads': part rejected -> rejected; any head corrected or
    rejected -> corrected; any confirmed -> confirmed; else predicted."""
    if head_states.get(PART_HEAD) == REJECTED:
        return REJECTED
    states = set(head_states.values())
    if states & {CORRECTED, REJECTED}:
        return CORRECTED
    return CONFIRMED if CONFIRMED in states else PREDICTED


def check_label(head: str, value: str) -> str:
    """``value`` as stored: a known English id (or Korean name) of ``head``; multi-label heads
    take ``a|b``. Heads outside the vocabulary take any value. ValueError otherwise."""
    if head == PART_HEAD:
        part = value if value in vocab.PARTS else vocab.PART_BY_KOREAN.get(value)
        if part is None:
            raise ValueError(f"unknown part {value!r} (one of {', '.join(vocab.PARTS)})")
        return part
    attr = vocab.ATTRIBUTES.get(head)
    if attr is None:
        return value
    values = [v.strip() for v in value.split("|")] if attr.multi_label else [value]
    ids = [vocab.lookup(head, v) for v in values if v]
    if not values or None in ids:
        raise ValueError(f"unknown {head} label {value!r}")
    return "|".join(ids)  # type: ignore[arg-type]


class Store:
    """The catalogue database at one URL. Open with :meth:`open` (checks the schema)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = db.writer(engine)

    @classmethod
    def open(cls, url: str | None = None, *, check: bool = True) -> Store:
        """The store at ``url`` (see :func:`db.resolve_url`); ``check`` refuses an unmigrated one."""
        store = cls(db.create_engine(url))
        if check:
            db.check_schema(store.engine)
        return store

    @classmethod
    def upgrade(cls, url: str | None = None) -> Store:
        """Create or migrate the database at ``url`` and open it."""
        store = cls(db.create_engine(url))
        db.upgrade(store.engine)
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    # ------------------------------------------------------------------ ingest / export

    def ingest(self, jsonl: str | Path, images_root: str | Path | None = None, *, batch_size: int = 500,
               on_progress: ProgressCallback | None = None) -> Report:
        """Load a ``tag`` output (and its run record); see :func:`garmentparse.store.ingest.ingest_jsonl`."""
        from garmentparse.store.ingest import ingest_jsonl

        return ingest_jsonl(self._writer, jsonl, images_root, batch_size=batch_size, on_progress=on_progress)

    def export(self, out_dir: str | Path, fmt: str = "coco", *, states: Sequence[str] = (CONFIRMED, CORRECTED),
               images_root: str | Path | None = None, size: int = 400, background: str = "white",
               on_progress: ProgressCallback | None = None) -> Report:
        """Reviewed garments as a COCO dataset or a crop manifest; see :mod:`garmentparse.store.export`."""
        from garmentparse.store.export import export_coco, export_manifest

        if fmt == "coco":
            return export_coco(self.engine, out_dir, states=states, on_progress=on_progress)
        if fmt == "manifest":
            if images_root is None:
                raise ValueError("the manifest export cuts crops from the photos: give their folder (--images)")
            return export_manifest(self.engine, out_dir, images_root, states=states, size=size,
                                   background=background, on_progress=on_progress)
        raise ValueError(f"unknown export format {fmt!r}: use coco or manifest")

    def reviewed_photos(self) -> list[ReviewedPhoto]:
        """Photos with any reviewed garment, by path; per photo the tag run whose review of it is
        complete (newest first), else the run with the most reviewed garments there."""
        reviewed = sa.select(Garment.photo_id).where(Garment.state != PREDICTED).distinct()
        q = (sa.select(Garment.id, Garment.photo_id, Garment.run_id, Garment.state, Garment.mask_height,
                       Garment.mask_width, Photo.path, Photo.width, Photo.height)
             .join(Photo, Photo.id == Garment.photo_id).where(Garment.photo_id.in_(reviewed))
             .order_by(Garment.photo_id, Garment.run_id, Garment.id))
        groups: dict[tuple[int, int], list[sa.Row]] = {}
        with self._read() as s:
            for row in s.execute(q):
                groups.setdefault((row.photo_id, row.run_id), []).append(row)
        best: dict[int, tuple[tuple[bool, int, int], ReviewedPhoto]] = {}
        for (photo_id, run_id), rows in groups.items():
            kept = tuple(r.id for r in rows if r.state in (CONFIRMED, CORRECTED))
            rejected = tuple(r.id for r in rows if r.state == REJECTED)
            complete = len(kept) + len(rejected) == len(rows)
            first = rows[0]
            photo = ReviewedPhoto(photo_id, first.path, first.width or first.mask_width,
                                  first.height or first.mask_height, run_id, kept, rejected, complete)
            rank = (complete, len(kept) + len(rejected), run_id)
            if photo_id not in best or rank > best[photo_id][0]:
                best[photo_id] = (rank, photo)
        return sorted((p for _, p in best.values() if p.kept or p.rejected), key=lambda p: p.path)

    # ------------------------------------------------------------------ reading

    def runs(self) -> list[RunInfo]:
        with self._read() as s:
            return [RunInfo(r.id, r.key, r.models, r.settings, r.source, r.images_root, r.created_at,
                            {role: name for role, (name, _) in _runs.model_names(r.models, r.record or {}).items()})
                    for r in s.scalars(sa.select(TagRun).order_by(TagRun.id))]

    def photo(self, photo_id: int) -> PhotoInfo:
        with self._read() as s:
            p = s.get(Photo, photo_id)
            if p is None:
                raise NotFound(f"no photo {photo_id}")
            return PhotoInfo(p.id, p.path, p.sha256, p.size, p.width, p.height, p.error, p.product_id)

    def gallery(self, filters: GalleryFilter = GalleryFilter(), *, limit: int = 60,
                cursor: str | None = None, order: str = "newest") -> Page:
        """Garments filtered, ``newest`` first (by id) or lowest ``confidence`` first; keyset pages."""
        if order not in GALLERY_ORDERS:
            raise ValueError(f"unknown order {order!r}: use {', '.join(GALLERY_ORDERS)}")
        q = sa.select(*_SUMMARY).join(Photo, Photo.id == Garment.photo_id)
        f = filters
        conds = [c for c in (
            Garment.part == f.part if f.part else None,
            Garment.state.in_(f.states) if f.states else None,
            Garment.run_id == f.run_id if f.run_id is not None else None,
            Garment.photo_id == f.photo_id if f.photo_id is not None else None,
            Garment.confidence >= f.min_confidence if f.min_confidence is not None else None,
            Garment.confidence <= f.max_confidence if f.max_confidence is not None else None,
            Photo.product_id == f.product_id if f.product_id is not None else None,
            Photo.path.ilike(f"%{_like_escape(f.path_text)}%", escape="\\") if f.path_text else None,
        ) if c is not None]
        if f.head:
            match = sa.select(Accepted.garment_id).where(Accepted.head == f.head)
            if f.value is not None:
                match = match.where(Accepted.value == f.value)
            conds.append(Garment.id.in_(match))
        if order == "confidence":
            if cursor is not None:
                conf, gid = _queue_cursor(cursor)
                conds += [Garment.confidence >= conf, sa.or_(Garment.confidence > conf, Garment.id > gid)]
            q = q.where(*conds).order_by(Garment.confidence, Garment.id).limit(limit + 1)
        else:
            if cursor is not None:
                conds.append(Garment.id < _int_cursor(cursor))
            q = q.where(*conds).order_by(Garment.id.desc()).limit(limit + 1)
        with self._read() as s:
            rows = s.execute(q).all()
        items = [_summary(r) for r in rows[:limit]]
        if len(rows) <= limit:
            return Page(items, None)
        last = items[-1]
        return Page(items, f"{last.confidence!r}:{last.id}" if order == "confidence" else str(last.id))

    def queue(self, *, part: str | None = None, run_id: int | None = None, head: str | None = None,
              order: str = "confidence", other_run: int | None = None, limit: int = 60,
              cursor: str | None = None) -> Page:
        """Garments nobody has reviewed, in keyset pages of ``limit``.

        ``confidence``: lowest first; with ``head``, garments whose ``head`` is unreviewed, lowest
        probability of that head first. ``margin`` (uncertainty): smallest top-1 minus top-2
        probability first (of any head, or of ``head``). ``disagreement``: garments of ``run_id``
        with the most heads that differ from their match in ``other_run`` first (ties by id);
        the pair is matched on first use (:meth:`match_runs`)."""
        if order not in QUEUE_ORDERS:
            raise ValueError(f"unknown queue order {order!r}: use {', '.join(QUEUE_ORDERS)}")
        if order == "disagreement":
            if run_id is None or other_run is None or head:
                raise ValueError("the disagreement queue needs a run and another run to compare with (and no head)")
            return self._disagreement_queue(run_id, other_run, part, limit, cursor)
        q = sa.select(*_SUMMARY).join(Photo, Photo.id == Garment.photo_id)
        if head:
            q = q.join(Accepted, Accepted.garment_id == Garment.id).where(
                Accepted.head == head, Accepted.state == PREDICTED, Garment.state != REJECTED)
            key, gid_col = (Accepted.probability if order == "confidence" else Accepted.margin), Accepted.garment_id
        else:
            q = q.where(Garment.state == PREDICTED)
            key, gid_col = (Garment.confidence if order == "confidence" else Garment.margin), Garment.id
        if part:
            q = q.where(Garment.part == part)
        if run_id is not None:
            q = q.where(Garment.run_id == run_id)
        if cursor is not None:
            conf, gid = _queue_cursor(cursor)
            # "(key, id) > (conf, gid)" spelt so every database range-scans the index
            q = q.where(key >= conf, sa.or_(key > conf, gid_col > gid))
        q = q.add_columns(key).order_by(key, gid_col).limit(limit + 1)
        with self._read() as s:
            rows = s.execute(q).all()
        return _queue_page(rows, limit, lambda row: f"{row[-1]!r}:{row[0]}")

    def _disagreement_queue(self, run_a: int, run_b: int, part: str | None, limit: int, cursor: str | None) -> Page:
        with self._read() as s:
            matched = _runs.has_matches(s, run_a, run_b)
        if not matched:
            self.match_runs(run_a, run_b)
        pair = (GarmentMatch.run_a == run_a, GarmentMatch.run_b == run_b)
        q = (sa.select(*_SUMMARY, GarmentMatch.disagreements).join(GarmentMatch, GarmentMatch.garment_a == Garment.id)
             .join(Photo, Photo.id == Garment.photo_id).where(*pair, Garment.state == PREDICTED))
        if part:
            q = q.where(Garment.part == part)
        most = sa.select(sa.func.max(GarmentMatch.disagreements)).where(*pair)
        rows: list[sa.Row] = []
        with self._read() as s:
            # one disagreement count at a time, ids ascending: each step range-scans the pair's index
            level, after = _runs.parse_cursor(cursor) if cursor is not None else (s.scalar(most), 0)
            while level is not None and len(rows) <= limit:
                rows += s.execute(q.where(GarmentMatch.disagreements == level, GarmentMatch.garment_a > after)
                                  .order_by(GarmentMatch.garment_a).limit(limit + 1 - len(rows))).all()
                level, after = s.scalar(most.where(GarmentMatch.disagreements < level)), 0
        return _queue_page(rows, limit, lambda row: f"{row[-1]}:{row[0]}")

    def match_runs(self, run_a: int, run_b: int, *, iou: float = 0.5) -> MatchCounts:
        """Match the garments of ``run_a`` to those of ``run_b`` by mask IoU on every photo both have
        garments on and store the pairs (``garment_matches``; the pair's earlier rows are
        replaced, in one transaction). Labels compared are each run's predictions."""
        with self._write() as s:
            return _runs.match_runs(s, run_a, run_b, iou)

    def garment_match(self, garment_id: int, other_run: int) -> GarmentMatchInfo | None:
        """The stored match of a garment in ``other_run`` (see :meth:`match_runs`); ``None`` when
        its run and ``other_run`` were not matched."""
        with self._read() as s:
            m = s.scalar(sa.select(GarmentMatch).where(GarmentMatch.garment_a == garment_id,
                                                       GarmentMatch.run_b == other_run))
            return _runs.match_info(m) if m is not None else None

    def compare(self, run_a: int, run_b: int, *, limit: int = 10, cursor: str | None = None) -> Comparison:
        """Two runs photo by photo, most label changes first (matched on first use); keyset pages."""
        with self._read() as s:
            matched = _runs.has_matches(s, run_a, run_b)
        if not matched:
            self.match_runs(run_a, run_b)
        with self._read() as s:
            return _runs.compare(s, run_a, run_b, limit=limit, cursor=cursor)

    def run_accuracy(self, *, iou: float = 0.5) -> list[RunAccuracy]:
        """Each tag run's accuracy per head and detection recall against reviewed truth; see
        :func:`garmentparse.store.runs.run_accuracy`."""
        with self._read() as s:
            return _runs.run_accuracy(s, iou)

    def garment(self, garment_id: int) -> GarmentDetail:
        """One garment with every head (accepted value, state, prediction) and its history."""
        with self._read() as s:
            return self._detail(s, garment_id)

    def _detail(self, s: Session, garment_id: int) -> GarmentDetail:
        row = s.execute(sa.select(*_SUMMARY, Garment.mask_height, Garment.mask_width, Garment.mask_counts)
                        .join(Photo, Photo.id == Garment.photo_id).where(Garment.id == garment_id)).first()
        if row is None:
            raise NotFound(f"no garment {garment_id}")
        predicted = {p.head: p for p in s.scalars(sa.select(Prediction).where(Prediction.garment_id == garment_id))}
        heads = {}
        for a in s.scalars(sa.select(Accepted).where(Accepted.garment_id == garment_id).order_by(Accepted.id)):
            p = predicted.get(a.head)
            heads[a.head] = HeadValue(a.head, a.value, a.state, p.label if p else a.value,
                                      a.probability, [(lab, prob) for lab, prob in (p.top_k if p else [])], a.margin)
        history = [_correction(c) for c in s.scalars(
            sa.select(Correction).where(Correction.garment_id == garment_id).order_by(Correction.id))]
        mask = {"size": [row[-3], row[-2]], "counts": row[-1]}
        return GarmentDetail(_summary(row[:-3]), mask, heads, history)

    def history(self, garment_id: int, since_version: int = 0) -> list[CorrectionInfo]:
        """The garment's log entries made after ``since_version``, oldest first."""
        with self._read() as s:
            return [_correction(c) for c in s.scalars(
                sa.select(Correction).where(Correction.garment_id == garment_id, Correction.version > since_version)
                .order_by(Correction.id))]

    def dashboard(self) -> Dashboard:
        """Counts for the dashboard: totals, garments per state and part, heads per state, reviewers."""
        with self._read() as s:
            def count(model: type) -> int:
                return s.scalar(sa.select(sa.func.count()).select_from(model)) or 0

            def grouped(*cols: sa.ColumnElement) -> list[sa.Row]:
                return s.execute(sa.select(*cols, sa.func.count()).group_by(*cols)).all()

            heads: dict[str, dict[str, int]] = {}
            for head, state, n in grouped(Accepted.head, Accepted.state):
                heads.setdefault(head, {})[state] = n
            return Dashboard(count(Photo), count(Garment), count(TagRun), count(User), count(Correction),
                             {st: n for st, n in grouped(Garment.state)}, {p: n for p, n in grouped(Garment.part)},
                             heads, {u: n for u, n in grouped(Correction.username)})

    def value_counts(self, head: str, *, limit: int = 30) -> dict[str, int]:
        """How many garments have each accepted value of ``head`` (rejected garments left out),
        most common first."""
        n = sa.func.count().label("n")
        q = (sa.select(Accepted.value, n).join(Garment, Garment.id == Accepted.garment_id)
             .where(Accepted.head == head, Accepted.value.is_not(None), Garment.state != REJECTED)
             .group_by(Accepted.value).order_by(n.desc(), Accepted.value).limit(limit))
        with self._read() as s:
            return {v: c for v, c in s.execute(q).all()}

    # ------------------------------------------------------------------ reviewing

    def review(self, garment_id: int, *, version: int, user: str, decisions: Sequence[Decision],
               comment: str = "") -> GarmentDetail:
        """Apply one reviewer's decisions to a garment read at ``version``, all or nothing.

        Raises :class:`ReviewConflict` (carrying the other change) when the garment changed since,
        PermissionError for a user who may not review, ValueError for a bad decision."""
        if not decisions:
            raise ValueError("no decisions to apply")
        with self._write() as s:
            _check_reviewer(s, user)
            now = utcnow()
            bumped = s.execute(sa.update(Garment).where(Garment.id == garment_id, Garment.version == version)
                               .values(version=Garment.version + 1, updated_at=now))
            if bumped.rowcount != 1:
                conflict = True
            else:
                conflict = False
                self._apply(s, garment_id, version + 1, user, decisions, comment, now)
        if conflict:
            current = self.garment(garment_id)  # NotFound when there is no such garment
            raise ReviewConflict(garment_id, version, current, self.history(garment_id, version))
        return self.garment(garment_id)

    @staticmethod
    def _apply(s: Session, garment_id: int, version: int, user: str, decisions: Sequence[Decision],
               comment: str, now: object) -> None:
        rows = {a.head: a for a in s.scalars(sa.select(Accepted).where(Accepted.garment_id == garment_id))}
        for d in decisions:
            row = rows.get(d.head)
            if row is None:
                raise ValueError(f"garment {garment_id} has no head {d.head!r} (heads: {', '.join(rows)})")
            if d.state not in (CONFIRMED, CORRECTED, REJECTED):
                raise ValueError(f"{d.head}: decide confirmed, corrected or rejected, not {d.state!r}")
            if d.state == CORRECTED and not d.value:
                raise ValueError(f"{d.head}: a correction needs the new value")
            new_value = check_label(d.head, d.value) if d.state == CORRECTED else row.value
            s.add(Correction(garment_id=garment_id, version=version, head=d.head, old_value=row.value,
                             new_value=new_value, old_state=row.state, new_state=d.state, username=user,
                             comment=comment, created_at=now))
            row.value, row.state = new_value, d.state
        s.flush()
        state = garment_state({h: a.state for h, a in rows.items()})
        part = rows[PART_HEAD].value if PART_HEAD in rows else None
        values = {"state": state, **({"part": part} if part else {})}
        s.execute(sa.update(Garment).where(Garment.id == garment_id).values(**values))

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, password: str, role: str = "viewer") -> UserInfo:
        """A new user; ``name`` is stored normalised (:func:`normalise_name`)."""
        from garmentparse.store import auth

        _check_role(role)
        name = normalise_name(name)
        if not name or len(name) > 64:
            raise ValueError(f"bad user name {name!r}: 1-64 characters")
        auth.check_password(password)
        with self._write() as s:
            if _find_user(s, name) is not None:
                raise ValueError(f"user {name!r} exists")
            # a random first session version: SQLite may give a removed user's id to the next one added,
            # and their old session cookies must not fit the new user
            user = User(name=name, password_hash=auth.hash_password(password), role=role, created_at=utcnow(),
                        session_version=secrets.randbelow(2**30))
            s.add(user)
            s.flush()
            return _user_info(user)

    def users(self) -> list[UserInfo]:
        with self._read() as s:
            return [_user_info(u) for u in s.scalars(sa.select(User).order_by(User.name))]

    def user(self, name: str) -> UserInfo:
        with self._read() as s:
            return _user_info(_get_user(s, name))

    def authenticate(self, name: str, password: str) -> UserInfo | None:
        """The user when ``password`` is theirs, else ``None`` (hashes are upgraded as needed)."""
        from garmentparse.store import auth

        with self._write() as s:
            u = _find_user(s, name)
            if u is None:
                auth.burn_time(password)  # same cost as a wrong password: no user enumeration by timing
                return None
            ok, rehash = auth.verify_password(u.password_hash, password)
            if not ok:
                return None
            if rehash:
                u.password_hash = auth.hash_password(password)
            return _user_info(u)

    def set_role(self, name: str, role: str) -> UserInfo:
        """Change a role; a real change ends the user's sessions. The last admin stays one (ValueError)."""
        _check_role(role)
        with self._write() as s:
            u = _get_user(s, name)
            if u.role != role:
                _keep_an_admin(s, u)
                u.role = role
                _end_sessions(s, u)
            return _user_info(u)

    def set_password(self, name: str, password: str) -> None:
        """A new password; the user's sessions end."""
        from garmentparse.store import auth

        auth.check_password(password)
        with self._write() as s:
            u = _get_user(s, name)
            u.password_hash = auth.hash_password(password)
            _end_sessions(s, u)

    def remove_user(self, name: str) -> None:
        """Delete a user and their sessions; their log entries keep their name. The last admin
        cannot be removed (ValueError)."""
        with self._write() as s:
            u = _get_user(s, name)
            _keep_an_admin(s, u)
            _end_sessions(s, u)
            s.delete(u)

    # ------------------------------------------------------------------ login sessions

    def start_session(self, name: str, *, hours: float = 12.0) -> str:
        """A new login session of ``name`` for ``hours``: the random token to give the browser
        (only its sha256 is stored). Expired sessions of anyone are dropped on the way."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._write() as s:
            u = _get_user(s, name)
            s.execute(sa.delete(LoginSession).where(LoginSession.expires_at <= now))
            s.add(LoginSession(id=_token_hash(token), user_id=u.id, session_version=u.session_version,
                               created_at=now, expires_at=now + timedelta(hours=hours)))
        return token

    def session_user(self, token: str) -> UserInfo | None:
        """Whose live session ``token`` is (their role as it is now), or ``None``: ended, expired,
        or made before the user's role or password changed."""
        q = (sa.select(User).join(LoginSession, LoginSession.user_id == User.id)
             .where(LoginSession.id == _token_hash(token), LoginSession.session_version == User.session_version,
                    LoginSession.expires_at > utcnow()))
        with self._read() as s:
            u = s.scalar(q)
            return _user_info(u) if u is not None else None

    def end_session(self, token: str) -> None:
        """Log one session out (nothing happens for an unknown token)."""
        with self._write() as s:
            s.execute(sa.delete(LoginSession).where(LoginSession.id == _token_hash(token)))

    def end_sessions(self, name: str) -> int:
        """End every session of ``name`` (log out everywhere; an admin's revoke); how many were live."""
        with self._write() as s:
            return _end_sessions(s, _get_user(s, name))

    def session_counts(self) -> dict[str, int]:
        """Live sessions per user name (users without one left out)."""
        q = (sa.select(User.name, sa.func.count()).join(LoginSession, LoginSession.user_id == User.id)
             .where(LoginSession.session_version == User.session_version, LoginSession.expires_at > utcnow())
             .group_by(User.name))
        with self._read() as s:
            return {name: n for name, n in s.execute(q).all()}

    # ------------------------------------------------------------------ products

    def add_product(self, sku: str, name: str = "", attributes: dict[str, str] | None = None) -> ProductInfo:
        """A new product; ``attributes`` (head -> value, checked against the vocabulary) are its
        accepted values."""
        attrs = _product_attributes(sku, name, attributes)
        with self._write() as s:
            p = _new_product(s, sku, name, attrs)
            return ProductInfo(p.id, p.sku, p.name, attrs, [])

    def register_product(self, sku: str, name: str, attributes: dict[str, str], *, photo_ids: Sequence[int],
                         garment_ids: Sequence[int], user: str) -> ProductInfo:
        """A new product with ``photo_ids`` linked to it and each of ``garment_ids`` reviewed by
        ``user`` to the product's values (confirmed where it has the value, else corrected), all in
        one transaction: when a check fails nothing is written. Refused: a photo that does not
        exist (NotFound), one that shows another product, a garment not on these photos
        (ValueError). A garment someone reviewed meanwhile keeps their decision."""
        attrs = _product_attributes(sku, name, attributes)
        with self._write() as s:
            _check_reviewer(s, user)
            linked = dict(s.execute(sa.select(Photo.id, Photo.product_id).where(Photo.id.in_(photo_ids))).all())
            for pid in photo_ids:
                if pid not in linked:
                    raise NotFound(f"no photo {pid}")
                if linked[pid] is not None:
                    raise ValueError(f"photo {pid} already shows another product")
            on = dict(s.execute(sa.select(Garment.id, Garment.photo_id).where(Garment.id.in_(garment_ids))).all())
            strays = [gid for gid in garment_ids if on.get(gid) not in linked]
            if strays:
                raise ValueError(f"garment {strays[0]} is not on this product's photos")
            p = _new_product(s, sku, name, attrs)
            s.execute(sa.update(Photo).where(Photo.id.in_(photo_ids)).values(product_id=p.id))
            now = utcnow()
            for gid in garment_ids:
                self._review_to(s, gid, attrs, user, f"product {sku}", now)
            return ProductInfo(p.id, p.sku, p.name, attrs, sorted(photo_ids))

    def _review_to(self, s: Session, garment_id: int, values: dict[str, str], user: str, comment: str,
                   now: object) -> None:
        """Inside a transaction: set the garment's heads that ``values`` names to those values."""
        heads = dict(s.execute(sa.select(Accepted.head, Accepted.value).where(Accepted.garment_id == garment_id)).all())
        decisions = [Decision(h, CONFIRMED if heads[h] == v else CORRECTED, v) for h, v in values.items() if h in heads]
        version = s.scalar(sa.select(Garment.version).where(Garment.id == garment_id))
        if not decisions or version is None:
            return
        bumped = s.execute(sa.update(Garment).where(Garment.id == garment_id, Garment.version == version)
                           .values(version=version + 1, updated_at=now))
        if bumped.rowcount == 1:  # else reviewed meanwhile: that decision stands
            self._apply(s, garment_id, version + 1, user, decisions, comment, now)

    def product(self, product_id: int) -> ProductInfo:
        with self._read() as s:
            p = s.get(Product, product_id)
            if p is None:
                raise NotFound(f"no product {product_id}")
            photos = list(s.scalars(sa.select(Photo.id).where(Photo.product_id == product_id).order_by(Photo.id)))
            return ProductInfo(p.id, p.sku, p.name, dict(p.attributes or {}), photos)

    def products(self, *, limit: int = 200) -> list[ProductInfo]:
        """Newest products first (without their photo ids)."""
        with self._read() as s:
            return [ProductInfo(p.id, p.sku, p.name, dict(p.attributes or {}))
                    for p in s.scalars(sa.select(Product).order_by(Product.id.desc()).limit(limit))]

    def link_photo(self, photo_id: int, product_id: int | None) -> None:
        """Say which product a photo shows (``None`` unlinks)."""
        with self._write() as s:
            done = s.execute(sa.update(Photo).where(Photo.id == photo_id).values(product_id=product_id))
            if done.rowcount != 1:
                raise NotFound(f"no photo {photo_id}")

    def photo_by_path(self, path: str) -> PhotoInfo:
        with self._read() as s:
            p = s.scalar(sa.select(Photo).where(Photo.path == path))
            if p is None:
                raise NotFound(f"no photo {path!r}")
            return PhotoInfo(p.id, p.path, p.sha256, p.size, p.width, p.height, p.error, p.product_id)

    def ingest_results(self, results: Sequence[dict], settings: dict, images_root: str | Path, *,
                       name: str = "upload", model_files: dict[str, Any] | None = None) -> Report:
        """Ingest ``tag`` result lines (dicts in the ``tag`` schema) made in memory, under a run
        with ``settings`` (``model_files``: the run record's entry, role -> file or {path, name}):
        the same checks and idempotence as :meth:`ingest`."""
        import json
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gp-results-") as tmp:
            jsonl = Path(tmp) / f"{name}.jsonl"
            jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
            record = {"settings": settings, "model_files": model_files or {}, "runs": [{"images_dir": str(images_root)}]}
            Path(str(jsonl) + ".run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            return self.ingest(jsonl, images_root)


def _product_attributes(sku: str, name: str, attributes: dict[str, str] | None) -> dict[str, str]:
    """A new product's values checked against the vocabulary (ValueError for a bad value, SKU or name)."""
    attrs = {h: check_label(h, v) for h, v in (attributes or {}).items() if v}
    if not sku or len(sku) > 128 or len(name) > 256:
        raise ValueError("a product needs a SKU of 1-128 characters and a name of at most 256")
    return attrs


def _new_product(s: Session, sku: str, name: str, attrs: dict[str, str]) -> Product:
    if s.scalar(sa.select(Product.id).where(Product.sku == sku)) is not None:
        raise ValueError(f"product {sku!r} exists")
    p = Product(sku=sku, name=name, attributes=attrs, created_at=utcnow())
    s.add(p)
    s.flush()
    return p


def _check_reviewer(s: Session, user: str) -> None:
    role = s.scalar(sa.select(User.role).where(User.name == user))
    if role not in REVIEWERS:
        raise PermissionError(f"user {user!r} may not review (role: {role or 'no such user'})")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use {', '.join(ROLES)}")


def _user_info(u: User) -> UserInfo:
    return UserInfo(u.id, u.name, u.role, u.created_at, u.session_version)


def normalise_name(name: str) -> str:
    """A login name as stored and looked up: surrounding whitespace stripped, Unicode NFC."""
    return unicodedata.normalize("NFC", name.strip())


def _find_user(s: Session, name: str) -> User | None:
    """The user called ``name`` (normalised), compared exactly: a database collation that pads
    (MariaDB's PAD SPACE: ``'ada   ' = 'ada'``) or folds case does not pick another spelling."""
    name = normalise_name(name)
    u = s.scalar(sa.select(User).where(User.name == name))
    return u if u is not None and u.name == name else None


def _get_user(s: Session, name: str) -> User:
    u = _find_user(s, name)
    if u is None:
        raise NotFound(f"no user {normalise_name(name)[:64]!r}")
    return u


def _keep_an_admin(s: Session, u: User) -> None:
    """ValueError when ``u`` is the last admin (about to stop being one)."""
    if u.role != "admin":
        return
    admins = s.scalars(sa.select(User.id).where(User.role == "admin").with_for_update()).all()
    if len(admins) <= 1:
        raise ValueError(f"{u.name} is the last admin: make another user admin first")


def _end_sessions(s: Session, u: User) -> int:
    """Delete every session of ``u``; how many were live."""
    now = utcnow()
    live = s.scalar(sa.select(sa.func.count()).select_from(LoginSession).where(
        LoginSession.user_id == u.id, LoginSession.session_version == u.session_version,
        LoginSession.expires_at > now)) or 0
    s.execute(sa.delete(LoginSession).where(LoginSession.user_id == u.id))
    u.session_version += 1  # a session row read before this commit fits no more
    return live


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _queue_page(rows: Sequence[sa.Row], limit: int, position: Callable[[sa.Row], str]) -> Page:
    """A queue page of ``rows`` (summary columns, then the order key); ``position`` makes a row's cursor."""
    items = [_summary(r[:len(_SUMMARY)]) for r in rows[:limit]]
    return Page(items, position(rows[limit - 1]) if len(rows) > limit else None)


def _int_cursor(cursor: str) -> int:
    try:
        return parse_int(cursor)
    except ValueError:
        raise ValueError(f"bad page cursor {cursor[:40]!r}") from None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _queue_cursor(cursor: str) -> tuple[float, int]:
    return _runs.parse_cursor(cursor, parse_float)
