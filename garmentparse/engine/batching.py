"""Run a batch through a model; when the batch fails, run each item alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def batch_then_each(fn: Callable[[list[T]], Sequence[R]], items: Sequence[T]) -> list[R | Exception]:
    """``fn(items)``, one result per item; if that raises, ``fn([item])`` for each item, so one
    item the model cannot take fails only itself (its slot holds the exception)."""
    items = list(items)
    if not items:
        return []
    try:
        return list(fn(items))
    except Exception:  # noqa: BLE001 - isolate the failing item below
        results: list[R | Exception] = []
        for item in items:
            try:
                results.append(fn([item])[0])
            except Exception as exc:  # noqa: BLE001 - reported by the caller
                results.append(exc)
        return results
