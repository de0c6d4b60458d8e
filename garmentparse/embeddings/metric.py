"""``train embedder``: a 512-d metric-learning projection trained on the labels of a crop
manifest, on top of a frozen base (``lite0`` or a trained classifier).

The base network embeds every crop (and its mirror image) once, or the vectors of an embedding
folder the base already made are used as they are; a projection (an MLP by default) is then
trained with the multi-similarity loss and miner of ``pytorch-metric-learning`` on class-balanced
batches (``MPerClassSampler``), so garments of one label end up close together. The checkpoint
(kind ``embedder``) keeps the base too (its weights when it is a classifier), so it is one file.

Several processes (``torchrun`` or ``--nproc``, :mod:`garmentparse.engine.distributed`): the
crops are embedded by all ranks (each its share, gathered in order); every class-balanced batch
(``batch_size`` is the global batch) is split over the ranks, the embeddings gathered so that the
loss and its mining see the whole batch, and rank 0 writes ``model.pt`` and ``report.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from garmentparse.checkpoint import Checkpoint, file_sha256, load_checkpoint, save_checkpoint
from garmentparse.embeddings.encoders import EMBEDDER_KIND, LITE0, Encoder, ModelIdentity, load_encoder, projection
from garmentparse.embeddings.folder import MANIFEST, EmbeddingFolder
from garmentparse.engine.distributed import (from_main, gather_objects, gather_rows, peer_errors, setup, shard,
                                             unwrap, wrap_model)
from garmentparse.engine.images import iter_decoded
from garmentparse.engine.seeding import seed_everything
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report

log = logging.getLogger(__name__)


@dataclass
class EmbedderResult:
    model_path: Path
    crops: int  # training crops (with every label asked for)
    classes: int
    epochs: int
    seconds: float
    final_loss: float


def _base_record(identity: ModelIdentity) -> dict:
    """What the embedder keeps of its base: the name for lite0, the whole checkpoint otherwise."""
    record = {"kind": identity.kind, "path": identity.path, "sha256": identity.sha256}
    if identity.kind == "classifier":
        if not Path(identity.path).is_file() or file_sha256(identity.path) != identity.sha256:
            raise ValueError(f"the base classifier {identity.path} is gone or has changed (sha256)")
        ckpt = load_checkpoint(identity.path, expect_kind="classifier")
        record["checkpoint"] = {"config": ckpt.config, "vocabulary": ckpt.vocabulary, "state_dict": ckpt.state_dict,
                                "extra": {k: v for k, v in ckpt.extra.items() if k == "untrained_heads"}}
    elif identity.kind != LITE0:
        raise ValueError(f"{identity.path}: an embedder's base must be 'lite0' or a classifier, not an {identity.kind}")
    return record


def joint_labels(rows: Sequence[dict[str, list[str]]], labels: Sequence[str]) -> list[str | None]:
    """Each row's class for training: its first value of every label, joined (``None`` when one is missing)."""
    return ["|".join(r[name][0] for name in labels) if all(r.get(name) for name in labels) else None for r in rows]


def _folder_vectors(folder: EmbeddingFolder, labels: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    """The base vectors and classes of an embedding folder the base made."""
    return np.asarray(folder.vectors, dtype=np.float32), joint_labels([it.labels for it in folder.items], labels)


def base_features(encoder: Encoder, paths: Sequence[Path], report: Report, *, flip: bool = True,
                  batch_size: int = 64, workers: int = 0,
                  on_progress: ProgressCallback | None = None) -> tuple[np.ndarray, list[int]]:
    """Base vectors of the crops (then of their mirror images, when ``flip``) and the positions
    of the crops that could be read."""
    features, kept = [], []
    for batch in iter_decoded(list(paths), batch_size, workers):
        images = []
        for item in batch:
            if item.image is None:
                report.add(item.path, "crop_unreadable", item.error or "")
                continue
            images.append(item.image)
            kept.append(item.index)
        if images:
            features.append(encoder.encode(images, batch_size))
            if flip:
                features.append(encoder.encode([np.ascontiguousarray(im[:, ::-1]) for im in images], batch_size))
        report_progress(on_progress, len(kept), len(paths), "embedding crops")
    if not kept:
        return np.zeros((0, encoder.dim), np.float32), kept
    # batches hold [crops, mirrored crops]; reorder to all crops, then all mirror images
    chunks = [features[i::2] for i in range(2)] if flip else [features]
    return np.concatenate([np.concatenate(c) for c in chunks]), kept


def _gather_features(features: np.ndarray, kept: list[int], flip: bool) -> tuple[np.ndarray, list[int]]:
    """The base vectors every rank made of its share (``kept``: positions in the whole list),
    put together in the order one process makes them: crops by position, then their mirrors."""
    rows: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    for part, where in gather_objects((features, kept)):
        n = len(where)
        rows += [(i, part[k], part[n + k] if flip else None) for k, i in enumerate(where)]
    rows.sort(key=lambda row: row[0])
    if not rows:
        return features[:0], []
    vectors = [r[1] for r in rows] + ([r[2] for r in rows] if flip else [])
    return np.stack(vectors), [r[0] for r in rows]


def train_embedder(source: str | Path, out_dir: str | Path, *, base: str | Path = LITE0,
                   labels: Sequence[str] = ("category",), dim: int = 512, head: str = "mlp", epochs: int = 40,
                   batch_size: int = 128, lr: float = 1e-3, per_class: int = 4, flip: bool = True,
                   seed: int = 0, device: str = "auto", workers: int = 0,
                   on_progress: ProgressCallback | None = None) -> EmbedderResult:
    """Train a projection so that crops sharing ``labels`` (joined: category and colour, say)
    embed close together; writes ``out_dir/model.pt`` (kind ``embedder``) and ``report.json``.

    ``source``: a crop manifest (``base`` embeds its crops, and their mirror images with
    ``flip``), or an embedding folder made by the base (its vectors and true labels are used as
    they are, in seconds; ``base`` is then the folder's model)."""
    from pytorch_metric_learning import losses, miners, samplers

    from garmentparse.classifiers.data import read_manifest

    world, dev = setup(device)
    seed_everything(seed)
    start = time.perf_counter()
    report = Report("train embedder")
    if (Path(source) / MANIFEST).is_file():
        folder = EmbeddingFolder.open(source)
        identity, flip = folder.model, False
        features, names = _folder_vectors(folder, labels)
        keep = [i for i, n in enumerate(names) if n is not None]
        features, names = features[keep], [names[i] for i in keep]
    else:
        records = read_manifest(source, report, attributes=labels)
        names_all = joint_labels([r.labels for r in records], labels)
        records = [r for r, n in zip(records, names_all) if n is not None]
        encoder = load_encoder(base, device=str(dev))
        identity = encoder.identity
        mine = list(shard(len(records)))  # every rank embeds its share
        features, kept = base_features(encoder, [records[i].path for i in mine], report, flip=flip,
                                       batch_size=64, workers=workers, on_progress=on_progress)
        if world.distributed:
            features, kept = _gather_features(features, [mine[k] for k in kept], flip)
            report.problems = [p for part in gather_objects(report.problems) for p in part]
        names = [joint_labels([records[i].labels], labels)[0] for i in kept]
    counts = Counter(names)
    rows = [i for i, n in enumerate(names) if counts[n] >= 2]  # a class of one has no positive pair
    if len(rows) < 2 or len({names[i] for i in rows}) < 2:
        raise ValueError(f"{source}: too few labelled crops to train on ({len(rows)} crops with a {'+'.join(labels)} "
                         "label shared by at least two crops, in at least two classes)")
    names = [names[i] for i in rows]
    classes = sorted(set(names))
    copies = 2 if flip else 1  # base_features put the mirror images after the crops
    features = np.concatenate([features[np.array(rows) + c * (len(features) // copies)] for c in range(copies)])
    targets = np.array([classes.index(n) for n in names] * copies)
    net = projection(features.shape[1], dim, head).to(dev)
    x, y = torch.from_numpy(features).to(dev), torch.from_numpy(targets).to(dev)
    batch = max(per_class * 2, min(batch_size, per_class * len(classes)) // per_class * per_class)
    if batch % world.size:
        raise ValueError(f"the embedder's batch of {batch} crops (--batch-size {batch_size} in whole classes of "
                         f"--per-class {per_class}) does not split evenly over {world.size} processes: use a "
                         f"--batch-size that is a multiple of {world.size * per_class}")
    micro = batch // world.size
    ddp = wrap_model(net, dev)
    sampler = samplers.MPerClassSampler(targets, m=per_class, batch_size=batch, length_before_new_iter=len(targets))
    loss_fn, miner = losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner(epsilon=0.1)
    optimiser = torch.optim.AdamW(unwrap(ddp).parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    last = 0.0
    ddp.train()
    with peer_errors():
        for epoch in range(epochs):
            order = torch.as_tensor(from_main(lambda: list(iter(sampler))), device=dev)  # one order for all ranks
            total, steps = 0.0, 0
            for s in range(0, len(order) - batch + 1, batch):
                idx = order[s:s + batch]
                own = idx[world.rank * micro:(world.rank + 1) * micro]
                emb = gather_rows(F.normalize(ddp(x[own]), dim=1))  # the whole batch, in order
                loss = loss_fn(emb, y[idx], miner(emb, y[idx]))
                optimiser.zero_grad()
                (loss * world.size if world.distributed else loss).backward()  # DDP averages over ranks
                optimiser.step()
                total, steps = total + float(loss.detach()), steps + 1
            schedule.step()
            last = total / max(1, steps)
            log.info("embedder epoch %d/%d: loss %.4f", epoch + 1, epochs, last)
            report_progress(on_progress, epoch + 1, epochs, "training projection")
    out = Path(out_dir)
    config = {"dim": dim, "head": head, "labels": list(labels), "epochs": epochs, "batch_size": batch,
              "per_class": per_class, "lr": lr, "flip": flip, "seed": seed, "loss": "multi_similarity",
              "base": identity.kind}
    seconds = time.perf_counter() - start
    summary = {"config": config, "source": str(source), "crops": len(names), "classes": dict(Counter(names)),
               "final_loss": last, "seconds": round(seconds, 1), "report": report.to_dict()}
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(Checkpoint(EMBEDDER_KIND, config, {"classes": classes},
                                   {k: v.detach().cpu() for k, v in net.state_dict().items()},
                                   {"base": _base_record(identity), "train_crops": len(names), "final_loss": last}),
                        out / "model.pt")
        (out / "report.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    return EmbedderResult(out / "model.pt", len(names), len(classes), epochs, seconds, last)


__all__ = ["EmbedderResult", "base_features", "joint_labels", "train_embedder"]
