"""TEMPORARY: the Rich bar :mod:`garmentparse.parsing.train` still imports.

Library code reports progress through :mod:`garmentparse.progress` callbacks now; the training
rewrite (``on_progress``) no longer imports this, and the merge deletes this file.
"""

from __future__ import annotations

from typing import Any


class Bar:
    """A Rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, label: str, total: int, transient: bool = True) -> None:
        self.enabled = enabled
        self.transient = transient
        self.label = label
        self.total = total
        self._progress = None
        self._task = None

    def __enter__(self) -> Bar:
        if self.enabled:
            from garmentparse.cli.common import progress

            self._progress = progress(transient=self.transient)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._progress is not None:
            kw = {"description": description} if description else {}
            self._progress.update(self._task, advance=n, **kw)

    def update(self, completed: int | None = None, total: int | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, total=total)
