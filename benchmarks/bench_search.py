"""Benchmark: similar-garment search (faiss) at 100 000 and 1 000 000 vectors, and embed throughput.

Search: synthetic 512-d unit vectors, **clustered** like real embeddings are: a Gaussian mixture of
``size / 1000`` centres on the sphere, each cluster spread along its own random 24-d subspace
plus a little isotropic noise (pure isotropic noise in 512-d would make every point about as far
from every other, which no real embedding does). Queries are fresh draws from the same mixture,
not in the index. For each size the index ``garmentparse embed`` would build (``auto``: IVF past
100 000 vectors, tuned at build time to recall@10 >= 0.95 on a sample of the collection) and,
with ``--kinds``, others are built and measured against exact search (the baseline, same run):

- recall@10 of the held-out queries against the exact top 10;
- queries/s for all queries in one batch (median of ``--repeats``), per wall second and per CPU
  second of the process (on a shared machine the first depends on the neighbours), and
  single-query latency;
- build time, index bytes, process peak RSS.

Embed: crops/s of ``Encoder.encode`` (decoded crops in memory, letterbox + network) on real CCP
crops, for ``lite0`` and an optional ``--checkpoint``. Usage::

    python benchmarks/bench_search.py                      # 100k and 1M, auto index, embed on CPU
    python benchmarks/bench_search.py --sizes 100000 --kinds auto hnsw --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SUBSPACE = 24


def clustered_vectors(n: int, dim: int, centres: np.ndarray, bases: np.ndarray, rng: np.random.Generator,
                      spread: float = 0.7, noise: float = 0.2) -> np.ndarray:
    """``n`` unit vectors from the mixture (see the module docstring), generated cluster by cluster."""
    labels = np.sort(rng.integers(0, len(centres), n))
    out = np.empty((n, dim), np.float32)
    starts = np.searchsorted(labels, np.arange(len(centres) + 1))
    for k in range(len(centres)):
        a, b = starts[k], starts[k + 1]
        if b > a:
            z = rng.standard_normal((b - a, SUBSPACE)).astype(np.float32) * (spread / np.sqrt(SUBSPACE))
            out[a:b] = centres[k] + z @ bases[k]
    out += noise * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out[rng.permutation(n)]


def mixture(size: int, dim: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = max(10, size // 1000)
    centres = rng.standard_normal((k, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = (rng.standard_normal((k, SUBSPACE, dim)) / np.sqrt(dim)).astype(np.float32)
    chunks = [clustered_vectors(min(200_000, size - s), dim, centres, bases, rng) for s in range(0, size, 200_000)]
    return np.concatenate(chunks), clustered_vectors(queries, dim, centres, bases, rng)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def time_batch(index, queries: np.ndarray, repeats: int) -> tuple[float, float]:
    """(queries per wall second, queries per CPU second of this process), medians of ``repeats``.
    On a shared machine the second says what the index costs, whatever the neighbours take."""
    from garmentparse.embeddings.index import search

    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        search(index, queries, 10)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return len(queries) / statistics.median(wall), len(queries) / statistics.median(cpu)


def latency_ms(index, queries: np.ndarray) -> float:
    from garmentparse.embeddings.index import search

    times = []
    for q in queries:
        start = time.perf_counter()
        search(index, q[None], 10)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_size(size: int, kinds: list[str], args: argparse.Namespace) -> list[dict]:
    import faiss

    from garmentparse.embeddings.index import build_index, exact_top_k, search

    t = time.perf_counter()
    base, queries = mixture(size, args.dim, args.queries, args.seed)
    print(f"[{size}] generated in {time.perf_counter() - t:.0f}s", flush=True)
    t = time.perf_counter()
    _, exact = exact_top_k(base, queries[:args.truth], 10)
    exact_qps = args.truth / (time.perf_counter() - t)
    print(f"[{size}] exact top-10 of {args.truth} queries: {exact_qps:.1f} q/s", flush=True)
    rows = [{"size": size, "kind": "exact (brute force)", "queries_per_s": round(exact_qps, 1), "recall_at_10": 1.0}]
    for kind in kinds:
        t = time.perf_counter()
        index, spec = build_index(base, kind, target_recall=args.target_recall, seed=args.seed)
        build_s = time.perf_counter() - t
        _, found = search(index, queries[:args.truth], 10)
        per_wall_s, per_cpu_s = time_batch(index, queries, args.repeats)
        row = {"size": size, "kind": f"{kind} -> {spec.describe()}", "build_s": round(build_s, 1),
               "recall_at_10": round(recall(found, exact), 4), "queries_per_s": round(per_wall_s, 1),
               "queries_per_cpu_s": round(per_cpu_s, 1), "threads": faiss.omp_get_max_threads(),
               "latency_ms_p50": round(latency_ms(index, queries[:args.single]), 3),
               "index_gib": round(faiss.serialize_index(index).nbytes / 2**30, 3) if not spec.exact
               else round(base.nbytes / 2**30, 3),
               "vectors_gib": round(base.nbytes / 2**30, 3), "peak_rss_gib": round(peak_rss_gib(), 2)}
        row["speedup_vs_exact"] = round(row["queries_per_s"] / exact_qps, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
        del index
    return rows


def bench_embed(args: argparse.Namespace) -> list[dict]:
    import torch

    from garmentparse.classifiers.data import read_manifest
    from garmentparse.converters import convert_kfashion, crop_dataset
    from garmentparse.embeddings import load_encoder
    from garmentparse.imageio import load_rgb

    ccp = REPO / "examples" / "ccp"
    with tempfile.TemporaryDirectory() as tmp:
        coco, _ = convert_kfashion(ccp / "labels", ccp / "images")
        crop_dataset(coco, ccp / "images", tmp, size=224)
        crops = [load_rgb(r.path) for r in read_manifest(Path(tmp) / "manifest.csv")]
    crops = (crops * (-(-args.embed_crops // len(crops))))[:args.embed_crops]
    rows = []
    for model in ["lite0", *([args.checkpoint] if args.checkpoint else [])]:
        encoder = load_encoder(model, device=args.device)
        encoder.encode(crops[:8])  # warm-up
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            encoder.encode(crops, batch_size=32)
            runs.append(time.perf_counter() - start)
        row = {"model": f"{encoder.identity.kind} ({Path(encoder.identity.path).name})", "dim": encoder.dim,
               "input": encoder.input_size, "crops": len(crops), "device": str(encoder.device),
               "threads": torch.get_num_threads(), "crops_per_s": round(len(crops) / statistics.median(runs), 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["auto"], help="index kinds: auto flat ivf hnsw")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=10_000, help="held-out queries timed in one batch")
    parser.add_argument("--truth", type=int, default=1_000, help="queries whose exact top 10 is computed")
    parser.add_argument("--single", type=int, default=300, help="queries timed one at a time")
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embed-crops", type=int, default=256)
    parser.add_argument("--checkpoint", help="also time this classifier / embedder checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="faiss (OpenMP) and torch threads (default: theirs)")
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    import faiss
    import torch

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)

    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    result = {"search": [row for size in args.sizes for row in bench_size(size, args.kinds, args)],
              "embed": [] if args.skip_embed else bench_embed(args),
              "load_average_end": round(os.getloadavg()[0], 1)}
    print("\nsize       index                                                     recall@10   q/s  q/CPU-s  x exact  build s")
    for r in result["search"]:
        print(f"{r['size']:<10} {r['kind']:<57} {r['recall_at_10']:>8.3f} {r['queries_per_s']:>7.0f} "
              f"{r.get('queries_per_cpu_s', '-'):>7} {r.get('speedup_vs_exact', 1.0):>7.1f} {r.get('build_s', '-'):>8}")
    for r in result["embed"]:
        print(f"embed {r['model']}: {r['crops_per_s']} crops/s ({r['device']}, {r['threads']} threads, {r['input']} px)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
