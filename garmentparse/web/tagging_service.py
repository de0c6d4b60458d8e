"""The one place the web app calls the models (the tagging library is being refactored:
only ``Tagger.from_checkpoints`` and ``tag_arrays`` are used, so a rename is a change here)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from garmentparse.imageio import load_rgb
from garmentparse.tagging import Tagger

SOURCE = "garmentparse serve (uploads)"  # keeps upload runs apart from `tag` runs of the same models


class TaggingService:
    """A detector + classifier loaded once (CPU); one photo at a time (a lock: the models are
    not re-entrant and the machine's cores are better spent on one batch). The app calls it from
    its upload worker (:mod:`garmentparse.web.worker`), never from a request thread."""

    def __init__(self, detector: str | Path, classifier: str | Path | None = None, *,
                 score_threshold: float | None = None) -> None:
        kwargs: dict[str, Any] = {} if score_threshold is None else {"score_threshold": score_threshold}
        self.tagger = Tagger.from_checkpoints(detector, classifier, device="cpu", **kwargs)
        self._lock = threading.Lock()

    @property
    def heads(self) -> list[str]:
        return list(self.tagger.heads)

    def settings(self) -> dict[str, Any]:
        """The run settings the uploads' tag run is keyed by."""
        return {**self.tagger.settings(), "source": SOURCE}

    def model_files(self) -> dict[str, dict[str, str]]:
        """Role -> {path, sha256, name (a release model's)}: the run record's ``model_files``."""
        return dict(self.tagger.model_files)

    def tag_file(self, path: Path, rel_path: str) -> dict[str, Any]:
        """One photo as a ``tag`` result line (English ids), ready for the store."""
        image = load_rgb(path)
        with self._lock:
            tagged = self.tagger.tag_arrays([image])[0]
        h, w = image.shape[:2]
        return {"path": rel_path, "width": w, "height": h, "error": None,
                "garments": [g.to_dict() for g in tagged.garments]}
