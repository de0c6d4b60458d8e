"""Manifest reading, label encoding with missing-label masks, sampling weights, splits."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import torch

from garmentparse.classifiers.config import AugmentConfig
from garmentparse.classifiers.data import (build_vocabulary, encode_targets, read_manifest, sample_weights,
                                           split_by_image, split_manifest, train_transform)
from garmentparse.report import Report


def _rows(manifest):
    with open(manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_read_manifest_resolves_paths_and_reports_bad_rows(tmp_path, ccp_crops):
    shutil.copytree(ccp_crops.parent, tmp_path / "c")
    rows = _rows(tmp_path / "c" / "manifest.csv")
    rows[0]["crop_path"] = "crops/gone.jpg"
    rows[1]["colour"] = "plaid"  # not a colour of the vocabulary
    rows[2]["print"] = "dot|moire"
    rows[3]["part"] = "hat"
    _write(tmp_path / "c" / "manifest.csv", rows)
    report = Report("t")
    records = read_manifest(tmp_path / "c" / "manifest.csv", report)
    assert len(records) == len(rows) - 1
    assert all(r.path.is_file() for r in records)
    assert records[0].labels["colour"] == []  # unknown value -> missing, never guessed
    assert records[1].labels["print"] == ["dot"]
    assert records[2].part is None
    reasons = report.reason_counts()
    assert reasons == {"crop_missing": 1, "unknown_label": 2, "unknown_part": 1}
    assert any("gone.jpg" in p.file for p in report.problems)


def test_vocabulary_targets_and_masks(ccp_crops):
    records = read_manifest(ccp_crops)
    vocabulary, untrained = build_vocabulary(records, ["category", "colour", "fit", "print"], "seen")
    seen = {r.labels["category"][0] for r in records}
    assert set(vocabulary["category"]) == seen  # only values seen in training
    assert untrained == ["fit", "print"]  # CCP labels only category and colour
    everything, _ = build_vocabulary(records, ["category"], "all")
    assert len(everything["category"]) == 21
    multi = {"category": False, "colour": False, "fit": False, "print": True}
    t = encode_targets(records[0], vocabulary, multi)
    assert vocabulary["category"][int(t["category"])] == records[0].labels["category"][0]
    assert int(t["fit"]) == -1
    assert torch.all(t["print"] == -1)
    records[0].labels["print"] = ["dot", "stripe"]
    t = encode_targets(records[0], {**vocabulary, "print": ["check", "dot", "stripe"]}, multi)
    assert t["print"].tolist() == [0.0, 1.0, 1.0]


def test_sample_weights_favour_rare_classes(ccp_crops):
    records = read_manifest(ccp_crops)
    weights = sample_weights(records, "category", power=1.0)
    counts = {}
    for r in records:
        counts[r.labels["category"][0]] = counts.get(r.labels["category"][0], 0) + 1
    mass = {}
    for r, w in zip(records, weights):
        mass[r.labels["category"][0]] = mass.get(r.labels["category"][0], 0) + w
    assert np.allclose(list(mass.values()), 1.0)  # power 1: every class drawn equally often


def test_split_keeps_photos_together(tmp_path, ccp_crops):
    records = read_manifest(ccp_crops)
    a, b = split_by_image(records, [0.75, 0.25], seed=3)
    assert len(a) + len(b) == len(records)
    assert not {r.source_image for r in a} & {r.source_image for r in b}
    assert split_by_image(records, [0.75, 0.25], seed=3)[1] == b  # seeded
    paths = split_manifest(ccp_crops, tmp_path / "splits", {"train": 0.6, "val": 0.2, "test": 0.2})
    back = {n: read_manifest(p) for n, p in paths.items()}
    assert sum(len(v) for v in back.values()) == len(records)
    assert all(r.path.is_file() for v in back.values() for r in v)


def test_augmentation_keeps_size_and_colour_class():
    """Brightness/contrast only (no hue/saturation): a pure red crop stays red."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 0] = 200
    t = train_transform(AugmentConfig(), 64, 255)
    for _ in range(20):
        out = t(image=image)["image"]
        assert out.shape == (64, 64, 3)
        centre = out[24:40, 24:40].reshape(-1, 3).astype(int)
        assert (centre[:, 0] > 150).all() and (centre[:, 1:] < 40).all()
