"""The ``garmentparse`` command: a thin Typer layer over the library.

Each module in :data:`COMMAND_MODULES` has ``register(root, train, eval_)`` that adds its
commands to the root app or to the ``train`` / ``eval`` groups.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = ("convert", "dataset", "detector", "classifier", "tag")


def build_app() -> typer.Typer:
    root = typer.Typer(name="garmentparse", no_args_is_help=True, add_completion=False,
                       help="Segmentation-first garment parsing: convert, train, evaluate, tag.")
    train = typer.Typer(no_args_is_help=True, help="Train a detector or a classifier.")
    eval_ = typer.Typer(no_args_is_help=True, help="Evaluate a detector or a classifier.")
    for name in COMMAND_MODULES:
        importlib.import_module(f"garmentparse.cli.{name}").register(root, train, eval_)
    root.add_typer(train, name="train")
    root.add_typer(eval_, name="eval")
    return root


def main() -> None:
    build_app()()
