"""The converters' one process pool: work in chunks, results in input order, shared options
handed to each worker once, inline in this process when ``workers <= 1``.

``func(chunk, context) -> results`` (one result per item, in order) runs in the workers;
``context`` (options, lookup tables) travels with the pool's initializer instead of with every
chunk. With ``on_error``, an item that breaks ``func`` does not end the run: its chunk is
retried item by item and the failing item's result is ``on_error(item, exc, context)``.
``func`` and ``on_error`` must be module-level functions (picklable) when workers are spawned.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

ChunkFunc = Callable[[list, Any], list]
OnError = Callable[[Any, Exception, Any], Any]

_WORKER: tuple[ChunkFunc, Any, OnError | None] | None = None


def default_workers() -> int:
    """Worker processes to use by default: the CPU cores this process may run on
    (``os.sched_getaffinity``, which respects containers' CPU sets), else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter), streamed."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_chunk(func: ChunkFunc, chunk: list, context: Any, on_error: OnError | None = None) -> list:
    """``func(chunk, context)``; if it raises and ``on_error`` is given, each item on its own,
    a failing one replaced by ``on_error(item, exc, context)``."""
    if on_error is None:
        return func(chunk, context)
    try:
        return func(chunk, context)
    except Exception as exc:  # noqa: BLE001 - one bad item must not end a long run
        if len(chunk) == 1:
            return [on_error(chunk[0], exc, context)]
    return [r for item in chunk for r in run_chunk(func, [item], context, on_error)]


def _init_worker(func: ChunkFunc, context: Any, on_error: OnError | None) -> None:
    global _WORKER
    _WORKER = (func, context, on_error)


def _run_in_worker(chunk: list) -> list:
    assert _WORKER is not None, "pool worker not initialised"
    func, context, on_error = _WORKER
    return run_chunk(func, chunk, context, on_error)


def map_chunks(func: ChunkFunc, items: Iterable[T], context: Any, *, workers: int = 1, chunk_size: int = 64,
               on_error: OnError | None = None) -> Iterator[tuple[T, Any]]:
    """``(item, result)`` for every item, in input order, items consumed lazily.

    With ``workers > 1`` a pool (fork where available, else spawn) keeps at most 4 chunks per
    worker in flight, so memory stays flat however many items there are.
    """
    if workers <= 1:
        for chunk in chunked(items, chunk_size):
            yield from zip(chunk, run_chunk(func, chunk, context, on_error))
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(func, context, on_error)) as pool:
        pending: deque = deque()
        for chunk in chunked(items, chunk_size):
            pending.append((chunk, pool.apply_async(_run_in_worker, (chunk,))))
            while len(pending) >= 4 * workers:
                done_chunk, result = pending.popleft()
                yield from zip(done_chunk, result.get())
        while pending:
            done_chunk, result = pending.popleft()
            yield from zip(done_chunk, result.get())
