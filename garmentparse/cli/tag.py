"""CLI commands of this area (filled in by its issue)."""

import typer


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add this module's commands to the app."""
