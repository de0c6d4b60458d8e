"""Problem reports for batch commands: every bad input named with its file and reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Problem:
    """One thing wrong with one input. ``action`` says what was done (skipped, repaired, ...)."""

    file: str
    reason: str  # short stable code, e.g. "label_without_image"
    detail: str = ""
    action: str = "skipped"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "detail": self.detail, "action": self.action}


@dataclass
class Report:
    """Counts and problems of one batch run; JSON-serialisable (the CLI prints it as tables)."""

    command: str
    counts: Counter = field(default_factory=Counter)  # e.g. images, annotations
    problems: list[Problem] = field(default_factory=list)

    def add(self, file: str | Path, reason: str, detail: str = "", action: str = "skipped") -> None:
        self.problems.append(Problem(str(file), reason, detail, action))

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def reason_counts(self) -> Counter:
        return Counter(p.reason for p in self.problems)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "counts": dict(self.counts),
            "problem_counts": dict(sorted(self.reason_counts().items())),
            "problems": [p.to_dict() for p in self.problems],
        }

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
