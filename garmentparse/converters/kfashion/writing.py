"""Converted labels -> one COCO dataset and its report: COCO ids, one label per photo, repeated
identifiers flagged, counts. Writes through :class:`~garmentparse.converters.coco.CocoStreamWriter`,
whether the dataset goes to a file or stays in memory."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from garmentparse.report import Problem, Report

from ..coco import CocoStreamWriter


class LabelOutcome(NamedTuple):
    """What converting one label gave: ``status`` ``"ok"`` (``image`` plus annotation JSON
    ``fragments``), ``"skip"``, or ``"resolve"`` (no photo has the label's stem: look it up by
    its ``이미지 파일명`` ``name``); ``issues`` are the label's problems."""

    status: str
    issues: list[Problem]
    image: dict[str, Any] | None = None
    fragments: list[str] | None = None
    name: str | None = None


class CocoOutput:
    """Label outcomes, in label order, into ``writer`` and ``report``.

    A photo already used by an earlier label skips the later one (``duplicate_photo``); a
    repeated ``이미지 식별자`` is kept under a new COCO id (``duplicate_image_id``).
    """

    def __init__(self, writer: CocoStreamWriter, report: Report, labels_dir: str):
        self.writer = writer
        self.report = report
        self.labels_dir = labels_dir
        self.used: set[str] = set()  # photos in the output
        self.matched: set[str] = set()  # photos some label matched (used or not)
        self.seen_ids: set = set()

    def add(self, label_rel: str, photo_rel: str | None, outcome: LabelOutcome) -> bool:
        """Record one label's outcome; False (nothing recorded) for a label still to resolve."""
        report = self.report
        report.counts["label_files"] += outcome.status != "resolve"
        if outcome.status == "resolve":
            return False
        report.extend(outcome.issues)
        if photo_rel is not None:
            self.matched.add(photo_rel)
        if outcome.status != "ok":
            report.counts["labels_skipped"] += 1
            return True
        image = outcome.image
        if photo_rel is not None:
            if photo_rel in self.used:
                report.add(os.path.join(self.labels_dir, label_rel), "duplicate_photo",
                           f"photo {photo_rel} already used by an earlier label")
                report.counts["labels_skipped"] += 1
                return True
            self.used.add(photo_rel)
        kid = image.get("kfashion_id")
        if kid is not None:
            if kid in self.seen_ids:
                report.add(os.path.join(self.labels_dir, label_rel), "duplicate_image_id",
                           f"이미지 식별자 {kid} seen before", "kept, new COCO id")
            self.seen_ids.add(kid)
        writer = self.writer
        image_id = writer.n_images + 1
        writer.add_image({"id": image_id, **image})
        if outcome.fragments:
            writer.add_annotation_fragments(image_id, outcome.fragments)
        return True

    def add_unmatched(self, label_rel: str, name: str) -> None:
        """A label whose stem and ``이미지 파일명`` both match no photo."""
        self.report.add(os.path.join(self.labels_dir, label_rel), "label_without_image",
                        f"no photo named like the label or its 이미지 파일명 {name!r}")
        self.report.counts["label_files"] += 1
        self.report.counts["labels_skipped"] += 1

    def add_unused_photos(self, photos: list[str] | Any, images_dir: str) -> None:
        """Photos that no label matched (``image_without_label``)."""
        for photo in photos:
            if photo not in self.matched:
                self.report.add(os.path.join(images_dir, photo), "image_without_label",
                                "no label matched this photo", "not in output")

    def close(self, n_photos: int | None) -> Report:
        """Finish the dataset and the report's counts."""
        self.writer.close()
        counts = self.report.counts
        counts["images"] = self.writer.n_images
        counts["annotations"] = self.writer.n_annotations
        counts.setdefault("labels_skipped", 0)
        if n_photos is not None:
            counts["photos"] = n_photos
        return self.report
