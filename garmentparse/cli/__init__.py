"""The ``garmentparse`` command: a thin Typer layer over the library.

Each module in :data:`COMMAND_MODULES` has ``register(root, train, eval_)`` that adds its
commands to the root app or to the ``train`` / ``eval`` groups.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import Any

import typer

from garmentparse.cli.common import console

COMMAND_MODULES = ("convert", "dataset", "detector", "classifier", "tag")


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
            console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None

    return run


def _guard(app: typer.Typer) -> None:
    for info in app.registered_commands:
        info.callback = _clear_errors(info.callback)
    for group in app.registered_groups:
        _guard(group.typer_instance)


def build_app() -> typer.Typer:
    root = typer.Typer(name="garmentparse", no_args_is_help=True, add_completion=False,
                       help="Segmentation-first garment parsing: convert, train, evaluate, tag.")
    train = typer.Typer(no_args_is_help=True, help="Train a detector or a classifier.")
    eval_ = typer.Typer(no_args_is_help=True, help="Evaluate a detector or a classifier.")
    for name in COMMAND_MODULES:
        importlib.import_module(f"garmentparse.cli.{name}").register(root, train, eval_)
    root.add_typer(train, name="train")
    root.add_typer(eval_, name="eval")
    _guard(root)
    return root


def main() -> None:
    build_app()()
