"""Data-parallel training on CPU: gloo, 2 processes, the tiny configs on real CCP photos.

2-process runs against one process with the same global batch (each rank takes half of it): the
detector through ``--nproc 2``, the classifier and the embedder as torchrun's ranks run the CLI
(one launch for both). The same optimiser steps per epoch, losses within a tolerance over the same
samples, one writer (files, metrics lines), a resume on one process, evaluation split over the
ranks equal to one process's on the saved checkpoint. Then the engine's pieces without processes,
and a toy run whose ranks start as on separate machines (a rank that dies, a time budget only one
rank hits). Augmentation is off in the comparisons: ranks draw their own augmentation streams."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from torch import nn

from garmentparse.checkpoint import Checkpoint, load_checkpoint
from garmentparse.cli import build_app
from garmentparse.engine.distributed import (ShardedBatchSampler, ShardSampler, World, launch_local, port_free,
                                             split_batch)
from garmentparse.engine.loop import Trainer
from tests.conftest import CLS_TINY, DET_TINY, REPO, invoke, runner
from tests.engine.ddp_workers import run_cli

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available in this build")

DET_SET = ["solver.max_iter=4", "solver.warmup_iters=2", "train.log_period=1", "train.checkpoint_period=2",
           "data.batch_size=2", "augment.hflip=0", "augment.scale_jitter_p=0", "augment.color_jitter_p=0",
           "input.min_size_train=[128]"]
CLS_SET = ["train.epochs=2", "train.patience=0", "solver.batch_size=8", "augment.hflip=0", "augment.rotate=0",
           "augment.scale_min=1.0", "augment.brightness=0", "augment.contrast=0"]
LOSS_RTOL = 0.15  # BatchNorm over 1 vs 2 images and the ranks' own proposal sampling; measured within 8 %


def rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def det_runs(tmp_path_factory, ccp_coco) -> dict:
    """The tiny detector, 4 steps of 2 images: on 2 processes (validated on 4 photos), and on one."""
    work = tmp_path_factory.mktemp("ddp_det")

    def train(out: str, *more: object) -> dict:
        return json.loads(invoke("train", "detector", "--config", DET_TINY, "--train", ccp_coco["train"], "--images",
                                 ccp_coco["images"], "--out", work / out, "--device", "cpu", "--no-progress",
                                 "--json", *more, "--set", *DET_SET))

    two = train("two", "--val", ccp_coco["val"], "--nproc", "2")
    one = train("one")
    return {"two": work / "two", "one": work / "one", "two_summary": two, "one_summary": one}


def test_detector_two_processes_match_one_with_the_whole_batch(det_runs):
    two, one = rows(det_runs["two"]), rows(det_runs["one"])
    steps = [r for r in two if "loss" in r]
    assert [r["iter"] for r in steps] == [r["iter"] for r in one] == [1, 2, 3, 4]  # one writer: no line twice
    assert len(two) == 5 and sum("eval" in r for r in two) == 1
    for a, b in zip(steps, one):
        assert a["loss"] == pytest.approx(b["loss"], rel=LOSS_RTOL), (a, b)
    assert det_runs["two_summary"]["iterations"] == det_runs["one_summary"]["iterations"] == 4
    assert sorted(p.name for p in det_runs["two"].iterdir()) == ["config.yaml", "eval.json", "last.pt",
                                                                 "metrics.jsonl", "model.pt"]
    last = load_checkpoint(det_runs["two"] / "last.pt", expect_kind="detector")
    assert last.extra["iteration"] == 4 and last.extra["global_batch"] == 2 and last.extra["world_size"] == 2
    assert not any(k.startswith("module.") for k in last.state_dict)


def test_detector_evaluation_on_two_ranks_equals_one_process(det_runs, ccp_coco):
    from garmentparse.parsing import evaluate_detector

    on_two = json.loads((det_runs["two"] / "eval.json").read_text())
    alone = evaluate_detector(det_runs["two"] / "model.pt", ccp_coco["val"], ccp_coco["images"], device="cpu")
    assert on_two["images"] == 4 and on_two == alone  # every image once, the same detections and AP


def test_detector_resumes_on_one_process(det_runs, ccp_coco):
    run = det_runs["two"]
    summary = json.loads(invoke("train", "detector", "--train", ccp_coco["train"], "--images", ccp_coco["images"],
                                "--out", run, "--resume", "--device", "cpu", "--no-progress", "--json",
                                "--set", "solver.max_iter=6"))
    assert summary["iterations"] == 6
    assert [r["iter"] for r in rows(run) if "loss" in r][-2:] == [5, 6]
    result = runner.invoke(build_app(), [
        "train", "detector", "--train", str(ccp_coco["train"]), "--images", str(ccp_coco["images"]), "--out",
        str(run), "--resume", "--device", "cpu", "--no-progress", "--set", "solver.max_iter=8", "data.batch_size=4"])
    assert result.exit_code == 1 and "global batch of 2" in result.output and "gives 4" in result.output


@pytest.fixture(scope="module")
def cls_runs(tmp_path_factory, ccp_crops) -> dict:
    """On 2 processes and on one: the tiny classifier, 2 epochs of batches of 8, validated on the
    crops of 6 photos; and the embedder (a linear head: no dropout) on Lite0 vectors of all crops."""
    from garmentparse.embeddings.sources import embed

    work = tmp_path_factory.mktemp("ddp_cls")
    embed(ccp_crops, "lite0", work / "emb", device="cpu")
    with ccp_crops.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, records = reader.fieldnames, list(reader)
    for r in records:  # the new manifests live elsewhere
        r["crop_path"] = str(ccp_crops.parent / r["crop_path"])
    photos = sorted({r["source_image"] for r in records})
    held = set(photos[-6:])
    for name, keep in (("train", lambda r: r["source_image"] not in held), ("val", lambda r: r["source_image"] in held)):
        with (work / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(r for r in records if keep(r))
    cls = ["train", "classifier", "--config", CLS_TINY, "--manifest", work / "train.csv", "--val-manifest",
           work / "val.csv", "--device", "cpu", "--no-progress", "--set", *CLS_SET]
    emb = ["train", "embedder", "--embeddings", work / "emb", "--epochs", "3", "--batch-size", "16", "--head",
           "linear", "--device", "cpu"]
    launch_local(2, run_cli, [*cls[:2], "--out", work / "two", *cls[2:]], [*emb, "--out", work / "emb_two"])
    invoke(*cls[:2], "--out", work / "one", *cls[2:])
    invoke(*emb, "--out", work / "emb_one")
    return {"two": work / "two", "one": work / "one", "train": work / "train.csv", "val": work / "val.csv",
            "emb_two": work / "emb_two", "emb_one": work / "emb_one"}


def test_classifier_two_processes_match_one_with_the_whole_batch(cls_runs):
    two, one = rows(cls_runs["two"]), rows(cls_runs["one"])
    assert [r["iter"] for r in two] == [r["iter"] for r in one]  # the same optimiser steps per epoch
    assert [r["epoch"] for r in two] == [1, 2]
    first = [sum(r["train_loss"].values()) for r in (two[0], one[0])]
    assert first[0] == pytest.approx(first[1], rel=LOSS_RTOL)
    assert sorted(p.name for p in cls_runs["two"].iterdir()) == ["config.yaml", "last.pt", "metrics.jsonl",
                                                                 "model.pt", "report.json"]


def test_classifier_validation_on_two_ranks_equals_one_process(cls_runs):
    from torch.utils.data import DataLoader

    from garmentparse.classifiers.config import ClassifierConfig
    from garmentparse.classifiers.data import CropDataset, background_fill, load_crops, read_manifest
    from garmentparse.classifiers.model import MultiHeadClassifier
    from garmentparse.classifiers.train import validate
    from garmentparse.config import from_dict
    from garmentparse.report import Report

    ckpt = load_checkpoint(cls_runs["two"] / "model.pt", expect_kind="classifier")
    on_two = ckpt.extra["validation"]
    cfg = from_dict(ClassifierConfig, ckpt.config, "model.pt")
    heads = [h.attribute for h in cfg.model.heads]
    multi = {h.attribute: bool(h.multi_label) for h in cfg.model.heads}
    size, fill = cfg.data.input_size, background_fill(cfg.data.crop_background)
    records, cache = load_crops(read_manifest(cls_runs["val"], Report("t"), heads), size, fill, Report("t"))
    model = MultiHeadClassifier.from_config(cfg, ckpt.vocabulary)
    model.load_state_dict(ckpt.state_dict)
    loader = DataLoader(CropDataset(records, ckpt.vocabulary, multi, size, fill, None, cache), batch_size=32)
    alone = validate(model, loader, torch.device("cpu"), False, multi)
    assert on_two["n"] == alone["n"] and sum(alone["n"].values()) > 0
    assert on_two["accuracy"] == alone["accuracy"]
    assert on_two["loss"] == pytest.approx(alone["loss"], rel=1e-5)


def test_classifier_resumes_on_one_process(cls_runs):
    invoke("train", "classifier", "--manifest", cls_runs["train"], "--val-manifest", cls_runs["val"], "--out",
           cls_runs["two"], "--resume", "--device", "cpu", "--no-progress", "--set", "train.epochs=3")
    assert [r["epoch"] for r in rows(cls_runs["two"])] == [1, 2, 3]


def test_embedder_two_processes_train_as_one(cls_runs):
    """The loss sees the gathered batch in order and DDP averages the rank-scaled gradients: with
    no dropout (a linear head) two processes reproduce one process's training."""
    one, two = (json.loads((cls_runs[d] / "report.json").read_text()) for d in ("emb_one", "emb_two"))
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-4) and two["crops"] == one["crops"]
    a, b = (load_checkpoint(cls_runs[d] / "model.pt", expect_kind="embedder").state_dict for d in ("emb_one", "emb_two"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


# ---------------------------------------------------------------- the pieces, in one process
def test_a_batch_that_does_not_split_names_both_numbers(ccp_coco, tmp_path):
    assert split_batch(8, 2, 2) == 2
    with pytest.raises(ValueError, match=r"data.batch_size=3 .* 2 processes: 3 is not a multiple of 2"):
        split_batch(3, 2, key="data.batch_size")
    with pytest.raises(ValueError, match=r"2 processes x 2 accumulation steps .* 6 is not a multiple of 4"):
        split_batch(6, 2, 2)
    result = runner.invoke(build_app(), [
        "train", "detector", "--config", str(DET_TINY), "--train", str(ccp_coco["train"]), "--images",
        str(ccp_coco["images"]), "--out", str(tmp_path / "r"), "--nproc", "2", "--set", "data.batch_size=3"])
    assert result.exit_code == 2 and "data.batch_size=3" in result.output and "2 processes" in result.output
    assert not (tmp_path / "r").exists()


def test_sharded_batches_are_the_single_process_batches_split():
    stream = list(range(40))
    one = list(zip(range(5), ShardedBatchSampler(stream, 4, World())))
    ranks = [list(ShardedBatchSampler(stream, 4, World(r, 2), accumulate=2)) for r in (0, 1)]
    for i, (_, batch) in enumerate(one):  # step i: rank r's micro-batches j -> number j * 2 + r
        assert sorted(ranks[0][2 * i] + ranks[1][2 * i] + ranks[0][2 * i + 1] + ranks[1][2 * i + 1]) == batch
        assert all(len(b) == 1 for b in (ranks[0][2 * i], ranks[1][2 * i]))
    grouped = list(ShardedBatchSampler(stream, 4, World(), group_ids=[i % 3 == 0 for i in range(40)]))
    assert grouped and all(len({i % 3 == 0 for i in b}) == 1 for b in grouped)


def test_shard_sampler_pads_as_distributed_sampler_and_is_the_base_in_one_process():
    base = torch.utils.data.RandomSampler(range(7), generator=torch.Generator().manual_seed(0))
    order = list(ShardSampler(base, World()))
    again = torch.utils.data.RandomSampler(range(7), generator=torch.Generator().manual_seed(0))
    assert order == list(again)
    shares = [list(ShardSampler(torch.utils.data.SequentialSampler(range(7)), World(r, 2))) for r in (0, 1)]
    assert shares == [[0, 2, 4, 6], [1, 3, 5, 0]] and len(ShardSampler(base, World(1, 2))) == 4


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free(port)
        with pytest.raises(RuntimeError, match=rf"port {port} on this machine is in use.*leave it out"):
            launch_local(2, print, port=port)


def test_a_failed_worker_is_named_with_its_error():
    from types import SimpleNamespace

    from garmentparse.engine.distributed import _describe_failures

    failures = {1: SimpleNamespace(exitcode=1, message={"message": "ValueError: bad crop"}),
                3: SimpleNamespace(exitcode=-9, message="")}
    text = _describe_failures(SimpleNamespace(failures=failures), 4)
    assert text.startswith("2 of 4 training processes failed and the others were stopped")
    assert "rank 1 exited with code 1: ValueError: bad crop" in text and "rank 3 exited with code -9" in text


def test_resume_refuses_another_global_batch():
    model = nn.Linear(2, 1)
    make = lambda batch: Trainer(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),  # noqa: E731
                                 step=lambda b: ({}, 0), data=lambda s: iter(()), max_iter=1,
                                 template=Checkpoint("toy", {}, {}, {}), global_batch=batch)
    ckpt = make(8).checkpoint(resume_state=True)
    make(8).resume(ckpt)  # the same global batch: on any number of processes
    with pytest.raises(ValueError, match="global batch of 8 .* gives 16"):
        make(16).resume(ckpt)


def test_accumulation_steps_are_the_whole_batch_step():
    """train.accumulate=2 on halves of each batch: the same step as the whole batch (no BatchNorm)."""
    x = torch.linspace(-1, 1, 32).reshape(16, 2)
    y = x @ torch.tensor([[1.5], [-0.5]])

    def run(accumulate: int) -> dict:
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        size = 4 // accumulate

        def data(start: int):
            i = start * 4
            while True:
                yield x[i % 16:i % 16 + size], y[i % 16:i % 16 + size]
                i += size

        trainer = Trainer(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                          step=lambda b: ({"mse": ((model(b[0]) - b[1]) ** 2).mean()}, len(b[0])), data=data,
                          max_iter=6, template=Checkpoint("toy", {}, {}, {}), accumulate=accumulate, global_batch=4)
        trainer.train()
        assert trainer.samples == 24
        return model.state_dict()

    whole, halves = run(1), run(2)
    assert all(torch.allclose(whole[k], halves[k], atol=1e-6) for k in whole)


# ---------------------------------------------------------------- ranks as on separate machines
def test_ranks_agree_on_the_time_budget_and_a_dead_rank_stops_the_other(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(REPO / "tests" / "engine" / "ddp_workers.py"), str(tmp_path)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    lines = [json.loads(line) for out, _ in outs for line in out.splitlines() if line.startswith("{")]
    budget = [x for x in lines if x["scenario"] == "budget"]
    assert len(budget) == 2 and {(x["iter"], x["stop"], x["samples"]) for x in budget} == {(1, "time_budget", 4)}
    assert procs[1].returncode == 3 and procs[0].returncode == 1, outs
    death = next(x for x in lines if x["scenario"] == "death")
    assert death["rank"] == 0 and "another training process stopped" in death["error"]
    assert "last.pt is the last complete one" in death["error"]
    last = load_checkpoint(tmp_path / "death" / "last.pt", expect_kind="toy")  # whole, never half-written
    assert last.extra["iteration"] == 3 and not list((tmp_path / "death").glob("*.tmp"))


def test_gpu_script_has_the_ddp_stage_and_its_benchmark_runs():
    script = REPO / "scripts" / "gpu_run.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "detector|classifier|tag|ddp)" in text and "torch.distributed.run --standalone" in text
    assert "benchmarks/bench_ddp.py" in text and (REPO / "benchmarks" / "bench_ddp.py").is_file()
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_ddp.py"), "--help"], check=True,
                         capture_output=True, text=True).stdout
    assert "--nproc" in out and "images/s" in out
