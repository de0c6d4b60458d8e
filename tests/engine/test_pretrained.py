"""Offline ImageNet initialisation: the packaged EfficientNet-Lite0 checkpoint maps exactly onto
timm's ``tf_efficientnet_lite0``, its ImageNet predictions on real street photos name clothes,
its frozen features beat random ones in a linear probe on real garment crops, the Lite0-FPN
backbone trains a torchvision Mask R-CNN on real photos on CPU, and a failed download names
the offline choices."""

from __future__ import annotations

import csv
import socket
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.data import ImageNetInfo
from torchvision.models.detection import MaskRCNN

from garmentparse import masks
from garmentparse.engine.lite0_fpn import LITE0_UNITS, build_lite0_fpn, freeze_units, maskrcnn_normalization
from garmentparse.engine.pretrained import (
    LITE0_ARCH, LITE0_INPUT_SIZE, LITE0_MEAN, LITE0_STD, OFFLINE_INITS, KeyMappingError,
    OfflineWeightsError, build_lite0, fetch_or_explain, lite0_checkpoint_path, lite0_key_mapping,
    lite0_preprocessing, lite0_state_dict, offline_init_error, read_state_dict,
)
from garmentparse.imageio import load_rgb

# ImageNet-1k classes that are garments, shoes or hats (indices of timm's ImageNetInfo).
CLOTHING = {399, 400, 411, 439, 445, 451, 452, 457, 459, 465, 474, 501, 502, 514, 515, 552, 568, 578,
            601, 608, 610, 614, 617, 630, 638, 639, 652, 655, 658, 689, 697, 735, 770, 774, 775, 806,
            808, 824, 834, 841, 842, 869, 887, 906}



@pytest.fixture(scope="module")
def ccp_coco(ccp_dir) -> dict:
    from garmentparse.converters import convert_kfashion

    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    return coco


def normalise(batch: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in 0..1 -> the checkpoint's input normalisation."""
    mean = torch.tensor(LITE0_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(LITE0_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


def imagenet_input(path: Path) -> torch.Tensor:
    """timm's eval transform for this checkpoint: bicubic resize to size / crop_pct, centre crop."""
    pre = lite0_preprocessing()
    size = LITE0_INPUT_SIZE
    image = Image.fromarray(load_rgb(path))
    scale = size / pre["crop_pct"] / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    array = np.array(image.crop((left, top, left + size, top + size)))
    return torch.from_numpy(array).permute(2, 0, 1).float() / 255


# ---------------------------------------------------------------------------------------------
# The key mapping


def test_mapping_is_exact():
    source = read_state_dict(lite0_checkpoint_path())
    target = timm.create_model(LITE0_ARCH, pretrained=False).state_dict()
    mapping = lite0_key_mapping(source)
    assert len(source) == len(target) == 296
    assert set(mapping) == set(source)  # every source tensor used ...
    assert len(set(mapping.values())) == len(mapping)  # ... once
    assert set(mapping.values()) == set(target)  # every target tensor filled
    assert all(source[k].shape == target[v].shape for k, v in mapping.items())
    params = sum(v.numel() for k, v in source.items() if not k.endswith(("running_mean", "running_var",
                                                                         "num_batches_tracked")))
    assert params == 4_652_008
    # spot checks of the rule: block numbering into stages, and each block kind's layer names
    assert mapping["_blocks.0._depthwise_conv.weight"] == "blocks.0.0.conv_dw.weight"
    assert mapping["_blocks.0._project_conv.weight"] == "blocks.0.0.conv_pw.weight"
    assert mapping["_blocks.3._expand_conv.weight"] == "blocks.2.0.conv_pw.weight"
    assert mapping["_blocks.15._bn2.running_var"] == "blocks.6.0.bn3.running_var"
    assert mapping["_bn1.weight"] == "bn2.weight" and mapping["_fc.bias"] == "classifier.bias"

    mapped = lite0_state_dict()
    assert list(mapped) == list(target)
    assert all(torch.equal(mapped[v], source[k]) for k, v in mapping.items())


def test_inexact_checkpoint_is_refused_with_every_problem(tmp_path):
    source = read_state_dict(lite0_checkpoint_path())
    del source["_blocks.5._bn0.weight"]
    source["_fc.bias"] = torch.zeros(10)
    source["_blocks.0._se_reduce.weight"] = torch.zeros(8, 32, 1, 1)  # a layer Lite0 has not
    path = tmp_path / "broken.pth"
    torch.save(source, path)
    with pytest.raises(KeyMappingError, match=r"_blocks\.0\._se_reduce\.weight: not a layer"):
        lite0_state_dict(path)
    del source["_blocks.0._se_reduce.weight"]
    torch.save(source, path)
    with pytest.raises(KeyMappingError) as err:
        lite0_state_dict(path)
    text = str(err.value)
    assert "1 target tensors missing: blocks.3.0.bn1.weight" in text
    assert "1 shape mismatches: _fc.bias (10,) -> classifier.bias (1000,)" in text


def test_preprocessing_is_timms_cfg_for_this_checkpoint():
    cfg = timm.get_pretrained_cfg(LITE0_ARCH).to_dict()
    pre = lite0_preprocessing()
    assert (pre["mean"], pre["std"]) == (cfg["mean"], cfg["std"])
    assert (pre["input_size"],) * 2 == cfg["input_size"][1:]
    assert (pre["interpolation"], pre["crop_pct"]) == (cfg["interpolation"], cfg["crop_pct"])


def test_tf_variant_keeps_tensorflow_padding_and_bn_eps():
    model = build_lite0(pretrained=False)
    assert type(model.conv_stem).__name__ == "Conv2dSame" and model.bn1.eps == 1e-3


# ---------------------------------------------------------------------------------------------
# The weights are real


def test_imagenet_predictions_on_street_photos_name_clothes(ccp_dir):
    photos = sorted((ccp_dir / "images").glob("*.jpg"))[:12]
    batch = normalise(torch.stack([imagenet_input(p) for p in photos]))
    pretrained = build_lite0(num_classes=1000).eval()
    torch.manual_seed(0)
    random = build_lite0(pretrained=False, num_classes=1000).eval()
    with torch.no_grad():
        logits, random_logits = pretrained(batch), random(batch)
    top5 = logits.topk(5).indices.tolist()
    with_clothes = sum(bool(CLOTHING & set(row)) for row in top5)
    names = Counter(ImageNetInfo().index_to_description(i) for row in top5 for i in row)
    assert with_clothes >= 10, f"{with_clothes}/12 photos have a garment class in their top-5: {names}"
    assert logits.std(dim=1).min() > 1.0  # far from uniform
    assert not torch.allclose(logits, random_logits, atol=1e-2)


def crop_features(crops: torch.Tensor, pretrained: bool, seed: int = 0) -> np.ndarray:
    """Pooled 1280-d features of the Lite0 body (head removed), frozen, eval mode."""
    torch.manual_seed(seed)
    model = build_lite0(pretrained).eval()
    with torch.no_grad():
        return torch.cat([model(normalise(chunk)) for chunk in crops.split(26)]).numpy()


def probe_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """Mean accuracy of logistic regression on standardised features, 4-fold x 3 repeats."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    folds = RepeatedStratifiedKFold(n_splits=4, n_repeats=3, random_state=0)
    with threadpool_limits(1):
        return float(cross_val_score(probe, features, labels, cv=folds).mean())


def test_linear_probe_on_garment_crops_beats_random_features(tmp_path, ccp_dir, ccp_coco):
    """52 real garment crops (224 px) of the 24 bundled CCP photos: frozen features + logistic
    regression, category (classes with >= 5 crops) and part; pretrained vs two random inits."""
    pytest.importorskip("sklearn", reason="scikit-learn (a dev dependency) runs the linear probe")
    from garmentparse.converters import crop_dataset

    report = crop_dataset(ccp_coco, ccp_dir / "images", tmp_path, size=LITE0_INPUT_SIZE)
    assert report.counts["crops"] == 52
    with (tmp_path / "manifest.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    crops = torch.stack([torch.from_numpy(load_rgb(tmp_path / r["crop_path"])).permute(2, 0, 1)
                         for r in rows]).float() / 255
    features = {"pretrained": crop_features(crops, True)}
    features.update({f"random{seed}": crop_features(crops, False, seed) for seed in (0, 1)})
    scores = {}
    for column in ("category", "part"):
        labels = np.array([r[column] for r in rows])
        counts = Counter(labels)
        keep = np.array([counts[v] >= 5 for v in labels])
        scores[column] = {name: probe_accuracy(f[keep], labels[keep]) for name, f in features.items()}
    for column, by_init in scores.items():
        best_random = max(v for k, v in by_init.items() if k.startswith("random"))
        assert by_init["pretrained"] > best_random + 0.05, scores


# ---------------------------------------------------------------------------------------------
# The detector backbone


def coco_targets(coco: dict, image: dict, scale: float) -> dict[str, torch.Tensor]:
    """Mask R-CNN targets of one COCO image, resized by ``scale``."""
    anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    height, width = round(image["height"] * scale), round(image["width"] * scale)
    binary = [masks.decode(masks.segmentation_to_rle(a["segmentation"], image["height"], image["width"]))
              for a in anns]
    resized = [np.array(Image.fromarray(m.astype(np.uint8)).resize((width, height), Image.NEAREST))
               for m in binary]
    boxes = [[x * scale, y * scale, (x + w) * scale, (y + h) * scale] for x, y, w, h in (a["bbox"] for a in anns)]
    return {"boxes": torch.tensor(boxes, dtype=torch.float32),
            "labels": torch.tensor([a["category_id"] for a in anns]),
            "masks": torch.from_numpy(np.stack(resized))}


def test_lite0_fpn_backbone_layout():
    backbone = build_lite0_fpn(fpn_channels=64)
    assert backbone.out_channels == 64
    assert backbone.body.feature_info.channels() == [24, 40, 112, 320]
    assert backbone.body.feature_info.reduction() == [4, 8, 16, 32]
    out = backbone(torch.zeros(1, 3, 96, 64))
    assert list(out) == ["0", "1", "2", "3", "pool"]
    assert [tuple(v.shape[1:]) for v in out.values()] == [(64, 24, 16), (64, 12, 8), (64, 6, 4),
                                                          (64, 3, 2), (64, 2, 1)]
    # the pretrained weights are in the body (frozen BN keeps them as buffers)
    mapped = lite0_state_dict()
    body = backbone.body.state_dict()
    assert torch.equal(body["blocks.6.0.conv_pwl.weight"], mapped["blocks.6.0.conv_pwl.weight"])
    assert torch.equal(body["blocks.3.1.bn2.running_var"], mapped["blocks.3.1.bn2.running_var"])
    with pytest.raises(ValueError, match="trainable_stages must be 0..8"):
        freeze_units(backbone.body, 9)


def test_maskrcnn_with_pretrained_lite0_fpn_trains_on_real_photos(ccp_dir, ccp_coco):
    torch.manual_seed(0)
    backbone = build_lite0_fpn(fpn_channels=64)  # 5 trainable units: blocks.2 .. blocks.6
    model = MaskRCNN(backbone, num_classes=len(ccp_coco["categories"]) + 1, min_size=128, max_size=192,
                     rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=100,
                     box_batch_size_per_image=64, **maskrcnn_normalization())
    images, targets = [], []
    for info in ccp_coco["images"][:2]:
        scale = 192 / max(info["height"], info["width"])
        image = Image.fromarray(load_rgb(ccp_dir / "images" / info["file_name"]))
        image = image.resize((round(info["width"] * scale), round(info["height"] * scale)), Image.BILINEAR)
        images.append(torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255)
        targets.append(coco_targets(ccp_coco, info, scale))
    stem = backbone.body.conv_stem.weight.detach().clone()
    late = backbone.body.blocks[6][0].conv_pwl.weight.detach().clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.005, momentum=0.9)
    model.train()
    for _ in range(3):
        losses = model(images, targets)
        total = sum(losses.values())
        assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness"}
        assert torch.isfinite(total), losses
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert torch.equal(backbone.body.conv_stem.weight, stem)  # frozen unit
    assert not torch.equal(backbone.body.blocks[6][0].conv_pwl.weight, late)  # trained unit
    model.eval()
    with torch.no_grad():
        (result,) = model(images[:1])
    assert set(result) == {"boxes", "labels", "scores", "masks"}
    assert LITE0_UNITS[0] == "stem" and len(LITE0_UNITS) == 8


# ---------------------------------------------------------------------------------------------
# Offline errors


def test_offline_error_names_the_offline_initialisations():
    text = offline_init_error("model.init=imagenet")
    assert text.startswith("model.init=imagenet needs torchvision's weights from the internet, "
                           "which cannot be reached; offline initialisations: `lite0` (")
    assert OFFLINE_INITS["lite0"] in text and "or a local file path" in text
    assert "not installed" not in text  # the package is a dependency
    assert "timm's weights" in offline_init_error("backbone=resnet50 pretrained", source="timm")


def closed_port() -> int:
    """A local TCP port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failed_download_becomes_the_offline_error():
    url = f"http://127.0.0.1:{closed_port()}/resnet50.pth"
    with pytest.raises(OfflineWeightsError, match="offline initialisations: `lite0`") as err:
        fetch_or_explain(lambda: urllib.request.urlopen(url, timeout=5), asked="model.init=imagenet")
    assert isinstance(err.value.__cause__, OSError)
    assert fetch_or_explain(lambda: 7, asked="model.init=imagenet") == 7
