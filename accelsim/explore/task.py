"""The unit of sweep work: one point in, one row out, whichever executor runs it.

Kept free of heavy imports at module level: a worker process imports this module (to
unpickle :func:`run_point` or :func:`init_worker`) before numba is loaded, so the
thread limits below still take effect.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accelsim.explore.spec import Point

# One simulation per core: libraries inside a worker must not start threads of their own.
THREAD_LIMITS = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def init_worker() -> None:
    """Local worker initializer: cap library thread pools (read when numba and BLAS first
    load), leave Ctrl-C to the parent, which stops the workers and keeps what is done, and
    die with the parent."""
    from threading import RLock

    from tqdm import tqdm

    from accelsim.explore.lifeline import tie_to_parent

    tie_to_parent()  # a SIGKILLed sweep leaves no worker behind
    os.environ.update(THREAD_LIMITS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing semaphore, which a worker stopped in the
    # middle of a point would leave behind; a worker needs no cross-process lock.
    tqdm.set_lock(RLock())


def run_point(point: Point) -> dict[str, Any]:
    """Simulate one point; its row is the point's inputs followed by the result totals."""
    from accelsim.sim import simulate

    result = simulate(point.trace.path, point.hardware, phases=point.phases,
                      steps=point.steps, fidelity=point.fidelity)
    return {**point.inputs(), **result.totals}
