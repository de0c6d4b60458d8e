"""The ``garmentparse`` command: a thin Typer layer over the library.

Each module in :data:`COMMAND_MODULES` has ``register(root, train, eval_)`` that adds its
commands to the root app or to the ``train`` / ``eval`` groups. ``--help`` lists the commands
in the order a user meets them (:data:`COMMAND_ORDER`) and shows plain metavars
(``PATH``, ``INTEGER``, nothing after a flag), as Click users expect.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from rich.markup import escape

from garmentparse.cli.common import console

COMMAND_MODULES = ("convert", "dataset", "detector", "classifier", "tag", "models", "embed", "store", "interop", "retrain",
                   "compare", "web")
# The workflow: data in, check and describe it, split, cut crops, look at it, train, evaluate, run.
COMMAND_ORDER = ("convert", "validate", "stats", "split", "crop", "visualize", "train", "eval",
                 "predict", "tag", "models", "embed", "similar", "map", "cluster", "detector", "classifier", "embedder",
                 "embeddings", "kfashion", "ccp", "deepfashion2", "fashionpedia", "modanet", "db", "ingest", "export",
                 "import", "retrain", "compare", "users", "serve")


_PLAIN = {"bool": "", "str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH",
          "file": "FILE", "directory": "DIRECTORY", "list[str]": "TEXT", "list[path]": "PATH"}


def _plain_type(param: TyperOption | TyperArgument, ctx: click.Context) -> str:
    """Click-style type name instead of Typer's ``<type>``: ``PATH``, ``TEXT``, ``INTEGER``,
    ``FLOAT``, ``[a|b]`` for choices, nothing for a flag."""
    if getattr(param, "is_flag", False):
        return ""
    label = param.display_type(ctx).strip("<>").split(" range")[0]  # the range is shown in the help
    return _PLAIN.get(label.lower(), f"[{label}]" if "|" in label else label.upper())


def _plain(params: list[click.core.Parameter], ctx: click.Context) -> list[click.core.Parameter]:
    """Options show their plain type as metavar; arguments their NAME (and the type beside it).
    An explicit ``metavar=`` is kept."""
    for param in params:
        if not isinstance(param, (TyperOption, TyperArgument)) or getattr(param, "_plain", False):
            continue
        kind = _plain_type(param, ctx)
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "").upper() + ("..." if param.nargs != 1 else "")
            param.display_type_rich = lambda ctx, kind=kind: kind  # type: ignore[method-assign]
        elif param.metavar is None:
            param.metavar = kind
        param._plain = True  # type: ignore[attr-defined]
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _plain(super().get_params(ctx), ctx)


class _Group(TyperGroup):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _plain(super().get_params(ctx), ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda n: rank.get(n, len(rank)))


def _clear_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input (a missing or unreadable file, a file of the wrong kind, an output that cannot
    be written) ends a command with ``error: <file>: <reason>`` and exit 2, not a traceback.
    ``GARMENTPARSE_DEBUG=1`` shows the traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (OSError, ValueError) as exc:
            if os.environ.get("GARMENTPARSE_DEBUG"):
                raise
            console.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return run


def _finish(app: typer.Typer) -> None:
    """Every command gets the clear-error wrapper and the plain help; every group the order."""
    app.info.cls = _Group
    for info in app.registered_commands:
        info.callback = _clear_errors(info.callback)
        info.cls = _Command
    for group in app.registered_groups:
        group.cls = _Group
        _finish(group.typer_instance)


def version_line() -> str:
    """``garmentparse X (release models Y)``: this package's and the weights package's versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("garmentparse")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        own = "(not installed)"
    try:
        models = f"release models {version('garmentparse-models')}"
    except PackageNotFoundError:
        models = "no release models installed"
    return f"garmentparse {own} ({models})"


def _version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit()


def build_app() -> typer.Typer:
    # rich_markup_mode=None: Click's own help layout, which wraps long paths and option names
    # instead of cutting them ("configs/classific…" in Rich's help panels)
    root = typer.Typer(name="garmentparse", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                       help="Segmentation-first garment parsing: convert, train, evaluate, tag.")

    @root.callback()
    def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                           help="Print the version (and the release models') and exit.")) -> None:
        """Segmentation-first garment parsing: convert, train, evaluate, tag."""
    train = typer.Typer(no_args_is_help=True, help="Train a detector, a classifier or an embedder.")
    eval_ = typer.Typer(no_args_is_help=True, help="Evaluate a detector, a classifier or embeddings.")
    for name in COMMAND_MODULES:
        importlib.import_module(f"garmentparse.cli.{name}").register(root, train, eval_)
    root.add_typer(train, name="train")
    root.add_typer(eval_, name="eval")
    _finish(root)
    return root


def main() -> None:
    build_app()()
