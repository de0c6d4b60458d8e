"""Vocabulary, config loader, registry, masks, image reading, checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from PIL import Image

from garmentparse import masks, vocab
from garmentparse.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from garmentparse.config import ConfigError, load_config
from garmentparse.imageio import ImageReadError, find_images, image_size, load_rgb
from garmentparse.registry import Registry
from garmentparse.structures import Detections


def test_vocab_covers_real_labels(kfashion_real_dir, ccp_dir):
    for path in [*kfashion_real_dir.glob("*.json"), *ccp_dir.glob("labels/*.json")]:
        labels = json.loads(path.read_text(encoding="utf-8"))["데이터셋 정보"]["데이터셋 상세설명"]["라벨링"]
        for part_ko, entries in labels.items():
            assert part_ko == "스타일" or part_ko in vocab.PART_BY_KOREAN
            for entry in entries:
                for key, value in entry.items():
                    attr = vocab.ATTRIBUTE_BY_KOREAN[key]
                    for v in value if isinstance(value, list) else [value]:
                        assert vocab.lookup(attr.name, v) is not None, (path, key, v)


def test_vocab_lookup_and_translate():
    assert vocab.lookup("category", "청바지") == "jeans"
    assert vocab.part_of("jeans") == "bottom"
    assert vocab.lookup("neckline", "원숄더") == "one-shoulder"  # whitespace-insensitive
    assert vocab.lookup("colour", "무지개") is None
    assert vocab.translate("colour", "navy", "ko") == "네이비"
    assert vocab.translate("part", "onepiece", "ko") == "원피스"
    assert set(vocab.CATEGORY_PART.values()) == set(vocab.PARTS)


@dataclass
class Solver:
    lr: float = 0.1
    steps: list[int] = field(default_factory=list)


@dataclass
class Cfg:
    name: str = "x"
    solver: Solver = field(default_factory=Solver)
    amp: bool = False


def test_config_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nsolver:\n  lr: 0.5\n  steps: [1, 2]\n")
    (tmp_path / "child.yaml").write_text("_base_: base.yaml\nsolver:\n  lr: 0.25\n")
    cfg = load_config(Cfg, tmp_path / "child.yaml", ["amp=true", "solver.steps=[3]"])
    assert cfg == Cfg(name="base", solver=Solver(lr=0.25, steps=[3]), amp=True)


def test_config_unknown_key_names_key_and_file(tmp_path):
    (tmp_path / "base.yaml").write_text("solver:\n  lr: 0.5\n")
    (tmp_path / "bad.yaml").write_text("_base_: base.yaml\nsolver:\n  base_lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*solver\.base_lrr"):
        load_config(Cfg, tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match=r"--set.*solver\.lr.*number"):
        load_config(Cfg, tmp_path / "base.yaml", ["solver.lr=fast"])


def test_registry_rejects_duplicates():
    reg: Registry = Registry("backbone")
    reg.register("a")(1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(KeyError, match="known: a"):
        reg.get("b")
    assert reg.names() == ["a"]


def test_mask_roundtrip_and_crop():
    m = np.zeros((40, 60), dtype=np.uint8)
    m[10:20, 5:25] = 1
    rle = masks.encode(m)
    assert isinstance(rle["counts"], str)
    assert np.array_equal(masks.decode(rle), m)
    assert masks.area(rle) == 200
    assert masks.bbox_xywh(rle) == [5, 10, 20, 10]
    poly = masks.mask_to_polygons(m)
    assert masks.area(masks.polygons_to_rle(poly, 40, 60)) == pytest.approx(200, rel=0.25)
    img = np.full((40, 60, 3), 7, dtype=np.uint8)
    crop = masks.masked_crop(img, m, [5, 10, 25, 20], size=32, background="black")
    assert crop.shape == (32, 32, 3) and crop.max() == 7


def test_detections_validates_lengths():
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4)), np.zeros(1), ["top"], [{}], (4, 4))


def test_load_rgb_modes_exif_and_errors(tmp_path):
    Image.new("L", (8, 4), 128).save(tmp_path / "gray.png")
    Image.new("CMYK", (8, 4)).save(tmp_path / "cmyk.jpg")
    Image.new("RGBA", (8, 4), (0, 0, 0, 0)).save(tmp_path / "alpha.png")
    rot = Image.new("RGB", (8, 4))
    exif = rot.getexif()
    exif[0x0112] = 6  # rotate 90
    rot.save(tmp_path / "rot.jpg", exif=exif)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert load_rgb(tmp_path / "gray.png").shape == (4, 8, 3)
    assert load_rgb(tmp_path / "cmyk.jpg").shape == (4, 8, 3)
    assert load_rgb(tmp_path / "alpha.png")[0, 0].tolist() == [255, 255, 255]
    assert load_rgb(tmp_path / "rot.jpg").shape == (8, 4, 3)
    assert image_size(tmp_path / "rot.jpg") == (4, 8)
    with pytest.raises(ImageReadError):
        load_rgb(tmp_path / "broken.jpg")
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "sub" / "UPPER.JPEG")
    assert sorted(p.name for p in find_images(tmp_path)) == sorted(
        ["alpha.png", "broken.jpg", "cmyk.jpg", "gray.png", "rot.jpg", "UPPER.JPEG"]
    )


def test_checkpoint_roundtrip(tmp_path):
    ckpt = Checkpoint("detector", {"a": 1}, {"part": ["top"]}, {"w": torch.ones(2)})
    save_checkpoint(ckpt, tmp_path / "m.pt")
    back = load_checkpoint(tmp_path / "m.pt", expect_kind="detector")
    assert back.config == {"a": 1} and torch.equal(back.state_dict["w"], torch.ones(2))
    with pytest.raises(ValueError, match="expected a classifier"):
        load_checkpoint(tmp_path / "m.pt", expect_kind="classifier")


class _Payload:
    """Stands for arbitrary pickled code in a hostile or foreign checkpoint file."""


def test_checkpoint_loading_never_unpickles_code(tmp_path):
    torch.save({"kind": "detector", "state_dict": {}, "payload": _Payload()}, tmp_path / "code.pt")
    with pytest.raises(ValueError, match="not a garmentparse checkpoint"):
        load_checkpoint(tmp_path / "code.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.pt is not a garmentparse checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_load_rgb_scales_deep_grayscale_and_keys_out_transparent_colour(tmp_path):
    """16-bit grayscale is scaled to 8 bits (Pillow's convert would clip it to white); a
    transparent colour key (PNG tRNS) is composited on white like an alpha channel."""
    ramp = np.linspace(0, 65535, 32 * 48).reshape(32, 48).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    rgb = load_rgb(tmp_path / "deep.png")
    assert rgb.shape == (32, 48, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[..., 0].astype(int) - (ramp / 257).round().astype(int)).max() <= 1
    keyed = Image.new("RGB", (8, 8), (10, 20, 30))
    keyed.save(tmp_path / "keyed.png", transparency=(10, 20, 30))
    assert (load_rgb(tmp_path / "keyed.png") == 255).all()
