"""Data-parallel training: several processes (one per GPU, or CPU processes on gloo) as one run.

Start them with ``torchrun --nproc-per-node N -m garmentparse train ...`` (any rendezvous torchrun
takes: several machines, SLURM, Kubernetes) or ``garmentparse train ... --nproc N``
(:func:`launch_local`). Every process runs the same train function; this module makes them one run:

- :func:`setup`: the process group from ``env://`` (NCCL on CUDA, else gloo) with a timeout, and
  this process's device (``cuda:LOCAL_RANK``); one process: just the device.
- :func:`split_batch`: a configured batch size is the *global* batch of one optimiser step, split
  evenly over the processes and the accumulation steps (else an error naming both numbers).
- :class:`ShardSampler` (epochs: classifier) and :class:`ShardedBatchSampler` (endless, optionally
  aspect-ratio grouped: detector) give each rank its share of one sample order all ranks draw alike.
- :func:`wrap_model` (DDP, SyncBN), :func:`unwrap`, :func:`no_sync` (accumulation steps).
- Collectives that are no-ops in one process: :func:`any_rank`, :func:`all_sum`, :func:`all_max`,
  :func:`gather_objects`, :func:`from_main`; :func:`shard` splits evaluation without padding.
- :func:`peer_errors`: a peer that died or stopped answering becomes one clear error.

Only rank 0 writes files (:class:`~garmentparse.engine.run.RunFolder`); logs and progress bars are
the CLI's business (rank 0 only).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import itertools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from garmentparse.checkpoint import resolve_device

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TIMEOUT_S = 600.0
# words in the errors gloo / NCCL / the TCP store raise when a peer died, hung or timed out
PEER_SIGNS = ("gloo", "nccl", "connection reset", "connection closed", "broken pipe", "timed out", "timeout",
              "socket", "peer")
_collective_device = torch.device("cpu")  # where collective tensors live (this rank's GPU on NCCL)


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _initialised() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world() -> World:
    """The process group this process is in (a world of one without one)."""
    if not _initialised():
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def launched() -> bool:
    """Started as one of several processes (torchrun and the like set ``WORLD_SIZE``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def process_rank() -> int:
    """This process's rank: the group's, else what its launcher set (``RANK``, when launched), else 0."""
    if _initialised():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched() else 0


def setup(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[World, torch.device]:
    """This process's world and device. Launched as several processes, it joins the process group
    (``env://``: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``; NCCL when the device is
    CUDA, else gloo; collectives fail after ``timeout_s``) and a CUDA device is ``cuda:LOCAL_RANK``.
    One process: :func:`~garmentparse.checkpoint.resolve_device` only. Joining twice is a no-op."""
    global _collective_device
    dev = resolve_device(device)
    if not launched() and not _initialised():
        return World(), dev
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if local >= count:
            raise RuntimeError(f"local rank {local} has no GPU: this machine has {count}; start at most "
                               f"{count} processes per machine (--nproc-per-node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not _initialised():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, init_method="env://",
                                    timeout=datetime.timedelta(seconds=timeout_s))
        except (RuntimeError, ValueError) as exc:
            where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
            hint = (" (that port is in use: pick another MASTER_PORT / --master-port, or let torchrun "
                    "--standalone or --nproc choose a free one)" if "in use" in str(exc).lower() else "")
            raise RuntimeError(f"rank {os.environ.get('RANK', '?')}: could not join the process group at "
                               f"{where}{hint}: {str(exc).splitlines()[0]}") from None
        atexit.register(_shutdown)
    _collective_device = dev if dist.get_backend() == "nccl" else torch.device("cpu")
    w = get_world()
    if w.main:
        logger.info("data parallel: %d processes (%s), this one rank %d on %s", w.size, dist.get_backend(),
                    w.rank, dev)
    return w, dev


def _shutdown() -> None:
    with contextlib.suppress(Exception):  # at exit after a failure there is nothing left to tell
        if _initialised():
            dist.destroy_process_group()


def split_batch(batch: int, size: int, accumulate: int = 1, key: str = "batch size") -> int:
    """The batch of one forward pass: ``batch`` (the global batch of one optimiser step) over
    ``size`` processes and ``accumulate`` steps; a ``ValueError`` naming the numbers when it does not divide."""
    parts = size * accumulate
    if batch % parts:
        over = f"{size} processes" + (f" x {accumulate} accumulation steps (train.accumulate)" if accumulate > 1 else "")
        raise ValueError(f"{key}={batch} is the global batch of one optimiser step and must split evenly over "
                         f"{over}: {batch} is not a multiple of {parts} (use e.g. {key}="
                         f"{max(parts, batch // parts * parts)})")
    return batch // parts


# ---------------------------------------------------------------------------------- collectives
def _reduce(values: Sequence[float], op: Any) -> list[float]:
    if not get_world().distributed:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_collective_device)
    dist.all_reduce(t, op=op)
    return t.tolist()


def all_sum(values: Sequence[float]) -> list[float]:
    """Each value summed over the ranks (every rank must call, with as many values)."""
    return _reduce(values, dist.ReduceOp.SUM)


def all_max(values: Sequence[float]) -> list[float]:
    """Each value's maximum over the ranks."""
    return _reduce(values, dist.ReduceOp.MAX)


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank: one decision all ranks act on (stop, skip a step)."""
    return all_max([float(flag)])[0] > 0


def gather_objects(obj: T) -> list[T]:
    """``obj`` of every rank, in rank order (picklable objects)."""
    w = get_world()
    if not w.distributed:
        return [obj]
    out: list[Any] = [None] * w.size
    dist.all_gather_object(out, obj)
    return out


def from_main(fn: Callable[[], T]) -> T:
    """``fn()`` run on rank 0 only, its result handed to every rank; when it raises, rank 0
    re-raises and the other ranks raise a ``RuntimeError`` with its message (nobody waits forever)."""
    w = get_world()
    if not w.distributed:
        return fn()
    box: list[Any] = [None]
    error: Exception | None = None
    if w.main:
        try:
            box[0] = (True, fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, on every rank
            error, box[0] = exc, (False, f"{type(exc).__name__}: {exc}")
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if error is not None:
        raise error
    if not ok:
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Every rank's rows of ``t`` (as many on each) concatenated in rank order; this rank's rows
    keep their gradient, the others' are constants. A loss over the whole batch then
    back-propagates into each rank's own rows; scaled by the world size, DDP's gradient average
    is the whole batch's gradient (metric learning: pairs across ranks)."""
    w = get_world()
    if not w.distributed:
        return t
    parts = [torch.empty_like(t) for _ in range(w.size)]
    dist.all_gather(parts, t.detach().contiguous())
    parts[w.rank] = t
    return torch.cat(parts)


def barrier() -> None:
    if get_world().distributed:
        dist.barrier()


def shard(n: int) -> range:
    """This rank's positions among ``n`` items (every size-th from its rank): unequal shares, no
    padding, so a gathered evaluation counts each item once."""
    w = get_world()
    return range(w.rank, n, w.size)


@contextlib.contextmanager
def peer_errors() -> Iterator[None]:
    """In a run of several processes, an error of a collective because another process died or
    stopped answering (within the process group's timeout) becomes one clear ``RuntimeError``."""
    try:
        yield
    except RuntimeError as exc:
        w = get_world()
        text = str(exc)
        if not w.distributed or not any(s in text.lower() for s in PEER_SIGNS):
            raise
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise RuntimeError(f"rank {w.rank} of {w.size}: another training process stopped or stopped answering "
                           f"({first[:300]}); stopping this one too. Only rank 0 writes, each checkpoint "
                           "atomically: the run folder's last.pt is the last complete one, and --resume "
                           "continues it on any number of processes") from exc


# ---------------------------------------------------------------------------------- models
def wrap_model(model: nn.Module, device: torch.device, *, sync_bn: bool = False,
               find_unused: bool = False) -> nn.Module:
    """``model`` in DistributedDataParallel when there are several processes (``model`` itself
    otherwise). ``sync_bn``: BatchNorm statistics over the global batch (CUDA only; on CPU a
    warning, and each process normalises its own batch). ``find_unused``: for models whose steps
    leave some trainable parameters without a gradient (slower; off unless needed)."""
    if not get_world().distributed:
        return model
    if sync_bn and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif sync_bn:
        logger.warning("train.sync_bn: SyncBatchNorm needs CUDA; on %s each process normalises its own batch",
                       device.type)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=find_unused)


def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) to every rank: each rank's last forward
    updated its own, and an evaluation split over the ranks must see the weights rank 0 saves."""
    if get_world().distributed:
        for buffer in unwrap(model).buffers():
            dist.broadcast(buffer.data, src=0)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (``model`` itself when not wrapped)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def no_sync(model: nn.Module, skip: bool) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` when ``skip`` (an accumulation step before the last): gradients stay local."""
    return model.no_sync() if skip and isinstance(model, DistributedDataParallel) else contextlib.nullcontext()


# ---------------------------------------------------------------------------------- samplers
class ShardSampler(Sampler[int]):
    """This rank's share of ``base``'s order, drawn anew on each pass (so every rank must seed
    ``base``'s generator alike): padded with its first indices to a multiple of the world size, as
    torch's ``DistributedSampler`` pads, then every size-th index from the rank. Works for any base
    (shuffled, weighted); in one process it is ``base`` itself, index for index."""

    def __init__(self, base: Sampler[int], world: World | None = None) -> None:
        self.base = base
        self.world = world or get_world()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called at each epoch start (passed on to a base that has ``set_epoch``)."""
        self.epoch = epoch
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.base) // self.world.size)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[int]:
        if not self.world.distributed:
            yield from self.base
            return
        order = list(self.base)
        need = len(self) * self.world.size
        while len(order) < need:
            order += order[: need - len(order)]
        yield from order[self.world.rank::self.world.size]


class ShardedBatchSampler(Sampler[list[int]]):
    """Endless batches for this rank out of an endless index stream every rank draws alike.

    The stream is cut into global batches of ``batch_size`` (with ``group_ids``, each batch from one
    group, e.g. landscape vs portrait photos as in detectron2's aspect-ratio grouping, so padding to
    the largest image wastes little); each global batch into ``size x accumulate`` equal
    micro-batches, of which this rank takes number ``j * size + rank`` for accumulation step ``j``.
    One process, one step, no groups: consecutive chunks of the stream."""

    def __init__(self, indices: Iterable[int], batch_size: int, world: World | None = None, *,
                 accumulate: int = 1, group_ids: Sequence[int] | None = None) -> None:
        self.indices, self.batch_size, self.accumulate = indices, batch_size, accumulate
        self.world = world or get_world()
        self.micro = split_batch(batch_size, self.world.size, accumulate)
        self.group_ids = group_ids

    def global_batches(self) -> Iterator[list[int]]:
        stream = iter(self.indices)
        if self.group_ids is None:
            while batch := list(itertools.islice(stream, self.batch_size)):
                yield batch
            return
        buckets: dict[int, list[int]] = {}
        for i in stream:
            bucket = buckets.setdefault(self.group_ids[i], [])
            bucket.append(i)
            if len(bucket) == self.batch_size:
                yield bucket[:]
                bucket.clear()

    def __iter__(self) -> Iterator[list[int]]:
        size, rank, m = self.world.size, self.world.rank, self.micro
        for batch in self.global_batches():
            for j in range(self.accumulate):
                k = j * size + rank
                yield batch[k * m:(k + 1) * m]


# ---------------------------------------------------------------------------------- launcher
def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP port can be listened on here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _launch_environment(nproc: int) -> Iterator[None]:
    """As torchrun: one OpenMP thread per worker unless OMP_NUM_THREADS says otherwise; the
    launcher's own INFO/ERROR lines (each worker's traceback again) kept out unless GARMENTPARSE_DEBUG."""
    set_omp = "OMP_NUM_THREADS" not in os.environ and nproc > 1
    if set_omp:
        os.environ["OMP_NUM_THREADS"] = "1"
    loggers = [logging.getLogger(name) for name in ("torch.distributed.elastic", "torch.multiprocessing")]
    levels = [lg.level for lg in loggers]
    if not os.environ.get("GARMENTPARSE_DEBUG"):
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if set_omp:
            del os.environ["OMP_NUM_THREADS"]


def launch_local(nproc: int, fn: Callable[..., T], *args: Any, port: int = 0) -> T:
    """``fn(*args)`` in ``nproc`` new processes on this machine, as ``torchrun --standalone
    --nproc-per-node nproc`` starts them (each then joins the group through :func:`setup`);
    returns rank 0's result. ``port`` 0 lets the rendezvous pick a free port. When a process
    fails the others are stopped and a ``RuntimeError`` names the failed ranks and their errors.
    ``fn`` must be importable by name (a module-level function) and ``args`` picklable."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ValueError(f"--nproc {nproc}: need at least 1 process")
    if port and not port_free(port):
        raise RuntimeError(f"port {port} on this machine is in use (another run?): pass another --master-port, "
                           "or leave it out to pick a free one")
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, rdzv_backend="c10d",
                          rdzv_endpoint=f"localhost:{port}", run_id=uuid.uuid4().hex, max_restarts=0,
                          monitor_interval=0.1, start_method="spawn")
    with _launch_environment(nproc):
        try:
            results = elastic_launch(config, fn)(*args)
        except ChildFailedError as exc:
            raise RuntimeError(_describe_failures(exc, nproc)) from None
    return results[0]


def _describe_failures(exc: Any, nproc: int) -> str:
    parts = []
    for rank, failure in sorted(exc.failures.items()):
        message = failure.message.get("message") if isinstance(failure.message, dict) else failure.message
        parts.append(f"rank {rank} exited with code {failure.exitcode}"
                     + (f": {message}" if message else " (its error is printed above)"))
    return (f"{len(parts)} of {nproc} training processes failed and the others were stopped: " + "; ".join(parts)
            + ". Only rank 0 writes, each checkpoint atomically: the run folder's last.pt (when there is one) "
              "is the last complete checkpoint, and --resume continues it")
