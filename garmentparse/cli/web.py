"""``garmentparse serve``: the review web app over the catalogue database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from garmentparse.cli.common import console
from garmentparse.cli.store import DB_HELP, _store, _where


def serve_models(detector: str | None, classifier: str | None) -> tuple[str | None, str | None]:
    """The models ``serve`` registers products with: ``tag``'s defaults (the release pair), none
    with ``--detector none``, and none with a note when no release models are installed."""
    from garmentparse.cli.tag import release_pair
    from garmentparse.release import UnknownModelError

    if detector is not None and detector.lower() == "none":
        return None, None
    try:
        return release_pair(detector, classifier)
    except UnknownModelError as exc:
        if detector is not None or classifier is not None:
            raise
        console.print(f"[yellow]note:[/yellow] {escape(str(exc))}: product registration is off", highlight=False)
        return None, None


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``serve`` to the root app."""

    @root.command("serve")
    def serve(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        detector: Optional[str] = typer.Option(None, "--detector", metavar="PATH|NAME|none",
                                               help="Detector for 'register a product' (checkpoint or release model "
                                                    "name). Default: the release pair, as `tag` uses; 'none': "
                                                    "no models (registration off)."),
        classifier: Optional[str] = typer.Option(None, "--classifier", metavar="PATH|NAME|none",
                                                 help="Attribute classifier checkpoint or release model name "
                                                      "(default as `tag`; 'none': detection only)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
        port: int = typer.Option(8000, "--port", min=1, max=65535),
        uploads: Path = typer.Option(Path("garmentparse-uploads"), "--uploads", file_okay=False,
                                     help="Where uploaded photos are kept (by content hash)."),
        score_threshold: Optional[float] = typer.Option(None, "--score-threshold", min=0.0, max=1.0,
                                                        help="Detector threshold for uploads (default: its config's)."),
        embeddings: Optional[Path] = typer.Option(None, "--embeddings", file_okay=False,
                                                  help="Embedding folder of the catalogue's tag output (garmentparse embed): garment pages show similar garments, /map shows the collection."),
        https_only: bool = typer.Option(False, "--https-only",
                                        help="Served over HTTPS (by a proxy): Secure cookies and a Strict-Transport-Security header."),
        trust_proxy: str = typer.Option("", "--trust-proxy", metavar="ADDRS",
                                        help="Comma-separated addresses / CIDRs (or *) of reverse proxies whose "
                                             "X-Forwarded-For/-Proto are believed (default: none)."),
    ) -> None:
        """Serve the review app: browse, review queue, register products, dashboard, export.

        Log in with a user made by `garmentparse users add`. Sessions are signed with
        $GARMENTPARSE_SECRET when set (else a random key: restarting logs everyone out). Behind an
        HTTPS reverse proxy: --https-only --trust-proxy PROXY_ADDRESS."""
        import uvicorn

        from garmentparse.web import create_app

        from garmentparse.web.security import trusted_proxies

        detector, classifier = serve_models(detector, classifier)
        try:
            proxies = trusted_proxies(trust_proxy)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--trust-proxy") from None
        with _store(db) as store:
            if not store.users():
                console.print("[yellow]note:[/yellow] no users yet: add one with "
                              "`garmentparse users add NAME --role admin`", highlight=False)
        app = create_app(_where(db), detector=detector, classifier=classifier, upload_dir=uploads,
                         secret=os.environ.get("GARMENTPARSE_SECRET") or None, score_threshold=score_threshold,
                         embeddings=embeddings, https_only=https_only, trusted_proxies=proxies)
        if host not in ("127.0.0.1", "localhost", "::1") and not https_only:
            console.print(f"[yellow]note:[/yellow] listening on {escape(host)}: reachable from other machines; "
                          "cookies are not marked Secure: put it behind HTTPS and pass --https-only.", highlight=False)
        console.print(f"review app on http://{escape(host)}:{port}  (models: "
                      f"{', '.join(m for m in (detector, classifier) if m) or 'none'}; proxies trusted: {escape(', '.join(proxies)) or 'none'})",
                      highlight=False)
        # the app reads forwarded headers itself (create_app's trusted_proxies): uvicorn's own
        # default would believe X-Forwarded-For from 127.0.0.1
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
