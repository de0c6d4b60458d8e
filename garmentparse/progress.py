"""How library code reports progress: a plain callback, no UI.

Long-running functions take ``on_progress: ProgressCallback | None`` and call it with the number
of items done so far (and, when known or when it changes, the total and a short status message).
Messages meant for people go through :mod:`logging` (logger ``garmentparse.<module>``). The CLI
turns both into Rich progress bars and log lines on stderr; library users pass their own callback
or nothing.
"""

from __future__ import annotations

from typing import Protocol


class ProgressCallback(Protocol):
    """``on_progress(done, total=None, message="")``: ``done`` items finished so far."""

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None: ...


def report_progress(callback: ProgressCallback | None, done: int, total: int | None = None,
                    message: str = "") -> None:
    """Call ``callback`` when there is one (so callers need no ``if``)."""
    if callback is not None:
        callback(done, total, message)
