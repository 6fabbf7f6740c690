"""Where sweep points run: local processes (default) or a Dask distributed cluster.

Both run the same :func:`accelsim.explore.task.run_point` on the same picklable points,
so a row does not depend on the executor. Each yields points as they finish; closing the
iterator early (an interrupt) cancels what has not started and shuts the workers down.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from accelsim.errors import ConfigError
from accelsim.explore.spec import Point
from accelsim.explore.task import THREAD_LIMITS, init_worker, run_point

EXECUTORS = ("local", "dask")


@dataclass
class Finished:
    """A point that ran: its row, or the error it raised (a worker crash included)."""

    point: Point
    row: dict[str, Any] | None
    error: BaseException | None


class SweepExecutor(ABC):
    """Runs :func:`run_point` over points; ``label`` says where, for summaries."""

    label: str = ""

    @abstractmethod
    def run(self, points: Sequence[Point]) -> Iterator[Finished]:
        """Yield each point as it finishes, in completion order."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalExecutor(SweepExecutor):
    """A process pool on this machine, one single-threaded worker per core."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or available_cores()
        self.label = f"local, {self.workers} process{'es' if self.workers > 1 else ''}"

    def run(self, points: Sequence[Point]) -> Iterator[Finished]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if not points:
            return
        # spawn, not fork: the parent may hold threads (tqdm) and an initialised numba,
        # and the workers' thread limits must be set before numba loads.
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(points)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker)
        futures = {pool.submit(run_point, point): point for point in points}
        interrupted = True
        try:
            for future in as_completed(futures):
                error = future.exception()
                yield Finished(futures[future], None if error else future.result(), error)
            interrupted = False
        finally:
            if interrupted:  # Ctrl-C or an error: what is running now would not be saved
                _stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(SweepExecutor):
    """A Dask distributed cluster: the one at ``scheduler``, else a LocalCluster started
    here (processes, one thread each, no dashboard) and closed at the end.

    Workers of an external cluster must be able to import accelsim and read the traces
    at the same absolute paths (a shared file system).
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        self.scheduler, self.workers = scheduler, workers or available_cores()
        self.label = (f"dask at {scheduler}" if scheduler
                      else f"dask LocalCluster, {self.workers} workers")

    @staticmethod
    def start_local_cluster(workers: int) -> tuple[Any, Any]:
        """(cluster, client) of a LocalCluster whose workers die with this process."""
        distributed = _import_distributed()
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR, env=dict(THREAD_LIMITS),
            # The scheduler's health/metrics HTTP server, off the default 8787.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        client = distributed.Client(cluster)
        try:
            _tie_workers(client)
        except BaseException:
            client.close()
            cluster.close()
            raise
        return cluster, client

    def run(self, points: Sequence[Point]) -> Iterator[Finished]:
        if not points:
            return
        distributed = _import_distributed()
        cluster = client = futures = None
        try:
            if self.scheduler:
                client = _connect(distributed, self.scheduler)
            else:
                cluster, client = self.start_local_cluster(min(self.workers, len(points)))
            futures = client.map(run_point, list(points), pure=False)
            by_key = {future.key: point for future, point in zip(futures, points,
                                                                   strict=True)}
            for future in distributed.as_completed(futures):
                try:
                    row, error = future.result(), None
                except Exception as raised:  # in the task, a lost worker, a cancel
                    row, error = None, raised
                yield Finished(by_key[future.key], row, error)
        finally:
            if client is not None:
                if futures:
                    client.cancel(futures)
                client.close()
            if cluster is not None:
                cluster.close()


def _tie_workers(client: Any) -> None:
    """The LocalCluster's worker processes die with this process (a SIGKILLed sweep)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    from accelsim.explore.lifeline import LifelinePlugin

    plugin = type("AccelsimLifeline", (LifelinePlugin, WorkerPlugin), {})()
    client.register_plugin(plugin, name=LifelinePlugin.name)


def _stop_workers(pool: Any) -> None:
    """Stop a ProcessPoolExecutor's workers now rather than after their current point
    (``terminate_workers`` from Python 3.14; before, its process table)."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)  # first, so nothing new is started
    for process in processes:
        process.kill()
    for process in processes:
        process.join()


def make_executor(name: str | SweepExecutor = "local", scheduler: str | None = None,
                  workers: int | None = None) -> SweepExecutor:
    """The executor called ``name`` (an instance passes through); ConfigError for an
    unknown name or a bad pairing."""
    if isinstance(name, SweepExecutor):
        if scheduler is not None or workers is not None:
            raise ConfigError("scheduler and workers configure a named executor, not an "
                              "executor instance")
        return name
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if name == "local":
        if scheduler:
            raise ConfigError("a scheduler address needs the dask executor")
        return LocalExecutor(workers)
    if scheduler and workers is not None:
        raise ConfigError("workers sizes a LocalCluster; with a scheduler address the "
                          "cluster has its own workers")
    return DaskExecutor(scheduler, workers)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("the dask executor needs dask.distributed: "
                          "pip install 'accelsim[dask]'") from None
    return distributed


def _connect(distributed: Any, address: str) -> Any:
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: "
                          f"{error}") from None
