"""The upload worker: tagging runs on one thread of its own, apart from the request thread pool
(anyio's 40 threads that every plain ``def`` route and ``run_in_threadpool`` share), so page views
never wait behind model inference. At most ``max_queued`` uploads are in it at once (the one being
tagged and those waiting); past that an upload is refused at once with :class:`TaggingBusy`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
MAX_QUEUED = 8  # the register page sends its photos one after another: eight reviewers at once
RETRY_AFTER_S = 5


class TaggingBusy(Exception):
    """The upload queue is full: the client should send the photo again after ``retry_after`` s."""

    def __init__(self, queued: int, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(f"{queued} uploads queued")
        self.queued, self.retry_after = queued, retry_after


class UploadWorker:
    """One thread and a bounded queue for the uploads' tagging."""

    def __init__(self, max_queued: int = MAX_QUEUED) -> None:
        self.max_queued = max_queued
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="garmentparse-tagging")
        self._slots = threading.BoundedSemaphore(max_queued)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the worker thread, awaited; :class:`TaggingBusy` when the queue is full.
        A request that goes away while its upload still waits takes it out of the queue."""
        if not self._slots.acquire(blocking=False):
            raise TaggingBusy(self.max_queued)
        try:
            future: Future[T] = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop taking uploads; the one being tagged finishes, those waiting are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)
