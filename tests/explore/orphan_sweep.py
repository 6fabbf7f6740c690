"""Start sweep workers the way a sweep does, print their pids, then wait to be killed.

    python orphan_sweep.py local|dask
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def _pid(_=None) -> int:
    time.sleep(0.2)
    return os.getpid()


def main(kind: str) -> None:
    if kind == "local":
        from accelsim.explore.task import init_worker

        pool = ProcessPoolExecutor(max_workers=2, initializer=init_worker,
                                   mp_context=multiprocessing.get_context("spawn"))
        pids = set(pool.map(_pid, range(8)))
    else:
        from accelsim.explore.executors import DaskExecutor

        _, client = DaskExecutor.start_local_cluster(2)
        pids = set(client.run(os.getpid).values())
    print(" ".join(str(p) for p in sorted(pids)), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1])
