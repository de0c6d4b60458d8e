"""The catalogue database: ``db upgrade``, ``ingest``, ``export``, ``users``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from garmentparse.cli.common import console, print_json, print_report, progress_bar

if TYPE_CHECKING:
    from garmentparse.report import Report
    from garmentparse.store import Store

DB_HELP = "Database URL (default: $GARMENTPARSE_DB or sqlite:///garmentparse.db)."


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@contextlib.contextmanager
def _store(db: Optional[str], upgrade: bool = False) -> Iterator[Store]:
    """The store at ``db``; a missing schema, an unreachable server or an unknown user or
    garment ends the command with one ``error:`` line (exit 2)."""
    import sqlalchemy as sa

    from garmentparse.store import NotFound, SchemaOutdated, Store

    try:
        store = Store.upgrade(db) if upgrade else Store.open(db)
    except SchemaOutdated as exc:
        raise _fail(str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        raise _fail(f"cannot use the database: {str(exc.orig if hasattr(exc, 'orig') else exc).strip()}") from None
    try:
        yield store
    except NotFound as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()


def _where(db: Optional[str]) -> str:
    from garmentparse.store import resolve_url

    return resolve_url(db)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``db``, ``ingest``, ``export`` and ``users`` to the root app."""
    db_app = typer.Typer(no_args_is_help=True, help="Create or migrate the catalogue database.")
    users_app = typer.Typer(no_args_is_help=True, help="Who may log in to the review app, and as what.")
    root.add_typer(db_app, name="db")
    root.add_typer(users_app, name="users")

    @db_app.command("upgrade")
    def upgrade(db: Optional[str] = typer.Option(None, "--db", help=DB_HELP)) -> None:
        """Create the database, or migrate it to this version's schema (safe to run again)."""
        from garmentparse.store.db import current_revision

        with _store(db, upgrade=True) as store:
            console.print(f"database at revision {current_revision(store.engine)}: {escape(_where(db))}")

    @root.command("ingest")
    def ingest(
        results: Path = typer.Argument(..., help="JSON Lines written by `tag` (its .run.json next to it)."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        images: Optional[Path] = typer.Option(None, "--images",
                                              help="Folder `tag` read: photos get their file's sha256 and size."),
        batch_size: int = typer.Option(500, "--batch-size", min=1, help="Garments per transaction."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when any line was bad."),
        as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON on stdout."),
    ) -> None:
        """Load a tag run into the database: idempotent, streaming, bad lines reported by line."""
        with _store(db) as store, progress_bar("lines") as on_progress:
            rep = store.ingest(results, images, batch_size=batch_size, on_progress=on_progress)
        show_report(rep, report, as_json)
        if (strict and rep.counts.get("bad_lines")) or (rep.counts.get("lines") and
                                                        rep.counts.get("bad_lines") == rep.counts.get("lines")):
            raise typer.Exit(1)

    @root.command("export")
    def export(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        fmt: str = typer.Option("coco", "--format", help="coco (for `train detector`), manifest (crops for "
                                                         "`train classifier`), labelstudio or cvat (to review there: "
                                                         "docs/interop.md)."),
        out: Path = typer.Option(..., "--out", help="Output folder (coco.json, or manifest.csv + crops/)."),
        state: Optional[str] = typer.Option(None, "--state", help="Garments in these review states (comma-separated; "
                                            "default confirmed,corrected; labelstudio / cvat: predicted too)."),
        images: Optional[Path] = typer.Option(None, "--images", help="Photo folder (manifest: crops are cut from it)."),
        size: int = typer.Option(400, "--size", min=8, help="Manifest crops are letterboxed to SIZE x SIZE."),
        background: str = typer.Option("white", "--background", help="keep, white or black outside the mask."),
        from_tags: Optional[Path] = typer.Option(None, "--from-tags", help="labelstudio / cvat: from this tag output "
                                                 "(JSONL) instead of the database."),
        run: Optional[int] = typer.Option(None, "--run", help="labelstudio / cvat: garments of this tag run only "
                                          "(default: per photo its newest run)."),
        image_prefix: Optional[str] = typer.Option(None, "--image-prefix", help="labelstudio: image URL = prefix + "
                                                   "photo path (default /data/local-files/?d=)."),
        shapes: str = typer.Option("brush,polygon", "--shapes", help="labelstudio: brush, polygon or both (one "
                                   "prediction each)."),
        segmentation: str = typer.Option("polygon", "--segmentation", help="cvat: polygon (iscrowd 0) or rle "
                                         "(masks, iscrowd 1)."),
    ) -> None:
        """Garments as COCO or a crop manifest (retraining), or as Label Studio / CVAT files (review there)."""
        states = [s.strip() for s in state.split(",") if s.strip()] if state is not None else None
        if fmt in ("labelstudio", "cvat"):
            _export_interop(db, fmt, out, states, from_tags=from_tags, run=run, image_prefix=image_prefix,
                            shapes=shapes, segmentation=segmentation)
            return
        if from_tags is not None or run is not None:
            raise _fail("--from-tags and --run go with --format labelstudio or cvat")
        states = states if states is not None else ["confirmed", "corrected"]
        with _store(db) as store, progress_bar("garments") as on_progress:
            rep = store.export(out, fmt, states=states, images_root=images, size=size, background=background,
                               on_progress=on_progress)
        print_report(rep)
        n = rep.counts.get("annotations", rep.counts.get("crops", 0))
        written = out / ("coco.json" if fmt == "coco" else "manifest.csv")
        if n == 0:
            console.print(f"[yellow]no garments in state {', '.join(states)} yet[/yellow]: wrote an empty "
                          f"{escape(str(written))}")
        else:
            console.print(f"wrote {n} garments to {escape(str(written))}")

    @users_app.command("add")
    def users_add(
        name: str = typer.Argument(..., help="Login name."),
        role: str = typer.Option("viewer", "--role", help="viewer, reviewer or admin."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Add a user (the password is asked for, or read from stdin)."""
        password = _password(password_stdin)
        with _store(db) as store:
            user = store.add_user(name, password, role)
        console.print(f"added {escape(user.name)} ({user.role})")

    @users_app.command("list")
    def users_list(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the users as JSON on stdout."),
    ) -> None:
        """Users and their roles."""
        with _store(db) as store:
            users = store.users()
        if as_json:
            print_json([{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat()} for u in users])
            return
        for u in users:
            console.print(f"{escape(u.name):24} {u.role:9} since {u.created_at:%Y-%m-%d %H:%M} UTC", highlight=False)
        if not users:
            console.print("no users yet: garmentparse users add NAME --role admin")

    @users_app.command("set-role")
    def users_set_role(
        name: str = typer.Argument(..., help="Login name."),
        role: str = typer.Argument(..., help="viewer, reviewer or admin."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Change a user's role (a real change logs them out of the review app at once)."""
        with _store(db) as store:
            user = store.set_role(name, role)
        console.print(f"{escape(user.name)} is now {user.role}")

    @users_app.command("set-password")
    def users_set_password(
        name: str = typer.Argument(..., help="Login name."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Give a user a new password (asked for, or read from stdin); their sessions end."""
        password = _password(password_stdin)
        with _store(db) as store:
            store.set_password(name, password)
        console.print(f"new password for {escape(name.strip())}; their review app sessions ended")

    @users_app.command("revoke")
    def users_revoke(
        name: str = typer.Argument(..., help="Login name."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """End every review app session of a user (a stolen cookie); they can log in again."""
        with _store(db) as store:
            ended = store.end_sessions(name)
        console.print(f"ended {ended} session{'' if ended == 1 else 's'} of {escape(name.strip())}")

    @users_app.command("remove")
    def users_remove(
        name: str = typer.Argument(..., help="Login name."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Remove a user (the review log keeps their name)."""
        with _store(db) as store:
            store.remove_user(name)
        console.print(f"removed {escape(name)}")


def _export_interop(db: Optional[str], fmt: str, out: Path, states: Optional[list[str]], *, from_tags: Optional[Path],
               run: Optional[int], image_prefix: Optional[str], shapes: str, segmentation: str) -> None:
    """``export --format labelstudio|cvat``, from the database or (``--from-tags``) a tag output."""
    from garmentparse.store.interop import EXPORT_STATES, export_catalogue, export_tags
    from garmentparse.store.interop.exporting import FILES

    options = {"shapes": [s.strip() for s in shapes.split(",") if s.strip()], "segmentation": segmentation,
               **({"prefix": image_prefix} if image_prefix is not None else {})}
    with progress_bar("garments") as on_progress:
        if from_tags is not None:
            if states or run is not None:
                raise ValueError("--state and --run choose garments of the database: not with --from-tags")
            rep = export_tags(from_tags, out, fmt, on_progress=on_progress, **options)
        else:
            with _store(db) as store:
                rep = export_catalogue(store.engine, out, fmt, states=states or EXPORT_STATES, run_id=run,
                                       on_progress=on_progress, **options)
    print_report(rep)
    print_problems(rep)
    data, spec = (out / name for name in FILES[fmt])
    photos = rep.counts.get("tasks", rep.counts.get("images", 0))
    console.print(f"wrote {rep.counts.get('garments', 0)} garments on {photos} photos to {escape(str(data))}, "
                  f"and {escape(str(spec))}")



def show_report(rep: Report, path: Optional[Path], as_json: bool) -> None:
    """Save the report (``--report``), print its summary and first problems, and ``--json`` it."""
    if path is not None:
        rep.save(path)
    print_report(rep)
    print_problems(rep)
    if as_json:
        print_json(rep.to_dict())


def print_problems(rep: Report) -> None:
    """The first ten problems of a report, one line each."""
    for p in rep.problems[:10]:
        console.print(f"  {escape(p.file)}: {p.reason}: {escape(p.detail)}", highlight=False)
    if len(rep.problems) > 10:
        console.print(f"  ... {len(rep.problems) - 10} more (--report FILE lists them all)")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("GARMENTPARSE_PASSWORD"):
        return os.environ["GARMENTPARSE_PASSWORD"]
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)
